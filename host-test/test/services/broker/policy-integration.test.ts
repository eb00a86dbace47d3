// The embedded broker enforcing the product's AWS IoT policies, over real mutual TLS on loopback, with
// policies attached through the policy store in a real PKI dir.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../../../services/broker/broker";
import type { PolicyStore } from "../../../../tools/pki/policy-store";
import { policyAuthorizerForPki } from "../../../../services/broker/policy-authorizer";
import {
  LogCollector,
  type TestPki,
  type ThingTls,
  clientOptions,
  closed,
  connect,
  createTestPki,
  nextMessage,
  tryConnect,
} from "./fixtures";
import { ALL_ACKS, ALL_ORDERS, acksOf, ordersOf } from "../../support/topics";

const policyDir = fileURLToPath(new URL("../../../../services/policies/", import.meta.url));
const devicePolicy = join(policyDir, "device.json");
const restaurantPolicy = join(policyDir, "restaurant.json");

let tp: TestPki;
let store: PolicyStore;
let broker: RunningBroker;
const logs = new LogCollector();
const things: Record<string, ThingTls> = {};
const open: MqttClient[] = [];

async function connectAs(name: string): Promise<MqttClient> {
  const client = await connect(broker.url, clientOptions(things[name]!));
  open.push(client);
  return client;
}

function writePolicy(name: string, doc: unknown): string {
  const file = join(tp.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(doc, null, 2));
  return file;
}

beforeAll(async () => {
  tp = await createTestPki("policy");
  for (const name of ["pizza-button-01", "pizza-button-02", "pizza-button-03", "restaurant"]) things[name] = await tp.thing(name);
  store = tp.pki.policies;
  await store.attach(devicePolicy, "pizza-button-01");
  await store.attach(devicePolicy, "pizza-button-02");
  await store.attach(restaurantPolicy, "restaurant");
  // pizza-button-03 has a certificate but no policy.
  const trust = tp.pki.trustMaterial();
  broker = await startBroker({
    key: tp.brokerKey,
    cert: tp.brokerCert,
    ca: trust.ca,
    crl: trust.crl,
    topicPrefix: "pizza",
    authorizer: policyAuthorizerForPki({ pki: tp.pki, region: "eu-central-1", account: "111122223333" }),
    thingState: (thing) => tp.pki.thingState(thing),
    log: logs.log,
  });
});

afterAll(async () => {
  for (const c of open) c.end(true);
  await broker?.close();
  tp?.remove();
});

