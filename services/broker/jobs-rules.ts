// The built-in rules for the AWS IoT Jobs topics (modules/core/topics.ts), the same as the product policies
// (services/policies/device.json, jobs.json) and the mosquitto ACL:
// - a device publishes only its own requests ($aws/things/<own>/jobs/$next/get, …/<jobId>/update) and
//   subscribes to / receives only under $aws/things/<own>/jobs/ (notify-next and the answers);
// - the jobs service subscribes to every thing's requests, receives them, and publishes the answers and
//   notify-next of any thing.
// undefined: the topic is no jobs topic (or the filter no jobs filter) and the other rules decide.
import { ALL_JOBS_GET_NEXT_FILTER, ALL_JOBS_UPDATE_FILTER, JOBS_SERVICE_NAME, jobsTopicBase, parseJobsTopic, RESERVED_THING_NAMES } from "../../modules/core/topics";

type Decision = { allow: boolean; reason: string };

export function jobsRule(action: "publish" | "subscribe" | "receive", thing: string, topic: string): Decision | undefined {
  if (!topic.startsWith("$aws/")) return undefined;
  const parsed = action === "subscribe" ? undefined : parseJobsTopic(topic);
  const isRequest = parsed !== undefined && parsed.kind !== "notify-next" && parsed.answer === undefined;
  if (thing === JOBS_SERVICE_NAME) {
    if (action === "subscribe") {
      return topic === ALL_JOBS_GET_NEXT_FILTER || topic === ALL_JOBS_UPDATE_FILTER
        ? { allow: true, reason: "jobs service subscribes to every thing's job requests" }
        : { allow: false, reason: "no matching rule" };
    }
    if (action === "receive") return isRequest ? { allow: true, reason: "jobs service receives job requests" } : { allow: false, reason: "no matching rule" };
    return parsed && !isRequest ? { allow: true, reason: "jobs service answers a thing" } : { allow: false, reason: "no matching rule" };
  }
  if (RESERVED_THING_NAMES.includes(thing)) return { allow: false, reason: "services other than jobs have no jobs" };
  const own = jobsTopicBase(thing);
  if (action === "publish") {
    return isRequest && parsed.thing === thing ? { allow: true, reason: "thing works on its own jobs" } : { allow: false, reason: "no matching rule" };
  }
  // Any filter or topic under the thing's own jobs: a wildcard after that prefix cannot reach another thing.
  return topic.startsWith(own) ? { allow: true, reason: `thing ${action === "subscribe" ? "subscribes to" : "receives"} its own jobs` } : { allow: false, reason: "no matching rule" };
}
