// The MQTT session a button needs, in the core: CONNECT, SUBSCRIBE to its ack topic, PUBLISH its orders at
// QoS 1, keep-alive, DISCONNECT, over a byte stream each host provides (node:tls in the harness,
// SecureSocket on the firmware). Both hosts therefore send the same packets in the same order and see the
// same refusal codes. It implements the core's MqttConnector port, so the flow does not know MQTT.
//
// Pipelining (MQTT 3.1.1 §3.1.4: a client may send more packets before CONNACK): as soon as the stream is
// open, CONNECT and SUBSCRIBE go out in one write, followed by any PUBLISH already asked for, so a cold press
// costs one round trip for MQTT instead of three. The broker processes them in order; a refused CONNECT
// discards the rest, and the refusal still reaches the flow as "auth".
import {
  CONNACK_REASONS,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  type InboundPacket,
  PacketReader,
  type QoS,
} from "./mqtt-packets";
import type { CloseKind, ConnectionHandlers, MqttConnection, MqttConnector, TimerHandle, Timers } from "./ports";

export interface ByteStreamHandlers {
  /** The transport is up (TCP connected, TLS handshake done, server certificate verified). */
  onOpen(): void;
  onData(bytes: Uint8Array): void;
  /**
   * At most once. "auth": the TLS handshake was refused (bad certificate, unknown CA, revoked).
   * peerClosed: the broker closed or reset the connection (not a time-out, not a local failure).
   */
  onClose(kind: CloseKind, detail: string, peerClosed?: boolean): void;
}

export interface ByteStream {
  write(bytes: Uint8Array): void;
  close(): void;
}

/** The byte-stream port: one open() per connection. Host, port, certificates and TLS settings are the adapter's. */
export interface Transport {
  open(handlers: ByteStreamHandlers): ByteStream;
}

/** Packets as they cross the wire, for logs and for comparing the two hosts. */
export type PacketTrace = { direction: "out" | "in"; packet: string; detail?: string };

export interface MqttSessionOptions {
  transport: Transport;
  clientId: string;
  timers: Timers;
  /** 0 = no keep-alive. The broker drops a client silent for 1.5 × this; we ping after this much silence. */
  keepAliveMs: number;
  /** QoS of order publishes; 1 lets the broker's PUBACK say "the broker has it". */
  publishQos?: QoS;
  /** Send SUBSCRIBE and queued PUBLISHes right after CONNECT, without waiting for CONNACK. Default true. */
  pipeline?: boolean;
  /** The broker answered our publish (QoS 1 PUBACK): the order left the device. */
  onPublished?: (topic: string) => void;
  onTrace?: (entry: PacketTrace) => void;
  /** The largest packet we accept from the broker (an ack is ≤ 512 B; MQTT overhead on top). */
  maxInboundBytes?: number;
}

const SUBACK_FAILURE = 0x80;

/** MqttConnector over a byte stream: each connect() is one MQTT session on a fresh stream. */
export function mqttSessionConnector(options: MqttSessionOptions): MqttConnector {
  return {
    publishesBeforeReady: true, // queued until the stream opens, then sent in the first flight
    connect(request, handlers) {
      return new MqttSession(options, request.subscribe, handlers);
    },
  };
}

type Phase = "opening" | "connecting" | "ready" | "closed";

class MqttSession implements MqttConnection {
  private phase: Phase = "opening";
  private readonly stream: ByteStream;
  private readonly reader: PacketReader;
  /** PUBLISHes asked for before the stream opened (or before CONNACK without pipelining). */
  private queued: { packet: Uint8Array; name: string }[] = [];
  private nextPacketId = 1;
  private readonly subscribeId: number;
  private readonly inFlight = new Map<number, string>();
  private connackSeen = false;
  /** A PUBLISH of ours went out on this connection (pipelined or not). */
  private publishWritten = false;
  private pingTimer: TimerHandle | undefined;
  private pongTimer: TimerHandle | undefined;

  constructor(
    private readonly options: MqttSessionOptions,
    private readonly ackTopic: string,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.reader = new PacketReader(options.maxInboundBytes ?? 4096);
    this.subscribeId = this.takePacketId();
    this.stream = options.transport.open({
      onOpen: () => this.opened(),
      onData: (bytes) => this.received(bytes),
      onClose: (kind, detail, peerClosed) => this.ended(kind, detail, peerClosed === true),
    });
  }

