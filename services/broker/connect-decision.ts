// The CONNECT decision: is the verified certificate an identity, does the client id match it, does the
// registry still hold it ACTIVE, may it connect (iot:Connect), and may it leave its will (iot:Publish on
// the will topic, checked at CONNECT as AWS IoT does). Sets peer.identity when it allows.
import type { Authorizer, ClientIdentity, Decision } from "./authorizer";
import type { ThingState } from "./broker";
import { failClosed, isReservedTopic } from "./hooks";
import type { Peer } from "./peer";

type Lookup<K> = (key: K) => ThingState | undefined | Promise<ThingState | undefined>;

export interface ConnectDecisionOptions {
  authorizer: Authorizer;
  thingState?: Lookup<string>;
  certificateState?: Lookup<string>;
}

const deny = (reason: string): Decision => ({ allow: false, reason });

export function connectDecider(opts: ConnectDecisionOptions): (peer: Peer | undefined) => Promise<Decision> {
  const { authorizer, thingState, certificateState } = opts;

  const registryRefusal = async (subject: string, lookup: () => ThingState | undefined | Promise<ThingState | undefined>) => {
    try {
      const state = await lookup();
      return state === "INACTIVE" || state === "REVOKED" ? `${subject} is ${state}` : undefined;
    } catch (err) {
      return `thing registry unavailable: ${(err as Error).message}`;
    }
  };

  return async function decideConnect(peer) {
    if (!peer?.connect) return deny("no CONNECT seen");
    if (peer.certProblem !== undefined || peer.commonName === undefined) return deny(peer.certProblem ?? "certificate has no CN");
    const { clientId, willTopic } = peer.connect;
    const identity: ClientIdentity = {
      clientId,
      commonName: peer.commonName,
      thingName: peer.commonName,
      fingerprint256: peer.fingerprint256,
    };
    if (clientId !== identity.commonName) return deny("client id must equal certificate CN");
    const refusal =
      (thingState && (await registryRefusal("thing", () => thingState(identity.thingName)))) ||
      (certificateState && (await registryRefusal("certificate", () => certificateState(identity.fingerprint256))));
    if (refusal) return deny(refusal);
    const connect = failClosed(() => authorizer.connect(identity));
    if (!connect.allow) return connect;
    if (willTopic !== undefined) {
      const will = isReservedTopic(willTopic) ? deny("topic reserved for the broker") : failClosed(() => authorizer.publish(identity, willTopic));
      if (!will.allow) return deny(`will topic ${willTopic} not allowed: ${will.reason}`);
    }
    peer.identity = identity;
    return connect;
  };
}
