// The device side of the TLS negatives: a virtual button (the core's OrderFlow on the Node adapters) whose
// identity a broker refuses shows "auth-error" after ONE connection attempt and does not loop — against
// the embedded broker and against mosquitto. Counting the connector's connections proves "no loop".
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeButton, type TestButton } from "../support/button";
import { collect, connectClient, sleep, waitFor } from "../support/mqtt-probe";
import { createSecurityPki, DAY_MS, selfSignedCredentials, type Credentials, type SecurityPki } from "../support/security-pki";
import { BROKER_KINDS, startTestBroker, type BrokerKind, type TestBroker } from "../support/test-brokers";
import { ALL_ORDERS } from "../support/topics";

const A = "pizza-button-01";
const B = "pizza-button-02";
/** Long enough for a looping device to have tried again several times (backoff base 200 ms). */
const QUIET_MS = 1_000;

let pki: SecurityPki;
let stranger: SecurityPki;
const id: Record<string, Credentials> = {};

beforeAll(async () => {
  [pki, stranger] = await Promise.all([createSecurityPki("device-auth"), createSecurityPki("device-auth-stranger")]);
  id.a = await pki.thing(A);
  id.restaurant = await pki.thing("restaurant");
  id.expired = await pki.thing("pizza-button-expired", { notBefore: new Date(Date.now() - 30 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
  id.future = await pki.thing("pizza-button-future", { notBefore: new Date(Date.now() + DAY_MS), notAfter: new Date(Date.now() + 30 * DAY_MS) });
  id.revoked = await pki.thing("pizza-button-revoked");
  await pki.pki.setThingState("pizza-button-revoked", "REVOKED");
  id.untrusted = { ...(await stranger.thing(A)), ca: pki.caPem };
  id.selfSigned = await selfSignedCredentials(A, pki.caPem);
});

afterAll(() => {
  pki?.remove();
  stranger?.remove();
});

const CASES: Array<{ name: string; thing: string; credentials: () => Credentials }> = [
  { name: "a certificate from an untrusted CA", thing: A, credentials: () => id.untrusted! },
  { name: "a self-signed certificate", thing: A, credentials: () => id.selfSigned! },
  { name: "an expired certificate", thing: "pizza-button-expired", credentials: () => id.expired! },
  { name: "a certificate not yet valid", thing: "pizza-button-future", credentials: () => id.future! },
  { name: "a revoked certificate", thing: "pizza-button-revoked", credentials: () => id.revoked! },
];

describe.each(BROKER_KINDS)("device against the %s broker", (kind: BrokerKind) => {
  let broker: TestBroker;
  const buttons: TestButton[] = [];

  beforeAll(async () => {
    broker = await startTestBroker(kind, pki);
  });
  afterAll(async () => {
    await broker?.close();
  });
  afterEach(async () => {
    await Promise.all(buttons.splice(0).map((b) => b.device.stop()));
  });

  function button(thing: string, credentials: Credentials, config = {}): TestButton {
    const b = makeButton({ thingName: thing, credentials, broker: { host: broker.host, port: broker.port }, dir: pki.dir, config });
    buttons.push(b);
    return b;
  }

  it.each(CASES)("$name → auth-error after one connection, no retry loop", async (c) => {
    const b = button(c.thing, c.credentials());
    b.device.start();
    const result = await b.device.click("SINGLE");
    expect(result).toMatchObject({ outcome: "auth-error", attempts: 1 });
    await sleep(QUIET_MS);
    expect(b.connections).toBe(1);
    expect(b.events.filter((e) => e.type === "retry")).toEqual([]);
    expect(b.events.find((e) => e.type === "connection" && e.phase === "closed")).toMatchObject({ kind: "auth" });
    expect(b.leds).toEqual(["working", "auth-error"]);
    // The order stays pending: fixing the certificate and pressing again sends THAT order, not a new one.
    expect(b.device.flow.pendingOrderId).toBe(result.orderId);
  });

  it("persistent mode: a refused link shows auth-error and is not reconnected until the next click", async () => {
    const b = button("pizza-button-revoked", id.revoked!, { connectionMode: "persistent" });
    b.device.start();
    await waitFor(() => b.leds.includes("auth-error"), "auth-error on the LED");
    await sleep(QUIET_MS);
    expect(b.connections).toBe(1);
  });

  if (kind === "embedded") {
    it("client id ≠ certificate CN → auth-error (CONNACK 5), no retry loop", async () => {
      const b = button(B, id.a!); // configured as B, holding A's certificate
      b.device.start();
      const result = await b.device.click("SINGLE");
      expect(result).toMatchObject({ outcome: "auth-error", attempts: 1 });
      await sleep(QUIET_MS);
      expect(b.connections).toBe(1);
      expect(b.leds).toEqual(["working", "auth-error"]);
    });
  } else {
    // mosquitto replaces the client id by the CN and accepts; it grants the SUBSCRIBE to B's acks and
    // silently drops the PUBLISH to B's orders (MQTT 3.1.1 has no negative PUBACK). The button cannot
    // tell this from a restaurant that does not answer: it retries with backoff until giveUpMs → "failed".
    // Bounded, and nothing is ordered — but not auth-error. See the report (dynamic-security plugin or
    // MQTT 5 reason codes would let it know).
    it("client id ≠ certificate CN → nothing is ordered; the button gives up with 'failed' (bounded retries)", async () => {
      const kitchen = await connectClient(broker.url, { credentials: id.restaurant!, clientId: "restaurant" });
      await kitchen.subscribeAsync(ALL_ORDERS, { qos: 1 });
      const received = collect(kitchen);
      try {
        const giveUpMs = 4_000;
        const b = button(B, id.a!, { giveUpMs });
        b.device.start();
        const result = await b.device.click("SINGLE");
        expect(result.outcome).toBe("failed");
        expect(b.leds).toEqual(["working", "failed"]);
        // One connection per attempt (on-demand), each ack timeout 1.5 s plus backoff: a handful, not a storm.
        expect(b.connections).toBeGreaterThanOrEqual(2);
        expect(b.connections).toBeLessThanOrEqual(Math.ceil(giveUpMs / 1_500) + 1);
        await broker.mosquitto!.waitForLog(new RegExp(`as ${A} \\(`));
        expect(received).toEqual([]);
      } finally {
        await kitchen.endAsync(true);
      }
    }, 20_000);
  }
});
