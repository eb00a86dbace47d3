import { describe, expect, it } from "vitest";
import { PolicyParseError, parsePolicy } from "../../../../tools/policy/parse";
import { ordersOf } from "../../support/topics";

const V = "2012-10-17";
const ok = (statement: unknown) => JSON.stringify({ Version: V, Statement: statement });
const allowPublish = { Effect: "Allow", Action: "iot:Publish", Resource: "*" };

describe("parsePolicy: accepted forms", () => {
  it("accepts Statement as one object and Action/Resource as strings", () => {
    const p = parsePolicy(ok(allowPublish), "one.json");
    expect(p.statements).toHaveLength(1);
    expect(p.statements[0]).toMatchObject({ index: 0, effect: "Allow", actions: ["iot:publish"] });
    expect(p.warnings).toEqual([]);
  });

  it("accepts arrays, Sid, NotAction, NotResource, conditions with lists and booleans", () => {
    const p = parsePolicy(
      ok([
        { Sid: "A", Effect: "Deny", NotAction: ["iot:Connect"], NotResource: ["arn:aws:iot:*:*:topic/x"] },
        { Effect: "Allow", Action: ["iot:Connect"], Resource: ["*"], Condition: { Bool: { "iot:Connection.Thing.IsAttached": true }, "ForAnyValue:StringLike": { "iot:ClientId": ["a*", "b?"] } } },
      ]),
    );
    expect(p.statements[0]).toMatchObject({ sid: "A", effect: "Deny", notActions: ["iot:connect"] });
    expect(p.statements[1]!.conditions.map((c) => [c.base, c.set, c.values.length])).toEqual([
      ["Bool", undefined, 1],
      ["StringLike", "ForAnyValue", 2],
    ]);
  });

  it("accepts an already-parsed object", () => {
    expect(parsePolicy({ Version: V, Statement: [allowPublish] }).statements).toHaveLength(1);
  });

  it("splits policy variables and the ${*} ${?} ${$} escapes", () => {
    const p = parsePolicy(ok({ Effect: "Allow", Action: "iot:Publish", Resource: "arn:aws:iot:us-east-1:1:topic/${iot:ClientId}/${*}" }));
    const r = p.statements[0]!.resources![0]!;
    expect(r.arn).toMatchObject({ partition: "aws", service: "iot", region: "us-east-1", account: "1" });
    expect(r.arn!.rest).toEqual([{ kind: "text", text: "topic/" }, { kind: "var", name: "iot:ClientId" }, { kind: "text", text: "/" }, { kind: "literal", text: "*" }]);
  });
});

