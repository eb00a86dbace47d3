// Several restaurant instances, each with its own certificate (`npm run pki -- service create restaurant
// --instance N`, identity = CN = client id `restaurant.N`), on both brokers over real TLS: the embedded broker
// (built-in rules, registry by fingerprint) and mosquitto (ACL written from the registry,
// use_identity_as_username). The instances stay connected together and have the restaurant's rights; no
// certificate acts as an instance it was not issued for; a button never acts as one; one instance is revoked
// on its own. On mosquitto the orders come through the shared subscription `$share/<group>/…`: each order
// reaches one instance. The embedded broker has no shared subscriptions: every instance receives every order.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceInstanceName } from "../../../tools/pki/reserved";
import { closedOf, collect, orderJson, ackJson, sleep, tryConnect, waitFor, type Received } from "../support/mqtt-probe";
import { createSecurityPki, type Credentials, type SecurityPki } from "../support/security-pki";
import { BROKER_KINDS, brokerSession, type BrokerKind } from "../support/test-brokers";
import { ALL_ORDERS, acksOf, ordersOf } from "../support/topics";

const A = "pizza-button-01";
const B = "pizza-button-02";
const instance = (n: number) => serviceInstanceName("restaurant", n);

let pki: SecurityPki;
const id: Record<string, Credentials> = {};

beforeAll(async () => {
  pki = await createSecurityPki("instances");
  id.a = await pki.thing(A);
  id.b = await pki.thing(B);
  id.restaurant = await pki.thing("restaurant");
  for (const n of [1, 2, 3]) {
    await pki.pki.createService("restaurant", { keyType: "ec", instance: n });
    id[instance(n)] = pki.credentials(instance(n));
  }
  // Revoked on its own: instances 1 and 2 keep working (the brokers load the new CRL and registry at start).
  await pki.pki.setThingState(instance(3), "REVOKED");
});

afterAll(() => pki?.remove());

