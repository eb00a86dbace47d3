// `npm run simulate` script mode as a child process, the way CI and users run it: a fresh state dir and
// PKI dir (created on first run), real TLS on loopback, and the summary line checked.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSimulate as simulate } from "./support/simulate-process";
import { OrderDb } from "../../services/restaurant/orders/order-db";
import { removeDir, tempDir } from "./integration/fixtures";
import { ensureDevPki } from "../../tools/pki/dev";
import { Pki } from "../../tools/pki/pki";
import { tsxCommand } from "./support/tsx-command";


function readOrderIds(dbPath: string): string[] {
  const db = new OrderDb({ path: dbPath });
  try {
    return db.all().map((o) => o.orderId);
  } finally {
    db.close();
  }
}

let dir: string;
let stateDir: string;
let pkiDir: string;

beforeAll(() => {
  dir = tempDir("simulate");
  stateDir = path.join(dir, "state");
  pkiDir = path.join(dir, "pki");
});

afterAll(() => removeDir(dir));

describe("npm run simulate (script mode)", () => {
  it("--clicks single,double,long --json: one JSON object per line, summary ok/ok/cancelled, exit 0", async () => {
    const run = await simulate(["--clicks", "single,double,long", "--json", "--state-dir", stateDir, "--pki-dir", pkiDir]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split("\n");
    const objects = lines.map((line) => JSON.parse(line) as Record<string, any>);
    const summary = objects.at(-1)!.summary;
    expect(summary.passed).toBe(true);
    expect(summary.clicks.map((c: any) => [c.clickType, c.outcome])).toEqual([
      ["SINGLE", "ok"],
      ["DOUBLE", "ok"],
      ["LONG", "cancelled"],
    ]);
    for (const click of summary.clicks) {
      expect(click.orderId).toMatch(/^pizza-button-01-\d+$/);
      expect(typeof click.pressToAckMs).toBe("number");
      expect(click.tlsProtocol).toBe("TLSv1.2");
    }
    // One definition, one clock: each click's outcome event carries the very figures of the summary.
    for (const click of summary.clicks) {
      const event = objects.find((o) => o.source === "button" && o.event === "outcome" && o.orderId === click.orderId)!;
      expect(event).toMatchObject({ trigger: "click", pressToAckMs: click.pressToAckMs, publishToAckMs: click.publishToAckMs });
      expect(click.publishToAckMs).toBeGreaterThan(0);
      expect(click.publishToAckMs).toBeLessThan(click.pressToAckMs);
    }
    // The events show the LED and the restaurant's side too.
    expect(objects.some((o) => o.source === "led" && o.pattern === "ok")).toBe(true);
    expect(objects.some((o) => o.source === "restaurant" && o.event === "ack-published")).toBe(true);

    // First run created the dev PKI; the orders are in the state dir's database.
    expect(fs.existsSync(path.join(pkiDir, "registry.db"))).toBe(true);
    const db = new OrderDb({ path: path.join(stateDir, "restaurant.db") });
    try {
      expect(db.all().map((o) => o.orderId)).toEqual(summary.clicks.map((c: any) => c.orderId));
    } finally {
      db.close();
    }
  });

  it("a second run reuses PKI and state: new orderIds, persistent mode from a --config file of the firmware's manifest config", async () => {
    // The firmware's own config keys and defaults (mqtt.host "" = the embedded broker), one value changed.
    const manifest = JSON.parse(fs.readFileSync(new URL("../../manifest.json", import.meta.url), "utf8"));
    const configFile = path.join(dir, "sim.json");
    fs.writeFileSync(configFile, JSON.stringify({ ...manifest.config, connection: "persistent" }));
    const seqOf = (orderId: string) => Number(/-(\d+)$/.exec(orderId)![1]);
    const firstRun = readOrderIds(path.join(stateDir, "restaurant.db"));
    expect(firstRun).toHaveLength(3);
    // A state dir from before simulate and `npm run restaurant` shared the name restaurant.db: kept, renamed.
    fs.renameSync(path.join(stateDir, "restaurant.db"), path.join(stateDir, "restaurant.sqlite"));
    const run = await simulate(["--config", configFile, "--state-dir", stateDir, "--pki-dir", pkiDir, "--clicks", "single,long"]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split("\n").at(-1)!).summary;
    expect(summary.mode).toBe("persistent");
    expect(summary.clicks.map((c: any) => c.outcome)).toEqual(["ok", "cancelled"]);
    // seq continues from the first run's stored seq: the next one up, never an orderId used before.
    expect(seqOf(summary.clicks[0].orderId)).toBe(Math.max(...firstRun.map(seqOf)) + 1);
    expect(readOrderIds(path.join(stateDir, "restaurant.db"))).toEqual([...firstRun, ...summary.clicks.map((c: any) => c.orderId)]);
    expect(fs.existsSync(path.join(stateDir, "restaurant.sqlite"))).toBe(false);
  });

  it("--mode battery: the button deep-sleeps after each outcome (connection closed, no timers) and a press wakes it", async () => {
    const fresh = path.join(dir, "battery-state");
    const run = await simulate(["--mode", "battery", "--clicks", "single,double,long", "--json", "--state-dir", fresh, "--pki-dir", pkiDir]);
    expect(run.code, run.stderr).toBe(0);
    const objects = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, any>);
    const summary = objects.at(-1)!.summary;
    expect(summary).toMatchObject({ passed: true, mode: "battery" });
    expect(summary.clicks.map((c: any) => [c.clickType, c.outcome, c.slept])).toEqual([
      ["SINGLE", "ok", true],
      ["DOUBLE", "ok", true],
      ["LONG", "cancelled", true],
    ]);
    // Power events alternate, ending asleep; the 2nd and 3rd presses each woke it.
    const power = objects.filter((o) => o.source === "button" && (o.event === "sleep" || o.event === "wake")).map((o) => o.event);
    expect(power).toEqual(["sleep", "wake", "sleep", "wake", "sleep"]);
    // While asleep the button does nothing: its next event after a sleep is the wake.
    const button = objects.filter((o) => o.source === "button" || o.source === "led");
    button.forEach((o, i) => {
      if (o.event === "sleep" && i + 1 < button.length) expect(button[i + 1]).toMatchObject({ source: "button", event: "wake" });
    });
    // Each sleep came after that press's connection was closed and its LED pattern had ended.
    objects.forEach((o, i) => {
      if (o.source !== "button" || o.event !== "sleep") return;
      const before = objects.slice(0, i);
      const last = (match: (e: Record<string, any>) => boolean) => before.map(match).lastIndexOf(true);
      expect(last((e) => e.source === "net" && e.event === "close")).toBeGreaterThan(last((e) => e.source === "net" && e.event === "tcp"));
      expect(before[last((e) => e.source === "led")]).toMatchObject({ pattern: "off" });
    });
    expect(readOrderIds(path.join(fresh, "restaurant.db"))).toEqual(summary.clicks.map((c: any) => c.orderId));
  });

  it("topic prefix acme.pizza (a dot is a plain topic character) works end to end: button, broker rules, restaurant", async () => {
    const run = await simulate(["--clicks", "single", "--json", "--topic-prefix", "acme.pizza", "--state-dir", path.join(dir, "acme-state"), "--pki-dir", pkiDir]);
    expect(run.code, run.stderr).toBe(0);
    const objects = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, any>);
    expect(objects.at(-1)!.summary.clicks.map((c: any) => c.outcome)).toEqual(["ok"]);
    expect(objects.some((o) => o.source === "restaurant" && o.event === "ack-published")).toBe(true);
  });

  it("exits 1 when an outcome breaks the contract (LONG with nothing to cancel)", async () => {
    const fresh = path.join(dir, "fresh-state");
    const run = await simulate(["--clicks", "long", "--state-dir", fresh, "--pki-dir", pkiDir]);
    expect(run.code).toBe(1);
    const summary = JSON.parse(run.stdout.trim().split("\n").at(-1)!).summary;
    expect(summary).toMatchObject({ passed: false, clicks: [{ clickType: "LONG", outcome: "nothing-to-cancel", expected: "cancelled" }] });
  });

  it("an order left pending by a failed run is resent at boot: said in text and JSON, listed in the summary", async () => {
    const state = path.join(dir, "resend-state");
    const failFast = ["--ack-timeout-ms", "1000", "--give-up-ms", "1500", "--backoff-base-ms", "100"];
    const leavePending = async () => {
      // No restaurant: nobody acks, the flow gives up and the order stays pending in the button's store.
      const failed = await simulate(["--clicks", "single", "--no-restaurant", ...failFast, "--state-dir", state, "--pki-dir", pkiDir]);
      expect(failed.code).toBe(1);
      const click = JSON.parse(failed.stdout.trim().split("\n").at(-1)!).summary.clicks[0];
      expect(click.outcome).toBe("failed");
      return click.orderId as string;
    };

    // Readable output (script mode without --json).
    let pending = await leavePending();
    const text = await simulate(["--clicks", "single", "--state-dir", state, "--pki-dir", pkiDir]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`resending order ${pending}, left pending (never acknowledged) by an earlier run`);
    expect(text.stdout).toMatch(new RegExp(`resent at boot: SINGLE → ok \\(${pending}\\) in [\\d.]+ ms`));
    let summary = JSON.parse(text.stdout.trim().split("\n").at(-1)!).summary;
    expect(summary.resentAtBoot).toMatchObject([{ clickType: "SINGLE", orderId: pending, outcome: "ok", resent: true }]);
    expect(summary.clicks).toHaveLength(1);
    expect(summary.clicks[0].orderId).not.toBe(pending);

    // JSON output.
    pending = await leavePending();
    const json = await simulate(["--clicks", "single", "--json", "--state-dir", state, "--pki-dir", pkiDir]);
    expect(json.code, json.stderr).toBe(0);
    const objects = json.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, any>);
    expect(objects).toContainEqual(expect.objectContaining({ source: "button", event: "boot-resend", orderId: pending }));
    expect(objects).toContainEqual(expect.objectContaining({ source: "button", event: "outcome", trigger: "boot", orderId: pending, outcome: "ok" }));
    summary = objects.at(-1)!.summary;
    expect(summary.resentAtBoot.map((r: any) => r.orderId)).toEqual([pending]);

    // A run with nothing pending lists none.
    const clean = await simulate(["--clicks", "single", "--state-dir", state, "--pki-dir", pkiDir]);
    expect(JSON.parse(clean.stdout.trim().split("\n").at(-1)!).summary.resentAtBoot).toEqual([]);
    expect(clean.stdout).not.toContain("resending order");
  });

  it("refuses a bad flag with a clear message and exit 2", async () => {
    const run = await simulate(["--clicks", "single,triple"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown click "triple"');
  });
});

