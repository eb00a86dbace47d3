// The core's byte-stream port (Transport) over the SDK's SecureSocket: TLS 1.2, the device's client
// certificate and key, the broker's chain checked against our CA only. The core's MQTT session runs on it,
// exactly as the virtual button's runs on node:tls, so both hosts send the same packets.
//
// SecureSocket's callback messages (modules/crypt/securesocket): 1 = handshake done, 2 = decrypted bytes
// to read, 3 = room to write, negative = closed (-1 disconnected, -2 error). A TLS alert, a certificate
// we reject, or a broker hanging up mid-handshake all arrive as a negative message before 1: refusals
// ("auth"), which an identical retry cannot fix. To tell them from a broker that cannot be reached at all
// (a socket layer may report a refused connect as connected, then an error), the TCP socket is ours: we watch
// its public callback for any byte from the broker before handing it on to SecureSocket.
//
// TLS session resumption: the SDK's TLS asks "ssl/cache" for a session to offer and saves the one it
// ends with. The firmware maps that name to core/tls-session over RTC memory (fast-wake/ssl-cache.js), so
// the session survives deep sleep. Before each connection we bind it to this connection's broker settings,
// client certificate and lifetime (a session for anything else is dropped: a renewed certificate must be
// seen by the broker in a full handshake). A TLS failure drops it too; when a resumed handshake fails the
// close is reported as a network failure, so the flow's retry makes a full handshake instead of giving up.
/// <reference path="./types/ssl-cache.d.ts" />
import sessionCache from "ssl/cache";
import SecureSocket from "securesocket";
import { Socket } from "socket";
import type { ByteStream, ByteStreamHandlers, Transport } from "../core/mqtt-session";
import type { DeviceIdentity } from "./identity";
import type { MqttSettings } from "./settings";

const TLS_1_2 = 0x303;
const HANDSHAKE_DONE = 1;
const READABLE = 2;
const DISCONNECTED = -1;

/** TLS alert descriptions (RFC 5246 7.2) worth naming in a log. */
const TLS_ALERTS: { [description: number]: string } = {
  40: "handshake_failure",
  42: "bad_certificate",
  45: "certificate_expired",
  46: "certificate_unknown",
  48: "unknown_ca",
  70: "protocol_version",
  71: "insufficient_security",
};

type SocketCallback = (message: number, value?: number) => void;

/** SecureSocket as the classic socket API documents it (the SDK's typings leave out callback and sizes). */
interface ClassicSecureSocket {
  callback: SocketCallback;
  /** The TLS session; `alert` is set when either side ended the handshake with an alert. */
  ssl?: { alert?: { level: number; description: number } };
  read(type: typeof ArrayBuffer): ArrayBuffer;
  write(data: ArrayBuffer): void;
  close(): void;
}

export interface SecureTransportOptions {
  mqtt: MqttSettings;
  identity: DeviceIdentity;
  /**
   * The client certificate (DER) to present, asked at every open: a renewed certificate from the store
   * (core/renewal) replaces the identity's Resource from the next connection on. Default: the Resource.
   */
  certificate?: () => ArrayBuffer;
}

/**
 * SecureSocket's `secure` options for one connection, after binding the TLS session cache to it: a kept
 * session is offered only to the same broker with the same client certificate.
 */
function secureOptions(mqtt: MqttSettings, identity: DeviceIdentity, certificate: ArrayBuffer): { [option: string]: unknown } {
  sessionCache.bind({
    host: mqtt.host,
    port: mqtt.port,
    serverName: mqtt.serverName,
    alpn: mqtt.alpn ?? "",
    certificate: new Uint8Array(certificate),
    lifetimeSec: mqtt.tlsSessionLifetimeSec,
  });
  const secure: { [option: string]: unknown } = {
    protocolVersion: TLS_1_2,
    certificate: identity.ca,
    clientCertificates: [certificate],
    clientKey: identity.privateKey,
    tls_server_name: mqtt.serverName,
  };
  if (mqtt.alpn !== undefined) secure.applicationLayerProtocolNegotiation = mqtt.alpn;
  return secure;
}

