// The MqttConnector port over mqtt.js and node:tls: the virtual button's network, as close to the real
// button's as a PC gets. MQTT 3.1.1, TLS 1.2 with the firmware's TLS constraints (FIRMWARE_TLS), the
// device's client certificate, the broker checked against our CA only, client id = thing name, Nagle off.
// mqtt.js never reconnects on its own here (reconnectPeriod 0): retries and backoff belong to the core.
import type tls from "node:tls";
import { MqttClient } from "mqtt";
import type {
  CloseKind,
  ConnectionHandlers,
  Log,
  MqttConnection,
  MqttConnector as MqttConnectorPort,
} from "../../modules/core/ports";
import { classifyClose, type ConnectionStage } from "../../services/net/close-kind";
import { openTlsStream, type PemInput } from "../../services/net/tls-stream";

/**
 * What the firmware's TLS (the Moddable SDK's, as manifest.json configures it) offers in its ClientHello:
 * TLS 1.2 only, ECDHE_RSA with AES-128-GCM or AES-128-CBC-SHA256, ECDHE_ECDSA with AES-128-GCM, plain RSA
 * key exchange with AES-CBC, on the P-256 curve; no DHE_RSA (the SDK has no client certificateVerify for it)
 * and no ChaCha20. The virtual button offers exactly these, so a broker the simulator accepts is one the
 * board accepts.
 */
export const FIRMWARE_TLS = {
  maxVersion: "TLSv1.2" as tls.SecureVersion,
  ciphers: [
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "AES128-SHA256",
    "AES256-SHA256",
    "AES128-SHA",
    "AES256-SHA",
  ].join(":"),
  ecdhCurve: "P-256",
};

/** One step of one connection, for timing displays. `ms` is the duration of that step alone. */
export type ConnectionStep =
  | { step: "tcp"; ms: number }
  | { step: "tls"; ms: number; protocol: string; cipher: string }
  | { step: "connack"; ms: number }
  | { step: "suback"; ms: number }
  | { step: "publish"; topic: string; bytes: number }
  | { step: "message"; topic: string; bytes: number }
  | { step: "close"; kind: CloseKind; detail: string; byCore: boolean };

/** `connection` numbers the connections of one connector; `at` is performance.now() when it happened. */
export type ConnectionEvent = ConnectionStep & { connection: number; at: number };

export interface MqttConnectorOptions {
  host: string;
  port: number;
  /** Name to verify the broker certificate against (and SNI); defaults to host. */
  servername?: string;
  alpnProtocols?: string[];
  ca: PemInput | PemInput[];
  cert: PemInput;
  key: PemInput;
  /** The thing name. The broker requires it to equal the certificate CN. */
  clientId: string;
  keepaliveSec?: number;
  /** Time allowed from the start of a connection to CONNACK (TCP + TLS + MQTT). */
  connectTimeoutMs?: number;
  /** Defaults to TLSv1.2, like the firmware; raise it only to test the broker (the suites stay the firmware's). */
  tlsMaxVersion?: tls.SecureVersion;
  observer?: (event: ConnectionEvent) => void;
  log?: Log;
}

export class MqttConnector implements MqttConnectorPort {
  readonly #options: MqttConnectorOptions;
  readonly #open = new Set<TlsMqttConnection>();
  #connections = 0;

  constructor(options: MqttConnectorOptions) {
    this.#options = options;
  }

  /** How many connections this connector has opened (load tests count reconnect storms with it). */
  get connectionCount(): number {
    return this.#connections;
  }

