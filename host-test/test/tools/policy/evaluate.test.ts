// Table-driven decisions of the AWS IoT policy evaluator. Most policies are copied from AWS's own
// documentation (the page is named above each one); expected results are what those pages say.
import { describe, expect, it } from "vitest";
import {
  type ConnectionContext,
  type NamedPolicy,
  type PolicyConfig,
  evaluate,
  parsePolicy,
  resourceArn,
} from "../../../../tools/policy/evaluate";

type Doc = Record<string, unknown>;
const V = "2012-10-17";
const ARN = "arn:aws:iot:us-east-1:123456789012";
const CFG: PolicyConfig = { region: "us-east-1", account: "123456789012" };

// --- AWS IoT Developer Guide, "Publish/Subscribe policy examples" (pub-sub-policy.html), Registered devices (5)
const regPublishPrefix: Doc = {
  Version: V,
  Statement: [
    { Effect: "Allow", Action: ["iot:Connect"], Resource: [`${ARN}:client/\${iot:Connection.Thing.ThingName}`] },
    { Effect: "Allow", Action: ["iot:Publish"], Resource: [`${ARN}:topic/\${iot:Connection.Thing.ThingName}/*`] },
  ],
};
// --- same page, Unregistered devices (5)
const unregPublishPrefix: Doc = {
  Version: V,
  Statement: [
    {
      Effect: "Allow",
      Action: ["iot:Connect"],
      Resource: [`${ARN}:client/client1`, `${ARN}:client/client2`, `${ARN}:client/client3`],
    },
    { Effect: "Allow", Action: ["iot:Publish"], Resource: [`${ARN}:topic/\${iot:ClientId}/*`] },
  ],
};
// --- same page, Registered devices (6): subscribe to <thing>/room*, receive on <thing>/room*
const regRoomSubscribe: Doc = {
  Version: V,
  Statement: [
    { Effect: "Allow", Action: ["iot:Connect"], Resource: [`${ARN}:client/\${iot:Connection.Thing.ThingName}`] },
    { Effect: "Allow", Action: ["iot:Subscribe"], Resource: [`${ARN}:topicfilter/\${iot:Connection.Thing.ThingName}/room*`] },
    { Effect: "Allow", Action: ["iot:Receive"], Resource: [`${ARN}:topic/\${iot:Connection.Thing.ThingName}/room*`] },
  ],
};
// --- same page, Registered devices (4): "+" is literal, only the filter some/+/topic itself is allowed
const regLiteralPlus: Doc = {
  Version: V,
  Statement: [
    { Effect: "Allow", Action: ["iot:Connect"], Resource: [`${ARN}:client/\${iot:Connection.Thing.ThingName}`] },
    { Effect: "Allow", Action: ["iot:Subscribe"], Resource: [`${ARN}:topicfilter/some/+/topic`] },
  ],
};
// --- same page, Unregistered devices (9): publish under <clientId>/ except <clientId>/bar (Deny wins)
const unregDenyBar: Doc = {
  Version: V,
  Statement: [
    { Effect: "Allow", Action: ["iot:Connect"], Resource: [`${ARN}:client/client1`, `${ARN}:client/client2`] },
    { Effect: "Allow", Action: ["iot:Publish"], Resource: [`${ARN}:topic/\${iot:ClientId}/*`] },
    { Effect: "Deny", Action: ["iot:Publish"], Resource: [`${ARN}:topic/\${iot:ClientId}/bar`] },
  ],
};
// --- same page, Receive policy examples, Registered devices (11): subscribe and receive my/topic
const regReceiveMyTopic: Doc = {
  Version: V,
  Statement: [
    { Effect: "Allow", Action: ["iot:Connect"], Resource: [`${ARN}:client/\${iot:Connection.Thing.ThingName}`] },
    { Effect: "Allow", Action: ["iot:Subscribe"], Resource: [`${ARN}:topicfilter/my/topic`] },
    { Effect: "Allow", Action: ["iot:Receive"], Resource: [`${ARN}:topic/my/topic`] },
  ],
};
// --- same page (older revision): "allows the certificate holder to publish to all topics and subscribe to
// all topic filters in the AWS account"
const iotStar: Doc = { Version: V, Statement: [{ Effect: "Allow", Action: ["iot:*"], Resource: ["*"] }] };

