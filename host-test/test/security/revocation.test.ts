// Revocation against open connections and the local deny list, over TLS on loopback with the real
// services: `npm run broker` in-process, the PKI tool run as an operator runs it (in-process too), and a
// real mosquitto (config and ACL written by host-test/mosquitto, which follows the PKI and reloads it).
// - Embedded broker: when the registry or the CRLs change, every open client whose certificate or thing
//   became REVOKED or INACTIVE is disconnected and logged ("access-withdrawn").
// - Bring-your-own-CA and AWS-imported things go on no CRL of ours (we cannot sign their CA's CRL): the
//   registry is the deny list. The embedded broker reads it at every CONNECT and on every change;
//   mosquitto gets it through the regenerated ACL, which then grants a revoked thing nothing.
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMosquitto, type RunningMosquitto } from "../../mosquitto/mosquitto";
import { closedOf, collect, connectClient, orderJson, sleep, tryConnect } from "../support/mqtt-probe";
import { createSecurityPki, type Credentials, type SecurityPki } from "../support/security-pki";
import { mosquittoSkipReason } from "../support/test-brokers";
import { foreignCa, pkiCli, startBrokerServiceOn, type ForeignCa, type TestBrokerService } from "../support/trust-boundary";
import { ALL_ORDERS, acksOf, ordersOf } from "../support/topics";

let pki: SecurityPki;
let theirs: ForeignCa;
const id: Record<string, Credentials> = {};

/** Registers a certificate of their CA for `thing` in our PKI (thing register). */
async function registerTheirs(thing: string): Promise<Credentials> {
  const credentials = await theirs.issueRevocable(thing, pki.caPem);
  const file = path.join(pki.dir, `${thing}.pem`);
  writeFileSync(file, credentials.cert);
  const registered = await pkiCli(pki.pki.dir, "thing", "register", thing, "--cert", file);
  expect(registered.code, registered.err).toBe(0);
  return credentials;
}

beforeAll(async () => {
  pki = await createSecurityPki("revocation");
  for (const name of ["pizza-button-01", "pizza-button-02", "pizza-button-03", "pizza-button-04", "pizza-button-05"]) id[name] = await pki.thing(name);
  id.restaurant = await pki.thing("restaurant");
  theirs = await foreignCa(path.join(pki.dir, "their-ca"));
  expect((await pkiCli(pki.pki.dir, "ca", "register", theirs.rootPath, "--crl", theirs.crlPath)).code).toBe(0);
  for (const name of ["acme-01", "acme-02", "acme-03", "acme-04"]) id[name] = await registerTheirs(name);
}, 60_000);

afterAll(() => pki?.remove());

/** A persistent button: connected, subscribed to its acks. */
async function persistent(url: string, thing: string): Promise<MqttClient> {
  const client = await connectClient(url, { credentials: id[thing]!, clientId: thing });
  client.on("error", () => {});
  await client.subscribeAsync(acksOf(thing), { qos: 1 });
  return client;
}

describe("embedded broker: open connections end when their identity is withdrawn", () => {
  let broker: TestBrokerService;
  beforeAll(async () => {
    broker = await startBrokerServiceOn(pki.pki.dir, { rules: "policy" });
  });
  afterAll(() => broker?.close());

  it.each([
    ["thing revoke", "pizza-button-01", "REVOKED"],
    ["thing deactivate", "pizza-button-02", "INACTIVE"],
    ["thing revoke", "acme-04", "REVOKED"], // a bring-your-own-CA thing: on no CRL, the registry decides
  ])("%s disconnects the thing's open connection at once and logs it", async (command, thing, state) => {
    const client = await persistent(broker.url, thing);
    const closed = closedOf(client);
    const mark = broker.events.length;
    const [group, verb] = command.split(" ") as [string, string];
    expect((await pkiCli(pki.pki.dir, group, verb, thing)).code).toBe(0);
    // The registry watch reloads within a fraction of a second; 3 s bounds the wait, not the goal.
    const withdrawn = await broker.waitFor((e) => e.event === "access-withdrawn" && e.clientId === thing, `${thing} withdrawn`, mark, 3_000);
    expect(withdrawn).toMatchObject({ reason: `thing is ${state}`, action: "disconnect" });
    await closed;
    await client.endAsync(true);
    expect((await tryConnect(broker.url, { credentials: id[thing]!, clientId: thing })).connected).toBe(false);
  });

  it("a CRL imported for a registered CA disconnects the open connection of a certificate it revokes", async () => {
    const client = await persistent(broker.url, "acme-01");
    const closed = closedOf(client);
    const mark = broker.events.length;
    await theirs.revoke("acme-01");
    expect((await pkiCli(pki.pki.dir, "ca", "import-crl", theirs.crlPath)).code).toBe(0);
    const withdrawn = await broker.waitFor((e) => e.event === "access-withdrawn" && e.clientId === "acme-01", "acme-01 withdrawn", mark, 3_000);
    expect(withdrawn.reason).toBe("certificate is on a CRL");
    await closed;
    await client.endAsync(true);
  });

  it("the other clients stay connected", async () => {
    const client = await persistent(broker.url, "pizza-button-03");
    expect((await pkiCli(pki.pki.dir, "thing", "deactivate", "pizza-button-04")).code).toBe(0);
    await sleep(600); // past the registry watch's debounce: the revalidation has run
    expect(client.connected).toBe(true);
    await client.endAsync();
    expect((await pkiCli(pki.pki.dir, "thing", "activate", "pizza-button-04")).code).toBe(0);
  });
});

