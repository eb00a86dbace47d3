// The embedded broker over real TLS on loopback, with certificates from the project's PKI library and
// mqtt.js as the client.

import type { IClientOptions, MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Authorizer } from "../../../../services/broker/authorizer";
import { thingTopicAuthorizer } from "../../../../services/broker/authorizer";
import { type RunningBroker, startBroker } from "../../../../services/broker/broker";
import { clientOptions, closed, connect, createTestPki, LogCollector, nextMessage, type TestPki, type ThingTls, tryConnect } from "./fixtures";
import { ALL_ACKS, ALL_ORDERS, acksOf, ordersOf } from "../../support/topics";

let ca: TestPki;
let otherCa: TestPki; // an unrelated CA the broker does not trust
let device1: ThingTls;
let device2: ThingTls;
let restaurant: ThingTls;
const open: MqttClient[] = [];

/** Connects and remembers the client so afterEach closes it. */
async function connected(tls: ThingTls, url: string, extra = {}): Promise<MqttClient> {
  const client = await connect(url, clientOptions(tls, extra));
  open.push(client);
  return client;
}

beforeAll(async () => {
  [ca, otherCa] = await Promise.all([createTestPki("trusted"), createTestPki("untrusted")]);
  // One at a time: each createThing rewrites the PKI registry.
  device1 = await ca.thing("pizza-button-01");
  device2 = await ca.thing("pizza-button-02");
  restaurant = await ca.thing("restaurant");
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.endAsync(true)));
});

afterAll(() => {
  ca?.remove();
  otherCa?.remove();
});

