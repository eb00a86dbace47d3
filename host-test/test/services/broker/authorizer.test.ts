import { describe, expect, it } from "vitest";
import { type ClientIdentity, isValidTopicPrefix, thingTopicAuthorizer } from "../../../../services/broker/authorizer";
import { ALL_ACKS, ALL_ORDERS, acksOf, ordersOf } from "../../support/topics";

const identity = (cn: string, clientId = cn): ClientIdentity => ({
  clientId,
  commonName: cn,
  thingName: cn,
  fingerprint256: "AA:BB",
});
const device = identity("pizza-button-01");
const restaurant = identity("restaurant");
const rules = thingTopicAuthorizer({ topicPrefix: "pizza" });

describe("thingTopicAuthorizer", () => {
  it.each([
    [device, true],
    [restaurant, true],
    [identity("pizza-button-01", "pizza-button-02"), false],
    [identity("pizza-button-01", ""), false],
    [identity("restaurant", "pizza-button-01"), false],
    // A restaurant instance has its own certificate: client id = its identity, restaurant.N.
    [identity("restaurant.2"), true],
    [identity("restaurant.2", "restaurant.3"), false],
    [identity("restaurant.2", "restaurant"), false],
    [identity("restaurant", "restaurant.2"), false],
    [identity("pizza-button-01", "restaurant.1"), false],
    [identity("restaurant.0"), false],
    [identity("renewal.1"), false],
    // A CN that is not a single plain topic level would widen the exact rules: refused.
    [identity("+"), false],
    [identity("#"), false],
    [identity("a/b"), false],
    [identity(""), false],
    [identity("pizza button"), false],
  ])("connect %o → %s", (who, allowed) => {
    expect(rules.connect(who).allow).toBe(allowed);
  });

  // Topics the contract builds come from it; the malformed ones (extra levels, wildcards, empty names) are
  // written out, since no contract function makes them.
  it.each([
    // a device publishes only its own orders topic
    [device, ordersOf("pizza-button-01"), true],
    [device, ordersOf("pizza-button-02"), false],
    [device, "pizza/orders/pizza-button-01/x", false],
    [device, ordersOf("pizza-button-0"), false],
    [device, acksOf("pizza-button-01"), false],
    [device, "pizza/orders", false],
    [device, "other/orders/pizza-button-01", false],
    [device, "$SYS/broker/new/clients", false],
    // the restaurant publishes acks to any thing, nothing else
    [restaurant, acksOf("pizza-button-01"), true],
    [restaurant, acksOf("pizza-button-02"), true],
    [restaurant, "pizza/acks/", false],
    [restaurant, "pizza/acks/a/b", false],
    [restaurant, ALL_ACKS, false],
    [restaurant, ordersOf("pizza-button-01"), false],
    [restaurant, ordersOf("restaurant"), false],
  ])("publish %s %s → %s", (who, topic, allowed) => {
    expect(rules.publish(who, topic).allow).toBe(allowed);
  });

  it.each([
    // a device subscribes to exactly its own acks topic: no wildcard, however narrow
    [device, acksOf("pizza-button-01"), true],
    [device, acksOf("pizza-button-02"), false],
    [device, ALL_ACKS, false],
    [device, "pizza/acks/#", false],
    [device, "pizza/#", false],
    [device, "#", false],
    [device, "+/acks/pizza-button-01", false],
    [device, ALL_ORDERS, false],
    [device, ordersOf("pizza-button-01"), false],
    [device, "$SYS/#", false],
    // the restaurant subscribes to exactly pizza/orders/+
    [restaurant, ALL_ORDERS, true],
    [restaurant, "pizza/orders/#", false],
    [restaurant, "pizza/#", false],
    [restaurant, "#", false],
    [restaurant, ALL_ACKS, false],
    [restaurant, "pizza/orders/+/x", false],
  ])("subscribe %s %s → %s", (who, filter, allowed) => {
    expect(rules.subscribe(who, filter).allow).toBe(allowed);
  });

  it.each([
    [device, acksOf("pizza-button-01"), true],
    [device, acksOf("pizza-button-02"), false],
    [device, ordersOf("pizza-button-01"), false],
    [restaurant, ordersOf("pizza-button-01"), true],
    [restaurant, "pizza/orders/pizza-button-01/x", false],
    [restaurant, acksOf("pizza-button-01"), false],
  ])("receive %s %s → %s", (who, topic, allowed) => {
    expect(rules.receive(who, topic).allow).toBe(allowed);
  });

  it("names the deciding rule in every decision", () => {
    expect(rules.publish(device, ordersOf("pizza-button-01"))).toEqual({ allow: true, reason: "thing publishes its own orders" });
    expect(rules.subscribe(device, "#")).toEqual({ allow: false, reason: "no matching rule" });
    expect(rules.connect(identity("pizza-button-01", "x"))).toEqual({ allow: false, reason: "client id must equal the thing name" });
  });

  it("gives a restaurant instance (restaurant.N) the restaurant's rights and nothing more", () => {
    const instance = identity("restaurant.7");
    expect(rules.subscribe(instance, ALL_ORDERS).allow).toBe(true);
    expect(rules.receive(instance, ordersOf("pizza-button-01")).allow).toBe(true);
    expect(rules.publish(instance, acksOf("pizza-button-01")).allow).toBe(true);
    expect(rules.publish(instance, ordersOf("pizza-button-01")).allow).toBe(false);
    expect(rules.subscribe(instance, ALL_ACKS).allow).toBe(false);
    expect(rules.subscribe(instance, "pizza/#").allow).toBe(false);
    expect(rules.receive(instance, acksOf("pizza-button-01")).allow).toBe(false);
  });

  it("honours a custom prefix and restaurant name", () => {
    const custom = thingTopicAuthorizer({ topicPrefix: "shop/eu", restaurantName: "kitchen-1" });
    expect(custom.publish(device, "shop/eu/orders/pizza-button-01").allow).toBe(true);
    expect(custom.publish(device, ordersOf("pizza-button-01")).allow).toBe(false);
    expect(custom.subscribe(identity("kitchen-1"), "shop/eu/orders/+").allow).toBe(true);
    // "restaurant" is an ordinary thing under this configuration
    expect(custom.subscribe(restaurant, "shop/eu/orders/+").allow).toBe(false);
    expect(custom.subscribe(restaurant, "shop/eu/acks/restaurant").allow).toBe(true);
  });

  it.each(["", "$SYS", "pizza/+", "#", "a//b", "/pizza", "pizza/"])("refuses topic prefix %j", (prefix) => {
    expect(isValidTopicPrefix(prefix)).toBe(false);
    expect(() => thingTopicAuthorizer({ topicPrefix: prefix })).toThrow(/topicPrefix/);
  });

  it("refuses a restaurant name that is not a thing name", () => {
    expect(() => thingTopicAuthorizer({ topicPrefix: "pizza", restaurantName: "+" })).toThrow(/restaurantName/);
  });
});
