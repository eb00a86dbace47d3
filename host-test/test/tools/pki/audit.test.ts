// `npm run pki -- audit` as a cron job runs it: a child process over a real PKI dir whose certificates were
// issued with short validity. Exit code 0 while nothing has expired (flagged or not), 1 once one has.
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pki } from "../../../../tools/pki/pki";
import type { AuditEntry } from "../../../../tools/pki/audit";
import { tempDir } from "./helpers";

const t = tempDir("audit");
afterAll(t.cleanup);
const dir = join(t.dir, "pki");
const cli = resolve("tools/pki/cli.ts");
const pki = (...argv: string[]) => spawnSync(process.execPath, ["--import", "tsx", cli, "--pki-dir", dir, ...argv], { encoding: "utf8" });
const DAY = 86_400_000;

function audit(...argv: string[]): { code: number | null; entries: AuditEntry[]; expired: number; expiring: number } {
  const r = pki("audit", "--json", ...argv);
  expect(r.stderr).toBe("");
  return { code: r.status, ...JSON.parse(r.stdout) };
}

// The PKI is made with the library (what is under test is the audit command, not these).
beforeAll(async () => {
  const made = await Pki.open(dir);
  await made.initCa({ intermediate: true });
  await made.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1"], validDays: 20 }); // inside the broker's 30-day window
  await made.createThing("short-lived", { validDays: 5 });
  await made.createThing("long-lived", { validDays: 400, keyType: "ec" });
});

describe("pki audit", () => {
  it("lists things, broker, CAs and CRLs soonest first, flags those inside their window, exits 0 while none expired", () => {
    const r = audit();
    expect(r.code).toBe(0);
    const names = r.entries.map((e) => `${e.kind}:${e.name}`);
    expect(names).toEqual(expect.arrayContaining(["thing:short-lived", "thing:long-lived", "broker:broker", "ca:root", "ca:intermediate", "crl:root", "crl:intermediate"]));
    const times = r.entries.map((e) => Date.parse(e.expires));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const byName = (kind: string, name: string) => r.entries.find((e) => e.kind === kind && e.name === name)!;
    expect(byName("thing", "short-lived")).toMatchObject({ status: "expiring", windowDays: 60, daysLeft: 4 });
    expect(byName("thing", "long-lived")).toMatchObject({ status: "ok", windowDays: 60 });
    expect(byName("broker", "broker")).toMatchObject({ status: "expiring", windowDays: 30 });
    expect(byName("ca", "root").status).toBe("ok");
    expect(r.expiring).toBe(2);
    expect(r.expired).toBe(0);
  });

  it("--window-days sets one window for everything", () => {
    const r = audit("--window-days", "3");
    expect(r.code).toBe(0);
    expect(r.entries.filter((e) => e.status !== "ok")).toEqual([]);
    const wide = audit("--window-days", "500");
    expect(wide.entries.find((e) => e.name === "long-lived")!.status).toBe("expiring");
  });

  it("a table for people names the flagged rows and what to do", () => {
    const r = pki("audit");
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^FLAG\s+KIND\s+NAME\s+EXPIRES \(UTC\)\s+DAYS-LEFT\s+WINDOW\s+ACTION$/);
    expect(lines.find((l) => l.includes("short-lived"))).toMatch(/^RENEW\s+thing\s+short-lived/);
    expect(lines.find((l) => /\bbroker\s/.test(l))).toMatch(/^RENEW .*broker cert --renew/);
    expect(lines.at(-1)).toMatch(/checked: 0 expired, 2 inside their window$/);
  });

  it("exits 1 once a certificate has expired, and says which", async () => {
    const lib = await Pki.open(dir);
    await lib.createThing("already-expired", { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
    const r = audit();
    expect(r.code).toBe(1);
    expect(r.expired).toBe(1);
    expect(r.entries[0]).toMatchObject({ kind: "thing", name: "already-expired", status: "expired", daysLeft: -1 });
    const table = pki("audit");
    expect(table.status).toBe(1);
    expect(table.stdout).toMatch(/EXPIRED\s+thing\s+already-expired/);
  });

  it("refuses a bad window with one clear line", () => {
    const r = pki("audit", "--window-days", "soon");
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('error: --window-days must be a whole number of days between 0 and 36500, not "soon"');
  });
});