describe("broker with the built-in thing rules", () => {
  let broker: RunningBroker;
  const logs = new LogCollector();

  beforeAll(async () => {
    broker = await startBroker({
      key: ca.brokerKey,
      cert: ca.brokerCert,
      ...ca.pki.trustMaterial(),
      thingState: (thing) => ca.pki.thingState(thing),
      log: logs.log,
    });
  });
  afterAll(() => broker?.close());

  it("listens on an ephemeral loopback port", () => {
    expect(broker.host).toBe("127.0.0.1");
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.url).toBe(`mqtts://127.0.0.1:${broker.port}`);
  });

  it("delivers a device's order to the restaurant, and the ack only to that device", async () => {
    const kitchen = await connected(restaurant, broker.url);
    await kitchen.subscribeAsync(ALL_ORDERS, { qos: 1 });
    const [one, two] = await Promise.all([connected(device1, broker.url), connected(device2, broker.url)]);
    await one.subscribeAsync(acksOf("pizza-button-01"), { qos: 1 });
    await two.subscribeAsync(acksOf("pizza-button-02"), { qos: 1 });
    const twoReceived: string[] = [];
    two.on("message", (topic) => twoReceived.push(topic));

    const order = nextMessage(kitchen);
    await one.publishAsync(ordersOf("pizza-button-01"), '{"orderId":"pizza-button-01-1"}', { qos: 1 });
    expect(await order).toEqual({ topic: ordersOf("pizza-button-01"), payload: '{"orderId":"pizza-button-01-1"}' });

    const ackForOne = nextMessage(one);
    const ackForTwo = nextMessage(two);
    await kitchen.publishAsync(acksOf("pizza-button-01"), "ack-1", { qos: 1 });
    await kitchen.publishAsync(acksOf("pizza-button-02"), "ack-2", { qos: 1 });
    expect(await ackForOne).toEqual({ topic: acksOf("pizza-button-01"), payload: "ack-1" });
    // The ack for device 1 went out first from the same publisher; had device 2 been sent it, it would
    // have arrived before device 2's own.
    expect(await ackForTwo).toEqual({ topic: acksOf("pizza-button-02"), payload: "ack-2" });
    expect(twoReceived).toEqual([acksOf("pizza-button-02")]);

    const connects = logs.find((e) => e.event === "connect").map((e) => [e.clientId, e.cn]);
    expect(connects).toEqual(expect.arrayContaining([["restaurant", "restaurant"], ["pizza-button-01", "pizza-button-01"]]));
  });

  it("logs publishes with their size, never their payload", async () => {
    const device = await connected(device1, broker.url);
    const from = logs.mark();
    await device.publishAsync(ordersOf("pizza-button-01"), "secret-margherita", { qos: 1 });
    const event = await logs.waitFor((e) => e.event === "publish" && e.clientId === "pizza-button-01", from);
    expect(event).toMatchObject({ topic: ordersOf("pizza-button-01"), bytes: 17, qos: 1, reason: "thing publishes its own orders" });
    expect(JSON.stringify(logs.events)).not.toContain("secret-margherita");
    expect(JSON.stringify(logs.events)).not.toContain("PRIVATE KEY");
  });

  describe("refuses at the TLS handshake", () => {
    it("a client without a certificate", async () => {
      const from = logs.mark();
      const outcome = await tryConnect(broker.url, clientOptions({ ca: ca.caPem, name: "pizza-button-01" }));
      expect(outcome.connected).toBe(false);
      const event = await logs.waitFor((e) => e.event === "tls-refused", from);
      expect(event).toMatchObject({ reason: "peer did not return a certificate", code: "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE" });
    });

    it("a certificate from a CA the broker does not trust", async () => {
      const stranger = await otherCa.thing("pizza-button-01"); // same name, wrong CA
      const from = logs.mark();
      const outcome = await tryConnect(broker.url, clientOptions({ ...stranger, ca: ca.caPem }));
      expect(outcome.connected).toBe(false);
      const event = await logs.waitFor((e) => e.event === "tls-refused", from);
      expect(event).toMatchObject({ reason: "client certificate rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
      expect(logs.events.slice(from).some((e) => e.event === "connect")).toBe(false);
    });

    it("a TLS 1.1 client", async () => {
      const from = logs.mark();
      // Let the client really offer TLS 1.1 (its own defaults would refuse before sending anything).
      const outcome = await tryConnect(
        broker.url,
        // mqtt.js hands these to tls.connect; its option type does not list them.
        clientOptions(device1, { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" } as IClientOptions),
      );
      expect(outcome.connected).toBe(false);
      const event = await logs.waitFor((e) => e.event === "tls-refused", from);
      expect(event).toMatchObject({ reason: "unsupported protocol", code: "ERR_SSL_UNSUPPORTED_PROTOCOL" });
    });
  });

  describe("refuses at CONNECT with return code 5", () => {
    it("a client id that is not the certificate CN", async () => {
      const from = logs.mark();
      const outcome = await tryConnect(broker.url, clientOptions(device1, { clientId: "pizza-button-02" }));
      expect(outcome).toMatchObject({ connected: false, error: { code: 5 } });
      const event = await logs.waitFor((e) => e.event === "refused", from);
      expect(event).toMatchObject({ clientId: "pizza-button-02", cn: "pizza-button-01", reason: "client id must equal certificate CN" });
    });

    it("an empty client id (aedes would invent one)", async () => {
      const outcome = await tryConnect(broker.url, clientOptions(device1, { clientId: "", clean: true }));
      expect(outcome).toMatchObject({ connected: false, error: { code: 5 } });
    });

    it("a will on another thing's topic", async () => {
      const from = logs.mark();
      const will = { topic: ordersOf("pizza-button-02"), payload: Buffer.from("x"), qos: 0 as const, retain: false };
      const outcome = await tryConnect(broker.url, clientOptions(device1, { will }));
      expect(outcome).toMatchObject({ connected: false, error: { code: 5 } });
      const event = await logs.waitFor((e) => e.event === "refused", from);
      expect(event.reason).toMatch(/^will topic pizza\/orders\/pizza-button-02 not allowed/);
    });

    it("an INACTIVE thing, and admits it again once ACTIVE (state read on every CONNECT)", async () => {
      const inactive = await ca.thing("pizza-button-07");
      await ca.pki.setThingState("pizza-button-07", "INACTIVE");
      const from = logs.mark();
      const outcome = await tryConnect(broker.url, clientOptions(inactive));
      expect(outcome).toMatchObject({ connected: false, error: { code: 5 } });
      const event = await logs.waitFor((e) => e.event === "refused", from);
      expect(event).toMatchObject({ cn: "pizza-button-07", reason: "thing is INACTIVE" });

      await ca.pki.setThingState("pizza-button-07", "ACTIVE");
      await connected(inactive, broker.url);
    });
  });

  describe("disconnects a device that oversteps", () => {
    it("publishing to another thing's orders topic (and the order is not delivered)", async () => {
      const kitchen = await connected(restaurant, broker.url);
      await kitchen.subscribeAsync(ALL_ORDERS, { qos: 1 });
      const received: string[] = [];
      kitchen.on("message", (topic, payload) => received.push(`${topic} ${payload}`));
      const intruder = await connected(device1, broker.url);
      const gone = closed(intruder);
      const from = logs.mark();
      intruder.publish(ordersOf("pizza-button-02"), "forged", { qos: 1 });
      await gone;
      const event = await logs.waitFor((e) => e.event === "publish-denied", from);
      expect(event).toMatchObject({ clientId: "pizza-button-01", topic: ordersOf("pizza-button-02"), action: "disconnect", reason: "no matching rule" });
      expect(await logs.waitFor((e) => e.event === "disconnect", from)).toMatchObject({ clientId: "pizza-button-01", reason: "publish denied" });

      // A later legitimate order arrives, and it is the first thing the restaurant got.
      const honest = await connected(device2, broker.url);
      const next = nextMessage(kitchen);
      await honest.publishAsync(ordersOf("pizza-button-02"), "real", { qos: 1 });
      await next;
      expect(received).toEqual([`${ordersOf("pizza-button-02")} real`]);
    });

    it.each([acksOf("pizza-button-02"), ALL_ACKS, "#", ALL_ORDERS, "$SYS/#"])(
      "subscribing to %s: SUBACK 0x80, then disconnected",
      async (filter) => {
        const device = await connected(device1, broker.url);
        const gone = closed(device);
        const from = logs.mark();
        await expect(device.subscribeAsync(filter)).rejects.toMatchObject({ packet: { cmd: "suback", granted: [128] } });
        await gone;
        const event = await logs.waitFor((e) => e.event === "subscribe-denied", from);
        expect(event).toMatchObject({ clientId: "pizza-button-01", topicFilter: filter, action: "disconnect" });
      },
    );

    it("sending a packet over the size limit", async () => {
      const device = await connected(device1, broker.url);
      const gone = closed(device);
      const from = logs.mark();
      device.publish(ordersOf("pizza-button-01"), Buffer.alloc(64 * 1024, 0x61), { qos: 0 });
      await gone;
      const event = await logs.waitFor((e) => e.event === "packet-too-large", from);
      expect(event).toMatchObject({ cn: "pizza-button-01" });
      expect(event.reason).toMatch(/exceeds the 65536-byte limit/);
      expect(logs.events.slice(from).some((e) => e.event === "publish" || e.event === "client-error")).toBe(false);
      expect(await logs.waitFor((e) => e.event === "disconnect", from)).toMatchObject({ reason: "packet too large" });
    });
  });

  it("a new connection with the same client id takes over the old one", async () => {
    const first = await connected(device1, broker.url);
    const firstGone = closed(first);
    const second = await connected(device1, broker.url);
    await firstGone;
    expect(second.connected).toBe(true);
  });
});

describe("broker with a custom authorizer", () => {
  let broker: RunningBroker;
  const logs = new LogCollector();
  const rules = thingTopicAuthorizer({ topicPrefix: "pizza" });
  // Lets a device subscribe to every ack (so delivery is the only gate), and allows everything else
  // except via receive(): proves each hook is asked and that the broker's own $SYS rule still holds.
  const permissive: Authorizer = {
    connect: () => ({ allow: true, reason: "test: anyone" }),
    publish: () => ({ allow: true, reason: "test: anything" }),
    subscribe: () => ({ allow: true, reason: "test: anything" }),
    receive: (id, topic) => (id.commonName === "restaurant" ? { allow: true, reason: "test" } : rules.receive(id, topic)),
  };

  beforeAll(async () => {
    broker = await startBroker({ key: ca.brokerKey, cert: ca.brokerCert, ca: [ca.caPem], authorizer: permissive, log: logs.log });
  });
  afterAll(() => broker?.close());

  it("does not deliver what receive() denies", async () => {
    const kitchen = await connected(restaurant, broker.url);
    const [one, two] = await Promise.all([connected(device1, broker.url), connected(device2, broker.url)]);
    await one.subscribeAsync(ALL_ACKS);
    await two.subscribeAsync(ALL_ACKS);
    const oneReceived: string[] = [];
    one.on("message", (topic) => oneReceived.push(topic));
    const from = logs.mark();
    const ackForTwo = nextMessage(two);
    await kitchen.publishAsync(acksOf("pizza-button-02"), "ack-2", { qos: 1 });
    expect((await ackForTwo).topic).toBe(acksOf("pizza-button-02"));
    const ackForOne = nextMessage(one);
    await kitchen.publishAsync(acksOf("pizza-button-01"), "ack-1", { qos: 1 });
    expect((await ackForOne).topic).toBe(acksOf("pizza-button-01"));
    expect(oneReceived).toEqual([acksOf("pizza-button-01")]);
    const denied = await logs.waitFor((e) => e.event === "receive-denied", from);
    expect(denied).toMatchObject({ clientId: "pizza-button-01", topic: acksOf("pizza-button-02"), reason: "no matching rule" });
  });

  it("requires client id = certificate CN whatever the authorizer says", async () => {
    const from = logs.mark();
    const outcome = await tryConnect(broker.url, clientOptions(device1, { clientId: "anything" }));
    expect(outcome).toMatchObject({ connected: false, error: { code: 5 } });
    expect(await logs.waitFor((e) => e.event === "refused", from)).toMatchObject({ reason: "client id must equal certificate CN" });
  });

  it("refuses $SYS publishes whatever the authorizer says (they could kick other clients)", async () => {
    const victim = await connected(device2, broker.url);
    const attacker = await connected(device1, broker.url);
    const gone = closed(attacker);
    const from = logs.mark();
    attacker.publish("$SYS/x/new/clients", "pizza-button-02");
    await gone;
    const event = await logs.waitFor((e) => e.event === "publish-denied", from);
    expect(event).toMatchObject({ topic: "$SYS/x/new/clients", reason: "topic reserved for the broker" });
    await victim.publishAsync(ordersOf("pizza-button-02"), "still here", { qos: 1 });
    expect(victim.connected).toBe(true);
  });

  it("re-authorizes a persistent session's subscriptions when it reconnects", async () => {
    let acksAllowed = true;
    const changing: Authorizer = {
      ...permissive,
      receive: () => ({ allow: true, reason: "test: anything" }),
      subscribe: (_id, filter) =>
        filter === acksOf("pizza-button-01") && !acksAllowed ? { allow: false, reason: "test: acks withdrawn" } : { allow: true, reason: "test" },
    };
    const changingBroker = await startBroker({ key: ca.brokerKey, cert: ca.brokerCert, ca: [ca.caPem], authorizer: changing, log: logs.log });
    try {
      const first = await connected(device1, changingBroker.url, { clean: false });
      await first.subscribeAsync(acksOf("pizza-button-01"), { qos: 1 });
      await first.endAsync();

      acksAllowed = false;
      const from = logs.mark();
      const second = await connected(device1, changingBroker.url, { clean: false });
      expect(await logs.waitFor((e) => e.event === "subscribe-denied", from)).toMatchObject({
        topicFilter: acksOf("pizza-button-01"),
        restored: true,
        reason: "test: acks withdrawn",
      });
      // The session survives without that subscription: a later message on it is not delivered.
      await second.subscribeAsync("pizza/news", { qos: 1 });
      const received: string[] = [];
      second.on("message", (topic) => received.push(topic));
      const kitchen = await connected(restaurant, changingBroker.url);
      const news = nextMessage(second);
      await kitchen.publishAsync(acksOf("pizza-button-01"), "ack", { qos: 1 });
      await kitchen.publishAsync("pizza/news", "news", { qos: 1 });
      await news;
      expect(received).toEqual(["pizza/news"]);
      expect(second.connected).toBe(true);
    } finally {
      await changingBroker.close();
    }
  });

  it("denies when the authorizer throws (fail closed)", async () => {
    const throwing: Authorizer = {
      ...permissive,
      connect: () => {
        throw new Error("policy store unreadable");
      },
    };
    const strict = await startBroker({ key: ca.brokerKey, cert: ca.brokerCert, ca: [ca.caPem], authorizer: throwing, log: logs.log });
    try {
      const from = logs.mark();
      const outcome = await tryConnect(strict.url, clientOptions(device1));
      expect(outcome).toMatchObject({ connected: false, error: { code: 5 } });
      const event = await logs.waitFor((e) => e.event === "refused", from);
      expect(event.reason).toBe("authorizer error: policy store unreadable");
    } finally {
      await strict.close();
    }
  });
});

describe("trust changes without restart", () => {
  it("a certificate revoked through the PKI's CRL is refused after updateTrust; open connections stay", async () => {
    const pki = await createTestPki("crl");
    const logs = new LogCollector();
    try {
      const doomed = await pki.thing("pizza-button-03");
      const kept = await pki.thing("pizza-button-04");
      // No thingState hook: the refusal below must come from the CRL alone.
      const broker = await startBroker({ key: pki.brokerKey, cert: pki.brokerCert, ...pki.pki.trustMaterial(), log: logs.log });
      try {
        await pki.pki.setThingState("pizza-button-03", "REVOKED");
        // The broker still has the old CRL: a new connection is still accepted (and stays open below).
        const before = await connected(doomed, broker.url);

        broker.updateTrust(pki.pki.trustMaterial());
        const from = logs.mark();
        const outcome = await tryConnect(broker.url, clientOptions(doomed));
        expect(outcome.connected).toBe(false);
        const event = await logs.waitFor((e) => e.event === "tls-refused", from);
        expect(event).toMatchObject({ reason: "client certificate rejected: CERT_REVOKED" });
        // Other things of the same CA still connect; an existing connection is not cut by the reload.
        await connected(kept, broker.url);
        await before.publishAsync(ordersOf("pizza-button-03"), "still open", { qos: 1 });
        expect(before.connected).toBe(true);
      } finally {
        await broker.close();
      }
    } finally {
      pki.remove();
    }
  });

  it("a certificate revoked in the registry is refused on its next CONNECT via certificateState, before any CRL reload", async () => {
    const pki = await createTestPki("registry");
    const logs = new LogCollector();
    try {
      const doomed = await pki.thing("pizza-button-06");
      const broker = await startBroker({
        key: pki.brokerKey,
        cert: pki.brokerCert,
        ...pki.pki.trustMaterial(),
        certificateState: (fingerprint) => pki.pki.certificateState(fingerprint),
        log: logs.log,
      });
      try {
        await connected(doomed, broker.url);
        await pki.pki.setThingState("pizza-button-06", "REVOKED");
        const from = logs.mark();
        const outcome = await tryConnect(broker.url, clientOptions(doomed));
        expect(outcome).toMatchObject({ connected: false, error: { code: 5 } });
        expect(await logs.waitFor((e) => e.event === "refused", from)).toMatchObject({ cn: "pizza-button-06", reason: "certificate is REVOKED" });
      } finally {
        await broker.close();
      }
    } finally {
      pki.remove();
    }
  });

  it("a newly trusted CA is accepted after updateTrust, and bad PEM leaves the trust unchanged", async () => {
    const logs = new LogCollector();
    const broker = await startBroker({ key: ca.brokerKey, cert: ca.brokerCert, ca: [ca.caPem], log: logs.log });
    try {
      const guest = await otherCa.thing("pizza-button-05");
      const guestOptions = clientOptions({ ...guest, ca: ca.caPem });
      expect((await tryConnect(broker.url, guestOptions)).connected).toBe(false);

      expect(() => broker.updateTrust({ ca: ["not a certificate"] })).toThrow(/ca\[0\] holds no PEM certificate/);
      expect(() => broker.updateTrust({ ca: [] })).toThrow(/non-empty/);
      expect(() => broker.updateTrust({ ca: [device1.cert] })).toThrow(/is not a CA certificate/);
      expect(() => broker.updateTrust({ ca: [otherCa.caPem], crl: ["-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"] })).toThrow(
        /Failed to parse CRL/,
      );
      await connected(device1, broker.url); // old trust still in force

      broker.updateTrust({ ca: [ca.caPem, otherCa.caPem] });
      const outcome = await tryConnect(broker.url, guestOptions);
      expect(outcome.connected).toBe(true);
      if (outcome.connected) open.push(outcome.client);
      expect(logs.find((e) => e.event === "trust-updated")).toEqual([{ event: "trust-updated", caCount: 2, crlCount: 0 }]);
    } finally {
      await broker.close();
    }
  });
});

describe("lifecycle", () => {
  it("close() disconnects clients, stops listening and releases every socket", async () => {
    const broker = await startBroker({ key: ca.brokerKey, cert: ca.brokerCert, ca: [ca.caPem] });
    const client = await connected(device1, broker.url);
    const gone = closed(client);
    expect(broker.clients).toBe(1);
    expect(broker.connections).toBe(1);
    expect(broker.stats).toMatchObject({ tlsAccepted: 1, connects: 1 });
    await broker.close();
    await gone;
    expect(broker.connections).toBe(0);
    expect((await tryConnect(broker.url, clientOptions(device1))).connected).toBe(false);
    await broker.close(); // idempotent
  });

  it("refuses bad options with a clear error", async () => {
    await expect(startBroker({ key: ca.brokerKey, cert: ca.brokerCert, ca: [] })).rejects.toThrow(/ca must be a non-empty array/);
    await expect(startBroker({ key: ca.brokerKey, cert: ca.brokerCert, ca: [ca.caPem], topicPrefix: "pizza/#" })).rejects.toThrow(
      /invalid topicPrefix/,
    );
    await expect(startBroker({ key: "", cert: ca.brokerCert, ca: [ca.caPem] })).rejects.toThrow(/key and cert/);
  });
});
