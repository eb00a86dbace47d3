// The embedded MQTT broker: aedes behind the TLS front door (tls-front-door.ts: mutual TLS, 1.2 minimum,
// connection bounds, trust and certificate reload without restart), identity from the verified client
// certificate (the thing the registry binds it to by fingerprint = client id), per-identity authorization
// through an Authorizer (the aedes hooks, hooks.ts), CRL support, and open connections revalidated when the
// registry or the CRLs change (revocation.ts). Every decision is reported as a structured event.

import { Aedes, type Client, type Subscription } from "aedes";
import type { EventEmitter } from "node:events";
import type tls from "node:tls";
import { isValidTopicPrefix, thingTopicAuthorizer } from "./authorizer";
import type { BrokerEvent, BrokerOptions, BrokerStats, RunningBroker } from "./broker-types";
import { connectDecider } from "./connect-decision";
import { revalidator, revokedSerials } from "./revocation";
import { AuthorizationRefusal, createHooks, type Who } from "./hooks";
import { type Peer, peerFromSocket } from "./peer";
import { LimitedConnection, OversizedPacketError } from "./limited-connection";
import { DEFAULT_PUBLISH_LIMIT, PublishLimiter } from "./publish-limit";
import { checkTrust, TlsFrontDoor } from "./tls-front-door";

export type * from "./broker-types";

export const DEFAULT_MAX_PACKET_BYTES = 64 * 1024;
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Well below a default 1,024 open-files limit would be too few for a fleet; the broker raises no limit itself. */
export const DEFAULT_MAX_CONNECTIONS = 4_096;
/** Buttons behind one NAT share an address; an attacker's single host should not take every slot. */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256;

export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const { host, topicPrefix, maxPacketBytes } = checkedOptions(options);
  const authorizer = options.authorizer ?? thingTopicAuthorizer({ topicPrefix });
  const emit = safeEmitter(options.log);
  const stats = newStats();
  const peers = new WeakMap<Client, Peer>();
  /** Clients past CONNACK, for revalidation. */
  const live = new Set<Client>();
  const registry = registryLookups(options);
  let revoked = revokedSerials(options.crl ?? []);

  let aedes: Aedes | undefined;
  const front = new TlsFrontDoor({
    identity: { key: options.key, cert: options.cert },
    trust: { ca: options.ca, ...(options.crl ? { crl: options.crl } : {}) },
    limits: { total: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS, perAddress: options.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS },
    handshakeTimeoutMs: options.tlsHandshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
    ...(options.tlsSessions ? { tlsSessions: options.tlsSessions } : {}),
    stats,
    emit,
    onSecureConnection(socket) {
      const peer = peerFromSocket(socket);
      peers.set(aedes!.handle(limitedConnection(socket, peer, { maxPacketBytes, stats, emit })), peer);
    },
  });
  const hooks = createHooks({ peers, authorizer, stats, emit, decideConnect: connectDecider({ authorizer, ...registry }), publishLimiter: new PublishLimiter(options.publishLimit ?? DEFAULT_PUBLISH_LIMIT) });
  aedes = await Aedes.createBroker({
    // A device that half-opens a connection and never sends CONNECT is dropped after this.
    connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    preConnect: hooks.preConnect,
    authenticate: hooks.authenticate,
    authorizePublish: hooks.authorizePublish,
    authorizeSubscribe: hooks.authorizeSubscribe,
    authorizeForward: hooks.authorizeForward,
  });
  const broker = aedes;
  wireClientEvents(broker, { peers, live, emit, who: hooks.who });

  const port = await front.listen(options.port ?? 0, host).catch((err: Error) => {
    broker.close();
    throw err;
  });
  emit({ event: "listening", host, port });

  const revalidate = revalidator({
    clients: () => [...live].map((client) => ({ client, peer: peers.get(client) })),
    crls: () => revoked,
    ...registry,
    withdraw(client, peer, reason, trigger) {
      peer.closing = true;
      peer.closeReason = reason;
      stats.withdrawn++;
      emit({ event: "access-withdrawn", ...hooks.who(client), reason, trigger, action: "disconnect" });
      client.close();
    },
    onError: (reason) => emit({ event: "broker-error", reason }),
  });

  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    url: `mqtts://${host.includes(":") ? `[${host}]` : host}:${port}`,
    get connections() {
      return front.connections;
    },
    get clients() {
      return broker.connectedClients;
    },
    get stats() {
      return { ...stats };
    },
    updateTrust(trust) {
      front.updateTrust(trust);
      revoked = revokedSerials(trust.crl ?? []);
      emit({ event: "trust-updated", caCount: trust.ca.length, crlCount: trust.crl?.length ?? 0 });
      void revalidate("trust updated");
    },
    updateCertificate(next) {
      front.updateCertificate(next);
      emit({ event: "certificate-updated" });
    },
    revalidate,
    close() {
      closing ??= (async () => {
        const serverClosed = front.stopListening();
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        front.destroySockets();
        await serverClosed;
        emit({ event: "closed" });
      })();
      return closing;
    },
  };
}

/** The listen address, topic prefix and packet bound, checked; throws on a bad one (and on bad trust). */
function checkedOptions(options: BrokerOptions): { host: string; topicPrefix: string; maxPacketBytes: number } {
  const host = options.host ?? "127.0.0.1";
  const topicPrefix = options.topicPrefix ?? "pizza";
  const maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  if (!options.key || !options.cert) throw new Error("startBroker: key and cert (PEM) are required");
  if (!isValidTopicPrefix(topicPrefix)) throw new Error(`startBroker: invalid topicPrefix ${JSON.stringify(topicPrefix)}`);
  if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < 2) throw new Error("startBroker: maxPacketBytes must be an integer ≥ 2");
  checkTrust(options);
  return { host, topicPrefix, maxPacketBytes };
}

/** A failing logger must not break the broker. */
function safeEmitter(log: ((event: BrokerEvent) => void) | undefined): (event: BrokerEvent) => void {
  return (event) => {
    try {
      log?.(event);
    } catch {
      // dropped: the event is lost, the broker goes on
    }
  };
}

function newStats(): BrokerStats {
  return {
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
}

/** The registry lookups the CONNECT decision and revalidation share (only those given). */
function registryLookups(options: BrokerOptions): Pick<BrokerOptions, "identify" | "thingState" | "certificateState"> {
  return {
    ...(options.identify ? { identify: options.identify } : {}),
    ...(options.thingState ? { thingState: options.thingState } : {}),
    ...(options.certificateState ? { certificateState: options.certificateState } : {}),
  };
}

/** The verified TLS socket as the stream aedes reads, with the packet size bound. */
function limitedConnection(socket: tls.TLSSocket, peer: Peer, ctx: { maxPacketBytes: number; stats: BrokerStats; emit(event: BrokerEvent): void }): LimitedConnection {
  const conn = new LimitedConnection(socket, {
    maxPacketBytes: ctx.maxPacketBytes,
    onOversized: (reason) => {
      ctx.stats.oversized++;
      peer.closeReason = "packet too large";
      ctx.emit({ event: "packet-too-large", clientId: peer.connect?.clientId, cn: peer.commonName, reason });
    },
  });
  conn.on("error", () => {}); // aedes attaches its own; this covers errors before/after it does
  return conn;
}

/** Client lifecycle events: live set for revalidation, disconnect and error lines, closing after a denied SUBSCRIBE. */
function wireClientEvents(aedes: Aedes, ctx: { peers: WeakMap<Client, Peer>; live: Set<Client>; emit(event: BrokerEvent): void; who(client: Client): Who }): void {
  const { peers, live, emit, who } = ctx;
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
}
