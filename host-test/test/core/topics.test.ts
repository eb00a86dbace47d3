// The topic contract's own tests: here the topics are written out as literal strings, since this suite pins
// what the contract builds. Every other test takes its topics from the contract (host-test/test/support/topics.ts).
import { describe, expect, it } from "vitest";
import { utf8Encode } from "../../../modules/core/utf8";
import * as t from "../../../modules/core/topics";
import {
  acksTopic,
  allAcksFilter,
  allOrdersFilter,
  buttonThingNameProblem,
  isValidThingName,
  isValidTopicPrefix,
  MAX_TOPIC_PREFIX_BYTES,
  ordersTopic,
  RESTAURANT_NAME,
  RENEWAL_SERVICE_NAME,
  allRenewFilter,
  renewedTopic,
  renewTopic,
  thingOfRenewTopic,
  thingOfRenewedTopic,
  thingOfAcksTopic,
  thingOfOrdersTopic,
  topicPrefixProblem,
} from "../../../modules/core/topics";

describe("topic contract", () => {
  it("builds the orders and acks topics and the restaurant's filters", () => {
    expect(ordersTopic("pizza", "b-1")).toBe("pizza/orders/b-1");
    expect(acksTopic("acme/pizza", "b-1")).toBe("acme/pizza/acks/b-1");
    expect(allOrdersFilter("pizza")).toBe("pizza/orders/+");
    expect(allAcksFilter("pizza")).toBe("pizza/acks/+");
  });

  it("the thing of a topic is its last level, only under the prefix's orders/acks and only if it is a valid thing name", () => {
    expect(thingOfOrdersTopic("pizza", "pizza/orders/b-1")).toBe("b-1");
    expect(thingOfAcksTopic("pizza", "pizza/acks/b-1")).toBe("b-1");
    for (const topic of ["pizza/orders/", "pizza/orders/a/b", "pizza/orders/+", "pizza/acks/b-1", "pizzas/orders/b-1", "other/pizza/orders/b-1", "pizza/orders/b 1"]) {
      expect(thingOfOrdersTopic("pizza", topic), topic).toBeUndefined();
    }
    expect(thingOfOrdersTopic("acme.pizza", "acme.pizza/orders/b-1")).toBe("b-1");
    expect(thingOfOrdersTopic("acme.pizza", "acmeXpizza/orders/b-1")).toBeUndefined(); // "." is no regex wildcard here
  });

  it.each(["pizza", "acme.pizza", "acme/pizza", "a_b-c/d.e/f", "ünïcode"])("prefix %s is valid", (prefix) => {
    expect(topicPrefixProblem(prefix)).toBeUndefined();
    expect(isValidTopicPrefix(prefix)).toBe(true);
  });

  it.each([
    ["", /empty/],
    ["$aws", /must not start with \$/],
    ["$SYS", /must not start with \$/],
    ["/pizza", /empty level/],
    ["pizza/", /empty level/],
    ["a//b", /empty level/],
    ["pizza/#", /wildcards/],
    ["pi+zza", /wildcards/],
    ["piz za", /whitespace/],
    ["pizza\n", /whitespace or control/],
    ["a/b/c/d/e/f/g", /at most 6 levels/],
    ["p".repeat(MAX_TOPIC_PREFIX_BYTES + 1), /at most 120 bytes/],
  ])("prefix %j is refused (%s)", (prefix, why) => {
    expect(topicPrefixProblem(prefix)).toMatch(why);
  });

  it("the longest valid prefix with the longest thing name still fits AWS IoT's 256-byte, 7-slash topics", () => {
    const prefix = `${"p".repeat(MAX_TOPIC_PREFIX_BYTES - 10)}/a/b/c/d/e`;
    expect(isValidTopicPrefix(prefix)).toBe(true);
    const topic = ordersTopic(prefix, "t".repeat(128));
    expect(utf8Encode(topic).length).toBeLessThanOrEqual(256);
    expect(topic.split("/").length - 1).toBeLessThanOrEqual(7);
  });

  it("thing names: 1-128 of A-Z a-z 0-9 _ -, the restaurant's name reserved for it", () => {
    expect(isValidThingName("a".repeat(128))).toBe(true);
    for (const bad of ["", "a".repeat(129), "a:b", "a/b", "+", "#", "a b"]) expect(isValidThingName(bad), bad).toBe(false);
    expect(buttonThingNameProblem("pizza-button-01")).toBeUndefined();
    expect(buttonThingNameProblem(RESTAURANT_NAME)).toMatch(/reserved for the restaurant/);
    expect(buttonThingNameProblem("a/b")).toMatch(/not a valid thing name/);
  });

  it("renewal topics: a thing asks on its own renew topic and reads its own renewed topic; the service's name is reserved", () => {
    expect(renewTopic("shop/pizza", "b-1")).toBe("shop/pizza/renew/b-1");
    expect(renewedTopic("shop/pizza", "b-1")).toBe("shop/pizza/renewed/b-1");
    expect(allRenewFilter("pizza")).toBe("pizza/renew/+");
    expect(thingOfRenewTopic("pizza", "pizza/renew/b-1")).toBe("b-1");
    expect(thingOfRenewTopic("pizza", "pizza/renew/+")).toBeUndefined();
    expect(thingOfRenewTopic("pizza", "pizza/renewed/b-1")).toBeUndefined();
    expect(thingOfRenewedTopic("pizza", "pizza/renewed/b-1")).toBe("b-1");
    expect(buttonThingNameProblem(RENEWAL_SERVICE_NAME)).toMatch(/reserved for the certificate renewal service/);
  });
});

