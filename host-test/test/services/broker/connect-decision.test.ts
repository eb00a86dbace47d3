// The CONNECT decision over real parts: certificates issued by the project's PKI at test time, read from a
// real TLS handshake (peerFromSocket), the registry's bindings and states, and the product's authorizer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { thingTopicAuthorizer } from "../../../../services/broker/authorizer";
import { bindingRefusal, connectDecider } from "../../../../services/broker/connect-decision";
import { createTestPki, type TestPki, type ThingTls } from "./fixtures";
import { peerFor } from "./peer-fixture";

const authorizer = thingTopicAuthorizer({ topicPrefix: "pizza" });

describe("connectDecider", () => {
  let pki: TestPki;
  let other: TestPki;
  let button: ThingTls;
  let restaurant: ThingTls;
  beforeAll(async () => {
    [pki, other] = await Promise.all([createTestPki("connect"), createTestPki("connect-other")]);
    button = await pki.thing("pizza-button-01");
    restaurant = await pki.thing("restaurant");
  });
  afterAll(() => {
    pki.remove();
    other.remove();
  });

  const decider = () =>
    connectDecider({
      authorizer,
      identify: (fp) => pki.pki.certificateBinding(fp),
      thingState: (thing) => pki.pki.thingState(thing),
      certificateState: (fp) => pki.pki.certificateState(fp),
    });

  it("allows a registered certificate whose client id is its thing, and sets the identity", async () => {
    const peer = await peerFor(pki, button, { clientId: "pizza-button-01", will: undefined });
    expect(await decider()(peer)).toEqual({ allow: true, reason: "thing connects as itself" });
    expect(peer.identity).toEqual({ clientId: "pizza-button-01", commonName: "pizza-button-01", thingName: "pizza-button-01", fingerprint256: peer.fingerprint256 });
  });

  it("marks the certificate recorded as the restaurant service as a service", async () => {
    const peer = await peerFor(pki, restaurant, { clientId: "restaurant", will: undefined });
    expect((await decider()(peer)).allow).toBe(true);
    expect(peer.identity?.service).toBe(true);
  });

  it("refuses a client id that is not its thing, and leaves the identity unset", async () => {
    const peer = await peerFor(pki, button, { clientId: "pizza-button-02", will: undefined });
    expect(await decider()(peer)).toEqual({ allow: false, reason: "client id must equal certificate CN" });
    expect(peer.identity).toBeUndefined();
  });

  it("refuses a certificate the registry does not know", async () => {
    const peer = await peerFor(pki, button, { clientId: "pizza-button-01", will: undefined });
    const foreignRegistry = connectDecider({ authorizer, identify: (fp) => other.pki.certificateBinding(fp) });
    expect((await foreignRegistry(peer)).reason).toMatch(/^certificate is not registered to any thing/);
  });

  it("refuses when the registry cannot be read (fail closed)", async () => {
    const peer = await peerFor(pki, button, { clientId: "pizza-button-01", will: undefined });
    const broken = connectDecider({
      authorizer,
      identify: () => {
        throw new Error("registry.json: unexpected end of JSON input");
      },
    });
    expect(await broken(peer)).toEqual({ allow: false, reason: "thing registry unavailable: registry.json: unexpected end of JSON input" });
  });

  it("checks the will at CONNECT: the own orders topic is allowed, another thing's and a retained one are not", async () => {
    const will = (topic: string, retain = false) => peerFor(pki, button, { clientId: "pizza-button-01", will: { topic, retain } });
    expect((await decider()(await will("pizza/orders/pizza-button-01"))).allow).toBe(true);
    expect((await decider()(await will("pizza/orders/pizza-button-02"))).reason).toMatch(/^will topic pizza\/orders\/pizza-button-02 not allowed/);
    expect((await decider()(await will("$SYS/broker/x"))).reason).toBe("will topic $SYS/broker/x not allowed: topic reserved for the broker");
    expect((await decider()(await will("pizza/orders/pizza-button-01", true))).reason).toMatch(/^will topic .* not allowed: retained/);
  });

  it("refuses before any CONNECT was seen", async () => {
    expect(await decider()(await peerFor(pki, button))).toEqual({ allow: false, reason: "no CONNECT seen" });
    expect(await decider()(undefined)).toEqual({ allow: false, reason: "no CONNECT seen" });
  });

  it("refuses a thing the registry made INACTIVE, and lets it in again once ACTIVE", async () => {
    const thing = await pki.thing("pizza-button-03");
    const peer = () => peerFor(pki, thing, { clientId: "pizza-button-03", will: undefined });
    await pki.pki.setThingState("pizza-button-03", "INACTIVE");
    expect(await decider()(await peer())).toEqual({ allow: false, reason: "thing is INACTIVE" });
    await pki.pki.setThingState("pizza-button-03", "ACTIVE");
    expect((await decider()(await peer())).allow).toBe(true);
  });
});

describe("bindingRefusal", () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki("binding");
  });
  afterAll(() => pki.remove());

  it("refuses no binding, a non-ACTIVE thing, and a device certificate under a reserved service name", async () => {
    const thing = await pki.thing("pizza-button-04");
    const peer = await peerFor(pki, thing);
    const binding = pki.pki.certificateBinding(peer.fingerprint256)!;
    expect(bindingRefusal(binding)).toBeUndefined();
    expect(bindingRefusal(undefined)).toMatch(/^certificate is not registered/);
    expect(bindingRefusal({ ...binding, thingState: "REVOKED" })).toBe("thing is REVOKED");
    expect(bindingRefusal({ ...binding, thing: "restaurant" })).toMatch(/^"restaurant" is reserved for the service identity/);
  });
});
