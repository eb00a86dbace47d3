// The product's default authorization: the AWS IoT policies in this folder, attached in the PKI's policy
// store once to every new ACTIVE thing that has none (restaurant.json to the restaurant, device.json to buttons),
// evaluated by the policy authorizer; or the built-in per-thing topic rules. One place, used by
// `npm run broker` and `npm run simulate`, so both enforce the same thing.
import { fileURLToPath } from "node:url";
import { DEFAULT_TOPIC_PREFIX, JOBS_SERVICE_NAME, RENEWAL_SERVICE_NAME } from "../../modules/core/topics";
import type { Pki } from "../../tools/pki/pki";
import { policyAuthorizerForPki, type PolicyDecisionEvent } from "./policy-authorizer";
import { openPolicyStore } from "../../tools/policy/store";
import { type Authorizer, thingTopicAuthorizer } from "./authorizer";

export const POLICY_FILES = {
  device: fileURLToPath(new URL("../policies/device.json", import.meta.url)),
  restaurant: fileURLToPath(new URL("../policies/restaurant.json", import.meta.url)),
  renewal: fileURLToPath(new URL("../policies/renewal.json", import.meta.url)),
  jobs: fileURLToPath(new URL("../policies/jobs.json", import.meta.url)),
};

/** The topic prefix the product policies name: the contract's default (modules/core/topics.ts). */
export const POLICY_TOPIC_PREFIX = DEFAULT_TOPIC_PREFIX;

export interface ProductAuthorizationOptions {
  pki: Pki;
  pkiDir: string;
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
  /** Attach the product policies to things that have none (call again when the registry changes). */
  attachDefaults(): void;
}

export function productAuthorization(opts: ProductAuthorizationOptions): ProductAuthorization {
  const policyStore = openPolicyStore(opts.pkiDir);
  const attachDefaults = () => {
    if (opts.rules !== "policy" || !opts.defaultPolicies) return;
    for (const thing of opts.pki.listThings()) {
      if (thing.state !== "ACTIVE") continue;
      const file =
        thing.kind !== "service" ? POLICY_FILES.device
        : thing.name === RENEWAL_SERVICE_NAME ? POLICY_FILES.renewal
        : thing.name === JOBS_SERVICE_NAME ? POLICY_FILES.jobs
        : POLICY_FILES.restaurant;
      try {
        // Once per thing, when it is first seen (created): a later detach stays detached across restarts.
        const result = policyStore.attachDefaultOnce(file, thing.name);
        if (result) opts.log("policy-attached", { thing: thing.name, policy: result.name, reason: "new thing: default policy" });
      } catch (error) {
        opts.log("policy-attach-failed", { thing: thing.name, reason: (error as Error).message });
      }
    }
  };
  attachDefaults();
  if (opts.rules === "policy" && opts.topicPrefix !== POLICY_TOPIC_PREFIX) {
    opts.log("warning", {
      reason: `the product policies name ${POLICY_TOPIC_PREFIX}/… topics; with topic prefix ${opts.topicPrefix} attach your own policies`,
    });
  }
  const authorizer =
    opts.rules === "policy"
      ? policyAuthorizerForPki({
          pkiDir: opts.pkiDir,
          ...(opts.region ? { region: opts.region } : {}),
          ...(opts.account ? { account: opts.account } : {}),
          ...(opts.onDecision ? { log: opts.onDecision } : {}),
        })
      : thingTopicAuthorizer({ topicPrefix: opts.topicPrefix });
  return { authorizer, attachDefaults };
}
