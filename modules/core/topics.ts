// The topic contract (docs/ARCHITECTURE.md, "Identity and topics"): which names and topics the button, the
// broker's rules, the restaurant, the product policies and the mosquitto ACL agree on. Everything that
// builds, parses or checks a topic or a thing name goes through here, so they cannot disagree.
//
//   device     publishes  <prefix>/orders/<thing>    subscribes <prefix>/acks/<thing>
//   restaurant subscribes <prefix>/orders/+           publishes  <prefix>/acks/<thing>
//   device     publishes  <prefix>/renew/<thing>     subscribes <prefix>/renewed/<thing>   (certificate renewal)
//   renewal    subscribes <prefix>/renew/+            publishes  <prefix>/renewed/<thing>
//   device     the AWS IoT Jobs MQTT API for itself: $aws/things/<thing>/jobs/…  (firmware updates)
//   jobs       the same topics for every thing (the local stand-in for AWS IoT Jobs)
//
// The thing is the last topic level, never a payload field: the broker lets only that thing's certificate
// publish there, so the topic is the one trustworthy statement of who sent an order.

import { utf8Encode } from "./utf8";

/** CN = client id of the restaurant service. Reserved: no button may use it (it could read every order). */
export const RESTAURANT_NAME = "restaurant";

/** CN = client id of the certificate renewal service. Reserved: it may issue certificates to every thing. */
export const RENEWAL_SERVICE_NAME = "renewal";

/** CN = client id of the local jobs service (firmware updates). Reserved: it talks to every thing's jobs. */
export const JOBS_SERVICE_NAME = "jobs";

/** Identities a button must not take. */
export const RESERVED_THING_NAMES: readonly string[] = Object.freeze([RESTAURANT_NAME, RENEWAL_SERVICE_NAME, JOBS_SERVICE_NAME]);

const SERVICE_PURPOSE: { [name: string]: string } = {
  [RESTAURANT_NAME]: "restaurant",
  [RENEWAL_SERVICE_NAME]: "certificate renewal",
  [JOBS_SERVICE_NAME]: "jobs (firmware update)",
};

export const DEFAULT_TOPIC_PREFIX = "pizza";

/** AWS IoT Core limits (the production broker): topics of at most 256 bytes and 7 slashes. */
const MAX_TOPIC_BYTES = 256;
const MAX_TOPIC_SLASHES = 7;
const MAX_THING_NAME = 128;
/** Room left for the prefix once `/orders/<longest thing name>` is appended. */
export const MAX_TOPIC_PREFIX_BYTES = MAX_TOPIC_BYTES - "/orders/".length - MAX_THING_NAME;
export const MAX_TOPIC_PREFIX_SLASHES = MAX_TOPIC_SLASHES - 2;

/**
 * AWS IoT thing names: 1–128 of [a-zA-Z0-9:_-]. ':' is forbidden here as well, so a name is always a safe,
 * wildcard-free topic level, ACL username and policy variable.
 */
export function isValidThingName(name: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(name);
}

/** Why `name` cannot be a button's thing name, or undefined if it can. */
export function buttonThingNameProblem(name: string): string | undefined {
  if (!isValidThingName(name)) return `${JSON.stringify(name)} is not a valid thing name (1-128 of A-Z a-z 0-9 _ -)`;
  if (RESERVED_THING_NAMES.indexOf(name) >= 0) {
    return `${JSON.stringify(name)} is reserved for the ${SERVICE_PURPOSE[name]} service`;
  }
  return undefined;
}

/**
 * Why `prefix` cannot be the topic prefix, or undefined if it can. One or more topic levels, each non-empty
 * and without wildcards (+ #), whitespace or control characters (a level with a space breaks the mosquitto
 * ACL line, an empty level makes `a//orders` or a leading `/`); not starting with `$`, which brokers reserve
 * for themselves (`$SYS`, AWS IoT's `$aws/…`). Short enough that every orders topic fits AWS IoT's limits.
 */
