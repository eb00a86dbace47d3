// TLS and authorization negatives, the same table against both brokers: the embedded broker (aedes on
// node:tls) and a real mosquitto 2.0 started with the config host-test/mosquitto writes. Real TLS on
// loopback, certificates from the project's PKI, plain mqtt.js clients choosing every byte.
//
// Where the two brokers differ, each test asserts what that broker actually does:
// - a refused client certificate: mosquitto sends a TLS alert naming the reason; node:tls just closes
//   (the reason is in the embedded broker's log);
// - client id ≠ certificate CN: the embedded broker refuses the CONNECT (CONNACK 5); mosquitto cannot
//   refuse it without a plugin, so it is configured to replace the client id by the CN
//   (use_username_as_clientid): the impersonated device's session is untouched;
// - topics outside the device's own: the embedded broker disconnects; mosquitto drops a denied PUBLISH
//   silently (QoS 1 still PUBACKed) and GRANTS a SUBSCRIBE its ACL file cannot match, filtering every
//   delivery instead. Either way the other device / the restaurant never receives anything.
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedOf, collect, orderJson, ackJson, tryConnect, waitFor, type ProbeOptions, type Received } from "../support/mqtt-probe";
import { createSecurityPki, DAY_MS, selfSignedCredentials, type Credentials, type SecurityPki } from "../support/security-pki";
import { BROKER_KINDS, brokerSession, type BrokerKind } from "../support/test-brokers";
import { ALL_ORDERS, acksOf, ordersOf } from "../support/topics";

const A = "pizza-button-01";
const B = "pizza-button-02";

let pki: SecurityPki;
let stranger: SecurityPki; // another installation's CA, which the brokers do not trust
const id: Record<string, Credentials> = {};

