// The MqttConnector adapter against the real embedded broker over TLS on loopback: what it reports to the
// core (onReady, messages, and above all how it classifies a close: "auth" stops the retry loop).
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningBroker } from "../../../services/broker/broker";
import type { CloseKind } from "../../../modules/core/ports";
import { MqttConnector, type ConnectionEvent, type MqttConnectorOptions } from "../../device/mqtt-connector";
import type { DevPki } from "../../../tools/pki/dev";
import {
  collectMessages,
  connectRaw,
  credentialsOf,
  devPki,
  removeDir,
  startTestBroker,
  tempDir,
  waitFor,
  type Credentials,
} from "../integration/fixtures";
import { ALL_ORDERS, acksOf, ordersOf } from "../support/topics";

const THING = "pizza-button-01";
const ACKS = acksOf(THING);

let dir: string;
let dev: DevPki;
let broker: RunningBroker;
let deviceCreds: Credentials;

beforeAll(async () => {
  dir = tempDir("connector");
  dev = await devPki(dir);
  broker = await startTestBroker(dev);
  deviceCreds = credentialsOf(dev.device);
});

afterAll(async () => {
  await broker?.close();
  removeDir(dir);
});

interface Run {
  events: ConnectionEvent[];
  ready: Promise<void>;
  closed: Promise<{ kind: CloseKind; detail: string }>;
  messages: Array<{ topic: string; text: string }>;
  connection: ReturnType<MqttConnector["connect"]>;
  connector: MqttConnector;
}

function connect(overrides: Partial<MqttConnectorOptions> = {}, subscribe = ACKS, target = broker): Run {
  const events: ConnectionEvent[] = [];
  const messages: Array<{ topic: string; text: string }> = [];
  let onReady!: () => void;
  let onClose!: (v: { kind: CloseKind; detail: string }) => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const closed = new Promise<{ kind: CloseKind; detail: string }>((resolve) => (onClose = resolve));
  const connector = new MqttConnector({
    host: target.host,
    port: target.port,
    ...deviceCreds,
    clientId: THING,
    observer: (event) => events.push(event),
    ...overrides,
  });
  const connection = connector.connect(
    { subscribe },
    {
      onReady,
      onMessage: (topic, payload) => messages.push({ topic, text: new TextDecoder().decode(payload) }),
      onClose: (kind, detail) => onClose({ kind, detail }),
    },
  );
  return { events, ready, closed, messages, connection, connector };
}

describe("MqttConnector: a working connection", () => {
  it("connects over TLS 1.2 with the device certificate, subscribes, then reports ready with step timings", async () => {
    const run = connect();
    await run.ready;
    const steps = run.events.filter((e) => e.step !== "packet").map((e) => e.step);
    expect(steps).toEqual(["tcp", "tls", "connack", "suback"]);
    // The wire: CONNECT and SUBSCRIBE left in one flight; CONNACK then SUBACK came back.
    const packets = run.events.flatMap((e) => (e.step === "packet" ? [`${e.direction} ${e.packet}`] : []));
    expect(packets).toEqual([`out CONNECT + SUBSCRIBE ${ACKS}`, "in CONNACK", "in SUBACK"]);
    const tls = run.events.find((e) => e.step === "tls") as Extract<ConnectionEvent, { step: "tls" }>;
    expect(tls.protocol).toBe("TLSv1.2");
    for (const e of run.events) if ("ms" in e) expect(e.ms).toBeGreaterThanOrEqual(0);

    // Messages both ways through the broker: an ack in, an order out.
    const restaurant = await connectRaw(broker.url, "restaurant", credentialsOf(dev.restaurant));
    try {
      await restaurant.subscribeAsync(ALL_ORDERS, { qos: 1 });
      const orders = collectMessages(restaurant);
      await restaurant.publishAsync(ACKS, '{"v":1,"orderId":"pizza-button-01-1","status":"accepted"}', { qos: 1 });
      await waitFor(() => run.messages.length === 1, "the ack at the device");
      expect(run.messages[0]).toEqual({ topic: ACKS, text: '{"v":1,"orderId":"pizza-button-01-1","status":"accepted"}' });
      run.connection.publish(ordersOf(THING), new TextEncoder().encode("hello"));
      await waitFor(() => orders.length === 1, "the publish at the restaurant");
      expect(orders[0]!.text).toBe("hello");
    } finally {
      await restaurant.endAsync(true);
    }

    // Closed by the core: no onClose (the port promises that), and the socket does go away.
    let reported = false;
    void run.closed.then(() => (reported = true));
    run.connection.close();
    await run.connector.drain();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reported).toBe(false);
    expect(run.events.at(-1)).toMatchObject({ step: "close", byCore: true });
  });

  it("an order published right after connect() leaves in the first flight, and the broker acknowledges it", async () => {
    const run = connect();
    run.connection.publish(ordersOf(THING), new TextEncoder().encode('{"hello":1}'));
    await waitFor(() => run.events.some((e) => e.step === "puback"), "the PUBACK");
    const out = run.events.flatMap((e) => (e.step === "packet" && e.direction === "out" ? [e.packet] : []));
    expect(out[0]).toBe(`CONNECT + SUBSCRIBE ${ACKS} + PUBLISH ${ordersOf(THING)}`);
    run.connection.close();
    await run.connector.drain();
  });

  it("keeps the TLS session between connections and offers it again (resumed handshake); forgetting it forces a full one", async () => {
    const run = connect();
    await run.ready;
    run.connection.close();
    await run.connector.drain();
    const handshakes = () => run.events.flatMap((e) => (e.step === "tls" ? [e.resumed] : []));
    const again = async () => {
      let ready!: () => void;
      const up = new Promise<void>((resolve) => (ready = resolve));
      const c = run.connector.connect({ subscribe: ACKS }, { onReady: ready, onMessage: () => {}, onClose: () => {} });
      await up;
      c.close();
      await run.connector.drain();
    };
    await again();
    run.connector.forgetTlsSession();
    await again();
    expect(handshakes()).toEqual([false, true, false]);
  });

  it("a broker that goes away after the connection is up → network", async () => {
    const own = await startTestBroker(dev);
    const run = connect({}, ACKS, own);
    await run.ready;
    await own.close();
    expect((await run.closed).kind).toBe("network");
  });

  it("nobody listening → network", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const run = connect({ port });
    expect(await run.closed).toMatchObject({ kind: "network", detail: expect.stringContaining("ECONNREFUSED") });
  });
});

