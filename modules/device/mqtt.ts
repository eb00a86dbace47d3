// MqttConnector port on the SDK's classic MQTT client over SecureSocket (the SDK's own TLS stack):
// TLS 1.2, client certificate + key from the device identity, broker chain checked against our CA.
//
// Why the classic "mqtt" client and not the ECMA-419 one (examples/io/tcp/mqttclient):
// - it is a preloaded SDK module on every target we use, including x-cli-lin, so the very code that runs
//   on the ESP32 also runs in the headless Linux build and its e2e test; the ECMA-419 client needs the
//   target's `device.network` provider, which x-cli-lin does not have;
// - its QoS 0 costs nothing here: what the LED follows is the restaurant's application-level ack, and an
//   order without one stays pending and is resent with the same orderId (the restaurant dedupes). A PUBACK
//   would only say that the broker, not the restaurant, got it;
// - it is smaller (one module, no DNS/IO provider stack) — RAM matters on an ESP32.
// What it lacks (failure reasons, SUBACK) is recovered by observing it: see mqtt-watch.ts.

/// <reference path="./types/mqtt.d.ts" />
import Client from "mqtt";
import SecureSocket from "securesocket";
import Timer from "timer";
import type { ConnectionHandlers, Log, MqttConnection, MqttConnector } from "../core/ports";
import type { DeviceIdentity } from "./identity";
import { type CloseEvidence, classifyClose, MqttInboundWatch } from "./mqtt-watch";
import type { MqttSettings } from "./settings";

export interface SecureMqttConnectorOptions {
  mqtt: MqttSettings;
  /** MQTT client id: the thing name (= certificate CN). */
  clientId: string;
  identity: DeviceIdentity;
  log: Log;
}

/** SecureSocket members the connector observes (present in modules/crypt/securesocket, not in typings). */
interface SecureSocketInternals {
  handshaking?: boolean;
  /** The TLS session; `alert` is set when either side ended it with an alert. */
  ssl?: { alert?: { level: number; description: number } };
  messageHandler(bytesAvailable: number): void;
}

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

const TLS_1_2 = 0x303;

export class SecureMqttConnector implements MqttConnector {
  private readonly options: SecureMqttConnectorOptions;

  constructor(options: SecureMqttConnectorOptions) {
    this.options = options;
  }

  connect(request: { subscribe: string }, handlers: ConnectionHandlers): MqttConnection {
    const { mqtt, clientId, identity, log } = this.options;
    const evidence: CloseEvidence = { brokerAnswered: false, tlsEstablished: false };
    let ended = false; // onClose delivered or close() called: nothing more reaches the core
    let client: Client | undefined;

    const end = (): void => {
      if (ended) return;
      ended = true;
      const reason = classifyClose(evidence);
      try {
        client?.close(true);
      } catch {
        // already closed
      }
      client = undefined;
      handlers.onClose(reason.kind, reason.detail);
    };

    // The watch only records; decisions are taken after the client has parsed the same bytes, so the
    // core never runs inside the client's parser.
    let suback: number[] | undefined;
    const watch = new MqttInboundWatch({
      onConnack: (code) => {
        evidence.connackCode = code;
      },
      onSuback: (_packetId, codes) => {
        suback = codes;
      },
    });
    const afterReceive = (): void => {
      if (ended || suback === undefined) return;
      const codes = suback;
      suback = undefined;
      if (codes.some((code) => code >= 0x80)) {
        evidence.subscribeRefused = true;
        end();
        return;
      }
      handlers.onReady();
    };

    const secureBase = SecureSocket as unknown as { prototype: SecureSocketInternals };
    // One class per connection, so the hooks write to this attempt's evidence only.
    class ObservedSecureSocket extends SecureSocket {
      constructor(dictionary: { host: string; port: number; secure?: object }) {
        // noDelay: the ESP32 (lwIP) socket disables Nagle with it (≈40 ms per hop otherwise: Nagle meets delayed ACKs);
        // the Linux socket ignores it.
        super({ ...dictionary, noDelay: true });
      }
      messageHandler(bytesAvailable: number): void {
        // SecureSocket calls this when TCP connects (0: start the handshake) and on every read (> 0).
        if (bytesAvailable > 0) evidence.brokerAnswered = true;
        try {
          secureBase.prototype.messageHandler.call(this, bytesAvailable);
        } catch (error) {
          if (evidence.tlsError === undefined) evidence.tlsError = String(error);
          throw error;
        } finally {
          const self = this as unknown as SecureSocketInternals;
          if (!self.handshaking && !evidence.tlsEstablished) {
            // SecureSocket also leaves the handshaking state when the handshake ends in an alert (e.g. the
            // broker chose TLS 1.1: protocol_version), and then reports "connected". That is a refusal.
            const alert = self.ssl?.alert;
            if (alert && alert.description !== 0) {
              if (evidence.tlsError === undefined) evidence.tlsError = `TLS alert ${alert.description} (${TLS_ALERTS[alert.description] ?? "fatal"})`;
            } else {
              evidence.tlsEstablished = true;
            }
          }
        }
      }
    }

    class ObservedClient extends Client {
      received(buffer: ArrayBuffer): void {
        if (!ended) watch.feed(new Uint8Array(buffer)); // first: a refusing CONNACK makes the client fail()
        super.received(buffer);
        afterReceive();
      }
      fail(message?: string): void {
        if (evidence.clientFailure === undefined && message) evidence.clientFailure = message;
        super.fail(message);
      }
    }

    const secure: { [option: string]: unknown } = {
      protocolVersion: TLS_1_2,
      certificate: identity.ca,
      clientCertificates: [identity.certificate],
      clientKey: identity.privateKey,
      tls_server_name: mqtt.serverName,
    };
    if (mqtt.alpn !== undefined) secure.applicationLayerProtocolNegotiation = mqtt.alpn;

    try {
      client = new ObservedClient({
        host: mqtt.host,
        port: mqtt.port,
        id: clientId,
        timeout: mqtt.keepaliveMs,
        Socket: ObservedSecureSocket,
        secure,
      });
    } catch (error) {
      // The socket could not even be opened (e.g. no route, name not resolvable): a network failure.
      evidence.clientFailure = `cannot open a connection: ${String(error)}`;
      Timer.set(end, 0); // onClose must not run inside connect()
      return { publish() {}, close: () => void (ended = true) };
    }
    log.info(`mqtt: connecting to ${mqtt.host}:${mqtt.port} as ${clientId}`);

    client.onReady = () => {
      if (ended || !client) return;
      try {
        client.subscribe(request.subscribe); // onReady reaches the core when the SUBACK grants it
      } catch {
        end();
      }
    };
    client.onMessage = (topic, body) => {
      if (!ended) handlers.onMessage(topic, new Uint8Array(body));
    };
    client.onClose = () => end();

    return {
      publish(topic: string, payload: Uint8Array): void {
        if (ended || !client) return;
        const bytes =
          payload.byteOffset === 0 && payload.byteLength === payload.buffer.byteLength ? payload : payload.slice();
        try {
          client.publish(topic, bytes.buffer as ArrayBuffer);
        } catch {
          Timer.set(end, 0); // the socket is gone; report it like any other loss
        }
      },
      close(): void {
        if (ended) return;
        ended = true;
        try {
          client?.close();
        } catch {
          // already closed
        }
        client = undefined;
      },
    };
  }
}
