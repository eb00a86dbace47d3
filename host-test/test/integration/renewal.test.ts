// The whole renewal cycle in the simulator (startSimulation: embedded broker under the product policies,
// restaurant, renewal service, virtual button): a button whose certificate was issued for 5 days orders,
// renews itself after the outcome (same key), keeps the new certificate in its store, and its next
// connection presents it: the broker sees the new fingerprint.
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RenewalEvent } from "../../../modules/core/renewal";
import { RENEWED_CERT_KEY } from "../../../modules/core/renewal";
import type { BrokerEvent } from "../../../services/broker/broker";
import { Pki } from "../../../tools/pki/pki";
import { readRegistry } from "../../../tools/pki/registry";
import { parseSimulateArgs } from "../../config";
import { memoryLog } from "../../device/log";
import { startSimulation, type Simulation } from "../../simulation";

const THING = "pizza-button-01";
let dir: string;
let sim: Simulation;
const brokerEvents: BrokerEvent[] = [];
const renewalEvents: RenewalEvent[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pizza-renewal-"));
  const pkiDir = path.join(dir, "pki");
  const pki = await Pki.open(pkiDir);
  await pki.initCa({ intermediate: true });
  await pki.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1"] });
  await pki.createService("restaurant", { keyType: "ec" });
  await pki.createThing(THING, { validDays: 5 }); // inside the button's 60-day window from the start
  // A renewal keeps the held lifetime unless the operator sets one (thing lifetime): 2 years here, so the
  // renewed certificate is far from the renewal window and the button renews exactly once.
  await pki.setRenewalLifetime(THING, 730);
  const config = parseSimulateArgs(["--state-dir", path.join(dir, "state"), "--pki-dir", pkiDir])!;
  sim = await startSimulation(config, {
    log: () => memoryLog(),
    ledMode: "silent",
    onBrokerEvent: (e) => brokerEvents.push(e),
    onRenewalEvent: (e) => renewalEvents.push(e),
  });
});

afterAll(async () => {
  await sim?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

const connectsOf = (thing: string) => brokerEvents.filter((e) => e.event === "connect" && e.clientId === thing);

describe("certificate renewal in the simulator", () => {
  it("a short-lived certificate renews itself after an order, and the next connection presents the new one", async () => {
    const certPath = path.join(dir, "pki/things", THING, "cert.pem");
    const old = new X509Certificate(fs.readFileSync(certPath));
    sim.device.start();
    expect(await sim.device.click("SINGLE")).toMatchObject({ outcome: "ok" });
    expect(connectsOf(THING)[0]!.fingerprint256).toBe(old.fingerprint256);

    await until(() => renewalEvents.some((e) => e.step === "renewed"), "the renewal");
    expect(renewalEvents.map((e) => e.step)).toEqual(["asking", "renewed"]);
    const issued = readRegistry(path.join(dir, "pki")).certificates.filter((c) => c.thing === THING);
    expect(issued.map((c) => [c.issuedBy, c.state])).toEqual([["create", "ACTIVE"], ["renewal", "ACTIVE"]]);
    const renewed = issued[1]!;
    expect(Date.parse(renewed.notAfter)).toBeGreaterThan(Date.parse(old.validTo) + 700 * 86_400_000);
    expect(sim.device.store.read(RENEWED_CERT_KEY)).toBe(Buffer.from(new X509Certificate(fs.readFileSync(path.join(dir, "pki", renewed.certFile))).raw).toString("base64"));
    const before = connectsOf(THING).length;

    expect(await sim.device.click("SINGLE")).toMatchObject({ outcome: "ok" });
    const next = connectsOf(THING).slice(before);
    expect(next.length).toBeGreaterThan(0);
    expect(next.every((e) => e.fingerprint256 === renewed.fingerprint256)).toBe(true);
    // Renewed once: no further request while the new certificate is far from its end.
    expect(renewalEvents.filter((e) => e.step === "asking")).toHaveLength(1);
  });
});