describe("MqttConnector: refusals are auth", () => {
  it("a client certificate from an untrusted CA", async () => {
    const strangerDir = tempDir("stranger");
    try {
      const stranger = await devPki(strangerDir);
      const run = connect({ ...credentialsOf(stranger.device), ca: deviceCreds.ca });
      const closed = await run.closed;
      expect(closed.kind).toBe("auth");
      expect(run.events.some((e) => e.step === "connack")).toBe(false);
    } finally {
      removeDir(strangerDir);
    }
  });

  it("the same, with TLS 1.3 allowed (the refusal then comes after the client's handshake)", async () => {
    const strangerDir = tempDir("stranger13");
    try {
      const stranger = await devPki(strangerDir);
      const run = connect({ ...credentialsOf(stranger.device), ca: deviceCreds.ca, tlsMaxVersion: "TLSv1.3" });
      expect((await run.closed).kind).toBe("auth");
    } finally {
      removeDir(strangerDir);
    }
  });

  it("a broker certificate not signed by the CA the device trusts", async () => {
    const otherDir = tempDir("otherca");
    try {
      const other = await devPki(otherDir);
      const run = connect({ ca: credentialsOf(other.device).ca });
      expect(await run.closed).toMatchObject({ kind: "auth", detail: expect.stringContaining("broker certificate rejected") });
    } finally {
      removeDir(otherDir);
    }
  });

  it("a broker reached under a name its certificate does not carry", async () => {
    const run = connect({ servername: "pizza.example.com" });
    expect(await run.closed).toMatchObject({ kind: "auth", detail: expect.stringContaining("ERR_TLS_CERT_ALTNAME_INVALID") });
  });

  it("client id ≠ certificate CN (CONNACK refused)", async () => {
    const run = connect({ clientId: "pizza-button-02" }, acksOf("pizza-button-02"));
    expect(await run.closed).toMatchObject({ kind: "auth", detail: expect.stringContaining("CONNACK") });
  });

  it("a deactivated thing (registry state INACTIVE)", async () => {
    const files = await dev.pki.createThing("pizza-button-inactive", { keyType: "ec" });
    await dev.pki.setThingState("pizza-button-inactive", "INACTIVE");
    const run = connect({ ...credentialsOf(files), clientId: "pizza-button-inactive" }, acksOf("pizza-button-inactive"));
    expect((await run.closed).kind).toBe("auth");
  });

  it("subscribing to another thing's acks", async () => {
    const run = connect({}, acksOf("pizza-button-02"));
    const closed = await run.closed;
    expect(closed, JSON.stringify(run.events)).toMatchObject({ kind: "auth" });
    expect(run.events.some((e) => e.step === "connack")).toBe(true);
    expect(run.events).toContainEqual(expect.objectContaining({ step: "packet", direction: "in", packet: "SUBACK", detail: "codes=128" }));
    expect(closed.detail).toContain(`SUBSCRIBE ${acksOf("pizza-button-02")}`);
  });
});
