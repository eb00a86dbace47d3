// Broker authorization hook: the broker asks an Authorizer before every connect, publish, subscribe and
// delivery. The built-in rules below are the product's per-thing topic rules; the policy engine
// (services/broker/policy-authorizer.ts over tools/policy) implements the same interface with AWS IoT policy documents.
// Authorizers are synchronous because aedes' delivery hook (authorizeForward) is.

import { serviceOfInstance } from "../../tools/pki/reserved";
import {
  acksTopic,
  allOrdersFilter,
  isValidThingName,
  isValidTopicPrefix,
  ordersTopic,
  RESTAURANT_NAME,
  allRenewFilter,
  RENEWAL_SERVICE_NAME,
  renewedTopic,
  renewTopic,
  thingOfAcksTopic,
  thingOfOrdersTopic,
  thingOfRenewedTopic,
  thingOfRenewTopic,
  topicPrefixProblem,
} from "../../modules/core/topics";
import { jobsRule } from "./jobs-rules";

/** Who is asking. Built by the broker from the verified client certificate and the CONNECT packet. */
export interface ClientIdentity {
  /** MQTT client id from CONNECT. */
  clientId: string;
  /** Subject CN of the verified client certificate. */
  commonName: string;
  /**
   * The thing this connection acts as: the thing the registry binds the certificate to (by fingerprint),
   * or the CN when the broker runs without a registry.
   */
  thingName: string;
  /** SHA-256 fingerprint of the client certificate, "AB:CD:…" as node:tls prints it. */
  fingerprint256: string;
  /** True when the registry records this certificate as a reserved service identity (the restaurant). */
  service?: boolean;
}

/** reason names the rule/statement that decided (or "no matching rule" for an implicit deny). */
export type Decision = { allow: boolean; reason: string };

export interface Authorizer {
  connect(id: ClientIdentity): Decision;
  publish(id: ClientIdentity, topic: string): Decision;
  /** A retained publish (or retained will) needs this too (AWS IoT's iot:RetainPublish). Absent: denied. */
  retainPublish?(id: ClientIdentity, topic: string): Decision;
  subscribe(id: ClientIdentity, topicFilter: string): Decision;
  /** Delivery of a message on `topic` to this client (AWS IoT's iot:Receive). */
  receive(id: ClientIdentity, topic: string): Decision;
}

export interface ThingTopicAuthorizerOptions {
  topicPrefix: string;
  /** CN (and client id) of the restaurant service. */
  restaurantName?: string;
}

const allow = (reason: string): Decision => ({ allow: true, reason });
const deny = (reason: string): Decision => ({ allow: false, reason });
const NO_RULE = "no matching rule";

/**
 * The product's rules (docs/ARCHITECTURE.md, "Identity and topics"), all exact matches:
 * - a device may publish only `<p>/orders/<cn>` and subscribe to / receive only `<p>/acks/<cn>`;
 * - the restaurant may subscribe only `<p>/orders/+`, receive `<p>/orders/<thing>` and publish `<p>/acks/<thing>`;
 * - a device may also ask to renew its own certificate (publish `<p>/renew/<thing>`, subscribe/receive
 *   `<p>/renewed/<thing>`); the renewal service subscribes `<p>/renew/+` and publishes `<p>/renewed/<thing>`;
 * - the AWS IoT Jobs topics: a device works only through its own jobs, the jobs service answers every
 *   thing's (`jobs-rules.ts`);
 * - everybody must connect with client id = certificate CN, and the CN must be a valid thing name
 *   (a CN like "+" or "a/b" would otherwise turn an exact rule into a wildcard) or a restaurant instance's
 *   (`restaurant.N`: the restaurant's rights).
 */
export function thingTopicAuthorizer(opts: ThingTopicAuthorizerOptions): Authorizer {
  const prefix = opts.topicPrefix;
  const restaurant = opts.restaurantName ?? RESTAURANT_NAME;
  const prefixProblem = topicPrefixProblem(prefix);
  if (prefixProblem !== undefined) {
    throw new Error(`thingTopicAuthorizer: invalid topicPrefix ${JSON.stringify(prefix)}: ${prefixProblem}`);
  }
  if (!isValidThingName(restaurant)) {
    throw new Error(`thingTopicAuthorizer: invalid restaurantName ${JSON.stringify(restaurant)}`);
  }
  // An instance of the restaurant (`restaurant.N`, its own certificate) has the restaurant's rights, no more.
  const isRestaurant = (id: ClientIdentity) =>
    id.thingName === restaurant || (restaurant === RESTAURANT_NAME && serviceOfInstance(id.thingName) === RESTAURANT_NAME);
  const isRenewal = (id: ClientIdentity) => id.thingName === RENEWAL_SERVICE_NAME;

  return {
    connect(id) {
      if (!isValidThingName(id.thingName) && !isRestaurant(id)) return deny("certificate CN is not a valid thing name");
      if (id.clientId !== id.thingName) return deny("client id must equal the thing name");
      return allow(isRestaurant(id) ? "restaurant connects as itself" : "thing connects as itself");
    },
    publish(id, topic) {
      const jobs = jobsRule("publish", id.thingName, topic);
      if (jobs) return jobs;
      if (isRestaurant(id)) {
        return thingOfAcksTopic(prefix, topic) !== undefined ? allow("restaurant publishes acks") : deny(NO_RULE);
      }
      if (isRenewal(id)) return thingOfRenewedTopic(prefix, topic) !== undefined ? allow("renewal service answers a thing") : deny(NO_RULE);
      if (topic === renewTopic(prefix, id.thingName)) return allow("thing asks to renew its own certificate");
      return topic === ordersTopic(prefix, id.thingName) ? allow("thing publishes its own orders") : deny(NO_RULE);
    },
    retainPublish() {
      // A retained order or ack would be replayed to every new subscriber: the product never retains.
      return deny("the product never retains messages");
    },
    subscribe(id, topicFilter) {
      const jobs = jobsRule("subscribe", id.thingName, topicFilter);
      if (jobs) return jobs;
      if (isRestaurant(id)) {
        return topicFilter === allOrdersFilter(prefix) ? allow("restaurant subscribes to all orders") : deny(NO_RULE);
      }
      if (isRenewal(id)) return topicFilter === allRenewFilter(prefix) ? allow("renewal service subscribes to all renew requests") : deny(NO_RULE);
      if (topicFilter === renewedTopic(prefix, id.thingName)) return allow("thing subscribes to its own renewal answers");
      return topicFilter === acksTopic(prefix, id.thingName) ? allow("thing subscribes to its own acks") : deny(NO_RULE);
    },
    receive(id, topic) {
      const jobs = jobsRule("receive", id.thingName, topic);
      if (jobs) return jobs;
      if (isRestaurant(id)) {
        return thingOfOrdersTopic(prefix, topic) !== undefined ? allow("restaurant receives orders") : deny(NO_RULE);
      }
      if (isRenewal(id)) return thingOfRenewTopic(prefix, topic) !== undefined ? allow("renewal service receives renew requests") : deny(NO_RULE);
      if (topic === renewedTopic(prefix, id.thingName)) return allow("thing receives its own renewal answer");
      return topic === acksTopic(prefix, id.thingName) ? allow("thing receives its own acks") : deny(NO_RULE);
    },
  };
}

/** The topic contract's prefix rule (modules/core/topics.ts), re-exported for the broker's callers. */
export { isValidTopicPrefix };