describe("bring-your-own-CA things: the registry is the deny list", () => {
  it("thing revoke says the certificate is on no CRL and who enforces the revocation instead", async () => {
    const revoked = await pkiCli(pki.pki.dir, "thing", "revoke", "acme-02");
    expect(revoked.code).toBe(0);
    expect(revoked.out).not.toMatch(/CRLs updated/);
    expect(revoked.out).toMatch(/not on any CRL/);
    expect(revoked.out).toMatch(/embedded broker refuses it at once/);
    expect(revoked.out).toMatch(/mosquitto .* ACL/);
  });

  it("embedded broker: the revoked thing is refused at CONNECT", async () => {
    const broker = await startBrokerServiceOn(pki.pki.dir, { rules: "builtin" });
    try {
      expect((await tryConnect(broker.url, { credentials: id["acme-02"]!, clientId: "acme-02" })).connected).toBe(false);
      const refused = await broker.waitFor((e) => e.event === "refused" && e.clientId === "acme-02", "the refusal");
      expect(refused.reason).toBe("thing is REVOKED");
    } finally {
      await broker.close();
    }
  });
});

describe.skipIf(mosquittoSkipReason !== undefined)("mosquitto: the ACL carries the registry's deny list", () => {
  let mosquitto: RunningMosquitto;
  beforeAll(async () => {
    mosquitto = await startMosquitto({ pkiDir: pki.pki.dir });
  });
  afterAll(() => mosquitto?.close());

  /** Whether an order `thing` publishes now reaches the restaurant. */
  async function orderReaches(client: MqttClient, thing: string): Promise<boolean> {
    const restaurant = await connectClient(mosquitto.url, { credentials: id.restaurant!, clientId: "restaurant" });
    const seen = collect(restaurant);
    await restaurant.subscribeAsync(ALL_ORDERS, { qos: 1 });
    await client.publishAsync(ordersOf(thing), orderJson(thing, Date.now()), { qos: 1 });
    await sleep(300);
    await restaurant.endAsync();
    return seen.some((m) => m.topic === ordersOf(thing));
  }

  it("thing revoke: the launcher reloads mosquitto by itself; the open connection keeps no right (mosquitto does not end it) and a new one is refused by the CRL", async () => {
    const client = await persistent(mosquitto.url, "pizza-button-05");
    expect(await orderReaches(client, "pizza-button-05")).toBe(true);
    const mark = mosquitto.mark();
    expect((await pkiCli(pki.pki.dir, "thing", "revoke", "pizza-button-05")).code).toBe(0);
    await mosquitto.waitForLog(/Reloading config/, mark, 3_000);
    expect(await orderReaches(client, "pizza-button-05")).toBe(false);
    expect(client.connected).toBe(true);
    await client.endAsync(true);
    const again = await tryConnect(mosquitto.url, { credentials: id["pizza-button-05"]!, clientId: "pizza-button-05" });
    expect(again.connected).toBe(false);
    expect(again.connected ? "" : again.errors.map((e) => e.message).join("; ")).toMatch(/certificate revoked/);
  });

  it("a revoked bring-your-own-CA thing (on no CRL) gets no rights", async () => {
    const url = mosquitto.registeredCaUrl ?? mosquitto.url;
    const attempt = await tryConnect(url, { credentials: id["acme-02"]!, clientId: "acme-02" });
    if (attempt.connected) {
      attempt.client.on("error", () => {});
      expect(await orderReaches(attempt.client, "acme-02")).toBe(false);
      await attempt.client.endAsync(true);
    }
    // The registered device that is still ACTIVE orders (control).
    const active = await connectClient(url, { credentials: id["acme-03"]!, clientId: "acme-03" });
    expect(await orderReaches(active, "acme-03")).toBe(true);
    await active.endAsync();
  });
});
