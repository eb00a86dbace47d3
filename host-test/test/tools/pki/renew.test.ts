// Thing renewal in the PKI: the renewal window, the held certificate's lifetime (or the thing's own), and
// certificates replaced by a renewal leaving the registry once expired (the registry does not grow).
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Pki } from "../../../../tools/pki/pki";
import { readRegistry } from "../../../../tools/pki/registry";
import { renewThingCertificate } from "../../../../tools/pki/renew";
import { tempDir } from "./helpers";

const DAY = 86_400_000;
const t = tempDir("renew");
afterAll(t.cleanup);

describe("renewThingCertificate", () => {
  it("renews only inside the window", async () => {
    const pki = await Pki.open(join(t.dir, "window"));
    await pki.initCa({ keyType: "ec" });
    await pki.createThing("b", { keyType: "ec", validDays: 100 });
    const held = readRegistry(pki.dir).certificates.find((c) => c.thing === "b")!;
    expect(await renewThingCertificate(pki, "b", { fingerprint: held.fingerprint256 })).toMatchObject({ ok: false, refusal: "not-due" });
    const renewed = await renewThingCertificate(pki, "b", { fingerprint: held.fingerprint256 }, { now: Date.now() + 50 * DAY });
    expect(renewed.ok).toBe(true);
  });

  it("keeps the held lifetime, and drops a replaced certificate once it has expired", async () => {
    const pki = await Pki.open(join(t.dir, "prune"));
    await pki.initCa({ keyType: "ec" });
    await pki.createThing("b", { keyType: "ec", validDays: 5 });
    const first = readRegistry(pki.dir).certificates.find((c) => c.thing === "b")!;
    const second = await renewThingCertificate(pki, "b", { fingerprint: first.fingerprint256 });
    if (!second.ok) throw new Error(second.reason);
    const rec = readRegistry(pki.dir).certificates.find((c) => c.fingerprint256 === second.fingerprint256)!;
    expect(Math.abs(Date.parse(rec.notAfter) - Date.parse(rec.notBefore) - 5 * DAY)).toBeLessThan(5_000);
    // Just after the first one ended (its replacement still valid), the next renewal drops it.
    const third = await renewThingCertificate(pki, "b", { fingerprint: second.fingerprint256 }, { now: Date.parse(first.notAfter) + 500 });
    expect(third.ok).toBe(true);
    const left = readRegistry(pki.dir).certificates.filter((c) => c.thing === "b").map((c) => c.fingerprint256);
    expect(left).not.toContain(first.fingerprint256);
    expect(left).toHaveLength(2);
  });

  it("a lifetime the operator set for the thing wins over the held certificate's", async () => {
    const pki = await Pki.open(join(t.dir, "lifetime"));
    await pki.initCa({ keyType: "ec" });
    await pki.createThing("b", { keyType: "ec", validDays: 5 });
    await pki.setRenewalLifetime("b", 30);
    const held = readRegistry(pki.dir).certificates.find((c) => c.thing === "b")!;
    const renewed = await renewThingCertificate(pki, "b", { fingerprint: held.fingerprint256 });
    if (!renewed.ok) throw new Error(renewed.reason);
    const rec = readRegistry(pki.dir).certificates.find((c) => c.fingerprint256 === renewed.fingerprint256)!;
    expect(Date.parse(rec.notAfter) - Date.now()).toBeGreaterThan(29 * DAY);
    expect(Date.parse(rec.notAfter) - Date.now()).toBeLessThan(31 * DAY);
    await expect(pki.setRenewalLifetime("b", 0)).rejects.toThrow(/1 to 3650 days/);
  });
});
