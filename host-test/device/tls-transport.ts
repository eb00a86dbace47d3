// The core's byte-stream port (Transport) over node:tls: what the virtual button's MQTT session runs on, as
// the firmware's runs on SecureSocket. TLS 1.2 (the firmware's SecureSocket speaks 1.2), the device's
// client certificate, the broker checked against our CA only, Nagle off (services/net/tls-stream.ts).
//
// TLS session resumption: the session the broker hands out (a session ID or a ticket, the 'session'
// event) is kept and offered on the next connection, as the firmware's SDK keeps its last session. A
// resumed handshake is one round trip instead of two and skips the certificate exchange and signatures.
// A connection whose handshake was refused forgets the session (the identity may have changed).
import type tls from "node:tls";
import type { ByteStream, ByteStreamHandlers, Transport } from "../../modules/core/mqtt-session";
import { classifyClose, isHangUp } from "../../services/net/close-kind";
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

export interface TlsHandshake {
  /** TCP established → handshake complete (broker verified), ms. */
  ms: number;
  protocol: string;
  cipher: string;
  /** The broker accepted the session we offered (abbreviated handshake). */
  resumed: boolean;
}

/** Where the broker is and how to reach it. */
export interface BrokerEndpoint {
  host: string;
  port: number;
  /** Name to verify the broker certificate against (and SNI); defaults to host. */
  servername?: string;
  alpnProtocols?: string[];
}

/** Mutual TLS: the CA(s) the broker certificate must chain to, the client certificate (chain) and its key. */
export interface TlsCredentials {
  ca: PemInput | PemInput[];
  cert: PemInput;
  key: PemInput;
}

export interface TlsTransportOptions extends BrokerEndpoint, Omit<TlsCredentials, "cert"> {
  /** Client certificate (chain); a function is asked at every open (a renewed certificate is used from then on). */
  cert: PemInput | (() => PemInput);
  /** Defaults to TLSv1.2, like the firmware; raise it only to test the broker. */
  tlsMaxVersion?: tls.SecureVersion;
  /** Offer the previous connection's TLS session (default true). */
  resumeSessions?: boolean;
  /** How long a close (after our DISCONNECT) may take before the socket is cut. */
  closeGraceMs?: number;
}

/** What one connection's transport reports besides bytes, for timing displays. */
export interface TlsObserver {
  /** Start → TCP established, ms. */
  onTcpConnect?(ms: number): void;
  onHandshake?(handshake: TlsHandshake): void;
  /** The socket is closed, however that happened. */
  onSocketClosed?(): void;
}

export class TlsTransport implements Transport {
  readonly #options: TlsTransportOptions;
  readonly #open = new Set<Promise<void>>();
  #session: Buffer | undefined;
  /** The certificate the kept session was made with. */
  #sessionCert: string | undefined;

  constructor(options: TlsTransportOptions) {
    this.#options = options;
  }

  /** The session the next connection will offer, if any. */
  get hasSession(): boolean {
    return this.#session !== undefined;
  }

  /** The next connection does a full handshake. */
  forgetSession(): void {
    this.#session = undefined;
  }

  open(handlers: ByteStreamHandlers, observer: TlsObserver = {}): ByteStream {
    const options = this.#options;
    const errors: Array<{ code?: unknown; message?: string }> = [];
    let stage: "tcp" | "tls" | "open" = "tcp";
    let closedByUs = false;
    let reported = false;
    const resume = options.resumeSessions ?? true;
    const cert = typeof options.cert === "function" ? options.cert() : options.cert;
    // A resumed session carries the certificate of its first handshake: a new certificate needs a full one.
    if (this.#sessionCert !== undefined && String(cert) !== this.#sessionCert) this.#session = undefined;
    this.#sessionCert = String(cert);
    const socket = openTlsStream({
      host: options.host,
      port: options.port,
      ...(options.servername ? { servername: options.servername } : {}),
      ...(options.alpnProtocols ? { alpnProtocols: options.alpnProtocols } : {}),
      ca: options.ca,
      cert,
      key: options.key,
      maxVersion: options.tlsMaxVersion ?? FIRMWARE_TLS.maxVersion,
      ciphers: FIRMWARE_TLS.ciphers,
      ecdhCurve: FIRMWARE_TLS.ecdhCurve,
      ...(resume && this.#session ? { session: this.#session } : {}),
      onTcpConnect: (ms) => {
        stage = "tls";
        observer.onTcpConnect?.(ms);
      },
      onSecureConnect: (ms, tlsSocket) => {
        stage = "open";
        observer.onHandshake?.({
          ms,
          protocol: tlsSocket.getProtocol() ?? "unknown",
          cipher: tlsSocket.getCipher()?.name ?? "unknown",
          resumed: tlsSocket.isSessionReused(),
        });
        if (!closedByUs) handlers.onOpen();
      },
      onError: (error) => errors.push(error as { code?: unknown; message?: string }),
    });
    if (resume) socket.on("session", (session: Buffer) => (this.#session = session));
    socket.on("data", (chunk: Buffer) => {
      if (!closedByUs && !reported) handlers.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    });
    let cutTimer: NodeJS.Timeout | undefined;
    const closed = new Promise<void>((resolve) => {
      socket.once("close", () => {
        if (cutTimer) clearTimeout(cutTimer);
        this.#open.delete(closed);
        resolve();
        observer.onSocketClosed?.();
        if (closedByUs || reported) return;
        reported = true;
        if (stage !== "open") {
          // The handshake did not complete: a refusal (alert, certificate rejected, hang-up during the
          // handshake) is "auth", anything else (refused, unreachable, reset before TLS) is "network".
          const { kind, detail } = classifyClose({ stage: stage === "tcp" ? "tcp" : "tls", errors });
          if (kind === "auth") this.#session = undefined;
          handlers.onClose(kind, detail, false);
          return;
        }
        const { kind, detail } = errors.length > 0 ? classifyClose({ stage: "ready", errors }) : { kind: "network" as const, detail: "the broker closed the connection" };
        handlers.onClose(kind, detail, errors.every(isHangUp));
      });
    });
    this.#open.add(closed);
    return {
      write: (bytes) => {
        if (closedByUs || socket.destroyed) throw new Error("write on a closed connection");
        socket.write(bytes);
      },
      close: () => {
        if (closedByUs) return;
        closedByUs = true;
        if (stage !== "open") {
          socket.destroy();
          return;
        }
        // Let what was written (DISCONNECT) leave; cut the socket if the broker does not close promptly.
        socket.end();
        cutTimer = setTimeout(() => socket.destroy(), options.closeGraceMs ?? 2_000);
        cutTimer.unref();
      },
    };
  }

  /** Resolves once every connection opened so far has closed its socket (for a clean exit). */
  async drain(timeoutMs = 3_000): Promise<void> {
    const all = Promise.all([...this.#open]);
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }
}
