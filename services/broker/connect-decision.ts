// The CONNECT decision: is the verified certificate an identity, which thing is it bound to, does the
// client id name that thing, is the certificate (and its thing) still ACTIVE, may it connect
// (iot:Connect), and may it leave its will (iot:Publish, and iot:RetainPublish for a retained will,
// checked at CONNECT as AWS IoT does). Sets peer.identity when it allows.
//
// With a registry (`identify`), a certificate is an identity only if it is the certificate registered
// for its thing, by SHA-256 fingerprint, as AWS IoT binds certificates to things: a certificate from a
// trusted CA that the registry does not know is refused, and the thing name comes from the registry,
// not from the CN (AWS-issued certificates all carry CN "AWS IoT Certificate"). A reserved service name
// (the restaurant, or one of its instances `restaurant.N`) is honoured only for the certificate recorded as
// that service. A resumed TLS session carries the certificate of its first handshake, which is looked up here
// again at every CONNECT: a revoked identity cannot come back through session resumption.
import { serviceOfIdentity } from "../../tools/pki/reserved";
import type { Authorizer, ClientIdentity, Decision } from "./authorizer";
import type { CertificateBinding, ThingState } from "./broker-types";
import { deny, failClosed, isReservedTopic, retainDecision } from "./decisions";
import type { Peer } from "./peer";

type Lookup<K, V> = (key: K) => V | undefined | Promise<V | undefined>;

export interface ConnectDecisionOptions {
  authorizer: Authorizer;
  /** The registry's binding of a certificate (by fingerprint) to its thing. */
  identify?: Lookup<string, CertificateBinding>;
  thingState?: Lookup<string, ThingState>;
  certificateState?: Lookup<string, ThingState>;
}

const refusedState = (state: ThingState | undefined) => state === "INACTIVE" || state === "REVOKED";

/** Why a registry binding no longer lets its certificate act, or undefined. Also used for open connections. */
export function bindingRefusal(binding: CertificateBinding | undefined): string | undefined {
  if (!binding) return "certificate is not registered to any thing (npm run pki -- thing register <name> --cert <file>)";
  if (refusedState(binding.thingState)) return `thing is ${binding.thingState}`;
  if (refusedState(binding.state)) return `certificate is ${binding.state}`;
  if (serviceOfIdentity(binding.thing) !== undefined && binding.kind !== "service") {
    return `"${binding.thing}" is reserved for the service identity and this certificate was issued as a device (revoke it, then npm run pki -- service create ${binding.thing})`;
  }
  return undefined;
}

export function connectDecider(opts: ConnectDecisionOptions): (peer: Peer | undefined) => Promise<Decision> {
  const { authorizer, identify, thingState, certificateState } = opts;

  const lookup = async <V>(ask: () => V | undefined | Promise<V | undefined>): Promise<{ value: V | undefined } | { error: string }> => {
    try {
      return { value: await ask() };
    } catch (err) {
      return { error: `thing registry unavailable: ${(err as Error).message}` };
    }
  };
  const stateRefusal = async (subject: string, ask: () => ThingState | undefined | Promise<ThingState | undefined>) => {
    const result = await lookup(ask);
    if ("error" in result) return result.error;
    return refusedState(result.value) ? `${subject} is ${result.value}` : undefined;
  };

  return async function decideConnect(peer) {
    if (!peer?.connect) return deny("no CONNECT seen");
    if (peer.certProblem !== undefined || peer.commonName === undefined) return deny(peer.certProblem ?? "certificate has no CN");
    const { clientId, will } = peer.connect;

    let thingName = peer.commonName;
    let service = false;
    if (identify) {
      const found = await lookup(() => identify(peer.fingerprint256));
      if ("error" in found) return deny(found.error);
      const refusal = bindingRefusal(found.value);
      if (refusal) return deny(refusal);
      thingName = found.value!.thing;
      service = found.value!.kind === "service";
    }
    const identity: ClientIdentity = { clientId, commonName: peer.commonName, thingName, fingerprint256: peer.fingerprint256, ...(service ? { service } : {}) };
    // Services too: each restaurant instance has a certificate of its own (restaurant.N), so one rule holds.
    if (clientId !== thingName) {
      return deny(thingName === peer.commonName ? "client id must equal certificate CN" : `client id must equal the thing its certificate is registered to (${thingName})`);
    }
    const refusal =
      (thingState && (await stateRefusal("thing", () => thingState(identity.thingName)))) ||
      (certificateState && (await stateRefusal("certificate", () => certificateState(identity.fingerprint256))));
    if (refusal) return deny(refusal);
    const connect = failClosed(() => authorizer.connect(identity));
    if (!connect.allow) return connect;
    if (will !== undefined) {
      const allowed = willDecision(authorizer, identity, will);
      if (!allowed.allow) return deny(`will topic ${will.topic} not allowed: ${allowed.reason}`);
    }
    peer.identity = identity;
    return connect;
  };
}

/** A will is a publish the broker makes later for the client: iot:Publish, plus iot:RetainPublish if retained. */
function willDecision(authorizer: Authorizer, identity: ClientIdentity, will: { topic: string; retain: boolean }): Decision {
  if (isReservedTopic(will.topic)) return deny("topic reserved for the broker");
  const publish = failClosed(() => authorizer.publish(identity, will.topic));
  if (!publish.allow || !will.retain) return publish;
  return retainDecision(authorizer, identity, will.topic);
}