  publish(topic: string, payload: Uint8Array): void {
    if (this.phase === "closed") return;
    const qos = this.options.publishQos ?? 1;
    const packetId = qos > 0 ? this.takePacketId() : undefined;
    if (packetId !== undefined) this.inFlight.set(packetId, topic);
    const packet = encodePublish({ topic, payload, qos, packetId });
    const pipelined = this.options.pipeline ?? true;
    if (this.phase === "opening" || (this.phase === "connecting" && !pipelined && !this.connackSeen)) {
      this.queued.push({ packet, name: `PUBLISH ${topic}` });
      return;
    }
    this.send([packet], `PUBLISH ${topic}`);
  }

  close(): void {
    if (this.phase === "closed") return;
    const wasOpen = this.phase !== "opening";
    this.phase = "closed";
    this.stopKeepAlive();
    if (wasOpen) this.write(encodeDisconnect(), "DISCONNECT");
    this.stream.close();
  }

  /** A method, not a field test: handlers called in between may have closed the session. */
  private isClosed(): boolean {
    return this.phase === "closed";
  }

  private takePacketId(): number {
    const id = this.nextPacketId;
    this.nextPacketId = id === 0xffff ? 1 : id + 1;
    return id;
  }

  private opened(): void {
    if (this.phase !== "opening") return;
    this.phase = "connecting";
    const keepAliveSec = Math.ceil(this.options.keepAliveMs / 1000);
    const flight = [encodeConnect({ clientId: this.options.clientId, keepAliveSec, cleanSession: true })];
    const names = ["CONNECT"];
    if (this.options.pipeline ?? true) {
      flight.push(encodeSubscribe(this.subscribeId, this.ackTopic, 1));
      names.push(`SUBSCRIBE ${this.ackTopic}`);
      for (const { packet, name } of this.queued) {
        flight.push(packet);
        names.push(name);
      }
      this.queued = [];
    }
    this.send(flight, names.join(" + "));
  }

  private received(bytes: Uint8Array): void {
    if (this.phase === "closed") return;
    const { packets, error, ignored } = this.reader.push(bytes);
    for (const reason of ignored ?? []) this.trace("in", "PUBLISH", reason);
    for (const packet of packets) {
      if (this.isClosed()) return;
      this.handle(packet);
    }
    if (error !== undefined && !this.isClosed()) this.fail("network", `protocol error from broker: ${error}`);
  }

  private handle(packet: InboundPacket): void {
    this.trace("in", packet.type.toUpperCase(), describe(packet));
    switch (packet.type) {
      case "connack": {
        if (this.connackSeen) return this.fail("network", "second CONNACK");
        this.connackSeen = true;
        if (packet.returnCode !== 0) {
          const reason = CONNACK_REASONS[packet.returnCode] ?? "unknown code";
          // 3 = server unavailable is the broker's trouble; every other refusal is about who we are.
          return this.fail(packet.returnCode === 3 ? "network" : "auth", `CONNACK refused: ${packet.returnCode} (${reason})`);
        }
        if (!(this.options.pipeline ?? true)) {
          const flight = [encodeSubscribe(this.subscribeId, this.ackTopic, 1), ...this.queued.map((q) => q.packet)];
          const names = [`SUBSCRIBE ${this.ackTopic}`, ...this.queued.map((q) => q.name)];
          this.queued = [];
          this.send(flight, names.join(" + "));
        }
        return;
      }
      case "suback": {
        if (!this.connackSeen) return this.fail("network", "SUBACK before CONNACK");
        if (packet.packetId !== this.subscribeId || this.phase !== "connecting") return this.fail("network", `unexpected SUBACK ${packet.packetId}`);
        if (packet.returnCodes.length !== 1) return this.fail("network", "SUBACK with more return codes than topics");
        if (packet.returnCodes[0] === SUBACK_FAILURE) return this.fail("auth", `SUBSCRIBE ${this.ackTopic} refused by the broker`);
        this.phase = "ready";
        this.handlers.onReady();
        return;
      }
      case "puback": {
        const topic = this.inFlight.get(packet.packetId);
        if (topic === undefined) return; // a late or duplicate PUBACK: harmless
        this.inFlight.delete(packet.packetId);
        this.options.onPublished?.(topic);
        return;
      }
      case "publish": {
        if (!this.connackSeen) return this.fail("network", "PUBLISH before CONNACK");
        if (packet.qos === 1 && packet.packetId !== undefined) this.write(encodePuback(packet.packetId), "PUBACK");
        this.handlers.onMessage(packet.topic, packet.payload);
        return;
      }
      case "pingresp":
        if (this.pongTimer !== undefined) this.options.timers.clear(this.pongTimer);
        this.pongTimer = undefined;
        return;
    }
  }

