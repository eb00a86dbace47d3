// The registry under concurrent writers, over the real services: 8 processes make 20 mixed operations each
// at once (create, revoke, deactivate through the PKI library; renew through the renewal service), while
// `npm run broker` runs on the same PKI dir (it attaches default policies to new things). Afterwards every
// operation that reported success is in the registry, nothing else is, and the broker refuses every revoked
// or deactivated thing at CONNECT.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRenewal } from "../../../services/renewal/service";
import type { RenewalService } from "../../../services/renewal/renewal";
import { Pki } from "../../../tools/pki/pki";
import { readRegistry } from "../../../tools/pki/registry";
import { startBrokerProcess, stopAll, thingCredentials, type BrokerProcess } from "../services/processes";
import { tryConnect } from "../support/mqtt-probe";
import { removeDir, tempDir } from "../integration/fixtures";

const WORKERS = 8;
/** Rounds of ten operations per worker: two keep all eight writers contending for the lock throughout. */
const ROUNDS = 2;
const WORKER = path.join(import.meta.dirname, "registry-worker.ts");

interface Outcome {
  op: string;
  thing?: string;
  ok: boolean;
  fingerprint256?: string;
  reason?: string;
}

let dir: string;
let pkiDir: string;
let broker: BrokerProcess;
let renewal: RenewalService;

beforeAll(async () => {
  dir = tempDir("registry-concurrency");
  pkiDir = path.join(dir, "pki");
  const pki = await Pki.open(pkiDir);
  await pki.initCa({ keyType: "ec" });
  await pki.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1"], keyType: "ec" });
  for (let i = 0; i < WORKERS; i++) await pki.createThing(`renewer-${i}`, { keyType: "ec", validDays: 5 });
  broker = await startBrokerProcess(pkiDir);
  renewal = await startRenewal({ brokerUrl: broker.url, servername: undefined, pkiDir, topicPrefix: "pizza" }, () => {});
}, 60_000);

afterAll(async () => {
  await renewal?.close();
  await stopAll();
  removeDir(dir);
});

function runWorker(index: number): Promise<Outcome[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", WORKER, pkiDir, String(index), broker.url, `renewer-${index}`, String(ROUNDS)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("close", (code) => {
      const lines = out.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Outcome);
      if (code !== 0 || !lines.some((l) => l.op === "done")) reject(new Error(`worker ${index} exited ${code}: ${err.slice(-2000)}`));
      else resolve(lines.filter((l) => l.op !== "done"));
    });
  });
}

describe("the registry with 8 concurrent writers", () => {
  let outcomes: Outcome[];
  beforeAll(async () => {
    outcomes = (await Promise.all(Array.from({ length: WORKERS }, (_, i) => runWorker(i)))).flat();
  }, 240_000); // the write lock serializes 160 changes: generous for a loaded machine

  it("every operation reported done is in the registry, and nothing else is", () => {
    expect(outcomes).toHaveLength(WORKERS * ROUNDS * 10);
    const reg = readRegistry(pkiDir);
    const done = outcomes.filter((o) => o.ok);
    const created = done.filter((o) => o.op === "create");
    expect(created.length).toBe(WORKERS * ROUNDS * 5); // names are unique: no create may fail
    const expectedState = new Map<string, string>(created.map((o) => [o.thing!, "ACTIVE"]));
    for (const o of done) if (o.op === "revoke") expectedState.set(o.thing!, "REVOKED");
    for (const o of done) if (o.op === "deactivate") expectedState.set(o.thing!, "INACTIVE");
    for (let i = 0; i < WORKERS; i++) expectedState.set(`renewer-${i}`, "ACTIVE");
    expectedState.set("renewal", "ACTIVE"); // the renewal service's own identity, made at its start
    const actualState = new Map(Object.values(reg.things).map((t) => [t.name, t.state]));
    expect(Object.fromEntries(actualState)).toEqual(Object.fromEntries(expectedState));

    // Certificates: one per create, the renewers' own, and exactly the renewals that were answered.
    for (const o of created) {
      expect(reg.certificates.filter((c) => c.thing === o.thing).map((c) => c.fingerprint256)).toEqual([o.fingerprint256]);
    }
    for (let i = 0; i < WORKERS; i++) {
      const thing = `renewer-${i}`;
      const renewed = new Set(done.filter((o) => o.op === "renew" && o.thing === thing).map((o) => o.fingerprint256));
      const recorded = reg.certificates.filter((c) => c.thing === thing && c.issuedBy === "renewal").map((c) => c.fingerprint256);
      expect(new Set(recorded)).toEqual(renewed);
    }
    // A certificate's state follows its thing's.
    for (const c of reg.certificates.filter((c) => expectedState.has(c.thing))) expect(c.state).toBe(expectedState.get(c.thing));
  });

  it("every revoked or deactivated thing is refused at CONNECT by the broker; an active one connects", async () => {
    const reg = readRegistry(pkiDir);
    const withdrawn = Object.values(reg.things).filter((t) => t.state !== "ACTIVE").map((t) => t.name);
    expect(withdrawn.length).toBe(WORKERS * ROUNDS * 4);
    const active = Object.values(reg.things).filter((t) => t.state === "ACTIVE" && t.name.startsWith("w")).map((t) => t.name);
    const attempt = async (thing: string) => {
      const result = await tryConnect(broker.url, { credentials: thingCredentials(pkiDir, thing), clientId: thing });
      if (result.connected) await result.client.endAsync(true);
      return result.connected;
    };
    for (let i = 0; i < withdrawn.length; i += 8) {
      const batch = withdrawn.slice(i, i + 8);
      expect(await Promise.all(batch.map(attempt)), `connected: ${batch.join(", ")}`).toEqual(batch.map(() => false));
    }
    for (const thing of active.slice(0, 8)) expect(await attempt(thing), thing).toBe(true);
  }, 60_000);
});
