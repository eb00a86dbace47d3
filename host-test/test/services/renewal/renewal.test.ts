// The renewal service over the real broker (`npm run broker` as a child process: TLS 1.2, client
// certificates, the product policies) with buttons as plain MQTT clients holding their own certificates.
// A thing renews its own certificate (same key and subject, later end, recorded with the old one); a thing
// can't renew another; a deactivated or revoked thing is refused even on a connection opened before.
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { base64Decode } from "../../../../modules/core/der";
import { decodeRenewalAnswer, type RenewalAnswer } from "../../../../modules/core/renewal";
import { readRegistry } from "../../../../tools/pki/registry";
import { Pki } from "../../../../tools/pki/pki";
import { startRenewal } from "../../../../services/renewal/service";
import { RENEWAL_REQUEST_LIMIT, type RenewalService } from "../../../../services/renewal/renewal";
import { connectRaw, removeDir, tempDir } from "../../integration/fixtures";
import { pkiTool, startBrokerProcess, stopAll, thingCredentials, type BrokerProcess, type LogLine } from "../processes";
import { renewOf, renewedOf } from "../../support/topics";

let dir: string;
let pkiDir: string;
let broker: BrokerProcess;
let renewal: RenewalService;
const events: LogLine[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  dir = tempDir("renewal-service");
  pkiDir = path.join(dir, "pki");
  const pki = await Pki.open(pkiDir);
  await pki.initCa({ intermediate: true });
  await pki.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1"] });
  for (const name of ["button-a", "button-b", "button-off", "button-gone", "button-farm"]) await pki.createThing(name, { validDays: 5 });
  await pki.createThing("button-long", { validDays: 400, keyType: "ec" });
  broker = await startBrokerProcess(pkiDir);
  renewal = await startRenewal(
    { brokerUrl: broker.url, servername: undefined, pkiDir, topicPrefix: "pizza" },
    (source, event, fields) => events.push({ source, event, ...fields }),
  );
});

afterAll(async () => {
  for (const c of clients) await c.endAsync(true).catch(() => {});
  await renewal?.close();
  await stopAll();
  removeDir(dir);
});

const certOf = (thing: string) => new X509Certificate(fs.readFileSync(path.join(pkiDir, "things", thing, "cert.pem")));
const serialOf = (cert: X509Certificate) => cert.serialNumber.toLowerCase();

/** Connects as `thing` with its certificate, subscribed to its own answers. */
async function button(thing: string): Promise<{ client: MqttClient; answers: RenewalAnswer[]; closed: Promise<void> }> {
  const client = await connectRaw(broker.url, thing, thingCredentials(pkiDir, thing));
  clients.push(client);
  const answers: RenewalAnswer[] = [];
  client.on("message", (_topic, payload) => {
    const decoded = decodeRenewalAnswer(new Uint8Array(payload));
    if (decoded.ok) answers.push(decoded.value);
  });
  const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
  await client.subscribeAsync(renewedOf(thing), { qos: 1 });
  return { client, answers, closed };
}