// --- AWS IoT Developer Guide, "Thing policy examples" (thing-policy-examples.html): connect only when the
// certificate is attached to the thing
const thingIsAttached: Doc = {
  Version: V,
  Statement: [
    {
      Effect: "Allow",
      Action: ["iot:Connect"],
      Resource: ["*"],
      Condition: { Bool: { "iot:Connection.Thing.IsAttached": ["true"] } },
    },
  ],
};
// --- same page: publish when the thing has a type and an attribute value
const thingTypeAndAttribute: Doc = {
  Version: V,
  Statement: [
    {
      Effect: "Allow",
      Action: ["iot:Publish"],
      Resource: `${ARN}:topic/device/stats`,
      Condition: {
        StringEquals: {
          "iot:Connection.Thing.Attributes[attributeName]": "attributeValue",
          "iot:Connection.Thing.ThingTypeName": "Thing_Type_Name",
        },
        Bool: { "iot:Connection.Thing.IsAttached": "true" },
      },
    },
  ],
};

// --- AWS IoT Developer Guide, "Basic AWS IoT Core policy variables" (basic-policy-variables.html). Note the
// example's account id 123451234510 differs from the other pages'.
const basicClientId: Doc = {
  Version: V,
  Statement: [
    { Effect: "Allow", Action: ["iot:Connect"], Resource: ["arn:aws:iot:us-east-1:123451234510:client/${iot:ClientId}"] },
    { Effect: "Allow", Action: ["iot:Publish"], Resource: ["arn:aws:iot:us-east-1:123451234510:topic/my/topic/${iot:ClientId}"] },
  ],
};
// --- same page: the documented pitfall: a client whose id is "+" may subscribe to the filter my/+/topic
const basicClientIdFilter: Doc = {
  Version: V,
  Statement: [{ Effect: "Allow", Action: ["iot:Subscribe"], Resource: [`${ARN}:topicfilter/my/\${iot:ClientId}/topic`] }],
};

// --- AWS IoT Developer Guide, "Certificate policy examples" (certificate-policy-examples.html), registered
// devices (13): publish to a topic named like the certificate's subject CN; (12) named like the certificate id
const certCommonName: Doc = {
  Version: V,
  Statement: [
    { Effect: "Allow", Action: ["iot:Publish"], Resource: [`${ARN}:topic/\${iot:Certificate.Subject.CommonName}`] },
    { Effect: "Allow", Action: ["iot:Connect"], Resource: [`${ARN}:client/\${iot:Connection.Thing.ThingName}`] },
  ],
};
const certId: Doc = {
  Version: V,
  Statement: [
    { Effect: "Allow", Action: ["iot:Publish"], Resource: [`${ARN}:topic/\${iot:CertificateId}`] },
    { Effect: "Allow", Action: ["iot:Connect"], Resource: [`${ARN}:client/\${iot:Connection.Thing.ThingName}`] },
  ],
};

// --- AWS IoT Device Defender, "AWS IoT policy potentially misconfigured" (audit-chk-iot-misconfigured-policies.html):
// the Deny means to block building/control_room/# but "#" is literal, so building/control_room/data1 is allowed.
const defenderLiteralHash: Doc = {
  Version: V,
  Statement: [
    { Effect: "Allow", Action: "iot:Subscribe", Resource: "arn:aws:iot:us-east-1:111122223333:topicfilter/building/*" },
    { Effect: "Deny", Action: "iot:Subscribe", Resource: "arn:aws:iot:us-east-1:111122223333:topicfilter/building/control_room/#" },
    { Effect: "Allow", Action: "iot:Receive", Resource: "arn:aws:iot:us-east-1:111122223333:topic/building/*" },
  ],
};
// Same page, second example (policy reconstructed from its prose): denying topicfilter/building/control_room/*
// does not stop the filter building/#, and Receive then delivers building/control_room/data1.
const defenderBroadFilter: Doc = {
  Version: V,
  Statement: [
    { Effect: "Allow", Action: "iot:Subscribe", Resource: "arn:aws:iot:us-east-1:111122223333:topicfilter/building/*" },
    { Effect: "Deny", Action: "iot:Subscribe", Resource: "arn:aws:iot:us-east-1:111122223333:topicfilter/building/control_room/*" },
    { Effect: "Allow", Action: "iot:Receive", Resource: "arn:aws:iot:us-east-1:111122223333:topic/building/*" },
  ],
};
const DEFENDER_CFG: PolicyConfig = { region: "us-east-1", account: "111122223333" };

