// The mosquitto ACL lines for the AWS IoT Jobs topics (modules/core/topics.ts), the same rights as the
// embedded broker's built-in rules (services/broker/jobs-rules.ts) and the product policies:
// a device writes only its own requests and reads only its own jobs; the jobs service reads every request
// and writes every answer. mosquitto's `read` covers subscribe and delivery.
import { ALL_JOBS_GET_NEXT_FILTER, ALL_JOBS_UPDATE_FILTER, JOBS_SERVICE_NAME, jobsFilter, jobsGetNextTopic, jobUpdateTopic } from "../../modules/core/topics";

/** `pattern` lines with user = "%u", or `topic` lines inside a thing's `user` block. */
export function deviceJobsAcl(kind: "pattern" | "topic", user: string): string[] {
  return [
    `${kind} write ${jobsGetNextTopic(user)}`,
    `${kind} write ${jobUpdateTopic(user, "+")}`,
    `${kind} read ${jobsFilter(user)}`,
  ];
}

export const JOBS_ACL_BLOCK: readonly string[] = [
  `user ${JOBS_SERVICE_NAME}`,
  `topic read ${ALL_JOBS_GET_NEXT_FILTER}`,
  `topic read ${ALL_JOBS_UPDATE_FILTER}`,
  "topic write $aws/things/+/jobs/notify-next",
  "topic write $aws/things/+/jobs/$next/get/+",
  "topic write $aws/things/+/jobs/+/update/+",
  "",
];
