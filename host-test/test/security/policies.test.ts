// Policies at the trust boundary, against the real services over TLS on loopback (`npm run broker`
// in-process, and a real mosquitto where the case applies to it):
// - default policies are attached once, when a thing is first seen: a detach survives a broker restart;
// - a retained publish needs iot:RetainPublish, which the product policies don't grant (a retained order
//   would be replayed to the restaurant at every reconnect), and so does a retained will;
// - a SUBSCRIBE the broker denies disconnects, even right after the CONNACK, and is logged as a SUBSCRIBE.
import tls from "node:tls";
import mqttPacket from "mqtt-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMosquitto } from "../../mosquitto/mosquitto";
import { collect, connectClient, orderJson, sleep, tryConnect } from "../support/mqtt-probe";
import { createSecurityPki, type Credentials, type SecurityPki } from "../support/security-pki";
import { mosquittoSkipReason } from "../support/test-brokers";
import { pkiCli, startBrokerServiceOn, type TestBrokerService } from "../support/trust-boundary";
import { ALL_ORDERS, acksOf, ordersOf } from "../support/topics";

const A = "pizza-button-01";
const B = "pizza-button-02";

let pki: SecurityPki;
const id: Record<string, Credentials> = {};

beforeAll(async () => {
  pki = await createSecurityPki("policies");
  id.a = await pki.thing(A);
  id.b = await pki.thing(B);
  id.restaurant = await pki.thing("restaurant");
}, 60_000);

afterAll(() => pki?.remove());

describe("default policies are attached once", () => {
  it("a thing whose policy was detached stays without policy (denied) after a broker restart", async () => {
    const first = await startBrokerServiceOn(pki.pki.dir, { rules: "policy" });
    try {
      await first.waitFor((e) => e.event === "policy-attached" && e.thing === B, "the default policy of the thing");
      const before = await connectClient(first.url, { credentials: id.b!, clientId: B });
      await before.endAsync();
    } finally {
      await first.close();
    }
    const detached = await pkiCli(pki.pki.dir, "policy", "detach", "device", B);
    expect(detached.code, detached.err).toBe(0);

    const second = await startBrokerServiceOn(pki.pki.dir, { rules: "policy" });
    try {
      expect(second.events.filter((e) => e.event === "policy-attached" && e.thing === B)).toEqual([]);
      expect((await tryConnect(second.url, { credentials: id.b!, clientId: B })).connected).toBe(false);
      const refused = await second.waitFor((e) => e.event === "refused" && e.clientId === B, "the refusal");
      expect(refused.reason).toMatch(/no matching|denied/i);
    } finally {
      await second.close();
    }
    expect((await pkiCli(pki.pki.dir, "policy", "list", B)).out).not.toMatch(/\bdevice\b/);
  });
});

interface RetainTarget {
  name: string;
  start(): Promise<{ url: string; events?: TestBrokerService["events"]; close(): Promise<void> }>;
}

const RETAIN_TARGETS: RetainTarget[] = [
  ...(["policy", "builtin"] as const).map((rules) => ({
    name: `embedded (${rules})`,
    start: async () => {
      const broker = await startBrokerServiceOn(pki.pki.dir, { rules });
      return { url: broker.url, events: broker.events, close: () => broker.close() };
    },
  })),
  ...(mosquittoSkipReason
    ? []
    : [
        {
          name: "mosquitto",
          start: async () => {
            const m = await startMosquitto({ pkiDir: pki.pki.dir });
            return { url: m.url, close: () => m.close() };
          },
        },
      ]),
];

/** Orders the restaurant receives on subscribing now (a retained one would arrive at once). */
async function ordersOnSubscribe(url: string): Promise<string[]> {
  const restaurant = await connectClient(url, { credentials: id.restaurant!, clientId: "restaurant" });
  const seen = collect(restaurant);
  await restaurant.subscribeAsync(ALL_ORDERS, { qos: 1 });
  await sleep(300);
  await restaurant.endAsync();
  return seen.map((m) => m.topic);
}