  connect(request: { subscribe: string }, handlers: ConnectionHandlers): MqttConnection {
    this.#connections += 1;
    const connection = new TlsMqttConnection(this.#connections, this.#options, request.subscribe, handlers);
    this.#open.add(connection);
    void connection.closed.then(() => this.#open.delete(connection));
    return connection;
  }

  /** Resolves once every connection this connector opened has closed its socket (for a clean exit). */
  async drain(timeoutMs = 3_000): Promise<void> {
    const all = Promise.all([...this.#open].map((connection) => connection.closed));
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }
}

class TlsMqttConnection implements MqttConnection {
  readonly #id: number;
  readonly #options: MqttConnectorOptions;
  readonly #handlers: ConnectionHandlers;
  readonly #client: MqttClient;
  readonly #errors: Array<{ code?: unknown; message?: string }> = [];
  #closedByCore = false;
  #closeReported = false;
  #stage: ConnectionStage = "tcp";
  #forceTimer: NodeJS.Timeout | undefined;
  #markClosed!: () => void;
  /** Resolves when the socket is closed, however that happened. */
  readonly closed = new Promise<void>((resolve) => (this.#markClosed = resolve));

  constructor(id: number, options: MqttConnectorOptions, subscribe: string, handlers: ConnectionHandlers) {
    this.#id = id;
    this.#options = options;
    this.#handlers = handlers;
    let secureAt = 0;
    let connackAt = 0;

    this.#client = new MqttClient(
      () =>
        openTlsStream({
          host: options.host,
          port: options.port,
          ...(options.servername ? { servername: options.servername } : {}),
          ...(options.alpnProtocols ? { alpnProtocols: options.alpnProtocols } : {}),
          ca: options.ca,
          cert: options.cert,
          key: options.key,
          maxVersion: options.tlsMaxVersion ?? FIRMWARE_TLS.maxVersion,
          ciphers: FIRMWARE_TLS.ciphers,
          ecdhCurve: FIRMWARE_TLS.ecdhCurve,
          onTcpConnect: (ms) => {
            this.#stage = "tls";
            this.#emit({ step: "tcp", ms });
          },
          onSecureConnect: (ms, socket) => {
            secureAt = performance.now();
            this.#stage = "connect";
            this.#emit({
              step: "tls",
              ms,
              protocol: socket.getProtocol() ?? "unknown",
              cipher: socket.getCipher()?.name ?? "unknown",
            });
          },
          onError: (error) => this.#errors.push(error as { code?: unknown; message?: string }),
        }),
      {
        clientId: options.clientId,
        protocolVersion: 4,
        clean: true,
        keepalive: options.keepaliveSec ?? 60,
        connectTimeout: options.connectTimeoutMs ?? 10_000,
        reconnectPeriod: 0,
        resubscribe: false,
      },
    );

    this.#client.on("error", (error: Error) => this.#errors.push(error));

    this.#client.on("connect", () => {
      connackAt = performance.now();
      this.#emit({ step: "connack", ms: connackAt - secureAt });
      this.#stage = "subscribe";
      this.#client.subscribe(subscribe, { qos: 1 }, (error) => {
        if (this.#closedByCore || this.#closeReported) return;
        if (error) {
          this.#errors.push(error);
          this.#client.end(true);
          return;
        }
        this.#stage = "ready";
        this.#emit({ step: "suback", ms: performance.now() - connackAt });
        this.#safely("onReady", () => handlers.onReady());
      });
    });

    this.#client.on("message", (topic: string, payload: Buffer) => {
      if (this.#closedByCore) return;
      this.#emit({ step: "message", topic, bytes: payload.length });
      const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
      this.#safely("onMessage", () => handlers.onMessage(topic, bytes));
    });

    this.#client.on("close", () => this.#onClose());
  }

  publish(topic: string, payload: Uint8Array): void {
    if (this.#closedByCore || this.#closeReported || !this.#client.connected) {
      this.#options.log?.warn(`mqtt: publish to ${topic} dropped, connection ${this.#id} is not open`);
      return;
    }
    this.#emit({ step: "publish", topic, bytes: payload.byteLength });
    this.#client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1 }, (error) => {
      // A publish lost with its connection is reported through onClose; the core resends it.
      if (error && !this.#closedByCore) this.#options.log?.warn(`mqtt: publish to ${topic} failed: ${error.message}`);
    });
  }

  close(): void {
    if (this.#closedByCore) return;
    this.#closedByCore = true;
    if (this.#client.connected && Object.keys(this.#client.outgoing).length === 0) {
      // Polite DISCONNECT; if the broker does not close its side promptly, cut the socket.
      this.#client.end(false);
      this.#forceTimer = setTimeout(() => this.#client.stream?.destroy(), 2_000);
      this.#forceTimer.unref();
    } else {
      this.#client.end(true);
    }
  }

  #onClose(): void {
    if (this.#forceTimer) clearTimeout(this.#forceTimer);
    this.#markClosed();
    if (this.#closeReported) return;
    this.#closeReported = true;
    if (this.#closedByCore) {
      this.#emit({ step: "close", kind: "network", detail: "closed by the device", byCore: true });
      return;
    }
    const { kind, detail } = this.#classify();
    this.#emit({ step: "close", kind, detail, byCore: false });
    this.#options.log?.warn(`mqtt: connection ${this.#id} closed (${kind}): ${detail}`);
    this.#safely("onClose", () => this.#handlers.onClose(kind, detail));
  }

  #classify(): { kind: CloseKind; detail: string } {
    return classifyClose({ stage: this.#stage, errors: this.#errors });
  }

  #emit(step: ConnectionStep): void {
    this.#options.observer?.({ ...step, connection: this.#id, at: performance.now() });
  }

  #safely(what: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#options.log?.error(`mqtt: ${what} handler threw: ${(error as Error).stack ?? String(error)}`);
    }
  }
}
