// The broker's vocabulary: its options, events, counters and the handle startBroker returns. Its own module
// so the hooks, the CONNECT decision and revalidation can share it with the wiring (broker.ts) without
// importing the wiring back.
import type { CertificateBinding } from "../../tools/pki/pki";
import type { Authorizer } from "./authorizer";
import type { PublishLimit } from "./publish-limit";
import type { TlsSessionCacheOptions } from "./tls-sessions";

export type ThingState = "ACTIVE" | "INACTIVE" | "REVOKED";
export type { CertificateBinding };

/** PEM material the broker trusts for client certificates. */
export interface TrustMaterial {
  ca: string[];
  /** CRLs. When any is given, node:tls checks revocation for every CA in a chain, so give one per CA. */
  crl?: string[];
}

export type BrokerEventName =
  | "listening"
  | "tls-refused"
  | "connection-refused"
  | "access-withdrawn"
  | "connect"
  | "refused"
  | "publish"
  | "publish-denied"
  | "publish-throttled"
  | "subscribe"
  | "subscribe-denied"
  | "receive-denied"
  | "packet-too-large"
  | "disconnect"
  | "client-error"
  | "trust-updated"
  | "certificate-updated"
  | "broker-error"
  | "closed";

/** One structured log line. Never carries keys or payloads; publishes report only their size. */
export interface BrokerEvent {
  event: BrokerEventName;
  clientId?: string;
  cn?: string;
  reason?: string;
  topic?: string;
  [field: string]: unknown;
}

export interface BrokerOptions extends TrustMaterial {
  /** Listen address; loopback by default. */
  host?: string;
  /** 0 = an ephemeral port (read it from the result). */
  port?: number;
  /** Broker certificate and key (PEM). */
  key: string | Buffer;
  cert: string | Buffer;
  topicPrefix?: string;
  /** Decides connect/publish/subscribe/receive. Default: thingTopicAuthorizer({ topicPrefix }). */
  authorizer?: Authorizer;
  /**
   * Registry lookup by thing name (= CN), asked on every CONNECT: INACTIVE and REVOKED are refused;
   * undefined (unknown to the registry) is let through to the authorizer.
   */
  thingState?: (thing: string) => ThingState | undefined | Promise<ThingState | undefined>;
  /**
   * The same by certificate (SHA-256 fingerprint as node:tls prints it): refuses a revoked certificate
   * on the next CONNECT even before the CRL is reloaded with updateTrust().
   */
  certificateState?: (fingerprint256: string) => ThingState | undefined | Promise<ThingState | undefined>;
  /**
   * The registry's binding of a client certificate (SHA-256 fingerprint) to its thing. When given, a
   * certificate is accepted only if it is the one registered for its thing, the thing name comes from the
   * registry (not the CN), and service rights go only to the certificate recorded as that service. The
   * services always give it; without it (tests of the broker alone) every certificate from a trusted CA
   * acts as its CN.
   */
  identify?: (fingerprint256: string) => CertificateBinding | undefined | Promise<CertificateBinding | undefined>;
  log?: (event: BrokerEvent) => void;
  /** Largest MQTT packet accepted, in bytes (fixed header included); larger ones disconnect. */
  maxPacketBytes?: number;
  /** A TLS handshake not finished within this is dropped (and its socket destroyed). */
  tlsHandshakeTimeoutMs?: number;
  /** A connection that sends no MQTT CONNECT within this after its handshake is closed. */
  connectTimeoutMs?: number;
  /** Open connections (handshakes included) at most; more are closed at once. */
  maxConnections?: number;
  /** Open connections from one source address at most. */
  maxConnectionsPerAddress?: number;
  /** Per-connection publish rate; a client over it is slowed down (default DEFAULT_PUBLISH_LIMIT). */
  publishLimit?: PublishLimit;
  /** TLS session resumption (session IDs and tickets): bounds of the cache (tls-sessions.ts). */
  tlsSessions?: TlsSessionCacheOptions;
}

export interface BrokerStats {
  tlsAccepted: number;
  tlsRefused: number;
  connects: number;
  refused: number;
  publishes: number;
  publishesDenied: number;
  subscribesDenied: number;
  receivesDenied: number;
  oversized: number;
  /** Connections closed at once for the connection limits. */
  connectionsRefused: number;
  /** Open connections closed because their certificate or thing became REVOKED or INACTIVE. */
  withdrawn: number;
}

export interface RunningBroker {
  readonly host: string;
  readonly port: number;
  /** `mqtts://host:port` for clients. */
  readonly url: string;
  /** Open TCP connections (TLS handshakes in progress included). */
  readonly connections: number;
  /** MQTT clients past CONNACK. */
  readonly clients: number;
  /** Counters since start (a snapshot). */
  readonly stats: BrokerStats;
  /**
   * Replace trusted CAs and CRLs; new connections use them, and open connections whose certificate is on
   * a new CRL are closed (revalidate). Throws on bad PEM.
   */
  updateTrust(trust: TrustMaterial): void;
  /** Replace the broker's own certificate and key (a renewal); new connections get it. Throws on bad PEM or a mismatched key. */
  updateCertificate(identity: { key: string | Buffer; cert: string | Buffer }): void;
  /**
   * Checks every open client again (registry state, CRLs) and disconnects, with an "access-withdrawn"
   * event, those whose certificate or thing became REVOKED or INACTIVE. Resolves to how many it closed.
   */
  revalidate(trigger: string): Promise<number>;
  close(): Promise<void>;
}
