// The embedded MQTT broker: aedes on node:tls with mutual TLS (1.2 minimum), identity from the verified
// client certificate (CN = thing name = client id), per-identity authorization through an Authorizer,
// CRL support and trust reload without restart. Every decision is reported as a structured event.
//
// aedes 1.x hook facts this relies on (checked against node_modules/aedes 1.2.0):
// - authenticate() refusing with error.returnCode 5 makes aedes send CONNACK 5, then close.
// - authorizePublish() with an error disconnects the client (MQTT 3.1.1 has no negative PUBACK). It is
//   also called for the client's will when the connection drops (an error then just drops the will),
//   and with client = null for wills left over by another broker instance.
// - authorizeSubscribe(): an error disconnects without a SUBACK; (null, null) grants 0x80 in the SUBACK.
//   We do the latter and then disconnect, so the device sees an authorization failure, not a network
//   one. It also runs when a persistent session's subscriptions are restored at CONNECT (no SUBACK then).
// - authorizeForward() is synchronous, runs for every delivery (and retained message); null drops it.
// - aedes itself refuses client publishes to `$SYS/…` only in its default authorizePublish, which we
//   replace; `$SYS/<id>/new/clients` would let a client kick any other client, so we refuse `$SYS` here.
// - aedes has no packet size limit (mqtt-packet buffers up to 256 MiB): LimitedConnection adds one.
// node:tls fact: a client certificate that fails verification (unknown CA, revoked) ends the handshake
// without a TLS alert; the client sees ECONNRESET, and the server only "socket hang up" plus the
// verification code in socket.authorizationError, which is what we log.

import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type PublishPacket, type Subscription } from "aedes";
import type { EventEmitter } from "node:events";
import { X509Certificate } from "node:crypto";
import type { Socket } from "node:net";
import tls from "node:tls";
import { type Authorizer, type ClientIdentity, type Decision, isValidTopicPrefix, thingTopicAuthorizer } from "./authorizer";
import { LimitedConnection, OversizedPacketError } from "./limited-connection";

export type ThingState = "ACTIVE" | "INACTIVE" | "REVOKED";

/** PEM material the broker trusts for client certificates. */
export interface TrustMaterial {
  ca: string[];
  /** CRLs. When any is given, node:tls checks revocation for every CA in a chain, so give one per CA. */
  crl?: string[];
}

export type BrokerEventName =
  | "listening"
  | "tls-refused"
  | "connect"
  | "refused"
  | "publish"
  | "publish-denied"
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
  log?: (event: BrokerEvent) => void;
  /** Largest MQTT packet accepted, in bytes (fixed header included); larger ones disconnect. */
  maxPacketBytes?: number;
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
  /** Replace trusted CAs and CRLs; new connections use them, open ones are untouched. Throws on bad PEM. */
  updateTrust(trust: TrustMaterial): void;
  /** Replace the broker's own certificate and key (a renewal); new connections get it. Throws on bad PEM or a mismatched key. */
  updateCertificate(identity: { key: string | Buffer; cert: string | Buffer }): void;
  close(): Promise<void>;
}

export const DEFAULT_MAX_PACKET_BYTES = 64 * 1024;
const RESERVED_PREFIX = "$SYS";
const NOT_AUTHORIZED = 5;

/** What the broker knows about one TLS connection. */
interface Peer {
  remoteAddress: string | undefined;
  commonName: string | undefined;
  fingerprint256: string;
  /** Why the certificate cannot be an identity (e.g. no CN), checked at CONNECT. */
  certProblem: string | undefined;
  connect: { clientId: string; willTopic: string | undefined } | undefined;
  /** Set once CONNECT is accepted. */
  identity: ClientIdentity | undefined;
  /** Set when a violation was seen: everything else from this client is refused until it is gone. */
  closing: boolean;
  /** Why the broker ended the connection, for the disconnect event. */
  closeReason: string | undefined;
}

