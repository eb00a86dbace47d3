// Network loss through the Network port: no connection attempts while down, the give-up budget stands
// still, a press offline keeps its order pending and sends it once the network is back (same orderId).
import { describe, expect, it } from "vitest";
import { defaultConfig } from "../../../modules/core/config";
import { NetworkState } from "../../../modules/core/network";
import { LED_PATTERNS } from "../../../modules/core/led";
import { nth, setup, T0 } from "./flow-harness";

const MINUTE = 60_000;

function offlineSetup(options: { mode?: "on-demand" | "persistent"; up?: boolean } = {}) {
  const network = new NetworkState({ up: options.up ?? true });
  const t = setup({ mode: options.mode ?? "on-demand", network });
  return { ...t, network };
}

describe("NetworkState", () => {
  it("reports changes only, in order, to every listener", () => {
    const network = new NetworkState({ up: true });
    const seen: string[] = [];
    network.onChange((up) => seen.push(`a ${up}`));
    network.onChange((up) => seen.push(`b ${up}`));
    network.set(true); // no change
    network.set(false);
    network.set(false);
    network.set(true);
    expect(seen).toEqual(["a false", "b false", "a true", "b true"]);
    expect(network.up).toBe(true);
  });
});

describe("OrderFlow offline: a press while the network is down", () => {
  it("keeps the order pending, shows 'offline', makes no attempt for hours, then sends it once when the network is back", () => {
    const t = offlineSetup({ up: false });
    t.flow.start();
    t.flow.click("SINGLE");
    expect(t.flow.state).toBe("offline");
    expect(t.pending()?.message.orderId).toBe(nth(1)); // persisted before anything else
    expect(t.player.current).toBe("offline");

    t.timers.advance(20 * MINUTE); // far beyond giveUpMs (2 min), inside pendingExpiryMs (30 min)
    expect(t.connector.connections).toHaveLength(0);
    expect(t.outcomes()).toHaveLength(0); // never "failed": the budget did not run
    expect(t.flow.state).toBe("offline");

    t.network.set(true);
    t.timers.advance(MINUTE);
    expect(t.connector.connections).toHaveLength(1);
    expect(t.restaurant.received.map((m) => m.orderId)).toEqual([nth(1)]);
    expect(t.outcomes()).toMatchObject([{ outcome: "ok", orderId: nth(1), clickType: "SINGLE", attempts: 1, resent: false }]);
    expect(t.pending()).toBeUndefined();
    expect(t.patterns).toEqual(["offline", "working", "ok", "off"]);
    expect(t.states()).toEqual(["offline", "connecting", "awaiting-ack", "idle"]);
  });

  it("the offline pattern is its own: looping, and unlike 'working'", () => {
    expect(LED_PATTERNS.offline.loop).toBe(true);
    expect(LED_PATTERNS.offline.steps).not.toEqual(LED_PATTERNS.working.steps);
  });

  it("a second press while offline is busy: still one pending order, sent once", () => {
    const t = offlineSetup({ up: false });
    t.flow.start();
    t.flow.click("SINGLE");
    t.timers.advance(1000);
    t.flow.click("DOUBLE");
    expect(t.lastOutcome()).toMatchObject({ outcome: "busy", orderId: undefined });
    t.timers.advance(1000);
    expect(t.player.current).toBe("offline"); // the blip resumed the offline loop
    t.network.set(true);
    t.timers.advance(MINUTE);
    expect(t.restaurant.received.map((m) => m.orderId)).toEqual([nth(1)]);
    expect(t.lastOutcome()).toMatchObject({ outcome: "ok", orderId: nth(1) });
  });

  it("an order that expires while offline ends as failed and is never sent", () => {
    const t = offlineSetup({ up: false });
    t.flow.start();
    t.flow.click("SINGLE");
    t.timers.advance(defaultConfig.pendingExpiryMs + 1);
    t.network.set(true);
    t.timers.advance(MINUTE);
    expect(t.connector.connections).toHaveLength(0);
    expect(t.lastOutcome()).toMatchObject({ outcome: "failed", orderId: nth(1) });
    expect(t.pending()).toBeUndefined();
  });

  it("boot with a pending order while offline: no attempt until the network is up, then the same orderId", () => {
    const first = offlineSetup({ up: true });
    first.restaurant.connectBehaviour = "refuse";
    first.flow.start();
    first.click("SINGLE", first.config.giveUpMs + 1000);
    expect(first.lastOutcome()).toMatchObject({ outcome: "failed", orderId: nth(1) });
    first.button.stop();

    const network = new NetworkState({ up: false });
    const t = setup({ network, store: first.store, start: first.timers.now() });
    t.flow.start();
    expect(t.flow.state).toBe("offline");
    t.timers.advance(10 * MINUTE);
    expect(t.connector.connections).toHaveLength(0);
    network.set(true);
    t.timers.advance(MINUTE);
    expect(t.lastOutcome()).toMatchObject({ outcome: "ok", orderId: nth(1), trigger: "boot", resent: true });
  });
});

