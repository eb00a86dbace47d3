// The embedded MQTT broker: aedes on node:tls with mutual TLS (1.2 minimum), identity from the verified
// client certificate (the thing the registry binds it to by fingerprint = client id), per-identity
// authorization through an Authorizer, CRL support, trust reload without restart, open connections
// revalidated when the registry or the CRLs change, and bounds on connections and on how long a silent
// one may stay. Every decision is reported as a structured event.
//
// The aedes hooks and their one guard are in hooks.ts.
// node:tls fact: a client certificate that fails verification (unknown CA, revoked) ends the handshake
// without a TLS alert; the client sees ECONNRESET, and the server only "socket hang up" plus the
// verification code in socket.authorizationError, which is what we log.

import { Aedes, type Client, type Subscription } from "aedes";
import type { EventEmitter } from "node:events";
import { X509Certificate } from "node:crypto";
import type { Socket } from "node:net";
import tls from "node:tls";
import type { CertificateBinding } from "../../tools/pki/pki";
import { type Authorizer, isValidTopicPrefix, thingTopicAuthorizer } from "./authorizer";
import { connectDecider } from "./connect-decision";
import { ConnectionLimits } from "./connection-limits";
import { revalidator, revokedSerials } from "./revocation";
import { AuthorizationRefusal, createHooks } from "./hooks";
import { type Peer, peerFromSocket } from "./peer";
import { LimitedConnection, OversizedPacketError } from "./limited-connection";
import { DEFAULT_PUBLISH_LIMIT, PublishLimiter, type PublishLimit } from "./publish-limit";
import { TlsSessionCache, type TlsSessionCacheOptions } from "./tls-sessions";

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

