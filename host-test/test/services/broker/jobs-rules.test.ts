import { describe, expect, it } from "vitest";
import { type ClientIdentity, thingTopicAuthorizer } from "../../../../services/broker/authorizer";

const who = (cn: string): ClientIdentity => ({ clientId: cn, commonName: cn, thingName: cn, fingerprint256: "AA" });
const rules = thingTopicAuthorizer({ topicPrefix: "pizza" });
const a = who("button-a");
const jobs = who("jobs");

describe("built-in rules for the Jobs topics", () => {
  it.each([
    [a, "$aws/things/button-a/jobs/$next/get", true],
    [a, "$aws/things/button-a/jobs/fw-1/update", true],
    [a, "$aws/things/button-b/jobs/fw-1/update", false],
    [a, "$aws/things/button-b/jobs/$next/get", false],
    [a, "$aws/things/button-a/jobs/notify-next", false],
    [a, "$aws/things/button-a/jobs/fw-1/update/accepted", false],
    [jobs, "$aws/things/button-a/jobs/notify-next", true],
    [jobs, "$aws/things/button-a/jobs/fw-1/update/accepted", true],
    [jobs, "$aws/things/button-a/jobs/$next/get/rejected", true],
    [jobs, "$aws/things/button-a/jobs/fw-1/update", false],
    [who("restaurant"), "$aws/things/restaurant/jobs/$next/get", false],
  ])("publish %o %s → %s", (id, topic, allowed) => {
    expect(rules.publish(id, topic).allow).toBe(allowed);
  });

  it.each([
    [a, "$aws/things/button-a/jobs/#", true],
    [a, "$aws/things/button-a/jobs/notify-next", true],
    [a, "$aws/things/button-b/jobs/#", false],
    [a, "$aws/things/+/jobs/#", false],
    [a, "$aws/#", false],
    [a, "$aws/things/button-a2/jobs/#", false],
    [jobs, "$aws/things/+/jobs/$next/get", true],
    [jobs, "$aws/things/+/jobs/+/update", true],
    [jobs, "$aws/things/+/jobs/#", false],
  ])("subscribe %o %s → %s", (id, filter, allowed) => {
    expect(rules.subscribe(id, filter).allow).toBe(allowed);
  });

  it.each([
    [a, "$aws/things/button-a/jobs/notify-next", true],
    [a, "$aws/things/button-b/jobs/notify-next", false],
    [jobs, "$aws/things/button-a/jobs/fw-1/update", true],
    [jobs, "$aws/things/button-a/jobs/notify-next", false],
  ])("receive %o %s → %s", (id, topic, allowed) => {
    expect(rules.receive(id, topic).allow).toBe(allowed);
  });
});