describe.each(BROKER_KINDS)("%s broker", (kind: BrokerKind) => {
  const session = brokerSession(kind, () => pki);
  const client = (credentials: Credentials, clientId: string) => session.client(credentials, clientId);

  /** The orders filter an instance subscribes: shared on mosquitto, plain on the embedded broker. */
  const ordersFilter = kind === "mosquitto" ? `$share/kitchen/${ALL_ORDERS}` : ALL_ORDERS;

  it("two instances stay connected together with the restaurant's rights; orders and acks flow", async () => {
    const one = await client(id[instance(1)]!, instance(1));
    const two = await client(id[instance(2)]!, instance(2));
    await one.subscribeAsync(ordersFilter, { qos: 1 });
    await two.subscribeAsync(ordersFilter, { qos: 1 });
    const toOne = collect(one);
    const toTwo = collect(two);
    const a = await client(id.a!, A);
    await a.subscribeAsync(acksOf(A), { qos: 1 });
    const toA = collect(a);

    const orders = 20;
    for (let seq = 1; seq <= orders; seq++) await a.publishAsync(ordersOf(A), orderJson(A, seq), { qos: 1 });
    const ids = (list: Received[]) => list.map((m) => (JSON.parse(m.text) as { orderId: string }).orderId);
    if (kind === "mosquitto") {
      // The shared subscription: every order reaches exactly one instance.
      await waitFor(() => toOne.length + toTwo.length >= orders, "every order at one instance");
      await sleep(300);
      const all = [...ids(toOne), ...ids(toTwo)].sort();
      expect(all).toEqual(Array.from({ length: orders }, (_, i) => `${A}-${i + 1}`).sort());
      expect(toOne.length).toBeGreaterThan(0);
      expect(toTwo.length).toBeGreaterThan(0);
    } else {
      await waitFor(() => toOne.length >= orders && toTwo.length >= orders, "every order at both instances");
      expect(ids(toOne)).toEqual(ids(toTwo));
    }
    // Each instance answers the button.
    await one.publishAsync(acksOf(A), ackJson(`${A}-1`), { qos: 1 });
    await two.publishAsync(acksOf(A), ackJson(`${A}-2`), { qos: 1 });
    await waitFor(() => toA.length >= 2, "both instances' acks at the button");
    expect(one.connected && two.connected).toBe(true);
  });

  it("instance 1's certificate cannot act as instance 2, nor the restaurant's certificate as an instance", async () => {
    const two = await client(id[instance(2)]!, instance(2));
    await two.subscribeAsync(ordersFilter, { qos: 1 });
    for (const [credentials, cn, clientId] of [
      [id[instance(1)]!, instance(1), instance(2)],
      [id.restaurant!, "restaurant", instance(2)],
      [id[instance(1)]!, instance(1), "restaurant"],
    ] as const) {
      const eventsFrom = session.broker.events.length;
      const logFrom = session.broker.mosquitto?.mark() ?? 0;
      const attempt = await tryConnect(session.broker.url, { credentials, clientId });
      if (kind === "embedded") {
        expect(attempt.connected).toBe(false);
        expect(attempt.connected ? [] : attempt.errors.map((e) => e.code)).toContain(5);
        expect(session.broker.events.slice(eventsFrom)).toContainEqual(expect.objectContaining({ event: "refused", clientId, cn }));
      } else {
        // mosquitto replaces the client id with the certificate's CN: it connects as itself, not as clientId.
        expect(attempt.connected).toBe(true);
        if (attempt.connected) session.endAfterTest(attempt.client);
        const line = await session.broker.mosquitto!.waitForLog(/New client connected from .* as /, logFrom);
        expect(line).toMatch(new RegExp(`as ${cn.replace(".", "\\.")} `));
      }
    }
    // Instance 2's own session was never taken over.
    await two.subscribeAsync(ordersFilter, { qos: 1 });
    expect(two.connected).toBe(true);
  });

  it("a button can never act as an instance: named restaurant.1 it has its own rights only", async () => {
    const one = await client(id[instance(1)]!, instance(1));
    await one.subscribeAsync(ordersFilter, { qos: 1 });
    const toOne = collect(one);
    const b = await client(id.b!, B);
    await b.subscribeAsync(acksOf(B), { qos: 1 });
    const toB = collect(b);
    const eventsFrom = session.broker.events.length;
    const attempt = await tryConnect(session.broker.url, { credentials: id.a!, clientId: instance(1) });
    if (kind === "embedded") {
      expect(attempt.connected).toBe(false);
      expect(attempt.connected ? [] : attempt.errors.map((e) => e.code)).toContain(5);
      expect(session.broker.events.slice(eventsFrom)).toContainEqual(expect.objectContaining({ event: "refused", clientId: instance(1), cn: A }));
    } else {
      // Connected as A (client id replaced): an ack forged to B and a subscription to every order get nothing.
      expect(attempt.connected).toBe(true);
      if (!attempt.connected) return;
      const fake = attempt.client;
      session.endAfterTest(fake);
      const toFake = collect(fake);
      await fake.subscribeAsync(ALL_ORDERS, { qos: 1 });
      await fake.publishAsync(acksOf(B), ackJson(`${B}-1`), { qos: 1 });
      await b.publishAsync(ordersOf(B), orderJson(B, 1), { qos: 1 });
      await waitFor(() => toOne.length >= 1, "B's order at instance 1");
      await sleep(500);
      expect(toFake).toEqual([]);
      expect(toB).toEqual([]);
    }
    // Instance 1 was never knocked off.
    expect(one.connected).toBe(true);
  });

  it("a revoked instance is refused at the TLS handshake while the others connect", async () => {
    const attempt = await tryConnect(session.broker.url, { credentials: id[instance(3)]!, clientId: instance(3) });
    if (attempt.connected) session.endAfterTest(attempt.client);
    expect(attempt.connected).toBe(false);
    const two = await client(id[instance(2)]!, instance(2));
    expect(two.connected).toBe(true);
    const closed = closedOf(two);
    await two.endAsync();
    await closed;
  });
});