// --- Our own cases for the remaining grammar.
const questionMark: Doc = { Version: V, Statement: { Effect: "Allow", Action: "iot:Publish", Resource: `${ARN}:topic/room/????/temp` } };
const actionWildcard: Doc = { Version: V, Statement: { Effect: "Allow", Action: "iot:Pub*", Resource: "*" } };
const notActionDoc: Doc = { Version: V, Statement: { Effect: "Allow", NotAction: "iot:Publish", Resource: "*" } };
const notResourceDoc: Doc = { Version: V, Statement: { Effect: "Deny", Action: "iot:Publish", NotResource: `${ARN}:topic/public/*` } };
const conditionOps: Doc = {
  Version: V,
  Statement: [
    { Sid: "ConnectUnlessBanned", Effect: "Allow", Action: "iot:Connect", Resource: "*", Condition: { StringNotEquals: { "iot:ClientId": ["banned-1", "banned-2"] } } },
    { Sid: "PublishIfCnLike", Effect: "Allow", Action: "iot:Publish", Resource: "*", Condition: { StringLike: { "iot:Certificate.Subject.CommonName": "pizza-*" } } },
    { Sid: "SubscribeIfClientIsThing", Effect: "Allow", Action: "iot:Subscribe", Resource: "*", Condition: { StringEquals: { "iot:ClientId": "${iot:Connection.Thing.ThingName}" } } },
    { Sid: "ReceiveIfTypeMatchesOrNoThing", Effect: "Allow", Action: "iot:Receive", Resource: "*", Condition: { StringEqualsIfExists: { "iot:Connection.Thing.ThingTypeName": "button" } } },
  ],
};
const allowAll: Doc = { Version: V, Statement: { Sid: "All", Effect: "Allow", Action: "iot:*", Resource: "*" } };
const denyPublish: Doc = { Version: V, Statement: { Sid: "NoPublish", Effect: "Deny", Action: "iot:Publish", Resource: "*" } };
const nullCondition: Doc = {
  Version: V,
  Statement: { Effect: "Deny", Action: "iot:*", Resource: "*", Condition: { Null: { "iot:Certificate.Subject.CommonName": "true" } } },
};

const thing = (name: string, extra: Partial<NonNullable<ConnectionContext["thing"]>> = {}): ConnectionContext => ({
  clientId: name,
  thing: { name, ...extra },
  commonName: name,
});
const unattached = (clientId: string): ConnectionContext => ({ clientId, commonName: clientId });

interface Case {
  name: string;
  policies: Doc[];
  ctx: ConnectionContext;
  action: string;
  resource: string;
  allow: boolean;
  /** [policy index, statement index] of the deciding statement; omitted = implicit deny. */
  by?: [number, number];
  config?: PolicyConfig;
}