describe("parsePolicy: errors name the element", () => {
  const cases: [string, string | unknown, RegExp][] = [
    ["bad JSON", "{ nope", /bad\.json: not valid JSON/],
    ["not an object", "[]", /must be a JSON object/],
    ["missing Version", JSON.stringify({ Statement: [allowPublish] }), /Version: missing/],
    ["wrong Version", JSON.stringify({ Version: "2008-10-17", Statement: [allowPublish] }), /Version: must be "2012-10-17"/],
    ["unknown top-level key", JSON.stringify({ Version: V, Statement: [allowPublish], Extra: 1 }), /Extra: unknown top-level element/],
    ["missing Statement", JSON.stringify({ Version: V }), /Statement: missing/],
    ["empty Statement", ok([]), /Statement: must not be empty/],
    ["missing Effect", ok([{ Action: "iot:Publish", Resource: "*" }]), /Statement\[0\]\.Effect: missing/],
    ["bad Effect", ok([{ Effect: "allow", Action: "iot:Publish", Resource: "*" }]), /Statement\[0\]\.Effect: must be "Allow" or "Deny", got "allow"/],
    ["unknown action prefix", ok([{ Effect: "Allow", Action: ["iot:Publish", "s3:GetObject"], Resource: "*" }]), /Statement\[0\]\.Action\[1\]: unknown action prefix "s3"/],
    ["action without prefix", ok([{ Effect: "Allow", Action: "Publish", Resource: "*" }]), /is not an action/],
    ["both Action and NotAction", ok([{ Effect: "Allow", Action: "iot:Publish", NotAction: "iot:Connect", Resource: "*" }]), /has both Action and NotAction/],
    ["no Resource", ok([{ Effect: "Allow", Action: "iot:Publish" }]), /Statement\[0\]\.Resource: missing/],
    ["empty Resource list", ok([{ Effect: "Allow", Action: "iot:Publish", Resource: [] }]), /Resource: must not be empty/],
    ["non-string Resource", ok([{ Effect: "Allow", Action: "iot:Publish", Resource: [42] }]), /Resource\[0\]: must be a string/],
    ["bare topic as Resource", ok([{ Effect: "Allow", Action: "iot:Publish", Resource: ordersOf("x") }]), /is not "\*" or an ARN/],
    ["truncated ARN", ok([{ Effect: "Allow", Action: "iot:Publish", Resource: "arn:aws:iot:us-east-1" }]), /not a complete ARN/],
    ["Principal", ok([{ Effect: "Allow", Principal: "*", Action: "iot:Publish", Resource: "*" }]), /Principal: not allowed in AWS IoT policies/],
    ["unknown statement key", ok([{ Effect: "Allow", Action: "iot:Publish", Resource: "*", Resources: "*" }]), /Statement\[0\]\.Resources: unknown element/],
    ["unsupported operator", ok([{ ...allowPublish, Condition: { IpAddress: { "aws:SourceIp": "10.0.0.0/8" } } }]), /unsupported condition operator "IpAddress"/],
    ["Bool with a non-boolean", ok([{ ...allowPublish, Condition: { Bool: { "iot:Connection.Thing.IsAttached": "yes" } } }]), /Bool takes "true" or "false"/],
    ["condition value object", ok([{ ...allowPublish, Condition: { StringEquals: { "iot:ClientId": { a: 1 } } } }]), /must be a string/],
    ["unterminated variable", ok([{ Effect: "Allow", Action: "iot:Publish", Resource: "arn:aws:iot:*:*:topic/${iot:ClientId" }]), /unterminated policy variable/],
    ["variable default value", ok([{ Effect: "Allow", Action: "iot:Publish", Resource: "arn:aws:iot:*:*:topic/${iot:ClientId, 'x'}" }]), /defaults .* are not supported/],
  ];
  it.each(cases)("%s", (_name, input, message) => {
    expect(() => parsePolicy(input as string, "bad.json")).toThrow(PolicyParseError);
    expect(() => parsePolicy(input as string, "bad.json")).toThrow(message);
  });
});

describe("parsePolicy: warnings for probable mistakes", () => {
  const warningsOf = (statement: unknown) => parsePolicy(ok(statement), "w.json").warnings.join("\n");

  it("MQTT wildcards in a Deny (Device Defender's POLICY_CONTAINS_MQTT_WILDCARDS_IN_DENY_STATEMENT)", () => {
    expect(warningsOf({ Effect: "Deny", Action: "iot:Subscribe", Resource: "arn:aws:iot:*:*:topicfilter/a/#" })).toMatch(/literal characters/);
  });
  it("+ or # in a topic resource never matches", () => {
    expect(warningsOf({ Effect: "Allow", Action: "iot:Publish", Resource: "arn:aws:iot:*:*:topic/a/+" })).toMatch(/never matches/);
  });
  it("an unknown variable such as the docs' ${iot:Thing.ThingName}", () => {
    expect(warningsOf({ Effect: "Allow", Action: "iot:Publish", Resource: "arn:aws:iot:*:*:topic/${iot:Thing.ThingName}/*" })).toMatch(/\$\{iot:Thing\.ThingName\}.*never match/);
  });
  it("an unknown condition key", () => {
    expect(warningsOf({ ...allowPublish, Condition: { StringEquals: { "aws:SourceIp": "1.2.3.4" } } })).toMatch(/treated as absent/);
  });
  it("an unknown iot action", () => {
    expect(warningsOf({ Effect: "Allow", Action: "iot:Pubish", Resource: "*" })).toMatch(/iot:Pubish.*matches only itself/);
  });
  it("Publish against topicfilter resources only", () => {
    expect(warningsOf({ Effect: "Allow", Action: "iot:Publish", Resource: "arn:aws:iot:*:*:topicfilter/a" })).toMatch(/iot:publish is checked against "topic\/…"/);
  });
  it("over AWS's 2048-character limit", () => {
    const many = Array.from({ length: 60 }, (_, i) => `arn:aws:iot:us-east-1:123456789012:topic/some/long/topic/${i}`);
    expect(parsePolicy(ok({ Effect: "Allow", Action: "iot:Publish", Resource: many })).warnings.join()).toMatch(/2048/);
  });
  it("no warnings for the product policies' shapes", () => {
    expect(warningsOf({ Effect: "Allow", Action: "iot:Subscribe", Resource: "arn:aws:iot:*:*:topicfilter/pizza/orders/+" })).toBe("");
  });
});