async function waitUntil(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

async function ask(b: Awaited<ReturnType<typeof button>>, thing: string, serial: string): Promise<RenewalAnswer> {
  const before = b.answers.length;
  await b.client.publishAsync(renewOf(thing), JSON.stringify({ v: 1, serial }), { qos: 1 });
  await waitUntil(() => b.answers.length > before, `the answer to ${thing}`);
  return b.answers[before]!;
}

describe("renewal service", () => {
  it("renews a thing's own certificate: same key and subject, same CA, later end; both in the registry", async () => {
    const old = certOf("button-a");
    const a = await button("button-a");
    const answer = await ask(a, "button-a", serialOf(old));
    expect(answer.status).toBe("issued");
    const renewed = new X509Certificate(Buffer.from(base64Decode((answer as { cert: string }).cert)!));
    expect(renewed.publicKey.export({ format: "der", type: "spki" })).toEqual(old.publicKey.export({ format: "der", type: "spki" }));
    expect(renewed.subject).toBe(old.subject);
    expect(renewed.issuer).toBe(old.issuer);
    expect(renewed.checkIssued(new X509Certificate(fs.readFileSync(path.join(pkiDir, "ca/intermediate.cert.pem"))))).toBe(true);
    // The held certificate's lifetime (5 days), not a default: counted from now, so it ends later.
    expect(new Date(renewed.validTo).getTime()).toBeGreaterThan(new Date(old.validTo).getTime());
    expect(new Date(renewed.validTo).getTime()).toBeLessThan(Date.now() + 5 * 86_400_000 + 60_000);
    expect(serialOf(renewed)).not.toBe(serialOf(old));

    const certs = readRegistry(pkiDir).certificates.filter((c) => c.thing === "button-a");
    expect(certs.map((c) => [c.issuedBy, c.state])).toEqual([["create", "ACTIVE"], ["renewal", "ACTIVE"]]);
    expect(certs[1]!.fingerprint256).toBe(renewed.fingerprint256);
    expect(certOf("button-a").fingerprint256).toBe(renewed.fingerprint256); // the PKI's files follow
    expect(events.find((e) => e.event === "renewal-issued" && e.thing === "button-a")).toMatchObject({ previousSerial: serialOf(old), reused: false });

    // The answer was lost and the button asks again with its old certificate: the same renewal, not another.
    const again = await ask(a, "button-a", serialOf(old));
    expect(again).toEqual(answer);
    expect(readRegistry(pkiDir).certificates.filter((c) => c.thing === "button-a")).toHaveLength(2);

    // The renewed certificate works at the broker, with the key the button always had.
    const creds = thingCredentials(pkiDir, "button-a");
    const client = await connectRaw(broker.url, "button-a", { ...creds, cert: renewed.toString() });
    await broker.waitFor((l) => l.event === "connect" && l.clientId === "button-a" && l.fingerprint256 === renewed.fingerprint256, "a connect with the renewed certificate");
    await client.endAsync();
  });

  it("a thing can't renew another: the broker refuses the publish and disconnects it; nothing is issued", async () => {
    const b = await button("button-b");
    const issuedBefore = renewal.issued;
    b.client.publish(renewOf("button-a"), JSON.stringify({ v: 1, serial: serialOf(certOf("button-a")) }), { qos: 0 });
    await b.closed;
    await broker.waitFor((l) => l.event === "publish-denied" && l.clientId === "button-b" && l.topic === renewOf("button-a"), "the denied publish");
    const c = await connectRaw(broker.url, "button-b", thingCredentials(pkiDir, "button-b"));
    clients.push(c);
    c.subscribe(renewedOf("button-a"), () => {});
    // Reading another thing's answers is refused too.
    await broker.waitFor((l) => l.event === "subscribe-denied" && l.clientId === "button-b" && l.topicFilter === renewedOf("button-a"), "the denied subscribe");
    expect(renewal.issued).toBe(issuedBefore);
  });

  it("a thing naming another thing's certificate on its own topic is refused", async () => {
    const b = await button("button-b");
    const answer = await ask(b, "button-b", serialOf(certOf("button-a")));
    expect(answer).toEqual({ v: 1, status: "refused", reason: "unknown-certificate" });
  });

  /**
   * A request sent right after the change: the renewal service refuses it, or the broker has already
   * withdrawn the connection (it follows the registry too). Either way nothing is issued.
   */
  async function askAfterWithdrawal(b: Awaited<ReturnType<typeof button>>, thing: string, serial: string): Promise<RenewalAnswer | "disconnected"> {
    let closed = false;
    void b.closed.then(() => (closed = true));
    const before = b.answers.length;
    b.client.publish(`pizza/renew/${thing}`, JSON.stringify({ v: 1, serial }), { qos: 0 });
    await waitUntil(() => b.answers.length > before || closed, `the answer to ${thing} or its disconnection`);
    return b.answers[before] ?? "disconnected";
  }

  it.each([
    ["deactivate", "button-off", "INACTIVE"],
    ["revoke", "button-gone", "REVOKED"],
  ])("thing %s: the thing gets no certificate, even on a connection opened before", async (verb, thing, state) => {
    const b = await button(thing);
    const serial = serialOf(certOf(thing));
    await pkiTool(pkiDir, "thing", verb, thing);
    const answer = await askAfterWithdrawal(b, thing, serial);
    if (answer !== "disconnected") {
      expect(answer).toEqual({ v: 1, status: "refused", reason: "thing-not-active" });
      expect(events.find((e) => e.event === "renewal-refused" && e.thing === thing)).toMatchObject({ refusal: "thing-not-active", reason: `thing ${thing} is ${state}` });
    }
    expect(readRegistry(pkiDir).certificates.filter((c) => c.thing === thing)).toHaveLength(1);
    expect(events.some((e) => e.event === "renewal-issued" && e.thing === thing)).toBe(false);
  });

  it("a malformed request is answered with a refusal and nothing else happens", async () => {
    const b = await button("button-b");
    const before = b.answers.length;
    await b.client.publishAsync(renewOf("button-b"), "not json", { qos: 1 });
    await waitUntil(() => b.answers.length > before, "the refusal");
    expect(b.answers[before]).toEqual({ v: 1, status: "refused", reason: "bad request: not JSON" });
  });

  it("farming: asking again and again with the newest certificate gets at most the burst, each as short-lived as the first", async () => {
    const farm = await button("button-farm");
    const lifetime = (c: X509Certificate) => new Date(c.validTo).getTime() - new Date(c.validFrom).getTime();
    const first = certOf("button-farm");
    let held = first;
    const answers: RenewalAnswer[] = [];
    for (let i = 0; i < 10; i++) {
      const answer = await ask(farm, "button-farm", serialOf(held));
      answers.push(answer);
      if (answer.status === "issued") held = new X509Certificate(Buffer.from(base64Decode(answer.cert)!));
    }
    const issued = answers.filter((a) => a.status === "issued").length;
    expect(issued).toBe(RENEWAL_REQUEST_LIMIT.burst);
    expect(answers.slice(issued)).toEqual(answers.slice(issued).map(() => ({ v: 1, status: "refused", reason: "rate-limited" })));
    expect(Math.abs(lifetime(held) - lifetime(first))).toBeLessThan(5_000); // 5 days, not a 730-day default
    expect(readRegistry(pkiDir).certificates.filter((c) => c.thing === "button-farm")).toHaveLength(1 + issued);
  });

  it("a certificate outside the renewal window is not renewed", async () => {
    const long = await button("button-long");
    expect(await ask(long, "button-long", serialOf(certOf("button-long")))).toEqual({ v: 1, status: "refused", reason: "not-due" });
    expect(readRegistry(pkiDir).certificates.filter((c) => c.thing === "button-long")).toHaveLength(1);
  });

  it("a revoked service identity stays revoked: the service refuses to start until service create", async () => {
    await renewal.close();
    await pkiTool(pkiDir, "thing", "revoke", "renewal");
    const certificates = readRegistry(pkiDir).certificates.filter((c) => c.thing === "renewal").length;
    const start = () => startRenewal({ brokerUrl: broker.url, servername: undefined, pkiDir, topicPrefix: "pizza" }, (source, event, fields) => events.push({ source, event, ...fields }));
    await expect(start()).rejects.toThrow(/identity is REVOKED .*service create renewal/);
    expect(readRegistry(pkiDir).things.renewal?.state).toBe("REVOKED");
    expect(readRegistry(pkiDir).certificates.filter((c) => c.thing === "renewal")).toHaveLength(certificates);
    await pkiTool(pkiDir, "service", "create", "renewal");
    renewal = await start();
    expect(readRegistry(pkiDir).things.renewal?.state).toBe("ACTIVE");
  });
});