const cases: Case[] = [
  // pub-sub-policy, Registered devices (5)
  { name: "thing connects with its own name as client id", policies: [regPublishPrefix], ctx: thing("thing1"), action: "iot:Connect", resource: "thing1", allow: true, by: [0, 0] },
  { name: "client id of a thing the certificate is not attached to", policies: [regPublishPrefix], ctx: unattached("thing2"), action: "iot:Connect", resource: "thing2", allow: false },
  { name: "thing publishes under its own prefix", policies: [regPublishPrefix], ctx: thing("thing1"), action: "iot:Publish", resource: "thing1/telemetry", allow: true, by: [0, 1] },
  { name: "thing publishes under another thing's prefix", policies: [regPublishPrefix], ctx: thing("thing1"), action: "iot:Publish", resource: "thing2/telemetry", allow: false },
  { name: "prefix/* does not match the bare prefix", policies: [regPublishPrefix], ctx: thing("thing1"), action: "iot:Publish", resource: "thing1", allow: false },
  { name: "ThingName unresolved when not attached: publish denied", policies: [regPublishPrefix], ctx: unattached("thing1"), action: "iot:Publish", resource: "thing1/telemetry", allow: false },
  // pub-sub-policy, Unregistered devices (5)
  { name: "listed client id may connect", policies: [unregPublishPrefix], ctx: unattached("client2"), action: "iot:Connect", resource: "client2", allow: true, by: [0, 0] },
  { name: "unlisted client id may not connect", policies: [unregPublishPrefix], ctx: unattached("client4"), action: "iot:Connect", resource: "client4", allow: false },
  { name: "* spans topic levels", policies: [unregPublishPrefix], ctx: unattached("client1"), action: "iot:Publish", resource: "client1/a/b/c", allow: true, by: [0, 1] },
  // pub-sub-policy, Registered devices (6): iot:Subscribe vs iot:Receive
  { name: "subscribe to own room filter", policies: [regRoomSubscribe], ctx: thing("thing1"), action: "iot:Subscribe", resource: "thing1/room1", allow: true, by: [0, 1] },
  { name: "MQTT + in a requested filter is not matched by room*", policies: [regRoomSubscribe], ctx: thing("thing1"), action: "iot:Subscribe", resource: "thing1/+", allow: false },
  { name: "receive on own room topic", policies: [regRoomSubscribe], ctx: thing("thing1"), action: "iot:Receive", resource: "thing1/room7", allow: true, by: [0, 2] },
  { name: "subscribe outside the room filter", policies: [regRoomSubscribe], ctx: thing("thing1"), action: "iot:Subscribe", resource: "thing1/kitchen", allow: false },
  { name: "Subscribe/Receive rights do not grant Publish", policies: [regRoomSubscribe], ctx: thing("thing1"), action: "iot:Publish", resource: "thing1/room1", allow: false },
  // pub-sub-policy, Registered devices (4): + is literal
  { name: "literal filter some/+/topic may be subscribed", policies: [regLiteralPlus], ctx: thing("thing1"), action: "iot:Subscribe", resource: "some/+/topic", allow: true, by: [0, 1] },
  { name: "a filter that some/+/topic would match in MQTT is denied", policies: [regLiteralPlus], ctx: thing("thing1"), action: "iot:Subscribe", resource: "some/x/topic", allow: false },
  { name: "Subscribe right alone does not grant Receive", policies: [regLiteralPlus], ctx: thing("thing1"), action: "iot:Receive", resource: "some/x/topic", allow: false },
  // pub-sub-policy, Unregistered devices (9): explicit Deny overrides Allow
  { name: "publish under own prefix", policies: [unregDenyBar], ctx: unattached("client1"), action: "iot:Publish", resource: "client1/foo", allow: true, by: [0, 1] },
  { name: "explicit Deny of <clientId>/bar wins over the Allow", policies: [unregDenyBar], ctx: unattached("client1"), action: "iot:Publish", resource: "client1/bar", allow: false, by: [0, 2] },
  { name: "the Deny is exact: <clientId>/bar/baz stays allowed", policies: [unregDenyBar], ctx: unattached("client1"), action: "iot:Publish", resource: "client1/bar/baz", allow: true, by: [0, 1] },
  // pub-sub-policy, Receive policy examples (11)
  { name: "receive on my/topic", policies: [regReceiveMyTopic], ctx: thing("thing1"), action: "iot:Receive", resource: "my/topic", allow: true, by: [0, 2] },
  { name: "topicfilter resource does not grant Receive on another topic", policies: [regReceiveMyTopic], ctx: thing("thing1"), action: "iot:Receive", resource: "my/other", allow: false },
  // pub-sub-policy, iot:* on *
  { name: "iot:* with Resource * allows subscribe", policies: [iotStar], ctx: unattached("anyone"), action: "iot:Subscribe", resource: "#", allow: true, by: [0, 0] },
  // thing-policy-examples: IsAttached
  { name: "IsAttached true: connect allowed", policies: [thingIsAttached], ctx: thing("thing1"), action: "iot:Connect", resource: "thing1", allow: true, by: [0, 0] },
  { name: "IsAttached false: connect denied", policies: [thingIsAttached], ctx: unattached("thing1"), action: "iot:Connect", resource: "thing1", allow: false },
  // thing-policy-examples: thing type and attribute
  { name: "thing type and attribute both match", policies: [thingTypeAndAttribute], ctx: thing("t", { typeName: "Thing_Type_Name", attributes: { attributeName: "attributeValue" } }), action: "iot:Publish", resource: "device/stats", allow: true, by: [0, 0] },
  { name: "wrong thing type", policies: [thingTypeAndAttribute], ctx: thing("t", { typeName: "Other", attributes: { attributeName: "attributeValue" } }), action: "iot:Publish", resource: "device/stats", allow: false },
  { name: "missing attribute makes StringEquals false", policies: [thingTypeAndAttribute], ctx: thing("t", { typeName: "Thing_Type_Name" }), action: "iot:Publish", resource: "device/stats", allow: false },
  // basic-policy-variables: account of the policy vs configuration
  { name: "policy for another account does not match our account", policies: [basicClientId], ctx: unattached("c1"), action: "iot:Publish", resource: "my/topic/c1", allow: false },
  { name: "configured account * accepts the policy's account", policies: [basicClientId], ctx: unattached("c1"), action: "iot:Publish", resource: "my/topic/c1", allow: true, by: [0, 1], config: { region: "us-east-1", account: "*" } },
  { name: "matching configured account", policies: [basicClientId], ctx: unattached("c1"), action: "iot:Publish", resource: "my/topic/c1", allow: true, by: [0, 1], config: { region: "us-east-1", account: "123451234510" } },
  { name: "configured region differs from the policy's", policies: [basicClientId], ctx: unattached("c1"), action: "iot:Publish", resource: "my/topic/c1", allow: false, config: { region: "eu-west-1", account: "123451234510" } },
  { name: "documented pitfall: client id '+' may subscribe to my/+/topic", policies: [basicClientIdFilter], ctx: unattached("+"), action: "iot:Subscribe", resource: "my/+/topic", allow: true, by: [0, 0] },
  { name: "ordinary client may not subscribe to my/+/topic", policies: [basicClientIdFilter], ctx: unattached("c1"), action: "iot:Subscribe", resource: "my/+/topic", allow: false },
  { name: "a client id with * is substituted literally, not as a wildcard", policies: [basicClientIdFilter], ctx: unattached("*"), action: "iot:Subscribe", resource: "my/anything/topic", allow: false },
  // certificate-policy-examples
  { name: "publish to topic named like the certificate CN", policies: [certCommonName], ctx: { clientId: "t", thing: { name: "t" }, commonName: "sensor-7" }, action: "iot:Publish", resource: "sensor-7", allow: true, by: [0, 0] },
  { name: "no CN: the variable is unresolved", policies: [certCommonName], ctx: { clientId: "t", thing: { name: "t" } }, action: "iot:Publish", resource: "sensor-7", allow: false },
  { name: "publish to topic named like the certificate id", policies: [certId], ctx: { clientId: "t", certificateId: "a0c01f58" }, action: "iot:Publish", resource: "a0c01f58", allow: true, by: [0, 0] },
  // Device Defender: MQTT wildcards in Deny statements
  { name: "Deny with literal # does not stop building/control_room/data1", policies: [defenderLiteralHash], ctx: unattached("d"), action: "iot:Subscribe", resource: "building/control_room/data1", allow: true, by: [0, 0], config: DEFENDER_CFG },
  { name: "Deny with literal # only stops the filter building/control_room/#", policies: [defenderLiteralHash], ctx: unattached("d"), action: "iot:Subscribe", resource: "building/control_room/#", allow: false, by: [0, 1], config: DEFENDER_CFG },
  { name: "Deny of control_room/* does not stop the filter building/#", policies: [defenderBroadFilter], ctx: unattached("d"), action: "iot:Subscribe", resource: "building/#", allow: true, by: [0, 0], config: DEFENDER_CFG },
  { name: "…and Receive then delivers control_room messages", policies: [defenderBroadFilter], ctx: unattached("d"), action: "iot:Receive", resource: "building/control_room/data1", allow: true, by: [0, 2], config: DEFENDER_CFG },
  { name: "Deny of control_room/* stops a direct control_room subscription", policies: [defenderBroadFilter], ctx: unattached("d"), action: "iot:Subscribe", resource: "building/control_room/x", allow: false, by: [0, 1], config: DEFENDER_CFG },
  // Grammar: ? wildcard, action wildcards, NotAction, NotResource, conditions, several policies
  { name: "? matches exactly one character", policies: [questionMark], ctx: unattached("c"), action: "iot:Publish", resource: "room/1234/temp", allow: true, by: [0, 0] },
  { name: "? does not match two characters or none", policies: [questionMark], ctx: unattached("c"), action: "iot:Publish", resource: "room/12345/temp", allow: false },
  { name: "action wildcard iot:Pub* matches iot:Publish", policies: [actionWildcard], ctx: unattached("c"), action: "iot:Publish", resource: "x", allow: true, by: [0, 0] },
  { name: "action names are case-insensitive", policies: [actionWildcard], ctx: unattached("c"), action: "IOT:PUBLISH", resource: "arn:aws:iot:us-east-1:123456789012:topic/x", allow: true, by: [0, 0] },
  { name: "action wildcard iot:Pub* does not match iot:Subscribe", policies: [actionWildcard], ctx: unattached("c"), action: "iot:Subscribe", resource: "x", allow: false },
  { name: "NotAction: everything but Publish is allowed", policies: [notActionDoc], ctx: unattached("c"), action: "iot:Subscribe", resource: "x", allow: true, by: [0, 0] },
  { name: "NotAction: Publish is not allowed", policies: [notActionDoc], ctx: unattached("c"), action: "iot:Publish", resource: "x", allow: false },
  { name: "NotResource Deny hits topics outside public/", policies: [allowAll, notResourceDoc], ctx: unattached("c"), action: "iot:Publish", resource: "private/x", allow: false, by: [1, 0] },
  { name: "NotResource Deny leaves public/ alone", policies: [allowAll, notResourceDoc], ctx: unattached("c"), action: "iot:Publish", resource: "public/x", allow: true, by: [0, 0] },
  { name: "StringNotEquals with a list: ordinary client connects", policies: [conditionOps], ctx: unattached("good"), action: "iot:Connect", resource: "good", allow: true, by: [0, 0] },
  { name: "StringNotEquals with a list: listed client denied", policies: [conditionOps], ctx: unattached("banned-2"), action: "iot:Connect", resource: "banned-2", allow: false },
  { name: "StringLike on the CN", policies: [conditionOps], ctx: thing("pizza-button-01"), action: "iot:Publish", resource: "t", allow: true, by: [0, 1] },
  { name: "StringLike on the CN: no match", policies: [conditionOps], ctx: thing("restaurant"), action: "iot:Publish", resource: "t", allow: false },
  { name: "variable in a condition value, resolved", policies: [conditionOps], ctx: thing("pizza-button-01"), action: "iot:Subscribe", resource: "f", allow: true, by: [0, 2] },
  { name: "variable in a condition value, unresolved: statement does not apply", policies: [conditionOps], ctx: unattached("pizza-button-01"), action: "iot:Subscribe", resource: "f", allow: false },
  { name: "IfExists: absent key passes", policies: [conditionOps], ctx: unattached("c"), action: "iot:Receive", resource: "t", allow: true, by: [0, 3] },
  { name: "IfExists: present key must match", policies: [conditionOps], ctx: thing("c", { typeName: "lamp" }), action: "iot:Receive", resource: "t", allow: false },
  { name: "Deny in a second policy overrides Allow in the first", policies: [allowAll, denyPublish], ctx: unattached("c"), action: "iot:Publish", resource: "t", allow: false, by: [1, 0] },
  { name: "…but only for the action it names", policies: [allowAll, denyPublish], ctx: unattached("c"), action: "iot:Subscribe", resource: "t", allow: true, by: [0, 0] },
  { name: "Null condition: Deny when the CN is absent", policies: [allowAll, nullCondition], ctx: { clientId: "c" }, action: "iot:Connect", resource: "c", allow: false, by: [1, 0] },
  { name: "Null condition: no Deny when the CN is present", policies: [allowAll, nullCondition], ctx: { clientId: "c", commonName: "c" }, action: "iot:Connect", resource: "c", allow: true, by: [0, 0] },
  { name: "no policy at all: implicit deny", policies: [], ctx: thing("t"), action: "iot:Connect", resource: "t", allow: false },
];

