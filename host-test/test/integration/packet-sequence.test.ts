// The virtual button's MQTT for one cold click, over real TLS against the embedded broker and the
// restaurant: one flight out (CONNECT + SUBSCRIBE + PUBLISH), then CONNACK, SUBACK, PUBACK and the ack.
// The firmware suite (host-test/test/firmware) checks that the firmware puts the very same sequence on
// the wire for the same click.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningBroker } from "../../../services/broker/broker";
import type { Restaurant } from "../../../services/restaurant/restaurant";
import type { DevPki } from "../../../tools/pki/dev";
import { comparable, expectedColdClick, virtualClickPackets } from "../support/packet-trace";
import { credentialsOf, devPki, removeDir, startTestBroker, tempDir } from "./fixtures";
import { startRestaurant } from "../../../services/restaurant/restaurant";

const THING = "pizza-button-01";

let dir: string;
let dev: DevPki;
let broker: RunningBroker;
let restaurant: Restaurant;

beforeAll(async () => {
  dir = tempDir("packets");
  dev = await devPki(dir);
  broker = await startTestBroker(dev);
  restaurant = await startRestaurant({ brokerUrl: broker.url, ...credentialsOf(dev.restaurant), dbPath: path.join(dir, "orders.sqlite") });
});

afterAll(async () => {
  await restaurant?.close();
  await broker?.close();
  removeDir(dir);
});

describe("the virtual button's packets for one cold click", () => {
  it("one flight out, then CONNACK, SUBACK, PUBACK and the restaurant's ack; PUBACK for it, DISCONNECT", async () => {
    const click = await virtualClickPackets({
      thingName: THING,
      broker: { host: broker.host, port: broker.port },
      credentials: credentialsOf(dev.device),
      storePath: path.join(dir, "store.json"),
    });
    expect(click.outcome).toBe("ok");
    expect(comparable(click.packets)).toEqual(expectedColdClick(THING));
  });
});