export const DEFAULT_MAX_PACKET_BYTES = 64 * 1024;
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Well below a default 1,024 open-files limit would be too few for a fleet; the broker raises no limit itself. */
export const DEFAULT_MAX_CONNECTIONS = 4_096;
/** Buttons behind one NAT share an address; an attacker's single host should not take every slot. */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256;
export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const host = options.host ?? "127.0.0.1";
  const topicPrefix = options.topicPrefix ?? "pizza";
  const maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  if (!options.key || !options.cert) throw new Error("startBroker: key and cert (PEM) are required");
  if (!isValidTopicPrefix(topicPrefix)) throw new Error(`startBroker: invalid topicPrefix ${JSON.stringify(topicPrefix)}`);
  if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < 2) throw new Error("startBroker: maxPacketBytes must be an integer ≥ 2");
  checkTrust(options);

  const authorizer = options.authorizer ?? thingTopicAuthorizer({ topicPrefix });
  const log = options.log ?? (() => {});
  const emit = (event: BrokerEvent) => {
    try {
      log(event);
    } catch {
      // A failing logger must not break the broker.
    }
  };
  const stats: BrokerStats = {
    tlsAccepted: 0,
    tlsRefused: 0,
    connects: 0,
    refused: 0,
    publishes: 0,
    publishesDenied: 0,
    subscribesDenied: 0,
    receivesDenied: 0,
    oversized: 0,
    connectionsRefused: 0,
    withdrawn: 0,
  };
  const peers = new WeakMap<Client, Peer>();
  const publishLimiter = new PublishLimiter(options.publishLimit ?? DEFAULT_PUBLISH_LIMIT);
  const sockets = new Set<Socket>();

  const limits = new ConnectionLimits({
    total: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    perAddress: options.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  });
  /** Clients past CONNACK, for revalidation. */
  const live = new Set<Client>();
  let revoked = revokedSerials(options.crl ?? []);

  const decideConnect = connectDecider({
    authorizer,
    ...(options.identify ? { identify: options.identify } : {}),
    ...(options.thingState ? { thingState: options.thingState } : {}),
    ...(options.certificateState ? { certificateState: options.certificateState } : {}),
  });
  const hooks = createHooks({ peers, authorizer, stats, emit, decideConnect, publishLimiter });
  const aedes = await Aedes.createBroker({
    // A device that half-opens a connection and never sends CONNECT is dropped after this.
    connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    preConnect: hooks.preConnect,
    authenticate: hooks.authenticate,
    authorizePublish: hooks.authorizePublish,
    authorizeSubscribe: hooks.authorizeSubscribe,
    authorizeForward: hooks.authorizeForward,
  });
  const { who } = hooks;

  aedes.on("subscribe", (_subscriptions: Subscription[], client: Client) => {
    // The SUBACK is written by now (aedes corks and flushes it on the next tick); the graceful close of
    // LimitedConnection delivers it before the socket goes.
    if (peers.get(client)?.closing) setImmediate(() => client.close());
  });
  aedes.on("clientReady", (client: Client) => live.add(client));
  aedes.on("clientDisconnect", (client: Client) => {
    live.delete(client);
    const reason = peers.get(client)?.closeReason;
    emit({ event: "disconnect", ...who(client), ...(reason ? { reason } : {}) });
  });
  const onClientError = (client: Client, err: Error) => {
    const peer = peers.get(client);
    if (peer && peer.closeReason === undefined) peer.closeReason = err.message;
    // Refusals and oversized packets were logged with their reason already.
    if (err instanceof AuthorizationRefusal || err instanceof OversizedPacketError) return;
    emit({ event: "client-error", ...who(client), reason: err.message });
  };
  aedes.on("clientError", onClientError);
  aedes.on("connectionError", onClientError);
  // e.g. a stale will from another broker instance refused by authorizePublish; without a listener
  // an "error" event would throw.
  (aedes as EventEmitter).on("error", (err: Error) => emit({ event: "broker-error", reason: err.message }));

  const tlsSessions = new TlsSessionCache(options.tlsSessions);
  // What the server presents and trusts now; either can be replaced while it runs.
  let identity = { key: options.key, cert: options.cert };
  let currentTrust: TrustMaterial = { ca: options.ca, ...(options.crl ? { crl: options.crl } : {}) };
  const secureContextOptions = (trust: TrustMaterial): tls.SecureContextOptions => ({
    ...tlsSessions.serverOptions(),
    key: identity.key,
    cert: identity.cert,
    ca: trust.ca,
    ...(trust.crl && trust.crl.length > 0 ? { crl: trust.crl } : {}),
    // setSecureContext() resets anything not given, so the floor is repeated here.
    minVersion: "TLSv1.2",
  });

  const server = tls.createServer({
    ...secureContextOptions(options),
    requestCert: true,
    rejectUnauthorized: true,
    handshakeTimeout: options.tlsHandshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
  });
  tlsSessions.attach(server);

  /** Sockets closed by the connection limits: their TLS error is no refusal of a certificate. */
  const overLimit = new WeakSet<Socket>();
  server.on("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "unknown";
    const refusal = limits.admit(address);
    if (refusal) {
      stats.connectionsRefused++;
      overLimit.add(socket);
      emit({ event: "connection-refused", reason: refusal, remoteAddress: address });
      socket.destroy();
      return;
    }
    // Nagle + delayed ACK costs ~40 ms per hop (docs/ARCHITECTURE.md, "Latency"); set before the handshake so it is fast too.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      limits.release(address);
    });
  });

  server.on("tlsClientError", (err: Error & { code?: string }, socket: tls.TLSSocket) => {
    // node:tls reports a failed or timed-out handshake (ERR_TLS_HANDSHAKE_TIMEOUT) here but may leave the
    // socket open: a silent client would keep its file descriptor. Always destroy it.
    socket.destroy();
    const raw = (socket as tls.TLSSocket & { _parent?: Socket })._parent;
    if (raw && overLimit.has(raw)) return;
    stats.tlsRefused++;
    // A client certificate that fails verification (unknown CA, revoked, expired) is not an OpenSSL
    // error: node:tls destroys the socket without a TLS alert and reports "socket hang up" here; the
    // verification result is on the socket.
    const verification: unknown = socket.authorizationError; // a code string at runtime, typed as Error
    const rejected = typeof verification === "string" ? verification : verification instanceof Error ? verification.message : undefined;
    emit({
      event: "tls-refused",
      reason: rejected ? `client certificate rejected: ${rejected}` : openSslReason(err.message),
      code: rejected ?? err.code,
      remoteAddress: socket.remoteAddress,
    });
  });

  server.on("secureConnection", (socket: tls.TLSSocket) => {
    stats.tlsAccepted++;
    socket.setNoDelay(true);
    const peer = peerFromSocket(socket);
    const conn = new LimitedConnection(socket, {
      maxPacketBytes,
      onOversized: (reason) => {
        stats.oversized++;
        peer.closeReason = "packet too large";
        emit({ event: "packet-too-large", clientId: peer.connect?.clientId, cn: peer.commonName, reason });
      },
    });
    conn.on("error", () => {}); // aedes attaches its own; this covers errors before/after it does
    const client = aedes.handle(conn);
    peers.set(client, peer);
  });

  server.on("error", (err: Error) => emit({ event: "broker-error", reason: err.message }));

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      aedes.close();
      reject(err);
    };
    server.once("error", onError);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  emit({ event: "listening", host, port });

  let closing: Promise<void> | undefined;

  const revalidate = revalidator({
    clients: () => [...live].map((client) => ({ client, peer: peers.get(client) })),
    crls: () => revoked,
    ...(options.identify ? { identify: options.identify } : {}),
    ...(options.thingState ? { thingState: options.thingState } : {}),
    ...(options.certificateState ? { certificateState: options.certificateState } : {}),
    withdraw(client, peer, reason, trigger) {
      peer.closing = true;
      peer.closeReason = reason;
      stats.withdrawn++;
      emit({ event: "access-withdrawn", ...who(client), reason, trigger, action: "disconnect" });
      client.close();
    },
    onError: (reason) => emit({ event: "broker-error", reason }),
  });

  return {
    host,
    port,
    url: `mqtts://${host.includes(":") ? `[${host}]` : host}:${port}`,
    get connections() {
      return sockets.size;
    },
    get clients() {
      return aedes.connectedClients;
    },
    get stats() {
      return { ...stats };
    },
    updateTrust(trust) {
      checkTrust(trust);
      // Build it once on the side first: bad PEM (e.g. a CRL) throws here and the old trust stays in force.
      tls.createSecureContext(secureContextOptions(trust));
      server.setSecureContext(secureContextOptions(trust));
      currentTrust = trust;
      revoked = revokedSerials(trust.crl ?? []);
      tlsSessions.forgetAll(); // no resumption past the new CRL
      emit({ event: "trust-updated", caCount: trust.ca.length, crlCount: trust.crl?.length ?? 0 });
      void revalidate("trust updated");
    },
    updateCertificate(next) {
      const previous = identity;
      identity = { key: next.key, cert: next.cert };
      try {
        tls.createSecureContext(secureContextOptions(currentTrust)); // a key that does not match the certificate throws here
      } catch (error) {
        identity = previous;
        throw error;
      }
      server.setSecureContext(secureContextOptions(currentTrust));
      tlsSessions.forgetAll(); // clients get the new certificate in a full handshake
      emit({ event: "certificate-updated" });
    },
    revalidate,
    close() {
      closing ??= (async () => {
        tlsSessions.detach();
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        await new Promise<void>((resolve) => aedes.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await serverClosed;
        emit({ event: "closed" });
      })();
      return closing;
    },
  };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** node:tls silently ignores a `ca` entry that is not PEM, so a typo would quietly trust nothing: check. */
function checkTrust(trust: TrustMaterial): void {
  if (!Array.isArray(trust.ca) || trust.ca.length === 0 || trust.ca.some((pem) => typeof pem !== "string")) {
    throw new Error("broker trust: ca must be a non-empty array of PEM strings");
  }
  trust.ca.forEach((pem, i) => {
    const blocks = pem.match(PEM_CERTIFICATE) ?? [];
    if (blocks.length === 0) throw new Error(`broker trust: ca[${i}] holds no PEM certificate`);
    for (const block of blocks) {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(block);
      } catch (err) {
        throw new Error(`broker trust: ca[${i}] is not a readable certificate: ${(err as Error).message}`);
      }
      if (!cert.ca) throw new Error(`broker trust: ca[${i}] (${cert.subject.replace(/\n/g, ", ")}) is not a CA certificate`);
    }
  });
  // CRL content is checked by node:tls itself ("Failed to parse CRL").
  if (trust.crl !== undefined && (!Array.isArray(trust.crl) || trust.crl.some((pem) => typeof pem !== "string"))) {
    throw new Error("broker trust: crl must be an array of PEM strings");
  }
}

/** "8052…:error:0A0000C7:SSL routines:tls_process_client_certificate:peer did not return a certificate:…" → the reason. */
function openSslReason(message: string): string {
  return /:error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:]+):/.exec(message)?.[1] ?? message;
}
