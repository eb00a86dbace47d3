// The broker's aedes hooks as small named functions. Every hook that decides about a client goes through
// one guard: find the client's identity, refuse a client that is already being disconnected and the
// broker's own `$SYS` topics, ask the Authorizer (fail closed), and on a deny log it and mark the client
// for disconnection. The hooks only add what is particular to them (a will, a SUBACK code, a delivery).
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
import type { AedesPublishPacket, AuthenticateError, Client, PublishPacket, Subscription } from "aedes";
import type { Authorizer, ClientIdentity, Decision } from "./authorizer";
import type { BrokerEvent, BrokerStats } from "./broker-types";
import { deny, failClosed, isReservedTopic, retainDecision } from "./decisions";
import type { Peer } from "./peer";
import type { PublishLimiter } from "./publish-limit";

const NOT_AUTHORIZED = 5;

/** Errors our hooks hand to aedes; already logged, so the clientError listener skips them. */
export class AuthorizationRefusal extends Error {}

export interface HookContext {
  peers: WeakMap<Client, Peer>;
  authorizer: Authorizer;
  stats: BrokerStats;
  emit(event: BrokerEvent): void;
  /** Decides a CONNECT (certificate, registry, iot:Connect, will); sets peer.identity when it allows. */
  decideConnect(peer: Peer | undefined): Promise<Decision>;
  /** Per-connection publish rate: a client over it is slowed down, not disconnected. */
  publishLimiter: PublishLimiter;
}

/** Who a log line is about. */
export interface Who {
  clientId: string | undefined;
  cn: string | undefined;
}

/** What the guard found out about one request. */
interface Verdict {
  peer: Peer | undefined;
  who: Who;
  decision: Decision;
}

export function createHooks(ctx: HookContext) {
  const { peers, stats, emit } = ctx;

  const who = (client: Client | null): Who => whoIs(peers, client);

  /** The one check: identity, not being disconnected, not the broker's topics, then the authorizer. */
  function guard(client: Client | null, topic: string, ask: (identity: ClientIdentity) => Decision, opts: { whileClosing: boolean }): Verdict {
    const peer = client ? peers.get(client) : undefined;
    const identity = peer?.identity;
    let decision: Decision;
    if (!identity) decision = deny("no authenticated client");
    else if (peer.closing && !opts.whileClosing) decision = deny("client is being disconnected");
    else if (isReservedTopic(topic)) decision = deny("topic reserved for the broker");
    else decision = failClosed(() => ask(identity));
    return { peer, who: who(client), decision };
  }

  function preConnect(client: Client, packet: { clientId: string; will?: { topic: string; retain?: boolean } }, done: (err: Error | null, ok: boolean) => void): void {
    const peer = peers.get(client);
    if (peer) peer.connect = { clientId: packet.clientId, will: packet.will ? { topic: packet.will.topic, retain: packet.will.retain === true } : undefined };
    done(null, peer !== undefined);
  }

  function authenticate(client: Client, _username: unknown, _password: unknown, done: (err: AuthenticateError | null, ok: boolean) => void): void {
    const peer = peers.get(client);
    ctx
      .decideConnect(peer)
      .catch((err: Error): Decision => deny(`connect check failed: ${err.message}`))
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
  }

  function authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const ask = (id: ClientIdentity) => publishDecision(ctx.authorizer, id, packet);
    const { peer, who: subject, decision } = guard(client, packet.topic, ask, { whileClosing: false });
    const isWill = client !== null && (client as Client & { will?: unknown }).will === packet;
    const details = { ...subject, topic: packet.topic, bytes: payloadBytes(packet), qos: packet.qos, retain: packet.retain };
    if (decision.allow) {
      stats.publishes++;
      emit({ event: "publish", ...details, ...(isWill ? { will: true } : {}), reason: decision.reason });
      const { waitMs, started } = isWill || !client ? { waitMs: 0, started: false } : ctx.publishLimiter.delay(client, subject.clientId ?? client.id);
      if (started) emit({ event: "publish-throttled", ...subject, reason: "over the per-connection publish limit", waitMs });
      // Held publishes of a client that is gone are dropped unacknowledged (a QoS 1 sender resends them).
      if (waitMs > 0) setTimeout(() => client!.closed || done(null), waitMs).unref();
      else done(null);
      return;
    }
    stats.publishesDenied++;
    // A denied will is only dropped (the client is gone already); anything else disconnects.
    emit({ event: "publish-denied", ...details, ...(isWill ? { will: true } : { action: "disconnect" }), reason: decision.reason });
    if (!isWill) markForDisconnect(peer, "publish denied");
    done(new AuthorizationRefusal(`publish to ${packet.topic} denied: ${decision.reason}`));
  }

  function authorizeSubscribe(client: Client, subscription: Subscription, done: (err: Error | null, subscription?: Subscription | null) => void): void {
    const { peer, who: subject, decision } = guard(client, subscription.topic, (id) => ctx.authorizer.subscribe(id, subscription.topic), {
      whileClosing: false,
    });
    // A persistent session's subscriptions are restored before the CONNACK; a client's own SUBSCRIBE is
    // handled only after it (aedes queues it until then), even while aedes has not yet marked it connected.
    const restoring = !(client as Client & { connackSent?: boolean }).connackSent;
    const details = { ...subject, topicFilter: subscription.topic, qos: subscription.qos, ...(restoring ? { restored: true } : {}) };
    if (decision.allow) {
      emit({ event: "subscribe", ...details, reason: decision.reason });
      done(null, subscription);
      return;
    }
    stats.subscribesDenied++;
    // Answer 0x80 in the SUBACK so the device knows it is an authorization failure, then disconnect
    // (the broker's "subscribe" listener). A restored subscription is just dropped.
    emit({ event: "subscribe-denied", ...details, ...(restoring ? {} : { action: "disconnect" }), reason: decision.reason });
    if (!restoring) markForDisconnect(peer, "subscribe denied");
    done(null, null);
  }

  function authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const { who: subject, decision } = guard(client, packet.topic, (id) => ctx.authorizer.receive(id, packet.topic), { whileClosing: true });
    if (decision.allow) return packet;
    stats.receivesDenied++;
    emit({ event: "receive-denied", ...subject, topic: packet.topic, reason: decision.reason });
    return null;
  }

  return { who, preConnect, authenticate, authorizePublish, authorizeSubscribe, authorizeForward };
}

/** A retained message is replayed to every later subscriber, so it needs iot:RetainPublish as well. */
function publishDecision(authorizer: Authorizer, identity: ClientIdentity, packet: PublishPacket): Decision {
  const publish = authorizer.publish(identity, packet.topic);
  return publish.allow && packet.retain ? retainDecision(authorizer, identity, packet.topic) : publish;
}

/** Who a log line is about: the client id from CONNECT (else aedes's) and the certificate's CN. */
function whoIs(peers: WeakMap<Client, Peer>, client: Client | null): Who {
  const peer = client ? peers.get(client) : undefined;
  return { clientId: peer?.connect?.clientId ?? client?.id ?? undefined, cn: peer?.commonName };
}

/** A violation: the client is refused everything from now on and disconnected for `closeReason`. */
function markForDisconnect(peer: Peer | undefined, closeReason: string): void {
  if (!peer) return;
  peer.closing = true;
  peer.closeReason = closeReason;
}

function payloadBytes(packet: PublishPacket): number {
  const payload = packet.payload as Buffer | string | undefined;
  return payload === undefined ? 0 : typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
}
