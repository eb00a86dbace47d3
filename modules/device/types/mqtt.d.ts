// The Moddable SDK's classic MQTT client ($(MODULES)/network/mqtt/mqtt.js) has no typing in the SDK's
// typings/ nor in @moddable/typings: this declares what the firmware uses. QoS 0, clean session, MQTT 3.1.1.

declare module "mqtt" {
  export interface ClientOptions {
    host: string;
    port?: number;
    /** MQTT client id. */
    id?: string;
    user?: string;
    password?: string | ArrayBuffer;
    /** Keepalive in milliseconds (sent rounded up to seconds); 0 = none. */
    timeout?: number;
    /** Set for MQTT over WebSocket only. */
    path?: string;
    /** Socket class to use instead of the plain TCP socket, e.g. SecureSocket; gets {host, port, secure}. */
    Socket?: new (dictionary: { host: string; port: number; secure?: object }) => object;
    /** Passed to Socket as `secure`: the TLS options of SecureSocket. */
    secure?: object;
    will?: { topic: string; message: string | ArrayBuffer; quality?: 0 | 1; retain?: boolean };
  }

  export default class Client {
    constructor(options: ClientOptions);
    /** CONNACK accepted. */
    onReady?: () => void;
    onMessage?: (topic: string, body: ArrayBuffer) => void;
    /** Any failure or close by the peer; not called after close(). No reason is passed. */
    onClose?: () => void;
    publish(topic: string, data: string | ArrayBuffer, flags?: { quality?: 0 | 1; retain?: boolean; duplicate?: boolean }): void;
    subscribe(topic: string): void;
    unsubscribe(topic: string): void;
    /** Sends DISCONNECT (unless immediate) and closes the socket. */
    close(immediate?: boolean): void;
    /** Inbound bytes from the socket (public method of the implementation; the firmware observes it). */
    received(buffer: ArrayBuffer): void;
    /** Traces the reason, calls onClose, closes (public method of the implementation). */
    fail(message?: string): void;
  }
}
