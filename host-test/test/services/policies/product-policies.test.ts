// The policies this product ships (services/policies/), decided for the product's flows (docs/ARCHITECTURE.md).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type ConnectionContext, evaluate, parsePolicy } from "../../../../tools/policy/evaluate";
import { ALL_ACKS, ALL_ORDERS, acksOf, ordersOf } from "../../support/topics";

const dir = fileURLToPath(new URL("../../../../services/policies/", import.meta.url));
const load = (file: string) => parsePolicy(readFileSync(dir + file, "utf8"), file);
const device = { name: "device.json", policy: load("device.json") };
const restaurant = { name: "restaurant.json", policy: load("restaurant.json") };
const CFG = { region: "eu-central-1", account: "111122223333" };

const attached = (name: string): ConnectionContext => ({ clientId: name, thing: { name }, commonName: name });
const button = attached("pizza-button-01");

type Row = [string, ConnectionContext, string, string, boolean, string?];
// Topics the contract builds come from it; the ones it never builds (extra levels, `#`) are written out.
const deviceRows: Row[] = [
  ["connect as own thing", button, "iot:Connect", "pizza-button-01", true, "ConnectAsOwnThing"],
  ["connect with certificate not attached to a thing", { clientId: "pizza-button-01", commonName: "pizza-button-01" }, "iot:Connect", "pizza-button-01", false],
  ["connect as the restaurant with a button certificate", { clientId: "restaurant", commonName: "pizza-button-01" }, "iot:Connect", "restaurant", false],
  ["publish own order", button, "iot:Publish", ordersOf("pizza-button-01"), true, "PublishOwnOrders"],
  ["publish another button's order", button, "iot:Publish", ordersOf("pizza-button-02"), false],
  ["connect as a restaurant instance with a button certificate", { clientId: "restaurant.1", commonName: "pizza-button-01" }, "iot:Connect", "restaurant.1", false],
  ["publish below own orders topic", button, "iot:Publish", "pizza/orders/pizza-button-01/x", false],
  ["forge an ack", button, "iot:Publish", acksOf("pizza-button-01"), false],
  ["subscribe own acks", button, "iot:Subscribe", acksOf("pizza-button-01"), true, "SubscribeOwnAcks"],
  ["subscribe all acks with +", button, "iot:Subscribe", ALL_ACKS, false],
  ["subscribe all acks with #", button, "iot:Subscribe", "pizza/acks/#", false],
  ["subscribe everyone's orders", button, "iot:Subscribe", ALL_ORDERS, false],
  ["receive own ack", button, "iot:Receive", acksOf("pizza-button-01"), true, "ReceiveOwnAcks"],
  ["receive another button's ack", button, "iot:Receive", acksOf("pizza-button-02"), false],
  ["receive an order", button, "iot:Receive", ordersOf("pizza-button-01"), false],
];
const restaurantRows: Row[] = [
  ["connect as restaurant", attached("restaurant"), "iot:Connect", "restaurant", true, "ConnectAsRestaurant"],
  ["connect as restaurant, certificate not attached", { clientId: "restaurant", commonName: "restaurant" }, "iot:Connect", "restaurant", false],
  ["connect as a button", attached("pizza-button-01"), "iot:Connect", "pizza-button-01", false],
  ["subscribe pizza/orders/+", attached("restaurant"), "iot:Subscribe", ALL_ORDERS, true, "SubscribeAllOrders"],
  ["connect as instance restaurant.2 with its own certificate", { clientId: "restaurant.2", commonName: "restaurant.2" }, "iot:Connect", "restaurant.2", true, "ConnectAsRestaurantInstance"],
  ["connect as instance restaurant.2 with the restaurant's certificate", { clientId: "restaurant.2", commonName: "restaurant" }, "iot:Connect", "restaurant.2", false],
  ["connect as instance restaurant.2 with instance 1's certificate", { clientId: "restaurant.2", commonName: "restaurant.1" }, "iot:Connect", "restaurant.2", false],
  ["an instance subscribes the shared orders", { clientId: "restaurant.2", commonName: "restaurant.2" }, "iot:Subscribe", "$share/kitchen/pizza/orders/+", true, "SubscribeAllOrdersShared"],
  ["an instance publishes an ack", { clientId: "restaurant.2", commonName: "restaurant.2" }, "iot:Publish", acksOf("pizza-button-01"), true, "PublishAcks"],
  ["connect as restaurant-2 (a thing name, not an instance)", { clientId: "restaurant-2", commonName: "restaurant" }, "iot:Connect", "restaurant-2", false],
  ["subscribe the shared orders $share/kitchen/pizza/orders/+", attached("restaurant"), "iot:Subscribe", "$share/kitchen/pizza/orders/+", true, "SubscribeAllOrdersShared"],
  ["subscribe $share/kitchen/pizza/#", attached("restaurant"), "iot:Subscribe", "$share/kitchen/pizza/#", false],
  ["subscribe pizza/orders/#", attached("restaurant"), "iot:Subscribe", "pizza/orders/#", false],
  ["subscribe pizza/#", attached("restaurant"), "iot:Subscribe", "pizza/#", false],
  ["receive a button's order", attached("restaurant"), "iot:Receive", ordersOf("pizza-button-01"), true, "ReceiveAllOrders"],
  ["publish an ack", attached("restaurant"), "iot:Publish", acksOf("pizza-button-01"), true, "PublishAcks"],
  ["publish an order", attached("restaurant"), "iot:Publish", ordersOf("pizza-button-01"), false],
  ["receive acks", attached("restaurant"), "iot:Receive", acksOf("pizza-button-01"), false],
];

describe("services/policies", () => {
  it("parse without warnings", () => {
    expect(device.policy.warnings).toEqual([]);
    expect(restaurant.policy.warnings).toEqual([]);
  });

  it.each(deviceRows)("device.json: %s", (_n, ctx, action, resource, allow, sid) => {
    const d = evaluate([device], { action, resource }, ctx, CFG);
    expect(d.allow, d.reason).toBe(allow);
    if (sid) expect(d.decidingStatement?.sid).toBe(sid);
  });

  it.each(restaurantRows)("restaurant.json: %s", (_n, ctx, action, resource, allow, sid) => {
    const d = evaluate([restaurant], { action, resource }, ctx, CFG);
    expect(d.allow, d.reason).toBe(allow);
    if (sid) expect(d.decidingStatement?.sid).toBe(sid);
  });
});