/** Errors our hooks hand to aedes; already logged, so the clientError listener skips them. */
class AuthorizationRefusal extends Error {}

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
  };
  const peers = new WeakMap<Client, Peer>();
  const sockets = new Set<Socket>();

  const who = (client: Client | null) => {
    const peer = client ? peers.get(client) : undefined;
    return { clientId: peer?.connect?.clientId ?? client?.id ?? undefined, cn: peer?.commonName };
  };
  /** An authorizer that throws denies (fail closed). */
  const decide = (ask: () => Decision): Decision => {
    try {
      return ask();
    } catch (err) {
      return { allow: false, reason: `authorizer error: ${(err as Error).message}` };
    }
  };

  const aedes = await Aedes.createBroker({
    // A device that half-opens a connection and never sends CONNECT is dropped after this.
    connectTimeout: 10_000,

    preConnect(client, packet, done) {
      const peer = peers.get(client);
      if (peer) peer.connect = { clientId: packet.clientId, willTopic: packet.will?.topic };
      done(null, peer !== undefined);
    },

    authenticate(client, _username, _password, done) {
      const peer = peers.get(client);
      decideConnect(peer)
        .catch((err: Error): Decision => ({ allow: false, reason: `connect check failed: ${err.message}` }))
        .then((decision) => {
          if (decision.allow && peer?.identity) {
            stats.connects++;
            // The certificate's fingerprint tells which of a thing's certificates (e.g. after a renewal) it used.
            emit({ event: "connect", ...who(client), fingerprint256: peer.fingerprint256, reason: decision.reason });
            done(null, true);
          } else {
            stats.refused++;
            emit({ event: "refused", ...who(client), reason: decision.reason });
            const refusal = Object.assign(new AuthorizationRefusal(decision.reason), { returnCode: NOT_AUTHORIZED });
            done(refusal as AuthenticateError, false);
          }
        })
        .catch((err: Error) => emit({ event: "broker-error", reason: err.message }));
    },

    authorizePublish(client, packet, done) {
      const peer = client ? peers.get(client) : undefined;
      const identity = peer?.identity;
      const isWill = client !== null && (client as Client & { will?: unknown }).will === packet;
      let decision: Decision;
      if (!identity) decision = { allow: false, reason: "no authenticated client" };
      else if (peer.closing) decision = { allow: false, reason: "client is being disconnected" };
      else if (isReserved(packet.topic)) decision = { allow: false, reason: "topic reserved for the broker" };
      else decision = decide(() => authorizer.publish(identity, packet.topic));

      const details = { ...who(client), topic: packet.topic, bytes: payloadBytes(packet), qos: packet.qos, retain: packet.retain };
      if (decision.allow) {
        stats.publishes++;
        emit({ event: "publish", ...details, ...(isWill ? { will: true } : {}), reason: decision.reason });
        done(null);
        return;
      }
      stats.publishesDenied++;
      // A denied will is only dropped (the client is gone already); anything else disconnects.
      emit({ event: "publish-denied", ...details, ...(isWill ? { will: true } : { action: "disconnect" }), reason: decision.reason });
      if (peer && !isWill) {
        peer.closing = true;
        peer.closeReason = "publish denied";
      }
      done(new AuthorizationRefusal(`publish to ${packet.topic} denied: ${decision.reason}`));
    },

    authorizeSubscribe(client, subscription, done) {
      const peer = peers.get(client);
      const identity = peer?.identity;
      let decision: Decision;
      if (!identity) decision = { allow: false, reason: "no authenticated client" };
      else if (peer.closing) decision = { allow: false, reason: "client is being disconnected" };
      else if (isReserved(subscription.topic)) decision = { allow: false, reason: "topic reserved for the broker" };
      else decision = decide(() => authorizer.subscribe(identity, subscription.topic));

      const restoring = !client.connected; // a persistent session's subscriptions restored at CONNECT
      const details = { ...who(client), topicFilter: subscription.topic, qos: subscription.qos, ...(restoring ? { restored: true } : {}) };
      if (decision.allow) {
        emit({ event: "subscribe", ...details, reason: decision.reason });
        done(null, subscription);
        return;
      }
      stats.subscribesDenied++;
      // Answer 0x80 in the SUBACK so the device knows it is an authorization failure, then disconnect
      // (see the "subscribe" listener). A restored subscription is just dropped.
      emit({ event: "subscribe-denied", ...details, ...(restoring ? {} : { action: "disconnect" }), reason: decision.reason });
      if (peer && !restoring) {
        peer.closing = true;
        peer.closeReason = "subscribe denied";
      }
      done(null, null);
    },

    authorizeForward(client, packet): AedesPublishPacket | null {
      const identity = peers.get(client)?.identity;
      const decision: Decision = !identity
        ? { allow: false, reason: "no authenticated client" }
        : isReserved(packet.topic)
          ? { allow: false, reason: "topic reserved for the broker" }
          : decide(() => authorizer.receive(identity, packet.topic));
      if (decision.allow) return packet;
      stats.receivesDenied++;
      emit({ event: "receive-denied", ...who(client), topic: packet.topic, reason: decision.reason });
      return null;
    },
  });

  async function decideConnect(peer: Peer | undefined): Promise<Decision> {
    if (!peer?.connect) return { allow: false, reason: "no CONNECT seen" };
    if (peer.certProblem !== undefined || peer.commonName === undefined) {
      return { allow: false, reason: peer.certProblem ?? "certificate has no CN" };
    }
    const { clientId, willTopic } = peer.connect;
    const identity: ClientIdentity = {
      clientId,
      commonName: peer.commonName,
      thingName: peer.commonName,
      fingerprint256: peer.fingerprint256,
    };
    if (clientId !== identity.commonName) return { allow: false, reason: "client id must equal certificate CN" };
    const registryRefusal = async (subject: string, lookup: () => ThingState | undefined | Promise<ThingState | undefined>) => {
      try {
        const state = await lookup();
        return state === "INACTIVE" || state === "REVOKED" ? `${subject} is ${state}` : undefined;
      } catch (err) {
        return `thing registry unavailable: ${(err as Error).message}`;
      }
    };
    const { thingState, certificateState } = options;
    const refusal =
      (thingState && (await registryRefusal("thing", () => thingState(identity.thingName)))) ||
      (certificateState && (await registryRefusal("certificate", () => certificateState(identity.fingerprint256))));
    if (refusal) return { allow: false, reason: refusal };
    const connect = decide(() => authorizer.connect(identity));
    if (!connect.allow) return connect;
    if (willTopic !== undefined) {
      // AWS IoT checks iot:Publish on the will topic at CONNECT; so do we.
      const will = isReserved(willTopic)
        ? { allow: false, reason: "topic reserved for the broker" }
        : decide(() => authorizer.publish(identity, willTopic));
      if (!will.allow) return { allow: false, reason: `will topic ${willTopic} not allowed: ${will.reason}` };
    }
    peer.identity = identity;
    return connect;
  }

  aedes.on("subscribe", (_subscriptions: Subscription[], client: Client) => {
    // The SUBACK is written by now (aedes corks and flushes it on the next tick); the graceful close of
    // LimitedConnection delivers it before the socket goes.
    if (peers.get(client)?.closing) setImmediate(() => client.close());
  });
  aedes.on("clientDisconnect", (client: Client) => {
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

  // What the server presents and trusts now; either can be replaced while it runs.
  let identity = { key: options.key, cert: options.cert };
  let currentTrust: TrustMaterial = { ca: options.ca, ...(options.crl ? { crl: options.crl } : {}) };
  const secureContextOptions = (trust: TrustMaterial): tls.SecureContextOptions => ({
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
    handshakeTimeout: 30_000,
  });

  server.on("connection", (socket: Socket) => {
    // Nagle + delayed ACK costs ~40 ms per hop (docs/ARCHITECTURE.md, "Latency"); set before the handshake so it is fast too.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  server.on("tlsClientError", (err: Error & { code?: string }, socket: tls.TLSSocket) => {
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
      emit({ event: "trust-updated", caCount: trust.ca.length, crlCount: trust.crl?.length ?? 0 });
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
      emit({ event: "certificate-updated" });
    },
    close() {
      closing ??= (async () => {
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

function peerFromSocket(socket: tls.TLSSocket): Peer {
  const cert = socket.getPeerCertificate();
  // A multi-valued CN arrives as an array: ambiguous, so it is no identity.
  const cn: unknown = cert?.subject?.CN;
  return {
    remoteAddress: socket.remoteAddress,
    commonName: typeof cn === "string" && cn.length > 0 ? cn : undefined,
    fingerprint256: cert?.fingerprint256 ?? "",
    certProblem: cert?.subject === undefined ? "no client certificate" : typeof cn === "string" && cn.length > 0 ? undefined : "certificate must carry exactly one CN",
    connect: undefined,
    identity: undefined,
    closing: false,
    closeReason: undefined,
  };
}

/** "8052…:error:0A0000C7:SSL routines:tls_process_client_certificate:peer did not return a certificate:…" → the reason. */
function openSslReason(message: string): string {
  return /:error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:]+):/.exec(message)?.[1] ?? message;
}

function isReserved(topic: string): boolean {
  return topic === RESERVED_PREFIX || topic.startsWith(`${RESERVED_PREFIX}/`);
}

function payloadBytes(packet: PublishPacket): number {
  const payload = packet.payload as Buffer | string | undefined;
  return payload === undefined ? 0 : typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
}
