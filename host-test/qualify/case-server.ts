// The qualification server: MQTT 3.1.1 over node:tls on loopback (client certificate required and checked
// against the case's CA), acting as broker and restaurant in one, and told per case how to misbehave: no
// CONNACK, CONNACK refused, a drop after the order, no ack, an oversized message, no PINGRESP. Every TCP
// connection, TLS result and packet is recorded with its time, as the case's evidence.
import net from "node:net";
import tls from "node:tls";
import { acksTopic, ordersTopic } from "../../modules/core/config";
import { parseClientHello } from "./client-hello";
import { ClientPacketReader, connack, describePacket, PINGRESP, puback, publish, suback, type ClientPacket } from "./mqtt-wire";

type Connect = Extract<ClientPacket, { cmd: "connect" }>;
type Subscribe = Extract<ClientPacket, { cmd: "subscribe" }>;
type Publish = Extract<ClientPacket, { cmd: "publish" }>;

export interface ServerTlsOptions {
  /** PEM: server certificate followed by any intermediates. */
  cert: string;
  key: string;
  /** The CA the device's client certificate must chain to. */
  clientCa: string;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  ciphers?: string;
}

/** One connection as the server saw it. Times are ms on the case's clock. */
export interface ConnectionRecord {
  id: number;
  tcpAt: number;
  secureAt?: number;
  protocol?: string;
  cipher?: string;
  tlsError?: string;
  closedAt?: number;
  closedBy?: "server" | "device";
  packets: Array<{ at: number; packet: ClientPacket }>;
  /** Set once the connection has an MQTT session (CONNECT seen): 1-based among CONNECTs. */
  connectIndex?: number;
}

export interface Session {
  readonly record: ConnectionRecord;
  send(bytes: Uint8Array, label: string): void;
  /** Drops the connection (as a broker that hangs up would). */
  drop(reason: string): void;
}

/** Answers the device; anything left out behaves like a good broker + restaurant. */
export interface Behaviour {
  onConnect?(session: Session, packet: Connect): void;
  onSubscribe?(session: Session, packet: Subscribe): void;
  /** A PUBLISH on the device's order topic; `orderId` when its payload has one. */
  onOrder?(session: Session, packet: Publish, orderId: string | undefined): void;
  onPingreq?(session: Session): void;
}

export interface OrderRow {
  orderId: string;
  firstAt: number;
  publishes: number;
}

export interface CaseServerOptions {
  tls: ServerTlsOptions;
  thingName: string;
  topicPrefix: string;
  now: () => number;
  behaviour?: Behaviour;
}

export class CaseServer {
  readonly connections: ConnectionRecord[] = [];
  readonly log: Array<{ at: number; text: string }> = [];
  /** The restaurant's order table: one row per orderId, however often it was published. */
  readonly rows = new Map<string, OrderRow>();
  readonly ordersTopic: string;
  readonly acksTopic: string;
  behaviour: Behaviour;
  readonly #server: tls.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #sessions = new Map<number, Session>();
  readonly #now: () => number;
  #connects = 0;
  port = 0;