describe("OrderFlow offline: the network goes away mid-order", () => {
  it("while retrying: attempts stop, the give-up budget pauses, and resumes with what was left", () => {
    const t = offlineSetup();
    t.restaurant.connectBehaviour = "refuse";
    t.flow.start();
    t.flow.click("SINGLE");
    t.timers.advance(30_000); // 30 s of the 120 s budget spent retrying
    const triesBefore = t.restaurant.connectTimes.length;
    expect(triesBefore).toBeGreaterThan(1);

    t.network.set(false);
    expect(t.flow.state).toBe("offline");
    t.timers.advance(20 * MINUTE);
    expect(t.restaurant.connectTimes).toHaveLength(triesBefore);
    expect(t.outcomes()).toHaveLength(0);

    const backAt = t.timers.now();
    t.network.set(true);
    expect(t.restaurant.connectTimes).toHaveLength(triesBefore + 1); // at once, no backoff wait
    t.timers.advance(10 * MINUTE);
    // Failed when the remaining 90 s of budget ran out, counted from the network's return.
    expect(t.lastOutcome()).toMatchObject({ outcome: "failed", orderId: nth(1) });
    expect(t.lastOutcome()!.at).toBe(backAt + defaultConfig.giveUpMs - 30_000);
    expect(t.pending()?.message.orderId).toBe(nth(1));
  });

  it("while waiting for the ack: the connection is closed, the same orderId is resent on return, one ack ends it", () => {
    const t = offlineSetup();
    t.restaurant.publishBehaviour = "silent";
    t.flow.start();
    t.flow.click("SINGLE");
    t.timers.advance(1000); // published, no ack
    expect(t.flow.state).toBe("awaiting-ack");
    const connection = t.connector.connections[0]!;

    t.network.set(false);
    expect(connection.closedByCore).toBe(true);
    t.timers.advance(30 * MINUTE - 2000);
    expect(t.connector.connections).toHaveLength(1);

    t.restaurant.publishBehaviour = "ack";
    t.network.set(true);
    t.timers.advance(MINUTE);
    expect(t.restaurant.received.map((m) => m.orderId)).toEqual([nth(1), nth(1)]); // the restaurant dedupes on it
    expect(t.outcomes()).toMatchObject([{ outcome: "ok", orderId: nth(1), attempts: 2 }]);
  });
});

describe("Link offline: persistent mode", () => {
  it("drops the idle link, never reconnects while down, reconnects at once when the network is back", () => {
    const t = offlineSetup({ mode: "persistent" });
    t.flow.start();
    t.timers.advance(1000);
    expect(t.connector.connections).toHaveLength(1);
    expect(t.connector.connections[0]!.isReady).toBe(true);

    t.network.set(false);
    expect(t.connector.connections[0]!.closedByCore).toBe(true);
    t.timers.advance(60 * MINUTE);
    expect(t.connector.connections).toHaveLength(1);
    expect(t.timers.pendingCount).toBe(0); // no reconnect timer either

    t.network.set(true);
    expect(t.connector.connections).toHaveLength(2);
    t.timers.advance(1000);
    expect(t.click("SINGLE")).toMatchObject({ outcome: "ok", attempts: 1 });
  });

  it("a persistent button that boots offline opens nothing until the network is up", () => {
    const t = offlineSetup({ mode: "persistent", up: false });
    t.flow.start();
    t.timers.advance(10 * MINUTE);
    expect(t.connector.connections).toHaveLength(0);
    t.network.set(true);
    t.timers.advance(1000);
    expect(t.connector.connections).toHaveLength(1);
    expect(t.connector.connections[0]!.isReady).toBe(true);
  });
});