export function topicPrefixProblem(prefix: string): string | undefined {
  if (prefix.length === 0) return "must not be empty";
  if (prefix.charAt(0) === "$") return "must not start with $ (reserved for the broker, e.g. $SYS, $aws)";
  const levels = prefix.split("/");
  if (levels.some((level) => level.length === 0)) return "must not have an empty level (no leading, trailing or double /)";
  if (/[+#]/.test(prefix)) return "must not contain the wildcards + or #";
  if (/[\s\u0000-\u001f\u007f]/.test(prefix)) return "must not contain whitespace or control characters";
  if (levels.length - 1 > MAX_TOPIC_PREFIX_SLASHES) return `must have at most ${MAX_TOPIC_PREFIX_SLASHES + 1} levels (AWS IoT allows ${MAX_TOPIC_SLASHES} slashes per topic)`;
  const bytes = utf8Encode(prefix).length;
  if (bytes > MAX_TOPIC_PREFIX_BYTES) return `must be at most ${MAX_TOPIC_PREFIX_BYTES} bytes (AWS IoT topics are at most ${MAX_TOPIC_BYTES})`;
  return undefined;
}

export function isValidTopicPrefix(prefix: string): boolean {
  return topicPrefixProblem(prefix) === undefined;
}

export function ordersTopic(prefix: string, thing: string): string {
  return `${prefix}/orders/${thing}`;
}

export function acksTopic(prefix: string, thing: string): string {
  return `${prefix}/acks/${thing}`;
}

/** The restaurant's subscription: every thing's orders. */
export function allOrdersFilter(prefix: string): string {
  return `${prefix}/orders/+`;
}

/** The restaurant's publish pattern (mosquitto ACL, AWS policy resources): every thing's acks. */
export function allAcksFilter(prefix: string): string {
  return `${prefix}/acks/+`;
}

/** The thing an orders topic is for, or undefined when `topic` is not `<prefix>/orders/<valid thing>`. */
export function thingOfOrdersTopic(prefix: string, topic: string): string | undefined {
  return thingAfter(`${prefix}/orders/`, topic);
}

/** The thing an acks topic is for, or undefined when `topic` is not `<prefix>/acks/<valid thing>`. */
export function thingOfAcksTopic(prefix: string, topic: string): string | undefined {
  return thingAfter(`${prefix}/acks/`, topic);
}

function thingAfter(level: string, topic: string): string | undefined {
  if (topic.length <= level.length || topic.slice(0, level.length) !== level) return undefined;
  const thing = topic.slice(level.length);
  return isValidThingName(thing) ? thing : undefined;
}

/** Where a device asks for a new certificate for its own key (the renewal service reads them all). */
export function renewTopic(prefix: string, thing: string): string {
  return `${prefix}/renew/${thing}`;
}

/** Where the renewal service answers a device. */
export function renewedTopic(prefix: string, thing: string): string {
  return `${prefix}/renewed/${thing}`;
}

/** The renewal service's subscription: every thing's requests. */
export function allRenewFilter(prefix: string): string {
  return `${prefix}/renew/+`;
}

/** The thing a renew topic is for, or undefined when `topic` is not `<prefix>/renew/<valid thing>`. */
export function thingOfRenewTopic(prefix: string, topic: string): string | undefined {
  return thingAfter(`${prefix}/renew/`, topic);
}

/** The thing a renewed topic is for, or undefined when `topic` is not `<prefix>/renewed/<valid thing>`. */
export function thingOfRenewedTopic(prefix: string, topic: string): string | undefined {
  return thingAfter(`${prefix}/renewed/`, topic);
}

/** The renewal service's publish pattern (mosquitto ACL, AWS policy resources): every thing's answers. */
export function allRenewedFilter(prefix: string): string {
  return `${prefix}/renewed/+`;
}

// AWS IoT Jobs MQTT API (the subset a device uses for itself). The topics are AWS's, not under the product's
// prefix: the same firmware then talks to AWS IoT Jobs and to the local jobs service.

const JOBS_ROOT = "$aws/things/";

/** AWS IoT job ids: 1–64 of [a-zA-Z0-9_-]. "$next" is the API's alias for the next pending job, not an id. */
export function isValidJobId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(id);
}

/** `$aws/things/<thing>/jobs/` */
export function jobsTopicBase(thing: string): string {
  return `${JOBS_ROOT}${thing}/jobs/`;
}

/** Where the next pending job execution (or its absence) is announced to the thing. */
export function jobsNotifyNextTopic(thing: string): string {
  return `${jobsTopicBase(thing)}notify-next`;
}

/** The thing asks for its next pending job execution; answers on …/accepted and …/rejected. */
export function jobsGetNextTopic(thing: string): string {
  return `${jobsTopicBase(thing)}$next/get`;
}

/** The thing reports the status of one job execution; answers on …/accepted and …/rejected. */
export function jobUpdateTopic(thing: string, jobId: string): string {
  return `${jobsTopicBase(thing)}${jobId}/update`;
}

/** Every jobs topic of one thing: the device's one subscription, its ACL and policy resource. */
export function jobsFilter(thing: string): string {
  return `${jobsTopicBase(thing)}#`;
}

/** The jobs service's subscriptions: every thing's requests. */
export const ALL_JOBS_GET_NEXT_FILTER = `${JOBS_ROOT}+/jobs/$next/get`;
export const ALL_JOBS_UPDATE_FILTER = `${JOBS_ROOT}+/jobs/+/update`;

/** What a jobs topic is: whose, and which request or answer, or undefined when it is not one. */
export type JobsTopic =
  | { thing: string; kind: "notify-next" }
  | { thing: string; kind: "get-next"; answer?: "accepted" | "rejected" }
  | { thing: string; kind: "update"; jobId: string; answer?: "accepted" | "rejected" };

export function parseJobsTopic(topic: string): JobsTopic | undefined {
  if (topic.slice(0, JOBS_ROOT.length) !== JOBS_ROOT) return undefined;
  const levels = topic.slice(JOBS_ROOT.length).split("/");
  const thing = levels[0]!;
  if (!isValidThingName(thing) || levels[1] !== "jobs") return undefined;
  const rest = levels.slice(2);
  const answer = (level: string | undefined) => (level === "accepted" || level === "rejected" ? level : undefined);
  if (rest.length === 1 && rest[0] === "notify-next") return { thing, kind: "notify-next" };
  if ((rest.length === 2 || rest.length === 3) && rest[0] === "$next" && rest[1] === "get") {
    if (rest.length === 2) return { thing, kind: "get-next" };
    const a = answer(rest[2]);
    return a ? { thing, kind: "get-next", answer: a } : undefined;
  }
  if ((rest.length === 2 || rest.length === 3) && isValidJobId(rest[0]!) && rest[1] === "update") {
    if (rest.length === 2) return { thing, kind: "update", jobId: rest[0]! };
    const a = answer(rest[2]);
    return a ? { thing, kind: "update", jobId: rest[0]!, answer: a } : undefined;
  }
  return undefined;
}

/** The thing a jobs topic belongs to, or undefined when `topic` is not one of the API's topics. */
export function thingOfJobsTopic(topic: string): string | undefined {
  return parseJobsTopic(topic)?.thing;
}