describe("jobs topics (AWS IoT Jobs MQTT API)", () => {
  it("builds a thing's jobs topics and parses them back", () => {
    expect(t.jobsNotifyNextTopic("b-1")).toBe("$aws/things/b-1/jobs/notify-next");
    expect(t.jobsGetNextTopic("b-1")).toBe("$aws/things/b-1/jobs/$next/get");
    expect(t.jobUpdateTopic("b-1", "fw-2")).toBe("$aws/things/b-1/jobs/fw-2/update");
    expect(t.jobsFilter("b-1")).toBe("$aws/things/b-1/jobs/#");
    expect(t.parseJobsTopic("$aws/things/b-1/jobs/notify-next")).toEqual({ thing: "b-1", kind: "notify-next" });
    expect(t.parseJobsTopic("$aws/things/b-1/jobs/$next/get/accepted")).toEqual({ thing: "b-1", kind: "get-next", answer: "accepted" });
    expect(t.parseJobsTopic("$aws/things/b-1/jobs/fw-2/update")).toEqual({ thing: "b-1", kind: "update", jobId: "fw-2" });
    expect(t.parseJobsTopic("$aws/things/b-1/jobs/fw-2/update/rejected")).toEqual({ thing: "b-1", kind: "update", jobId: "fw-2", answer: "rejected" });
    for (const topic of ["$aws/things/+/jobs/notify-next", "$aws/things/b-1/jobs/a.b/update", "$aws/things/b-1/jobs/fw/update/other", "$aws/things/b-1/shadow/get", "pizza/orders/b-1", "$aws/things/b-1/jobs/$next/get/x"]) {
      expect(t.parseJobsTopic(topic), topic).toBeUndefined();
    }
    expect(t.thingOfJobsTopic("$aws/things/b-2/jobs/notify-next")).toBe("b-2");
  });

  it("the jobs service's name is reserved and the job id rule is AWS's", () => {
    expect(t.buttonThingNameProblem(t.JOBS_SERVICE_NAME)).toMatch(/reserved for the jobs \(firmware update\) service/);
    expect(t.isValidJobId("a".repeat(64))).toBe(true);
    expect(t.isValidJobId("a".repeat(65))).toBe(false);
    expect(t.isValidJobId("$next")).toBe(false);
  });
});
