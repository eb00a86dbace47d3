import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { ClientIdentity } from "../../../../services/broker/authorizer";
import { type PolicyDecisionEvent, policyAuthorizer } from "../../../../services/broker/policy-authorizer";
import { ALL_ACKS, acksOf, ordersOf } from "../../support/topics";

const policyDir = fileURLToPath(new URL("../../../../services/policies/", import.meta.url));
const device = { name: "device", document: readFileSync(policyDir + "device.json", "utf8") };
const FP = "AB:CD:EF:01";

const identity = (name: string, fingerprint256 = FP): ClientIdentity => ({ clientId: name, commonName: name, thingName: name, fingerprint256 });

function setup(initial: { name: string; document: string | object }[], attached = true) {
  let policies = initial;
  const asked: string[] = [];
  const events: PolicyDecisionEvent[] = [];
  const authz = policyAuthorizer({
    policiesFor: (thing) => {
      asked.push(thing);
      return policies;
    },
    isAttached: (thing, fp) => attached && thing === "pizza-button-01" && fp === FP,
    region: "us-east-1",
    account: "123456789012",
    log: (e) => events.push(e),
  });
  return { authz, asked, events, set: (p: typeof policies) => (policies = p) };
}

describe("policyAuthorizer", () => {
  it("maps connect/publish/subscribe/receive to iot:Connect/Publish/Subscribe/Receive", () => {
    const { authz, events } = setup([device]);
    const id = identity("pizza-button-01");
    expect(authz.connect(id)).toEqual({ allow: true, reason: expect.stringMatching(/iot:Connect on arn:aws:iot:us-east-1:123456789012:client\/pizza-button-01 allowed by device Statement\[0\] \(Sid "ConnectAsOwnThing"\)/) });
    expect(authz.publish(id, ordersOf("pizza-button-01")).allow).toBe(true);
    expect(authz.publish(id, ordersOf("pizza-button-02")).allow).toBe(false);
    expect(authz.subscribe(id, acksOf("pizza-button-01")).allow).toBe(true);
    expect(authz.subscribe(id, ALL_ACKS).allow).toBe(false);
    expect(authz.receive(id, acksOf("pizza-button-01")).allow).toBe(true);
    expect(authz.receive(id, acksOf("pizza-button-02")).allow).toBe(false);
    expect(events.map((e) => e.action)).toEqual(["iot:Connect", "iot:Publish", "iot:Publish", "iot:Subscribe", "iot:Subscribe", "iot:Receive", "iot:Receive"]);
    expect(events[1]).toMatchObject({ allow: true, policy: "device", statement: 1, sid: "PublishOwnOrders", resource: ordersOf("pizza-button-01") });
    expect(events[2]).toMatchObject({ allow: false, resource: ordersOf("pizza-button-02") });
    expect(events[2]!.policy).toBeUndefined();
  });

  it("IsAttached comes from isAttached(clientId, fingerprint)", () => {
    expect(setup([device], false).authz.connect(identity("pizza-button-01")).allow).toBe(false);
    expect(setup([device]).authz.connect(identity("pizza-button-01", "00:11")).allow).toBe(false);
  });

  it("loads policies at CONNECT and keeps them for that connection; the next connection sees changes", () => {
    const { authz, asked, set } = setup([device]);
    const first = identity("pizza-button-01");
    expect(authz.connect(first).allow).toBe(true);
    set([device, { name: "deny", document: { Version: "2012-10-17", Statement: { Effect: "Deny", Action: "iot:Publish", Resource: "*" } } }]);
    expect(authz.publish(first, ordersOf("pizza-button-01")).allow).toBe(true);
    expect(asked).toHaveLength(1);

    const second = identity("pizza-button-01");
    expect(authz.connect(second).allow).toBe(true);
    expect(authz.publish(second, ordersOf("pizza-button-01"))).toEqual({ allow: false, reason: expect.stringMatching(/denied by deny Statement\[0\]/) });
    expect(asked).toHaveLength(2);
  });

  it("fails closed when a policy is invalid or cannot be loaded", () => {
    const broken = setup([device, { name: "broken", document: "{ not json" }]);
    const d = broken.authz.connect(identity("pizza-button-01"));
    expect(d.allow).toBe(false);
    expect(d.reason).toMatch(/policies of pizza-button-01 could not be loaded: broken: not valid JSON/);

    const throwing = policyAuthorizer({
      policiesFor: () => {
        throw new Error("disk on fire");
      },
      isAttached: () => true,
      region: "*",
      account: "*",
    });
    expect(throwing.connect(identity("pizza-button-01"))).toEqual({ allow: false, reason: expect.stringMatching(/disk on fire/) });
    expect(throwing.publish(identity("x"), "t").allow).toBe(false);
  });

  it("no attached policy: denied, with what to do", () => {
    const registered = setup([]).authz.connect(identity("pizza-button-01"));
    expect(registered).toEqual({ allow: false, reason: expect.stringMatching(/implicitly denied: no policy is attached; attach one: npm run pki -- policy attach services\/policies\/device.json pizza-button-01$/) });
    // A certificate from a registered CA whose thing was never recorded: say that thing register is missing.
    const unregistered = setup([], false).authz.connect(identity("pizza-button-01"));
    expect(unregistered.allow).toBe(false);
    expect(unregistered.reason).toMatch(/no policy is attached; thing pizza-button-01 is not registered: .*npm run pki -- thing register pizza-button-01 --cert/);
    // Policies attached, but to another certificate of that thing: the denial says how to record this one.
    const notAttached = setup([device], false).authz.connect(identity("pizza-button-01"));
    expect(notAttached.allow).toBe(false);
    expect(notAttached.reason).toMatch(/this certificate is not recorded for thing pizza-button-01: .*thing register pizza-button-01 --cert/);
  });
});
