// The TLS client socket both harness MQTT clients (virtual button, restaurant) hand to mqtt.js.
// We build it ourselves instead of letting mqtt.js do it for two reasons:
//  - Nagle's algorithm must be off on the TCP socket (Nagle meeting delayed ACKs costs ~40 ms
//    per hop), and mqtt.js has no option for that;
//  - the TCP connect and the TLS handshake are separate steps here, so each can be timed and reported.
import net from "node:net";
import tls from "node:tls";

export type PemInput = string | Buffer;

export interface TlsClientOptions {
  host: string;
  port: number;
  /** SNI / certificate name to check; defaults to host. IP addresses are checked against the IP SANs. */
  servername?: string;
  /** Trusted CA(s) for the broker certificate. Nothing else is trusted (no system store). */
  ca: PemInput | PemInput[];
  /** Client certificate (chain) and private key: mutual TLS. */
  cert: PemInput;
  key: PemInput;
  /** AWS IoT Core on port 443 needs ALPN "x-amzn-mqtt-ca". */
  alpnProtocols?: string[];
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  /** OpenSSL cipher list to offer (TLS 1.2 suites); default Node's. */
  ciphers?: string;
  /** Key-exchange curves to offer, e.g. "P-256"; default Node's. */
  ecdhCurve?: string;
  /** A TLS session from an earlier connection to the same broker (its 'session' event): offered for resumption. */
  session?: Buffer;
  /** Milliseconds from the start of the call to the TCP connection being established. */
  onTcpConnect?: (ms: number) => void;
  /** Milliseconds from TCP established to the TLS handshake being complete (broker verified). */
  onSecureConnect?: (ms: number, socket: tls.TLSSocket) => void;
  /** Every error seen on the TCP or TLS layer, before mqtt.js filters them. */
  onError?: (error: Error) => void;
}

export function openTlsStream(options: TlsClientOptions): tls.TLSSocket {
  const startedAt = performance.now();
  let tcpAt = startedAt;
  const tcp = net.connect({ host: options.host, port: options.port, noDelay: true });
  tcp.setNoDelay(true);
  tcp.once("connect", () => {
    tcpAt = performance.now();
    options.onTcpConnect?.(tcpAt - startedAt);
  });
  const servername = options.servername ?? options.host;
  const socket = tls.connect({
    socket: tcp,
    // host is what the broker certificate is checked against (DNS or IP SAN); SNI only for names.
    host: servername,
    ...(net.isIP(servername) === 0 ? { servername } : {}),
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    minVersion: options.minVersion ?? "TLSv1.2",
    ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
    ...(options.ciphers ? { ciphers: options.ciphers } : {}),
    ...(options.ecdhCurve ? { ecdhCurve: options.ecdhCurve } : {}),
    ...(options.alpnProtocols ? { ALPNProtocols: options.alpnProtocols } : {}),
    ...(options.session ? { session: options.session } : {}),
    rejectUnauthorized: true,
  });
  socket.once("secureConnect", () => {
    options.onSecureConnect?.(performance.now() - tcpAt, socket);
  });
  // A TCP-level failure (refused, reset) must reach whoever watches the TLS socket, and never be unhandled.
  tcp.on("error", (error) => {
    options.onError?.(error);
    if (!socket.destroyed) socket.destroy(error);
  });
  socket.on("error", (error) => {
    options.onError?.(error);
  });
  socket.once("close", () => {
    if (!tcp.destroyed) tcp.destroy();
  });
  return socket;
}
