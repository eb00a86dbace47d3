// The product's default authorization: the AWS IoT policies in this folder, attached in the PKI's policy
// store once to every new ACTIVE thing that has none (restaurant.json to the restaurant, device.json to buttons),
// evaluated by the policy authorizer; or the built-in per-thing topic rules. One place, used by
// `npm run broker` and `npm run simulate`, so both enforce the same thing.
import { POLICY_FILES } from "../policies/files";
import { DEFAULT_TOPIC_PREFIX, JOBS_SERVICE_NAME, RENEWAL_SERVICE_NAME } from "../../modules/core/topics";
import type { Pki } from "../../tools/pki/pki";
import type { ThingRecord } from "../../tools/pki/registry";
import { policyAuthorizerForPki, type PolicyDecisionEvent } from "./policy-authorizer";
import { type Authorizer, thingTopicAuthorizer } from "./authorizer";

export { POLICY_FILES };

/** The topic prefix the product policies name: the contract's default (modules/core/topics.ts). */
export const POLICY_TOPIC_PREFIX = DEFAULT_TOPIC_PREFIX;

export interface ProductAuthorizationOptions {
  /** The PKI dir's owner: its registry and policy store. */
  pki: Pki;
  rules: "policy" | "builtin";
  /** Attach the product policy to every ACTIVE thing that has none. */
  defaultPolicies: boolean;
  topicPrefix: string;
  region?: string;
  account?: string;
  log: (event: string, fields: Record<string, unknown>) => void;
  onDecision?: (decision: PolicyDecisionEvent) => void;
}

export interface ProductAuthorization {
  authorizer: Authorizer;
  /** Attach the product policies to things seen for the first time (call again when the registry changes). */
  attachDefaults(): Promise<void>;
}

/** The default policy file of a thing: the device policy, or its service's. */
function defaultPolicyFile(thing: ThingRecord): string {
  if (thing.kind !== "service") return POLICY_FILES.device;
  if (thing.name === RENEWAL_SERVICE_NAME) return POLICY_FILES.renewal;
  return thing.name === JOBS_SERVICE_NAME ? POLICY_FILES.jobs : POLICY_FILES.restaurant;
}

export function productAuthorization(opts: ProductAuthorizationOptions): ProductAuthorization {
  const attachDefaults = async () => {
    if (opts.rules !== "policy" || !opts.defaultPolicies) return;
    try {
      // Once per thing, when it is first seen (created): a later detach stays detached across restarts.
      for (const result of await opts.pki.policies.attachDefaults(defaultPolicyFile)) {
        opts.log("policy-attached", { thing: result.thing, policy: result.name, reason: "new thing: default policy" });
      }
    } catch (error) {
      opts.log("policy-attach-failed", { reason: (error as Error).message });
    }
  };
  if (opts.rules === "policy" && opts.topicPrefix !== POLICY_TOPIC_PREFIX) {
    opts.log("warning", {
      reason: `the product policies name ${POLICY_TOPIC_PREFIX}/… topics; with topic prefix ${opts.topicPrefix} attach your own policies`,
    });
  }
  const authorizer =
    opts.rules === "policy"
      ? policyAuthorizerForPki({
          pki: opts.pki,
          ...(opts.region ? { region: opts.region } : {}),
          ...(opts.account ? { account: opts.account } : {}),
          ...(opts.onDecision ? { log: opts.onDecision } : {}),
        })
      : thingTopicAuthorizer({ topicPrefix: opts.topicPrefix });
  return { authorizer, attachDefaults };
}