describe.each(RETAIN_TARGETS)("retained messages, $name", ({ start }) => {
  let broker: Awaited<ReturnType<RetainTarget["start"]>>;
  beforeAll(async () => {
    broker = await start();
  });
  afterAll(() => broker?.close());

  it("a retained order is refused (the client is disconnected) and never replayed to the restaurant", async () => {
    const device = await connectClient(broker.url, { credentials: id.a!, clientId: A });
    device.on("error", () => {});
    const closed = new Promise<void>((resolve) => device.once("close", () => resolve()));
    device.publish(ordersOf(A), orderJson(A, 1), { qos: 1, retain: true });
    await closed;
    await device.endAsync(true);
    expect(await ordersOnSubscribe(broker.url)).toEqual([]);
    if (broker.events) {
      const denied = broker.events.find((e) => e.event === "publish-denied" && e.clientId === A && e.retain === true);
      expect(denied?.reason).toMatch(/RetainPublish/);
    }
  });

  it("a CONNECT with a retained will is refused, so the will can never become a waiting order", async () => {
    const attempt = await tryConnectWithWill(broker.url, id.a!, A, { topic: ordersOf(A), payload: orderJson(A, 2), retain: true });
    expect(attempt).toBe(false);
    expect(await ordersOnSubscribe(broker.url)).toEqual([]);
  });

  it("a will without retain is still allowed (control)", async () => {
    expect(await tryConnectWithWill(broker.url, id.a!, A, { topic: ordersOf(A), payload: orderJson(A, 3), retain: false })).toBe(true);
  });
});

/** Connects with a will; true when the CONNACK accepted it. */
async function tryConnectWithWill(url: string, credentials: Credentials, clientId: string, will: { topic: string; payload: string; retain: boolean }): Promise<boolean> {
  const mqtt = (await import("mqtt")).default;
  return new Promise((resolve) => {
    const client = mqtt.connect(url, {
      ...credentials,
      clientId,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 0, retain: will.retain },
    });
    client.on("error", () => {});
    client.once("connect", () => {
      resolve(true);
      client.end(false); // a clean DISCONNECT: the will is not published
    });
    client.once("close", () => {
      client.end(true);
      resolve(false);
    });
  });
}

/**
 * CONNECT, then SUBSCRIBE in a TLS record of its own one event-loop turn later, without waiting for the
 * CONNACK: the SUBSCRIBE reaches the broker while it finishes its connect sequence, and is handled just
 * after the CONNACK is written (aedes marks the client connected only at the very end). Resolves with
 * the SUBACK codes seen and whether the broker closed the connection.
 */
function subscribeDuringConnect(url: string, credentials: Credentials, clientId: string, topic: string): Promise<{ granted: number[]; closed: boolean }> {
  const { hostname, port } = new URL(url.replace(/^mqtts:/, "https:"));
  const connect = mqttPacket.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId, keepalive: 30 } as mqttPacket.IConnectPacket);
  const subscribe = mqttPacket.generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic, qos: 0 }] } as mqttPacket.ISubscribePacket);
  return new Promise((resolve) => {
    const granted: number[] = [];
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on("packet", (packet) => {
      if (packet.cmd === "suback") granted.push(...((packet as mqttPacket.ISubackPacket).granted as number[]));
    });
    const socket = tls.connect({ host: hostname, port: Number(port), ...credentials, minVersion: "TLSv1.2", maxVersion: "TLSv1.2" }, () => {
      socket.write(connect);
      setImmediate(() => socket.write(subscribe));
    });
    socket.on("data", (chunk) => parser.parse(chunk));
    socket.on("error", () => {});
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ granted, closed: false });
    }, 3_000);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve({ granted, closed: true });
    });
  });
}

describe.each(["policy", "builtin"] as const)("a denied SUBSCRIBE right after CONNACK, embedded broker (%s)", (rules) => {
  it("answers 0x80, disconnects, and is logged as a denied SUBSCRIBE (not a restored subscription)", async () => {
    const broker = await startBrokerServiceOn(pki.pki.dir, { rules });
    try {
      const result = await subscribeDuringConnect(broker.url, id.a!, A, acksOf(B));
      expect(result).toEqual({ granted: [0x80], closed: true });
      const denied = await broker.waitFor((e) => e.event === "subscribe-denied" && e.clientId === A, "the denied subscribe");
      expect(denied).toMatchObject({ topicFilter: acksOf(B), action: "disconnect" });
      expect(denied).not.toHaveProperty("restored");
      const gone = await broker.waitFor((e) => e.event === "disconnect" && e.clientId === A, "the disconnect");
      expect(gone.reason).toBe("subscribe denied");
    } finally {
      await broker.close();
    }
  });
});
