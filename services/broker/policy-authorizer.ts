// The broker's Authorizer backed by AWS IoT policy documents: connect/publish/retained publish/subscribe/
// receive become iot:Connect/Publish/RetainPublish/Subscribe/Receive, decided by evaluate() over the policies attached to the
// connection's thing. Policies are loaded once per connection (at CONNECT), so a change to the store
// applies to the next connection without restarting the broker. Fails closed: a policy that cannot be
// loaded or parsed denies everything for that connection, naming the policy.
import type { Authorizer, ClientIdentity, Decision } from "./authorizer";
import { type ConnectionContext, type Decision as PolicyDecision, type NamedPolicy, evaluate, hexOf, parsePolicy } from "../../tools/policy/evaluate";
import { registryAttachment } from "../../tools/pki/policy-store";
import type { Pki } from "../../tools/pki/pki";

export interface PolicyDecisionEvent {
  action: string;
  clientId: string;
  thing: string;
  resource: string;
  allow: boolean;
  reason: string;
  policy?: string;
  statement?: number;
  sid?: string;
}

export interface PolicyAuthorizerOptions {
  /** Policies attached to the certificate of `thingName` (the CN), read fresh at each CONNECT. */
  policiesFor(thingName: string): { name: string; document: string | object }[];
  /** ${iot:Connection.Thing.IsAttached}: is this certificate attached to the thing named like the client id? */
  isAttached(thingName: string, fingerprint256: string): boolean;
  /** The endpoint's region and account; "*" accepts whatever the policies name. */
  region: string;
  account: string;
  partition?: string;
  /** Every decision, with the deciding policy and statement. */
  log?: (event: PolicyDecisionEvent) => void;
}

interface Loaded {
  policies: NamedPolicy[];
  ctx: ConnectionContext;
  /** Set when the policies could not be loaded: every request is denied with this reason. */
  broken?: string;
}

/**
 * What to do about a thing with no policy. The usual cause: a device certificate from a registered CA
 * (bring your own CA) whose thing was never recorded, so no policy could be attached to it.
 */
function noPolicyHint(thing: string, registered: boolean): string {
  return registered
    ? `attach one: npm run pki -- policy attach services/policies/device.json ${thing}`
    : `thing ${thing} is not registered: a certificate from a registered CA needs ` +
        `"npm run pki -- thing register ${thing} --cert <its cert.pem>" (the broker then attaches the device policy)`;
}

/** A denial of a certificate that is not the one recorded for its thing (e.g. from a registered CA). */
function notAttachedHint(thing: string): string {
  return `this certificate is not recorded for thing ${thing}: if a registered CA issued it, "npm run pki -- thing register ${thing} --cert <its cert.pem>"`;
}

export function policyAuthorizer(opts: PolicyAuthorizerOptions): Authorizer {
  const config = { region: opts.region, account: opts.account, ...(opts.partition ? { partition: opts.partition } : {}) };
  // One snapshot per connection: the broker keeps the same identity object for a connection's lifetime.
  const perConnection = new WeakMap<ClientIdentity, Loaded>();

  const load = (id: ClientIdentity): Loaded => {
    const ctx: ConnectionContext = { clientId: id.clientId, commonName: id.commonName, certificateId: hexOf(id.fingerprint256) };
    try {
      // AWS resolves the thing from the client id, and only if the certificate is attached to it.
      if (opts.isAttached(id.clientId, id.fingerprint256)) ctx.thing = { name: id.clientId };
      const policies = opts.policiesFor(id.thingName).map(({ name, document }) => ({
        name,
        policy: parsePolicy(typeof document === "string" ? document : JSON.stringify(document), name),
      }));
      return { policies, ctx };
    } catch (err) {
      return { policies: [], ctx, broken: `policies of ${id.thingName} could not be loaded: ${(err as Error).message}` };
    }
  };

  const decide = (loaded: Loaded, id: ClientIdentity, action: string, resource: string): Decision => {
    let d: PolicyDecision;
    if (loaded.broken) d = { allow: false, reason: loaded.broken };
    else {
      try {
        d = evaluate(loaded.policies, { action, resource }, loaded.ctx, config);
        if (!d.allow) {
          const registered = loaded.ctx.thing !== undefined;
          const hint = loaded.policies.length === 0 ? noPolicyHint(id.thingName, registered) : registered ? undefined : notAttachedHint(id.thingName);
          if (hint) d = { ...d, reason: `${d.reason}; ${hint}` };
        }
      } catch (err) {
        d = { allow: false, reason: `${action} on ${resource}: ${(err as Error).message}` };
      }
    }
    opts.log?.({
      action,
      clientId: id.clientId,
      thing: id.thingName,
      resource,
      allow: d.allow,
      reason: d.reason,
      ...(d.decidingStatement
        ? { policy: d.decidingStatement.policy, statement: d.decidingStatement.index, ...(d.decidingStatement.sid !== undefined ? { sid: d.decidingStatement.sid } : {}) }
        : {}),
    });
    return { allow: d.allow, reason: d.reason };
  };

  const loadedFor = (id: ClientIdentity): Loaded => {
    let loaded = perConnection.get(id);
    if (!loaded) {
      loaded = load(id);
      perConnection.set(id, loaded);
    }
    return loaded;
  };

  return {
    connect(id) {
      const loaded = load(id); // always fresh at CONNECT
      perConnection.set(id, loaded);
      return decide(loaded, id, "iot:Connect", id.clientId);
    },
    publish: (id, topic) => decide(loadedFor(id), id, "iot:Publish", topic),
    retainPublish: (id, topic) => decide(loadedFor(id), id, "iot:RetainPublish", topic),
    subscribe: (id, topicFilter) => decide(loadedFor(id), id, "iot:Subscribe", topicFilter),
    receive: (id, topic) => decide(loadedFor(id), id, "iot:Receive", topic),
  };
}

/** The policy authorizer over a PKI dir: policies from its policy store, IsAttached from its registry. */
export function policyAuthorizerForPki(opts: {
  pki: Pki;
  region?: string;
  account?: string;
  log?: (event: PolicyDecisionEvent) => void;
}): Authorizer {
  return policyAuthorizer({
    policiesFor: (thing) => opts.pki.policies.attached(thing),
    isAttached: registryAttachment(opts.pki.store),
    region: opts.region ?? "*",
    account: opts.account ?? "*",
    ...(opts.log ? { log: opts.log } : {}),
  });
}