export class SecureTransport implements Transport {
  private readonly options: SecureTransportOptions;
  constructor(options: SecureTransportOptions) {
    this.options = options;
  }

  open(handlers: ByteStreamHandlers): ByteStream {
    const { mqtt, identity } = this.options;
    const certificate = this.options.certificate ? this.options.certificate() : (identity.certificate as unknown as ArrayBuffer);
    const secure = secureOptions(mqtt, identity, certificate);

    let open = false; // handshake done
    let brokerAnswered = false; // a byte from the broker arrived (it speaks TLS with us)
    let ended = false; // closed by us, or the close was reported
    const report = (kind: "network" | "auth", detail: string, peerClosed: boolean) => {
      if (ended) return;
      ended = true;
      if (!open && brokerAnswered) {
        // A failed handshake: never offer that session again. If it was a resumption, the session may be
        // the cause (the broker lost it, RTC memory went bad): retry with a full handshake, not auth-error.
        const resumed = sessionCache.offered;
        sessionCache.forget(`TLS handshake failed`);
        if (resumed && kind === "auth") {
          kind = "network";
          detail = `${detail}; it offered a kept TLS session, the retry makes a full handshake`;
        }
      } else if (open && !peerClosed) sessionCache.forget("TLS connection error");
      handlers.onClose(kind, detail, peerClosed);
    };

    let socket: ClassicSecureSocket;
    try {
      // noDelay: the socket disables Nagle with it, on the ESP32 (lwIP) and the headless host (≈40 ms per
      // hop otherwise: Nagle meets delayed ACKs).
      const tcp = new Socket({ host: mqtt.host, port: mqtt.port, noDelay: true });
      socket = new SecureSocket({ sock: tcp, host: mqtt.host, port: mqtt.port, secure }) as unknown as ClassicSecureSocket;
      const tls = (tcp as unknown as { callback: SocketCallback }).callback; // installed by SecureSocket
      (tcp as unknown as { callback: SocketCallback }).callback = (message, value) => {
        if (message === READABLE) brokerAnswered = true;
        tls(message, value);
      };
    } catch (error) {
      // No socket at all (no route, name not resolvable): a network failure, reported after open() returns.
      const detail = `cannot open a connection: ${String(error)}`;
      Promise.resolve().then(() => report("network", detail, false));
      return { write() {}, close: () => void (ended = true) };
    }

    socket.callback = (message) => {
      if (ended) return;
      if (message === HANDSHAKE_DONE) {
        // SecureSocket also reports "done" when the handshake ended in an alert (e.g. a broker that only
        // speaks TLS 1.1 answers protocol_version): that is a refusal, which an identical retry cannot fix.
        const alert = socket.ssl?.alert;
        if (alert && alert.description !== 0) {
          report("auth", `TLS handshake refused: alert ${alert.description} (${TLS_ALERTS[alert.description] ?? "fatal"})`, false);
          try {
            socket.close();
          } catch {
            // already closed
          }
          return;
        }
        open = true;
        handlers.onOpen();
      } else if (message === READABLE) {
        const bytes = socket.read(ArrayBuffer);
        if (bytes.byteLength > 0) handlers.onData(new Uint8Array(bytes));
      } else if (message < 0) {
        if (open) report("network", message === DISCONNECTED ? "the broker closed the connection" : "connection lost (socket error)", message === DISCONNECTED);
        else if (brokerAnswered) {
          // Started TLS and never finished it: a certificate was refused by the broker (alert), the
          // broker's certificate failed our checks (untrusted, expired, name mismatch, wrong clock), or the
          // broker hung up mid-handshake because it does not accept us.
          report("auth", "TLS handshake failed: refused by the broker, or its certificate is not from the trusted CA (ca.der)", false);
        } else report("network", `cannot reach the broker (socket ${message === DISCONNECTED ? "closed" : "error"})`, false);
      }
    };

    return {
      write(bytes: Uint8Array): void {
        if (ended) throw new Error("write on a closed connection");
        const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
        socket.write(whole.buffer as ArrayBuffer);
      },
      close(): void {
        if (ended) return;
        ended = true;
        try {
          socket.close();
        } catch {
          // already closed
        }
      },
    };
  }
}