  private constructor(options: CaseServerOptions) {
    this.#now = options.now;
    this.behaviour = options.behaviour ?? {};
    this.ordersTopic = ordersTopic(options.topicPrefix, options.thingName);
    this.acksTopic = acksTopic(options.topicPrefix, options.thingName);
    const byPort = new Map<number, ConnectionRecord>();
    this.#server = tls.createServer({
      cert: options.tls.cert,
      key: options.tls.key,
      ca: options.tls.clientCa,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: options.tls.minVersion ?? "TLSv1.2",
      ...(options.tls.maxVersion ? { maxVersion: options.tls.maxVersion } : {}),
      ...(options.tls.ciphers ? { ciphers: options.tls.ciphers } : {}),
    });
    this.#server.on("connection", (raw: net.Socket) => {
      const record: ConnectionRecord = { id: this.connections.length + 1, tcpAt: this.#now(), packets: [] };
      this.connections.push(record);
      byPort.set(raw.remotePort ?? -1, record);
      this.#sockets.add(raw);
      this.#note(record, "TCP connection");
      raw.on("error", () => undefined);
      raw.once("close", () => {
        this.#sockets.delete(raw);
        record.closedAt = this.#now();
        record.closedBy ??= "device";
        this.#note(record, `closed (by the ${record.closedBy})`);
      });
    });
    this.#server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
      const record = byPort.get(socket.remotePort ?? -1);
      if (!record) return;
      record.tlsError = error.message.trim();
      this.#note(record, `TLS handshake failed: ${error.message}`);
    });
    this.#server.on("secureConnection", (socket: tls.TLSSocket) => {
      const record = byPort.get(socket.remotePort ?? -1);
      if (!record) return socket.destroy();
      record.secureAt = this.#now();
      record.protocol = socket.getProtocol() ?? undefined;
      record.cipher = socket.getCipher()?.name;
      this.#note(record, `TLS established: ${record.protocol} ${record.cipher}, client ${socket.getPeerCertificate().subject?.CN ?? "?"}`);
      this.#serve(socket, record);
    });
  }

  static async start(options: CaseServerOptions): Promise<CaseServer> {
    const server = new CaseServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#server.once("error", reject);
      server.#server.listen(0, "127.0.0.1", () => resolve());
    });
    server.port = (server.#server.address() as net.AddressInfo).port;
    return server;
  }

  /** Every packet the device sent, in order, with its connection. */
  packets(cmd?: ClientPacket["cmd"]): Array<{ at: number; connection: number; packet: ClientPacket }> {
    return this.connections
      .flatMap((c) => c.packets.map((p) => ({ ...p, connection: c.id })))
      .filter((p) => cmd === undefined || p.packet.cmd === cmd)
      .sort((a, b) => a.at - b.at);
  }

  /** Drops every open MQTT connection, as a broker restart would. */
  dropAll(reason: string): void {
    for (const session of this.#sessions.values()) session.drop(reason);
  }

  /** The restaurant's ack for an order, as bytes of a PUBLISH on the device's ack topic. */
  ack(orderId: string, status = "accepted"): Uint8Array {
    return publish(this.acksTopic, JSON.stringify({ v: 1, orderId, status, etaMin: 20 }));
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #note(record: ConnectionRecord | undefined, text: string): void {
    this.log.push({ at: this.#now(), text: record ? `#${record.id} ${text}` : text });
  }

  #serve(socket: tls.TLSSocket, record: ConnectionRecord): void {
    const reader = new ClientPacketReader();
    // A broker that refuses a CONNECT processes nothing the client sent behind it (MQTT 3.1.1 §3.2.2.3: it
    // closes the connection), even a pipelined SUBSCRIBE and PUBLISH that came in the same flight.
    let refusedConnect = false;
    const session: Session = {
      record,
      send: (bytes, label) => {
        if (socket.destroyed) return;
        if (bytes[0] === 0x20 && bytes.length >= 4 && bytes[3] !== 0) refusedConnect = true;
        this.#note(record, `→ ${label}`);
        socket.write(bytes);
      },
      drop: (reason) => {
        if (socket.destroyed) return;
        record.closedBy = "server";
        this.#note(record, `server drops the connection: ${reason}`);
        socket.destroy();
      },
    };
    this.#sessions.set(record.id, session);
    socket.once("close", () => this.#sessions.delete(record.id));
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      let packets: ClientPacket[];
      try {
        packets = reader.feed(chunk);
      } catch (error) {
        session.drop(`unreadable MQTT: ${(error as Error).message}`);
        return;
      }
      for (const packet of packets) {
        record.packets.push({ at: this.#now(), packet });
        this.#note(record, `← ${describePacket(packet)}`);
        if (refusedConnect) {
          this.#note(record, `  (not processed: the CONNECT was refused)`);
          continue;
        }
        this.#dispatch(session, packet);
      }
    });
  }

  #dispatch(session: Session, packet: ClientPacket): void {
    const b = this.behaviour;
    switch (packet.cmd) {
      case "connect":
        session.record.connectIndex = ++this.#connects;
        if (b.onConnect) b.onConnect(session, packet);
        else session.send(connack(0), "CONNACK 0 (accepted)");
        return;
      case "subscribe":
        if (b.onSubscribe) b.onSubscribe(session, packet);
        else {
          const codes = packet.subscriptions.map((f) => (f.topic === this.acksTopic ? Math.min(f.qos, 1) : 0x80));
          session.send(suback(packet.messageId, codes), `SUBACK ${codes.join(",")}`);
        }
        return;
      case "publish": {
        if (packet.qos === 1 && packet.messageId !== undefined) session.send(puback(packet.messageId), `PUBACK ${packet.messageId}`);
        if (packet.topic !== this.ordersTopic) return;
        const orderId = orderIdOf(packet.payload);
        if (orderId !== undefined) {
          const row = this.rows.get(orderId);
          if (row) row.publishes++;
          else this.rows.set(orderId, { orderId, firstAt: this.#now(), publishes: 1 });
        }
        if (b.onOrder) b.onOrder(session, packet, orderId);
        else if (orderId !== undefined) session.send(this.ack(orderId), `ack ${orderId} accepted`);
        return;
      }
      case "pingreq":
        if (b.onPingreq) b.onPingreq(session);
        else session.send(PINGRESP, "PINGRESP");
        return;
      default:
        return;
    }
  }
}

function orderIdOf(payload: Uint8Array): string | undefined {
  try {
    const value = JSON.parse(Buffer.from(payload).toString("utf8")) as { orderId?: unknown };
    return typeof value.orderId === "string" ? value.orderId : undefined;
  } catch {
    return undefined;
  }
}

/** A plain TCP listener that reads the device's ClientHello and hangs up: what the device offers, nothing more. */
export async function catchClientHello(now: () => number): Promise<{ port: number; hello: Promise<{ at: number; bytes: Buffer }>; close(): Promise<void> }> {
  let resolveHello!: (value: { at: number; bytes: Buffer }) => void;
  const hello = new Promise<{ at: number; bytes: Buffer }>((resolve) => (resolveHello = resolve));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    let bytes = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      try {
        if (parseClientHello(bytes)) {
          resolveHello({ at: now(), bytes });
          socket.destroy();
        }
      } catch {
        resolveHello({ at: now(), bytes });
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    hello,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
