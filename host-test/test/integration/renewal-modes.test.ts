// Certificate renewal in the simulator's other connection modes (the on-demand cycle is renewal.test.ts):
// - persistent: the link comes up, steps aside for the renewal connection (the broker allows one connection
//   per client id), and comes back presenting the renewed certificate; orders then go over that link;
// - battery: woken by a press, the button orders, renews after the outcome on a connection of its own and
//   only then goes to deep sleep; the next wake connects with the renewed certificate.
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RenewalEvent } from "../../../modules/core/renewal";
import { RENEWED_CERT_KEY } from "../../../modules/core/renewal";
import type { BrokerEvent } from "../../../services/broker/broker";
import { Pki } from "../../../tools/pki/pki";
import { readRegistry, type CertRecord } from "../../../tools/pki/registry";
import { parseSimulateArgs } from "../../config";
import { memoryLog } from "../../device/log";
import { startSimulation, type Simulation } from "../../simulation";

const THING = "pizza-button-01";
let dir: string | undefined;
let sim: Simulation | undefined;

afterEach(async () => {
  await sim?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  sim = undefined;
  dir = undefined;
});

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

/** A simulator whose thing was issued for 5 days (inside the 60-day window from the start). */
async function simulator(mode: "persistent" | "battery") {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), `pizza-renewal-${mode}-`));
  const pkiDir = path.join(dir, "pki");
  const pki = await Pki.open(pkiDir);
  await pki.initCa({ intermediate: true });
  await pki.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1"] });
  await pki.createService("restaurant", { keyType: "ec" });
  await pki.createThing(THING, { validDays: 5 });
  // A renewal keeps the held lifetime unless the operator sets one (thing lifetime): 2 years here, so the
  // renewed certificate is far from the renewal window and the button renews exactly once.
  await pki.setRenewalLifetime(THING, 730);
  const old = new X509Certificate(fs.readFileSync(path.join(pkiDir, "things", THING, "cert.pem")));
  const brokerEvents: BrokerEvent[] = [];
  const renewalEvents: RenewalEvent[] = [];
  const power: string[] = [];
  const config = parseSimulateArgs(["--mode", mode, "--state-dir", path.join(dir, "state"), "--pki-dir", pkiDir])!;
  sim = await startSimulation(config, {
    log: () => memoryLog(),
    ledMode: "silent",
    onBrokerEvent: (e) => brokerEvents.push(e),
    onRenewalEvent: (e) => renewalEvents.push(e),
    onPower: (state) => power.push(state),
  });
  const connects = () => brokerEvents.filter((e) => e.event === "connect" && e.clientId === THING);
  const renewedRecord = (): CertRecord => {
    const issued = readRegistry(pkiDir).certificates.filter((c) => c.thing === THING);
    expect(issued.map((c) => [c.issuedBy, c.state])).toEqual([["create", "ACTIVE"], ["renewal", "ACTIVE"]]);
    return issued[1]!;
  };
  const storedIs = (record: CertRecord) =>
    expect(sim!.device.store.read(RENEWED_CERT_KEY)).toBe(Buffer.from(new X509Certificate(fs.readFileSync(path.join(pkiDir, record.certFile))).raw).toString("base64"));
  return { sim: sim, old, connects, renewalEvents, power, renewedRecord, storedIs };
}

describe("certificate renewal in the simulator, persistent and battery modes", () => {
  it("--mode persistent: the idle link steps aside for the renewal and comes back with the new certificate; orders go over it", async () => {
    const s = await simulator("persistent");
    s.sim.device.start();
    await until(() => s.renewalEvents.some((e) => e.step === "renewed"), "the renewal");
    const renewed = s.renewedRecord();
    s.storedIs(renewed);
    // link (old certificate), the renewal connection (old), the link back (new)
    await until(() => s.connects().length >= 3 && s.sim.device.flow.state === "idle", "the link back");
    expect(s.connects().map((e) => e.fingerprint256)).toEqual([s.old.fingerprint256, s.old.fingerprint256, renewed.fingerprint256]);

    expect(await s.sim.device.click("SINGLE")).toMatchObject({ outcome: "ok" });
    expect(await s.sim.device.click("DOUBLE")).toMatchObject({ outcome: "ok" });
    // Both orders over the link that came back: no further connection, and renewed once only.
    expect(s.connects()).toHaveLength(3);
    expect(s.renewalEvents.map((e) => e.step)).toEqual(["asking", "renewed"]);
  });

  it("--mode battery: after the order's outcome it stays awake until renewed, then sleeps; the next wake presents the new certificate", async () => {
    const s = await simulator("battery");
    s.sim.device.start();
    await until(() => s.sim.device.asleep, "the first sleep");
    expect(await s.sim.device.press("SINGLE")).toMatchObject({ outcome: "ok" });
    await until(() => s.sim.device.asleep, "deep sleep after the order");
    // It did not sleep before the renewal's end: renewed, and the renewal's connection came after the order's.
    expect(s.renewalEvents.map((e) => e.step)).toEqual(["asking", "renewed"]);
    expect(s.power).toEqual(["sleep", "wake", "sleep"]);
    const renewed = s.renewedRecord();
    s.storedIs(renewed);
    expect(s.connects().map((e) => e.fingerprint256)).toEqual([s.old.fingerprint256, s.old.fingerprint256]);

    expect(await s.sim.device.press("SINGLE")).toMatchObject({ outcome: "ok" });
    expect(s.connects().map((e) => e.fingerprint256)).toEqual([s.old.fingerprint256, s.old.fingerprint256, renewed.fingerprint256]);
    await until(() => s.sim.device.asleep, "deep sleep after the second order");
    expect(s.renewalEvents.filter((e) => e.step === "asking")).toHaveLength(1);
  });
});