  private ended(kind: CloseKind, detail: string, peerClosed: boolean): void {
    if (this.phase === "closed") return;
    // A broker that hangs up before answering is refusing us: AWS IoT closes without a CONNACK on a CONNECT
    // its policy does not allow, and without a SUBACK on a refused SUBSCRIBE. But when a PUBLISH of ours went
    // out in the same flight (pipelining), the hang-up may also answer that publish, or be a broker
    // restarting under us: then it stays a network failure, flagged, and the flow calls the same hang-up
    // after its publish, several times in a row, a refusal (authCloseThreshold).
    if (kind === "network" && peerClosed && this.phase === "connecting") {
      if (!this.publishWritten) {
        kind = "auth";
        detail = this.connackSeen
          ? `the broker closed the connection in answer to SUBSCRIBE ${this.ackTopic} (not authorized)`
          : "the broker closed the connection before CONNACK (not authorized to connect)";
      } else {
        detail = this.connackSeen
          ? "the broker closed the connection after our publish, before SUBACK (refused, or restarting)"
          : "the broker closed the connection after our publish, before CONNACK (refused, or restarting)";
      }
    }
    this.phase = "closed";
    this.stopKeepAlive();
    this.handlers.onClose(kind, detail, kind === "network" && peerClosed && this.publishWritten);
  }

  private fail(kind: CloseKind, detail: string): void {
    if (this.phase === "closed") return;
    this.phase = "closed";
    this.stopKeepAlive();
    this.stream.close();
    this.handlers.onClose(kind, detail);
  }

  private send(packets: Uint8Array[], name: string): void {
    if (name.includes("PUBLISH")) this.publishWritten = true;
    let total = 0;
    for (const p of packets) total += p.length;
    const flight = new Uint8Array(total);
    let at = 0;
    for (const p of packets) {
      flight.set(p, at);
      at += p.length;
    }
    this.write(flight, name);
  }

  private write(bytes: Uint8Array, name: string): void {
    this.trace("out", name);
    this.stream.write(bytes);
    this.armKeepAlive();
  }

  /** Ping after keepAlive of silence from our side; no PINGRESP within it = the link is dead. */
  private armKeepAlive(): void {
    const keepAliveMs = this.options.keepAliveMs;
    if (keepAliveMs <= 0 || this.phase === "closed") return;
    if (this.pingTimer !== undefined) this.options.timers.clear(this.pingTimer);
    this.pingTimer = this.options.timers.set(() => {
      this.pingTimer = undefined;
      if (this.phase === "closed") return;
      if (this.pongTimer === undefined) {
        this.pongTimer = this.options.timers.set(() => {
          this.pongTimer = undefined;
          this.fail("network", "no PINGRESP: the broker or the network is gone");
        }, keepAliveMs);
      }
      this.write(encodePingreq(), "PINGREQ");
    }, keepAliveMs);
  }

  private stopKeepAlive(): void {
    if (this.pingTimer !== undefined) this.options.timers.clear(this.pingTimer);
    if (this.pongTimer !== undefined) this.options.timers.clear(this.pongTimer);
    this.pingTimer = undefined;
    this.pongTimer = undefined;
  }

  private trace(direction: "out" | "in", packet: string, detail?: string): void {
    this.options.onTrace?.({ direction, packet, detail });
  }
}

function describe(packet: InboundPacket): string | undefined {
  switch (packet.type) {
    case "connack":
      return `rc=${packet.returnCode}`;
    case "suback":
      return `codes=${packet.returnCodes.join(",")}`;
    case "publish":
      return `${packet.topic} qos=${packet.qos} ${packet.payload.length} B`;
    case "puback":
      return `id=${packet.packetId}`;
    default:
      return undefined;
  }
}