describe("npm run simulate with a device certificate from a registered CA (bring your own CA)", () => {
  const pkiCli = (...argv: string[]) =>
    spawnSync(...tsxCommand("tools/pki/cli.ts", ...argv), { cwd: path.resolve(import.meta.dirname, "../.."), encoding: "utf8" });

  it("without thing register: auth-error with the broker's reason, which says what to do; with it: ok", async () => {
    const theirs = await Pki.open(path.join(dir, "their-ca"));
    await theirs.initCa();
    const device = await theirs.createThing("byo-button-01");
    const ourPki = path.join(dir, "byo-pki");
    await ensureDevPki(ourPki);
    const register = pkiCli("--pki-dir", ourPki, "ca", "register", path.join(theirs.dir, "ca/root.cert.pem"), "--crl", path.join(theirs.dir, "ca/root.crl.pem"));
    expect(register.status, register.stderr).toBe(0);

    const args = ["--clicks", "single", "--cert", device.chainPath, "--key", device.keyPath, "--state-dir", path.join(dir, "byo-state"), "--pki-dir", ourPki];
    const refused = await simulate(args);
    expect(refused.code).toBe(1);
    const click = JSON.parse(refused.stdout.trim().split("\n").at(-1)!).summary.clicks[0];
    expect(click).toMatchObject({ clickType: "SINGLE", outcome: "auth-error" });
    expect(click.brokerReason).toMatch(/^refused: .*not registered.*npm run pki -- thing register .*--cert/);
    expect(refused.stdout).toContain(`the broker refused the button: ${click.brokerReason}`);

    const recorded = pkiCli("--pki-dir", ourPki, "thing", "register", "byo-button-01", "--cert", device.certPath);
    expect(recorded.status, recorded.stderr).toBe(0);
    const accepted = await simulate(args);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(JSON.parse(accepted.stdout.trim().split("\n").at(-1)!).summary.clicks[0]).toMatchObject({ outcome: "ok" });
  });
});
