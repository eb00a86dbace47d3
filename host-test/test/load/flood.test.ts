// One button floods, another is pressed: `npm run broker` and `npm run restaurant --auto-accept` as child
// processes with their default limits, over TLS on loopback. The flooding thing sends 5,000 valid orders
// as fast as its connection takes them; the broker slows that connection down (per-connection publish
// limit) and the restaurant answers what gets through past the per-thing limit with "rejected: too many
// orders". Meanwhile a virtual button (the core's OrderFlow, default 10 s ack timeout) is pressed once:
// it must be answered on its first attempt, within its ack timeout (no retry). Its press→ack is printed
// for the report, not asserted beyond that functional bound (speed goals belong in `npm run bench`).
import path from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig } from "../../../modules/core/config";
import { ensureDevPki } from "../../../tools/pki/dev";
import { collectMessages, connectRaw, removeDir, tempDir, waitFor } from "../integration/fixtures";
import { buttonFor, startBrokerProcess, startRestaurantProcess, stopAll, thingCredentials, type BrokerProcess, type RestaurantProcess } from "../services/processes";
import type { TestButton } from "../support/button";
import { acksOf, ordersOf } from "../support/topics";

const FLOODER = "pizza-button-01";
const OTHER = "pizza-button-02";
const FLOOD = 5_000;

let dir: string;
let pkiDir: string;
let broker: BrokerProcess;
let restaurant: RestaurantProcess;
let flooder: MqttClient | undefined;
let other: TestButton | undefined;

beforeAll(async () => {
  dir = tempDir("flood");
  pkiDir = path.join(dir, "pki");
  const dev = await ensureDevPki(pkiDir);
  await dev.pki.createThing(OTHER, { keyType: "ec" }); // before the broker starts: it attaches the product policy
  broker = await startBrokerProcess(pkiDir);
  restaurant = await startRestaurantProcess({ brokerPort: broker.port, pkiDir, db: path.join(dir, "restaurant.db"), extra: ["--auto-accept"] });
});

afterAll(async () => {
  await flooder?.endAsync(true).catch(() => undefined);
  await other?.device.stop();
  await stopAll();
  if (dir) removeDir(dir);
});

describe("one button flooding", () => {
  it("another button's press is answered on its first attempt, within its ack timeout; the flood gets 'too many orders'", async () => {
    flooder = await connectRaw(broker.url, FLOODER, thingCredentials(pkiDir, FLOODER));
    await flooder.subscribeAsync(acksOf(FLOODER), { qos: 1 });
    const floodAcks = collectMessages(flooder);
    for (let seq = 1; seq <= FLOOD; seq++) {
      const order = { serialNumber: FLOODER, clickType: "SINGLE", v: 1, orderId: `${FLOODER}-${seq}`, seq, action: "order", item: "margherita" };
      flooder.publishAsync(ordersOf(FLOODER), JSON.stringify(order), { qos: 1 }).catch(() => undefined); // cut off at the end
    }
    // The flood is on: the broker holds the connection back and the restaurant refuses past the limit.
    await broker.waitFor((l) => l.event === "publish-throttled" && l.clientId === FLOODER, "the broker to throttle the flooder");
    await waitFor(() => floodAcks.some((a) => a.json?.reason === "too many orders"), "the first 'too many orders'");

    other = buttonFor({ pkiDir, thing: OTHER, brokerPort: broker.port, dir, config: { ackTimeoutMs: defaultConfig.ackTimeoutMs, giveUpMs: defaultConfig.giveUpMs } });
    const outcome = await other.device.click("SINGLE");
    const floodAnswered = floodAcks.length;
    console.log(
      JSON.stringify({
        flood: "other button",
        pressToAckMs: outcome.pressToAckMs,
        publishToAckMs: outcome.publishToAckMs,
        attempts: outcome.attempts,
        ackTimeoutMs: defaultConfig.ackTimeoutMs,
        floodSent: FLOOD,
        floodAnsweredSoFar: floodAnswered,
        floodAccepted: floodAcks.filter((a) => a.json?.status === "accepted").length,
      }),
    );
    expect(outcome).toMatchObject({ outcome: "ok", attempts: 1, resent: false, ack: { status: "accepted" } });
    expect(outcome.pressToAckMs).toBeLessThan(defaultConfig.ackTimeoutMs); // answered, not timed out
    expect(other.events.filter((e) => e.type === "retry")).toEqual([]);

    // The flooder: its burst (3) accepted, everything else that reached the restaurant refused at once.
    const statuses = floodAcks.map((a) => `${a.json?.status}:${a.json?.reason ?? ""}`);
    expect(statuses.slice(0, 3)).toEqual(["accepted:", "accepted:", "accepted:"]);
    expect(new Set(statuses.slice(3))).toEqual(new Set(["rejected:too many orders"]));
    expect(floodAnswered).toBeLessThan(FLOOD); // the broker let only a trickle of the flood through
  });
});