describe("broker with policyAuthorizer over TLS", () => {
  it("a device with the default device policy orders and gets its ack from the restaurant", async () => {
    const restaurant = await connectAs("restaurant");
    expect((await restaurant.subscribeAsync(ALL_ORDERS, { qos: 1 }))[0]!.qos).toBe(1);
    const button = await connectAs("pizza-button-01");
    expect((await button.subscribeAsync(acksOf("pizza-button-01"), { qos: 1 }))[0]!.qos).toBe(1);

    const order = nextMessage(restaurant);
    await button.publishAsync(ordersOf("pizza-button-01"), '{"orderId":"pizza-button-01-1"}', { qos: 1 });
    expect(await order).toEqual({ topic: ordersOf("pizza-button-01"), payload: '{"orderId":"pizza-button-01-1"}' });

    const ack = nextMessage(button);
    await restaurant.publishAsync(acksOf("pizza-button-01"), '{"status":"accepted"}', { qos: 1 });
    expect(await ack).toEqual({ topic: acksOf("pizza-button-01"), payload: '{"status":"accepted"}' });

    const published = await logs.waitFor((e) => e.event === "publish" && e.topic === ordersOf("pizza-button-01"));
    expect(published.reason).toMatch(/allowed by device Statement\[1\] \(Sid "PublishOwnOrders"\)/);
    expect((await logs.waitFor((e) => e.event === "connect" && e.clientId === "restaurant")).reason).toMatch(/restaurant Statement\[0\] \(Sid "ConnectAsRestaurant"\)/);
    button.end(true);
  });

  it("a policy that denies publish gets the device disconnected, and the log names the statement", async () => {
    const deny = writePolicy("deny-orders", {
      Version: "2012-10-17",
      Statement: [{ Sid: "NoOrders", Effect: "Deny", Action: "iot:Publish", Resource: "arn:aws:iot:*:*:topic/pizza/orders/*" }],
    });
    await store.attach(deny, "pizza-button-01");
    const button = await connectAs("pizza-button-01");
    const from = logs.mark();
    const gone = closed(button);
    button.publish(ordersOf("pizza-button-01"), '{"orderId":"pizza-button-01-2"}', { qos: 0 });
    await gone;
    const denied = await logs.waitFor((e) => e.event === "publish-denied" && e.clientId === "pizza-button-01", from);
    expect(denied).toMatchObject({ action: "disconnect", topic: ordersOf("pizza-button-01") });
    expect(denied.reason).toMatch(/denied by deny-orders Statement\[0\] \(Sid "NoOrders"\) \(explicit Deny\)/);
  });

  it("policy changes apply to the next connection without restarting the broker", async () => {
    // Detaching the Deny: the next connection may publish again.
    await store.detach("deny-orders", "pizza-button-01");
    const restaurant = await connectAs("restaurant");
    await restaurant.subscribeAsync(ALL_ORDERS, { qos: 1 });
    const button = await connectAs("pizza-button-01");
    const order = nextMessage(restaurant);
    await button.publishAsync(ordersOf("pizza-button-01"), '{"orderId":"pizza-button-01-3"}', { qos: 1 });
    expect((await order).payload).toBe('{"orderId":"pizza-button-01-3"}');
    button.end(true);

    // Updating the stored device policy (here: without the acks subscription) affects the next connection.
    const original = JSON.parse(readFileSync(devicePolicy, "utf8")) as { Statement: { Sid: string }[] };
    const noAcks = writePolicy("device", { ...original, Statement: original.Statement.filter((s) => s.Sid !== "SubscribeOwnAcks") });
    expect((await store.attach(noAcks, "pizza-button-02")).policy).toBe("updated");
    const second = await connectAs("pizza-button-02");
    const from = logs.mark();
    const gone = closed(second);
    // SUBACK 0x80 (mqtt.js rejects the subscribe), then the broker disconnects the client.
    await expect(second.subscribeAsync(acksOf("pizza-button-02"))).rejects.toMatchObject({ packet: { cmd: "suback", granted: [128] } });
    await gone;
    expect((await logs.waitFor((e) => e.event === "subscribe-denied" && e.clientId === "pizza-button-02", from)).reason).toMatch(/implicitly denied/);

    // …and restoring it restores the permission, still on the same broker.
    await store.attach(devicePolicy, "pizza-button-02");
    const third = await connectAs("pizza-button-02");
    expect((await third.subscribeAsync(acksOf("pizza-button-02")))[0]!.qos).toBe(0);
    third.end(true);
  });

  it("a certificate with no policy attached is refused at CONNECT", async () => {
    const from = logs.mark();
    const outcome = await tryConnect(broker.url, clientOptions(things["pizza-button-03"]!));
    expect(outcome.connected).toBe(false);
    if (!outcome.connected) expect(outcome.error?.code).toBe(5);
    const refused = await logs.waitFor((e) => e.event === "refused" && e.clientId === "pizza-button-03", from);
    expect(refused.reason).toMatch(/iot:Connect .* implicitly denied: no policy is attached/);
  });

  it("iot:Subscribe allows a wide filter but iot:Receive still filters what is delivered", async () => {
    const watcher = writePolicy("acks-watcher", {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: "iot:Connect", Resource: "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}" },
        { Effect: "Allow", Action: "iot:Subscribe", Resource: "arn:aws:iot:*:*:topicfilter/pizza/acks/+" },
        { Effect: "Allow", Action: "iot:Receive", Resource: "arn:aws:iot:*:*:topic/pizza/acks/${iot:Connection.Thing.ThingName}" },
      ],
    });
    await store.detach("device", "pizza-button-02");
    await store.attach(watcher, "pizza-button-02");
    const button = await connectAs("pizza-button-02");
    expect((await button.subscribeAsync(ALL_ACKS, { qos: 1 }))[0]!.qos).toBe(1);
    const restaurant = await connectAs("restaurant");
    const from = logs.mark();
    const received = nextMessage(button);
    await restaurant.publishAsync(acksOf("pizza-button-01"), "not yours", { qos: 1 });
    await restaurant.publishAsync(acksOf("pizza-button-02"), "yours", { qos: 1 });
    expect(await received).toEqual({ topic: acksOf("pizza-button-02"), payload: "yours" });
    const dropped = await logs.waitFor((e) => e.event === "receive-denied" && e.clientId === "pizza-button-02", from);
    expect(dropped).toMatchObject({ topic: acksOf("pizza-button-01") });
    expect(dropped.reason).toMatch(/iot:Receive .*topic\/pizza\/acks\/pizza-button-01 implicitly denied/);
  });
});