const named = (docs: Doc[]): NamedPolicy[] => docs.map((d, i) => ({ name: `p${i}`, policy: parsePolicy(JSON.stringify(d), `p${i}`) }));

describe("evaluate: table of decisions", () => {
  it("has at least 30 decisions", () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)("$name", (c) => {
    const d = evaluate(named(c.policies), { action: c.action, resource: c.resource }, c.ctx, c.config ?? CFG);
    expect(d.allow, d.reason).toBe(c.allow);
    if (c.by) {
      expect(d.decidingStatement).toMatchObject({ policy: `p${c.by[0]}`, index: c.by[1] });
      expect(d.reason).toContain(`p${c.by[0]} Statement[${c.by[1]}]`);
    } else {
      expect(d.decidingStatement).toBeUndefined();
      expect(d.reason).toMatch(/implicitly denied/);
    }
  });
});

describe("evaluate: reasons and traces", () => {
  it("names the Sid of the deciding statement", () => {
    const d = evaluate(named([allowAll, denyPublish]), { action: "iot:Publish", resource: "t" }, unattached("c"), CFG);
    expect(d.decidingStatement).toEqual({ policy: "p1", index: 0, sid: "NoPublish" });
    expect(d.reason).toBe(`iot:Publish on ${ARN}:topic/t denied by p1 Statement[0] (Sid "NoPublish") (explicit Deny)`);
  });

  it("hints at an unattached certificate when thing variables did not resolve", () => {
    const d = evaluate(named([regPublishPrefix]), { action: "iot:Publish", resource: "thing1/x" }, unattached("thing1"), CFG);
    expect(d.reason).toContain("${iot:Connection.Thing.ThingName}");
    expect(d.reason).toContain("attached");
  });

  it("traces every statement with why it applied or not", () => {
    const d = evaluate(named([unregDenyBar]), { action: "iot:Publish", resource: "client1/bar" }, unattached("client1"), CFG, { trace: true });
    expect(d.trace?.map((t) => [t.index, t.applies])).toEqual([[0, false], [1, true], [2, true]]);
    expect(d.trace?.[0]?.why).toMatch(/Action does not include/);
  });

  it("builds the ARN each MQTT action is checked against", () => {
    expect(resourceArn("iot:Connect", "c1", CFG)).toBe(`${ARN}:client/c1`);
    expect(resourceArn("iot:Publish", "a/b", CFG)).toBe(`${ARN}:topic/a/b`);
    expect(resourceArn("iot:Receive", "a/b", CFG)).toBe(`${ARN}:topic/a/b`);
    expect(resourceArn("iot:Subscribe", "a/+", CFG)).toBe(`${ARN}:topicfilter/a/+`);
    expect(() => resourceArn("iot:GetThingShadow", "x", CFG)).toThrow(/full ARN/);
  });

  it("a variable inside the region field is matched against the whole ARN", () => {
    const doc: Doc = { Version: V, Statement: { Effect: "Allow", Action: "iot:Publish", Resource: "arn:aws:iot:${iot:ClientId}:123456789012:topic/x" } };
    expect(evaluate(named([doc]), { action: "iot:Publish", resource: "x" }, unattached("us-east-1"), CFG).allow).toBe(true);
    expect(evaluate(named([doc]), { action: "iot:Publish", resource: "x" }, unattached("eu-west-1"), CFG).allow).toBe(false);
  });
});
