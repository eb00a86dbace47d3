// The baseline of the bench: the least a client can do to get an order acknowledged, written directly on
// mqtt.js with none of the product's code (no core, no store, no connector). Tuned the same way as ours
// (Nagle off: see docs/ARCHITECTURE.md, "Latency"): TCP_NODELAY on its socket, TLS 1.2 only, the same client certificate and CA,
// QoS 1 publish and QoS 1 subscription like the virtual button. The restaurant and broker are shared.
import net from "node:net";
import tls from "node:tls";
import { MqttClient } from "mqtt";

export interface BaselineTarget {
  host: string;
  port: number;
  thing: string;
  topicPrefix: string;
  ca: string;
  cert: string;
  key: string;
}

export interface ColdSteps {
  totalMs: number;
  tcpMs: number;
  tlsMs: number;
  connackMs: number;
  subackMs: number;
  publishToAckMs: number;
}

/** The order JSON a button sends (docs/ARCHITECTURE.md, "Message contract"), built by hand: the baseline does not use our codec. */
function orderPayload(thing: string, seq: number): string {
  return JSON.stringify({
    serialNumber: thing,
    clickType: "SINGLE",
    v: 1,
    orderId: `${thing}-${seq}`,
    seq,
    action: "order",
    item: "margherita",
  });
}

function openSocket(target: BaselineTarget, marks: { tcp?: number; tls?: number }): tls.TLSSocket {
  const tcp = net.connect({ host: target.host, port: target.port, noDelay: true });
  tcp.setNoDelay(true);
  tcp.once("connect", () => (marks.tcp = performance.now()));
  const socket = tls.connect({
    socket: tcp,
    host: target.host,
    ca: target.ca,
    cert: target.cert,
    key: target.key,
    minVersion: "TLSv1.2",
    maxVersion: "TLSv1.2",
    rejectUnauthorized: true,
  });
  socket.once("secureConnect", () => (marks.tls = performance.now()));
  socket.on("error", () => {}); // reported through mqtt.js's close
  return socket;
}

function newClient(target: BaselineTarget, marks: { tcp?: number; tls?: number }): MqttClient {
  const client = new MqttClient(() => openSocket(target, marks), {
    clientId: target.thing,
    protocolVersion: 4,
    clean: true,
    keepalive: 60,
    connectTimeout: 10_000,
    reconnectPeriod: 0,
  });
  client.on("error", () => {});
  return client;
}

/** Resolves on CONNACK (accepted), rejects if the connection closes first. */
function connected(client: MqttClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new Error("baseline: connection closed before CONNACK"));
    client.once("close", onClose);
    client.once("connect", () => {
      client.off("close", onClose);
      resolve();
    });
  });
}

/** Waits for the ack of one orderId on a connected client. */
function ackOf(client: MqttClient, orderId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (_topic: string, payload: Buffer) => {
      let id: unknown;
      try {
        id = (JSON.parse(payload.toString("utf8")) as { orderId?: unknown }).orderId;
      } catch {
        return;
      }
      if (id !== orderId) return;
      client.off("message", onMessage);
      client.off("close", onClose);
      resolve();
    };
    const onClose = () => {
      client.off("message", onMessage);
      reject(new Error(`baseline: connection closed before the ack of ${orderId}`));
    };
    client.on("message", onMessage);
    client.once("close", onClose);
  });
}

async function subscribe(client: MqttClient, topic: string): Promise<void> {
  const granted = await client.subscribeAsync(topic, { qos: 1 });
  if (granted.some((g) => g.qos === 128)) throw new Error(`baseline: subscription to ${topic} refused`);
}

function end(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(false, {}, () => resolve()));
}

/** A kept-open connection: publish → ack round trips (the warm case). */
export class BaselineSession {
  private constructor(
    private readonly client: MqttClient,
    private readonly target: BaselineTarget,
  ) {}

  static async open(target: BaselineTarget): Promise<BaselineSession> {
    const client = newClient(target, {});
    await connected(client);
    await subscribe(client, `${target.topicPrefix}/acks/${target.thing}`);
    return new BaselineSession(client, target);
  }

  /** One order published with `seq`; resolves with publish → ack in ms. */
  async roundTrip(seq: number): Promise<number> {
    const { thing, topicPrefix } = this.target;
    const acked = ackOf(this.client, `${thing}-${seq}`);
    const startedAt = performance.now();
    this.client.publish(`${topicPrefix}/orders/${thing}`, orderPayload(thing, seq), { qos: 1 });
    await acked;
    return performance.now() - startedAt;
  }

  close(): Promise<void> {
    return end(this.client);
  }
}

/** One cold order: TCP, TLS, CONNECT, SUBSCRIBE, publish, ack, then DISCONNECT (awaited, not timed). */
export async function coldOrder(target: BaselineTarget, seq: number): Promise<ColdSteps> {
  const startedAt = performance.now();
  const marks: { tcp?: number; tls?: number } = {};
  const client = newClient(target, marks);
  try {
    await connected(client);
    const connackAt = performance.now();
    await subscribe(client, `${target.topicPrefix}/acks/${target.thing}`);
    const subackAt = performance.now();
    const acked = ackOf(client, `${target.thing}-${seq}`);
    client.publish(`${target.topicPrefix}/orders/${target.thing}`, orderPayload(target.thing, seq), { qos: 1 });
    await acked;
    const ackAt = performance.now();
    const tcpAt = marks.tcp ?? startedAt;
    const tlsAt = marks.tls ?? tcpAt;
    return {
      totalMs: ackAt - startedAt,
      tcpMs: tcpAt - startedAt,
      tlsMs: tlsAt - tcpAt,
      connackMs: connackAt - tlsAt,
      subackMs: subackAt - connackAt,
      publishToAckMs: ackAt - subackAt,
    };
  } finally {
    await end(client);
  }
}
