// The device flow against the embedded broker enforcing AWS IoT policies (the product's default setup):
// a denied publish disconnects the button, which must end in auth-error without a retry loop; a policy
// change applies to the next connection without restarting the broker; and nothing is ordered twice.
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig, type ButtonConfig } from "../../../modules/core/config";
import type { FlowEvent } from "../../../modules/core/flow";
import { startBroker, type RunningBroker } from "../../../services/broker/broker";
import { memoryLog } from "../../device/log";
import { VirtualDevice } from "../../device/virtual-device";
import { POLICY_FILES, productAuthorization } from "../../../services/broker/product-authorization";
import { startRestaurant, type Restaurant } from "../../../services/restaurant/restaurant";
import type { DevPki } from "../../../tools/pki/dev";
import type { PolicyStore } from "../../../tools/pki/policy-store";
import { credentialsOf, devPki, removeDir, tempDir, waitFor } from "./fixtures";

const THING = "pizza-button-01";

let dir: string;
let dev: DevPki;
let broker: RunningBroker;
let store: PolicyStore;
let kitchen: Restaurant;
const decisions: string[] = [];
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  dir = tempDir("policy-flow");
  dev = await devPki(dir);
  const { authorizer, attachDefaults } = productAuthorization({
    pki: dev.pki,
    rules: "policy",
    defaultPolicies: true,
    topicPrefix: "pizza",
    log: () => undefined,
    onDecision: (d) => decisions.push(`${d.action} ${d.allow ? "allow" : "deny"} ${d.reason}`),
  });
  await attachDefaults();
  store = dev.pki.policies;
  const trust = dev.pki.trustMaterial();
  broker = await startBroker({
    key: fs.readFileSync(dev.broker.keyPath, "utf8"),
    cert: fs.readFileSync(dev.broker.certPath, "utf8"),
    ca: trust.ca,
    crl: trust.crl,
    topicPrefix: "pizza",
    authorizer,
    thingState: (thing) => dev.pki.thingState(thing),
  });
  kitchen = await startRestaurant({ brokerUrl: broker.url, ...credentialsOf(dev.restaurant), dbPath: path.join(dir, "orders.sqlite") });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await kitchen?.close();
  await broker?.close();
  removeDir(dir);
});

function button(overrides: Partial<ButtonConfig> = {}) {
  const events: FlowEvent[] = [];
  const device = new VirtualDevice({
    config: { ...defaultConfig, thingName: THING, ackTimeoutMs: 1_500, backoffBaseMs: 100, backoffCapMs: 400, giveUpMs: 8_000, ...overrides },
    broker: { host: broker.host, port: broker.port },
    credentials: credentialsOf(dev.device),
    storePath: path.join(dir, "button.json"), // one flash for the whole file: the pending order survives
    log: memoryLog(),
    onEvent: (event) => events.push(event),
  });
  cleanups.push(() => device.stop());
  return { device, events };
}

const denyOrders = {
  Version: "2012-10-17",
  Statement: [{ Sid: "NoOrders", Effect: "Deny", Action: "iot:Publish", Resource: "arn:aws:iot:*:*:topic/pizza/orders/*" }],
};

describe("device flow under AWS IoT policies", () => {
  it("default policy orders; a Deny on publish gives auth-error with no retry loop; restoring the policy resends the same order once", async () => {
    // 1. The product's default device policy (attached by productAuthorization) lets the button order.
    expect(store.attached(THING).map((p) => p.name)).toEqual(["device"]);
    const first = button();
    first.device.start();
    const ok = await first.device.click("SINGLE");
    expect(ok).toMatchObject({ outcome: "ok", ack: { status: "accepted" } });

    // 2. Add a policy that denies publishing orders. Explicit Deny wins over the device policy's Allow.
    const denyFile = path.join(dir, "deny-orders.json");
    fs.writeFileSync(denyFile, JSON.stringify(denyOrders));
    await store.attach(denyFile, THING);
    const connectsBefore = first.device.connector.connectionCount;
    const denied = await first.device.click("DOUBLE");
    expect(denied.outcome).toBe("auth-error");
    expect(first.device.ledPlayer.current).toBe("auth-error");
    // The broker disconnected each publish; the flow stopped after its small threshold instead of looping
    // until giveUpMs with backoff.
    const attempts = first.device.connector.connectionCount - connectsBefore;
    expect(attempts).toBe(denied.attempts);
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(attempts).toBeLessThanOrEqual(3);
    expect(decisions.some((d) => d.startsWith("iot:Publish deny") && d.includes("NoOrders"))).toBe(true);
    expect((await kitchen.order(denied.orderId!))).toBeUndefined(); // nothing reached the restaurant
    expect(first.device.flow.pendingOrderId).toBe(denied.orderId); // not lost: still pending on the button
    await first.device.stop();

    // 3. Detach the Deny: the next connection (same running broker) is allowed again. The button boots
    // (power cycle), resends the pending order with its original orderId, and the restaurant has exactly
    // one row for it.
    await store.detach("deny-orders", THING);
    const again = button();
    again.device.start();
    await waitFor(() => again.events.some((e) => e.type === "outcome"), "the boot resend's outcome");
    const resent = again.events.find((e) => e.type === "outcome");
    expect(resent).toMatchObject({ outcome: "ok", orderId: denied.orderId, resent: true, trigger: "boot" });
    const rows = (await kitchen.orders()).filter((row) => row.orderId === denied.orderId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ item: "pepperoni", status: "accepted" });
  });
});
