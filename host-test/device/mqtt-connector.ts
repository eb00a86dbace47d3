// The MqttConnector port for the virtual button: the core's own MQTT session (modules/core/mqtt-session.ts,
// the same code the firmware runs) over node:tls (tls-transport.ts). Client id = thing name, QoS 1 orders,
// CONNECT + SUBSCRIBE + PUBLISH pipelined in one flight, TLS sessions resumed between presses.
// Retries and backoff belong to the core; this only reports, per connection, the steps a timing display
// shows (TCP, TLS, CONNACK, SUBACK, publish, PUBACK, ack) and every packet that crossed the wire.
import { mqttSessionConnector, type PacketTrace } from "../../modules/core/mqtt-session";
import type { CloseKind, ConnectionHandlers, Log, MqttConnection, MqttConnector as MqttConnectorPort } from "../../modules/core/ports";
import { BUTTON_SETTINGS, defaultsOf } from "../../modules/core/settings";
import { nodeTimers } from "./timers";
import { TlsTransport, type TlsTransportOptions } from "./tls-transport";

/**
 * One step of one connection, for timing displays. `ms` is the duration of that step alone:
 * tcp = start → TCP up; tls = TCP up → handshake done; connack = handshake done → CONNACK;
 * suback = CONNACK → SUBACK; puback = PUBLISH written → PUBACK. "publish" is the PUBLISH leaving (with
 * pipelining, in the first flight), "packet" every packet in or out, as the session names it.
 */
export type ConnectionStep =
  | { step: "tcp"; ms: number }
  | { step: "tls"; ms: number; protocol: string; cipher: string; resumed: boolean }
  | { step: "connack"; ms: number }
  | { step: "suback"; ms: number }
  | { step: "publish"; topic: string; bytes: number }
  | { step: "puback"; ms: number }
  | { step: "message"; topic: string; bytes: number }
  | { step: "packet"; direction: PacketTrace["direction"]; packet: string; detail?: string }
  | { step: "close"; kind: CloseKind; detail: string; byCore: boolean };

/** `connection` numbers the connections of one connector; `at` is performance.now() when it happened. */
export type ConnectionEvent = ConnectionStep & { connection: number; at: number };

const DEFAULT_KEEPALIVE_MS = defaultsOf(BUTTON_SETTINGS)["mqtt.keepaliveMs"] as number;

export interface MqttConnectorOptions extends Omit<TlsTransportOptions, "resumeSessions" | "closeGraceMs"> {
  /** The thing name. The broker requires it to equal the certificate CN. */
  clientId: string;
  /**
   * Keep-alive in ms, as the settings schema (mqtt.keepaliveMs) and every timer of the core count time; only
   * the CONNECT packet carries MQTT's seconds, which the core's session writes. Default: the schema's.
   */
  keepaliveMs?: number;
  /** Offer the previous connection's TLS session on the next (default true, as the firmware's SDK does). */
  resumeTlsSessions?: boolean;
  /** Send SUBSCRIBE and PUBLISH behind CONNECT without waiting for CONNACK (default true). */
  pipeline?: boolean;
  observer?: (event: ConnectionEvent) => void;
  log?: Log;
}

export class MqttConnector implements MqttConnectorPort {
  readonly publishesBeforeReady: boolean;
  readonly #options: MqttConnectorOptions;
  readonly #transport: TlsTransport;
  #connections = 0;

  constructor(options: MqttConnectorOptions) {
    this.#options = options;
    this.publishesBeforeReady = options.pipeline ?? true;
    this.#transport = new TlsTransport({
      host: options.host,
      port: options.port,
      ...(options.servername ? { servername: options.servername } : {}),
      ...(options.alpnProtocols ? { alpnProtocols: options.alpnProtocols } : {}),
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      ...(options.tlsMaxVersion ? { tlsMaxVersion: options.tlsMaxVersion } : {}),
      resumeSessions: options.resumeTlsSessions ?? true,
    });
  }

  /** How many connections this connector has opened (load tests count reconnect storms with it). */
  get connectionCount(): number {
    return this.#connections;
  }

  /** The next connection does a full TLS handshake (benchmarks measure both kinds). */
  forgetTlsSession(): void {
    this.#transport.forgetSession();
  }

  connect(request: { subscribe: string }, handlers: ConnectionHandlers): MqttConnection {
    const id = ++this.#connections;
    const options = this.#options;
    const emit = (step: ConnectionStep) => options.observer?.({ ...step, connection: id, at: performance.now() });
    let secureAt = 0;
    let connackAt = 0;
    let publishedAt = 0;
    const payloadBytes = new Map<string, number>(); // topic → size of the publish waiting to leave
    let closedByCore = false;
    let closeEmitted = false;
    const session = mqttSessionConnector({
      transport: {
        open: (streamHandlers) =>
          this.#transport.open(streamHandlers, {
            onTcpConnect: (ms) => emit({ step: "tcp", ms }),
            onHandshake: (h) => {
              secureAt = performance.now();
              emit({ step: "tls", ms: h.ms, protocol: h.protocol, cipher: h.cipher, resumed: h.resumed });
            },
            onSocketClosed: () => {
              if (closedByCore && !closeEmitted) {
                closeEmitted = true;
                emit({ step: "close", kind: "network", detail: "closed by the device", byCore: true });
              }
            },
          }),
      },
      clientId: options.clientId,
      timers: nodeTimers,
      keepAliveMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
      publishQos: 1,
      pipeline: options.pipeline ?? true,
      onPublished: () => emit({ step: "puback", ms: performance.now() - publishedAt }),
      onTrace: (trace) => {
        emit({ step: "packet", ...trace });
        if (trace.direction === "in" && trace.packet === "CONNACK") {
          connackAt = performance.now();
          emit({ step: "connack", ms: connackAt - secureAt });
        } else if (trace.direction === "in" && trace.packet === "SUBACK") {
          emit({ step: "suback", ms: performance.now() - connackAt });
        } else if (trace.direction === "out") {
          for (const part of trace.packet.split(" + ")) {
            if (!part.startsWith("PUBLISH ")) continue;
            publishedAt = performance.now();
            const topic = part.slice("PUBLISH ".length);
            emit({ step: "publish", topic, bytes: payloadBytes.get(topic) ?? 0 });
          }
        }
      },
    });
    const connection = session.connect(request, {
      onReady: () => safely(options.log, "onReady", () => handlers.onReady()),
      onMessage: (topic, payload) => {
        emit({ step: "message", topic, bytes: payload.byteLength });
        safely(options.log, "onMessage", () => handlers.onMessage(topic, payload));
      },
      onClose: (kind, detail, hungUpAfterPublish) => {
        closeEmitted = true;
        emit({ step: "close", kind, detail, byCore: false });
        options.log?.warn(`mqtt: connection ${id} closed (${kind}): ${detail}`);
        safely(options.log, "onClose", () => handlers.onClose(kind, detail, hungUpAfterPublish));
      },
    });
    return {
      publish: (topic, payload) => {
        payloadBytes.set(topic, payload.byteLength);
        connection.publish(topic, payload);
      },
      close: () => {
        closedByCore = true;
        connection.close();
      },
    };
  }

  /** Resolves once every connection this connector opened has closed its socket (for a clean exit). */
  async drain(timeoutMs = 3_000): Promise<void> {
    await this.#transport.drain(timeoutMs);
  }
}

function safely(log: Log | undefined, what: string, call: () => void): void {
  try {
    call();
  } catch (error) {
    log?.error(`mqtt: ${what} handler threw: ${(error as Error).stack ?? String(error)}`);
  }
}