beforeAll(async () => {
  [pki, stranger] = await Promise.all([createSecurityPki("refusals"), createSecurityPki("stranger")]);
  // One at a time: each issuance rewrites the registry.
  id.a = await pki.thing(A);
  id.b = await pki.thing(B);
  id.restaurant = await pki.thing("restaurant");
  id.expired = await pki.thing("pizza-button-expired", { notBefore: new Date(Date.now() - 30 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
  id.notYetValid = await pki.thing("pizza-button-future", { notBefore: new Date(Date.now() + DAY_MS), notAfter: new Date(Date.now() + 30 * DAY_MS) });
  id.revoked = await pki.thing("pizza-button-revoked");
  await pki.pki.setThingState("pizza-button-revoked", "REVOKED"); // new CRL, loaded by the brokers at start
  id.untrusted = { ...(await stranger.thing(A)), ca: pki.caPem };
  id.selfSigned = await selfSignedCredentials(A, pki.caPem);
});

afterAll(() => {
  pki?.remove();
  stranger?.remove();
});

interface TlsCase {
  name: string;
  probe: () => ProbeOptions;
  /** Embedded broker: the code of its "tls-refused" event, and what the client sees. */
  embedded: { code: RegExp; client: RegExp };
  /** mosquitto: the TLS alert the client receives, and the OpenSSL error it logs. */
  mosquitto: { alert: RegExp; log: RegExp };
}

const HANG_UP = /socket disconnected before secure TLS connection|ECONNRESET|socket hang up/;
const LEGACY_TLS = { minVersion: "TLSv1" as const, ciphers: "DEFAULT:@SECLEVEL=0" }; // so the client offers 1.0/1.1 at all

const TLS_CASES: TlsCase[] = [
  {
    name: "no client certificate",
    probe: () => ({ credentials: { ca: pki.caPem }, clientId: A }),
    embedded: { code: /PEER_DID_NOT_RETURN_A_CERTIFICATE/, client: /alert handshake failure/ },
    mosquitto: { alert: /alert handshake failure/, log: /peer did not return a certificate/ },
  },
  {
    name: "a certificate from an untrusted CA (same CN)",
    probe: () => ({ credentials: id.untrusted!, clientId: A }),
    embedded: { code: /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/, client: HANG_UP },
    mosquitto: { alert: /alert unknown ca/, log: /certificate verify failed/ },
  },
  {
    name: "a self-signed certificate",
    probe: () => ({ credentials: id.selfSigned!, clientId: A }),
    // With CRLs configured OpenSSL reports the missing CRL of the self-signed "issuer" first.
    embedded: { code: /DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_CRL/, client: HANG_UP },
    mosquitto: { alert: /alert unknown ca/, log: /certificate verify failed/ },
  },
  {
    name: "an expired certificate",
    probe: () => ({ credentials: id.expired!, clientId: "pizza-button-expired" }),
    embedded: { code: /^CERT_HAS_EXPIRED$/, client: HANG_UP },
    mosquitto: { alert: /alert certificate expired/, log: /certificate verify failed/ },
  },
  {
    name: "a certificate not yet valid",
    probe: () => ({ credentials: id.notYetValid!, clientId: "pizza-button-future" }),
    embedded: { code: /^CERT_NOT_YET_VALID$/, client: HANG_UP },
    mosquitto: { alert: /alert bad certificate/, log: /certificate verify failed/ },
  },
  {
    name: "a revoked certificate (CRL)",
    probe: () => ({ credentials: id.revoked!, clientId: "pizza-button-revoked" }),
    embedded: { code: /^CERT_REVOKED$/, client: HANG_UP },
    mosquitto: { alert: /alert certificate revoked/, log: /certificate verify failed/ },
  },
  {
    name: "a TLS 1.0 client",
    probe: () => ({ credentials: id.a!, clientId: A, ...LEGACY_TLS, maxVersion: "TLSv1" }),
    embedded: { code: /UNSUPPORTED_PROTOCOL/, client: /alert protocol version/ },
    mosquitto: { alert: /alert protocol version/, log: /unsupported protocol/ },
  },
  {
    name: "a TLS 1.1 client",
    probe: () => ({ credentials: id.a!, clientId: A, ...LEGACY_TLS, maxVersion: "TLSv1.1" }),
    embedded: { code: /UNSUPPORTED_PROTOCOL/, client: /alert protocol version/ },
    mosquitto: { alert: /alert protocol version/, log: /unsupported protocol/ },
  },
];

describe.each(BROKER_KINDS)("%s broker", (kind: BrokerKind) => {
  const session = brokerSession(kind, () => pki);
  const client = (credentials: Credentials, clientId: string) => session.client(credentials, clientId);

  it("accepts a valid device certificate over TLS 1.2 (the control case)", async () => {
    const attempt = await tryConnect(session.broker.url, { credentials: id.a!, clientId: A });
    expect(attempt.connected).toBe(true);
    if (attempt.connected) {
      expect(attempt.protocol).toBe("TLSv1.2");
      session.endAfterTest(attempt.client);
    }
  });

  describe("refuses at the TLS handshake", () => {
    it.each(TLS_CASES)("$name", async (c) => {
      const eventsFrom = session.broker.events.length;
      const logFrom = session.broker.mosquitto?.mark() ?? 0;
      const attempt = await tryConnect(session.broker.url, c.probe());
      if (attempt.connected) session.endAfterTest(attempt.client);
      expect(attempt.connected).toBe(false);
      const seen = attempt.connected ? "" : attempt.errors.map((e) => `${e.code ?? ""} ${e.message}`).join(" | ");

      if (kind === "embedded") {
        expect(seen).toMatch(c.embedded.client);
        await waitFor(() => session.broker.events.slice(eventsFrom).some((e) => e.event === "tls-refused"), "the broker's tls-refused event");
        const refused = session.broker.events.slice(eventsFrom).filter((e) => e.event === "tls-refused");
        expect(refused).toHaveLength(1);
        expect(String(refused[0]!.code)).toMatch(c.embedded.code);
        expect(session.broker.events.slice(eventsFrom).some((e) => e.event === "connect")).toBe(false);
      } else {
        const mosquitto = session.broker.mosquitto!;
        expect(seen).toMatch(c.mosquitto.alert);
        // mosquitto logs a handshake failure one of two ways, depending on whether it happened inside accept().
        const reason = await mosquitto.waitForLog(new RegExp(`(OpenSSL Error.*|Client connection from .* failed: .*)(${c.mosquitto.log.source})`), logFrom);
        expect(reason).toBeDefined();
        const lines = mosquitto.logs.slice(logFrom);
        expect(lines.some((l) => /New client connected/.test(l))).toBe(false);
      }
    });
  });

  it("a TLS 1.3 client still connects: TLS 1.2 is the minimum, not the only version", async () => {
    const attempt = await tryConnect(session.broker.url, { credentials: id.a!, clientId: A, maxVersion: "TLSv1.3" });
    expect(attempt.connected).toBe(true);
    if (attempt.connected) {
      session.endAfterTest(attempt.client);
      expect(attempt.protocol).toBe("TLSv1.3");
    }
  });

  it("client id ≠ certificate CN cannot act as (or kick out) the other device", async () => {
    const victim = await client(id.b!, B);
    await victim.subscribeAsync(acksOf(B), { qos: 1 });
    const eventsFrom = session.broker.events.length;
    const logFrom = session.broker.mosquitto?.mark() ?? 0;

    const attempt = await tryConnect(session.broker.url, { credentials: id.a!, clientId: B });
    if (kind === "embedded") {
      expect(attempt.connected).toBe(false);
      const codes = attempt.connected ? [] : attempt.errors.map((e) => e.code);
      expect(codes).toContain(5); // CONNACK 5: not authorized
      expect(session.broker.events.slice(eventsFrom)).toContainEqual(
        expect.objectContaining({ event: "refused", clientId: B, cn: A, reason: "client id must equal certificate CN" }),
      );
    } else {
      // mosquitto accepts the connection but under the certificate's name: the client id is replaced.
      expect(attempt.connected).toBe(true);
      if (attempt.connected) session.endAfterTest(attempt.client);
      const line = await session.broker.mosquitto!.waitForLog(/New client connected from .* as /, logFrom);
      expect(line).toMatch(new RegExp(`as ${A} \\(.*u'${A}'\\)`));
      expect(line).not.toMatch(new RegExp(` as ${B} `));
    }
    // The victim's session survived: a round trip on it still works.
    await victim.subscribeAsync(acksOf(B), { qos: 1 });
    expect(victim.connected).toBe(true);
  });

  describe("topics outside the device's own", () => {
    /** Restaurant, device A and device B, each on its own topics, and what each receives. */
    async function cast() {
      const kitchen = await client(id.restaurant!, "restaurant");
      await kitchen.subscribeAsync(ALL_ORDERS, { qos: 1 });
      const a = await client(id.a!, A);
      await a.subscribeAsync(acksOf(A), { qos: 1 });
      const b = await client(id.b!, B);
      await b.subscribeAsync(acksOf(B), { qos: 1 });
      return { kitchen, a, b, toKitchen: collect(kitchen), toA: collect(a), toB: collect(b) };
    }

    /** How the broker answered A's overstep: disconnect (embedded) or carry on (mosquitto). */
    async function expectReaction(a: MqttClient, action: Promise<unknown>, what: "publish" | "subscribe") {
      const closed = closedOf(a);
      const result = await action.then(
        (value) => ({ ok: true as const, value }),
        (error: Error) => ({ ok: false as const, error }),
      );
      if (kind === "embedded") {
        await closed;
        expect(session.broker.events.some((e) => e.event === `${what}-denied` && e.clientId === A)).toBe(true);
        if (what === "subscribe") {
          expect(result.ok).toBe(false); // SUBACK 0x80, then the disconnect
          if (!result.ok) expect(result.error.message).toMatch(/Subscribe error/);
        }
      } else {
        expect(result.ok).toBe(true);
        expect(a.connected).toBe(true);
        if (what === "publish") await session.broker.mosquitto!.waitForLog(new RegExp(`Denied PUBLISH from ${A}`));
        // The ACL file cannot decide a wildcard subscription, so mosquitto 2.0 grants it (no 0x80) and
        // checks every delivery instead.
        if (what === "subscribe" && result.ok) expect((result.value as Array<{ qos: number }>)[0]!.qos).not.toBe(128);
      }
    }

    const only = (list: Received[]) => list.map((m) => `${m.topic} ${m.text}`);

    it("publishing an order to another thing's orders topic: the restaurant never receives it", async () => {
      const { a, b, toKitchen } = await cast();
      await expectReaction(a, a.publishAsync(ordersOf(B), orderJson(B, 1), { qos: 1 }), "publish");
      // Sentinel: B's own order. Had the forged one been delivered, it would be there too.
      await b.publishAsync(ordersOf(B), orderJson(B, 2), { qos: 1 });
      await waitFor(() => toKitchen.length >= 1, "B's own order at the restaurant");
      expect(only(toKitchen)).toEqual([`${ordersOf(B)} ${orderJson(B, 2)}`]);
    });

    it("publishing a forged ack to another thing's acks topic: that device never receives it", async () => {
      const { kitchen, a, toB } = await cast();
      await expectReaction(a, a.publishAsync(acksOf(B), ackJson(`${B}-1`), { qos: 1 }), "publish");
      await kitchen.publishAsync(acksOf(B), ackJson(`${B}-2`), { qos: 1 });
      await waitFor(() => toB.length >= 1, "the restaurant's ack at B");
      expect(only(toB)).toEqual([`${acksOf(B)} ${ackJson(`${B}-2`)}`]);
    });

    it.each([
      ["another thing's acks topic", acksOf(B)],
      ["every order (pizza/orders/+)", ALL_ORDERS],
      ["everything (#)", "#"],
    ])("subscribing to %s: nothing of the others ever arrives", async (_label, filter) => {
      const { kitchen, a, b, toA, toKitchen } = await cast();
      await expectReaction(a, a.subscribeAsync(filter, { qos: 1 }), "subscribe");
      // Traffic A must not see: B's order and the restaurant's ack to B.
      await b.publishAsync(ordersOf(B), orderJson(B, 3), { qos: 1 });
      await waitFor(() => toKitchen.length >= 1, "B's order at the restaurant");
      await kitchen.publishAsync(acksOf(B), ackJson(`${B}-3`), { qos: 1 });
      if (a.connected) {
        // Sentinel on A's own topic, sent after the rest: it arrives last, so the check is complete.
        await kitchen.publishAsync(acksOf(A), ackJson(`${A}-9`), { qos: 1 });
        await waitFor(() => toA.length >= 1, "the sentinel ack at A");
      }
      expect(toA.filter((m) => !m.topic.endsWith(`/${A}`))).toEqual([]);
      expect(only(toA)).toEqual(a.connected ? [`${acksOf(A)} ${ackJson(`${A}-9`)}`] : []);
    });
  });
});
