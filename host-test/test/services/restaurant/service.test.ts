// `npm run restaurant` as a child process against `npm run broker` (another child process): by default
// orders wait for staff; a held order survives a restart of the service and is then accepted through the
// kitchen API, which is when the button's LED turns ok. --auto-accept answers at once. SIGTERM exits 0.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRestaurantArgs, restaurantUsage } from "../../../../services/restaurant/service";
import { Pki } from "../../../../tools/pki/pki";
import { removeDir, tempDir } from "../../integration/fixtures";
import type { TestButton } from "../../support/button";
import { buttonFor, postDecision, startRestaurantProcess, startService, stopAll, type BrokerProcess, startBrokerProcess } from "../processes";

const THING = "pizza-button-01";

let dir: string;
let pkiDir: string;
let broker: BrokerProcess;
const buttons: TestButton[] = [];

beforeAll(async () => {
  dir = tempDir("restaurant-service");
  pkiDir = path.join(dir, "pki");
  broker = await startBrokerProcess(pkiDir);
});

afterAll(async () => {
  for (const button of buttons) await button.device.stop();
  await stopAll();
  removeDir(dir);
});

/** GET /api/orders naming `host` in the Host header (fetch cannot set it). */
function statusWithHost(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/api/orders", headers: { Host: host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
  });
}

function button(): TestButton {
  const made = buttonFor({ pkiDir, thing: THING, brokerPort: broker.port, dir });
  buttons.push(made);
  return made;
}

describe("npm run restaurant", () => {
  it("holds an order for the kitchen; the order survives a restart; the LED turns ok only when staff accept", async () => {
    const db = path.join(dir, "held.db");
    const first = await startRestaurantProcess({ brokerPort: broker.port, pkiDir, db });
    expect(first.kitchenUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(first.lines.find((l) => l.event === "starting")).toMatchObject({ autoAccept: false, clientId: "restaurant" });

    const { device, leds, outcomes } = button();
    const result = device.click("SINGLE");
    const received = await first.waitFor((l) => l.event === "received", "the order at the restaurant");
    expect(received).toMatchObject({ thing: THING, clickType: "SINGLE", item: "margherita", status: "waiting" });
    const orderId = received.orderId as string;

    const { code } = await first.stop("SIGTERM");
    expect(code).toBe(0);
    expect(first.lines.at(-1)).toMatchObject({ event: "exit", code: 0 });
    expect(outcomes()).toEqual([]);

    const second = await startRestaurantProcess({ brokerPort: broker.port, pkiDir, db });
    expect(second.lines.find((l) => l.source === "kitchen" && l.event === "listening")!.waiting).toBe(1);
    const listed = (await (await fetch(new URL("api/orders", second.kitchenUrl))).json()) as { orders: any[] };
    expect(listed.orders).toEqual([expect.objectContaining({ orderId, status: null, item: "margherita" })]);
    // Still waiting: no outcome, the LED is not ok.
    expect(outcomes()).toEqual([]);
    expect(leds).not.toContain("ok");
    expect(device.flow.state).toBe("awaiting-ack");

    const reply = await postDecision(second.kitchenUrl, orderId, "accept", { etaMin: 33 });
    expect(reply.status).toBe(200);
    const outcome = await result;
    expect(outcome).toMatchObject({ orderId, outcome: "ok", ack: { status: "accepted", etaMin: 33 } });
    expect(leds.at(-1)).toBe("ok");
    await second.waitFor((l) => l.event === "decided" && l.orderId === orderId, "the decided line");
    expect(JSON.stringify([...first.lines, ...second.lines])).not.toMatch(/PRIVATE KEY/);
    expect((await second.stop("SIGINT")).code).toBe(0);
  });

  it("--auto-accept --eta-min 7: the button gets its ack without anybody in the kitchen", async () => {
    const service = await startRestaurantProcess({ brokerPort: broker.port, pkiDir, db: path.join(dir, "auto.db"), extra: ["--auto-accept", "--eta-min", "7", "--allowed-host", "kitchen.lan"] });
    try {
      // --allowed-host reaches the kitchen page: that name is served, any other is refused.
      expect(service.lines.find((l) => l.event === "listening")!.allowedHosts).toEqual(["localhost", "127.0.0.1", "::1", "kitchen.lan"]);
      const port = Number(new URL(service.kitchenUrl).port);
      expect(await statusWithHost(port, "kitchen.lan")).toBe(200);
      expect(await statusWithHost(port, "evil.example")).toBe(403);
      const { device, leds } = button();
      const outcome = await device.click("DOUBLE");
      expect(outcome).toMatchObject({ outcome: "ok", ack: { status: "accepted", etaMin: 7 } });
      expect(leds.at(-1)).toBe("ok");
      const snapshot = (await (await fetch(new URL("api/orders", service.kitchenUrl))).json()) as { settings: any };
      expect(snapshot.settings).toMatchObject({ autoAccept: true, defaultEtaMin: 7 });
    } finally {
      expect((await service.stop()).code).toBe(0);
    }
  });

  it("log text is made safe the same way in JSON as on a terminal: no bidi controls from an item", async () => {
    const service = await startRestaurantProcess({ brokerPort: broker.port, pkiDir, db: path.join(dir, "bidi.db"), extra: ["--auto-accept"] });
    try {
      const { device } = buttonFor({ pkiDir, thing: THING, brokerPort: broker.port, dir, config: { items: { SINGLE: "\u202egnp.exe\u2066 pizza", DOUBLE: "margherita" } } });
      buttons.push({ device } as TestButton);
      const outcome = await device.click("SINGLE");
      expect(outcome).toMatchObject({ outcome: "rejected", ack: { status: "rejected" } });
      const received = await service.waitFor((l) => l.event === "received", "the received line");
      expect(received.item).toBe("gnp.exe pizza");
      const text = JSON.stringify(service.lines);
      expect(text).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/);
    } finally {
      expect((await service.stop()).code).toBe(0);
    }
  });

  it("without a restaurant identity: one clear line and exit code 2", async () => {
    const run = startService("restaurant", ["--pki-dir", path.join(dir, "empty"), "--http-port", "0"]);
    expect((await run.exited).code).toBe(2);
    expect(run.stderr()).toMatch(/^restaurant: no restaurant identity in .*empty .*start "npm run broker" once/);
  });
});

describe("restaurant service configuration", () => {
  it("defaults: the local broker, the dev PKI's restaurant identity, .data/restaurant.db, kitchen on 127.0.0.1:8080, staff decide", () => {
    // cwd = dir: the default --pki-dir is <dir>/certs, which holds nothing yet.
    expect(() => parseRestaurantArgs([], dir)).toThrow(/no restaurant identity in .*certs/);
    expect(parseRestaurantArgs(["--help"], dir)).toBeUndefined();
    const withPki = parseRestaurantArgs(["--pki-dir", pkiDir], dir)!;
    expect(withPki).toMatchObject({
      brokerUrl: "mqtts://127.0.0.1:8883",
      cert: path.join(pkiDir, "things", "restaurant", "chain.pem"),
      key: path.join(pkiDir, "things", "restaurant", "key.pem"),
      ca: path.join(pkiDir, "things", "restaurant", "ca.pem"),
      clientId: "restaurant",
      dbPath: path.join(dir, ".data", "restaurant.db"),
      autoAccept: false,
      etaMin: 25,
      httpHost: "127.0.0.1",
      httpPort: 8080,
      allowedHosts: [],
      requestLimit: { burst: 3, perHour: 10 },
      buttonGiveUpMs: 120_000,
      registryDir: pkiDir,
    });
  });

  it("--allowed-host (repeatable), the request limit and the buttons' giveUpMs", () => {
    const config = parseRestaurantArgs(
      ["--pki-dir", pkiDir, "--allowed-host", "Kitchen.LAN", "--allowed-host", "192.168.1.20", "--allowed-host", "[fe80::1]", "--order-burst", "5", "--orders-per-hour", "30", "--give-up-ms", "60000"],
      dir,
    )!;
    expect(config).toMatchObject({ allowedHosts: ["kitchen.lan", "192.168.1.20", "fe80::1"], requestLimit: { burst: 5, perHour: 30 }, buttonGiveUpMs: 60_000 });
    expect(() => parseRestaurantArgs(["--pki-dir", pkiDir, "--allowed-host", "http://kitchen.lan"], dir)).toThrow(/--allowed-host has "http:\/\/kitchen.lan", not a host name or address \(give it without scheme or port\)/);
    expect(() => parseRestaurantArgs(["--pki-dir", pkiDir, "--allowed-host", "kitchen.lan:8080"], dir)).toThrow(/--allowed-host/);
    expect(() => parseRestaurantArgs(["--pki-dir", pkiDir, "--order-burst", "0"], dir)).toThrow(/--order-burst must be a whole number from 1/);
    expect(() => parseRestaurantArgs(["--pki-dir", pkiDir, "--orders-per-hour", "lots"], dir)).toThrow(/--orders-per-hour must be a whole number/);
  });

  it("--instance N: the identity restaurant.N from --pki-dir and client id restaurant.N, or a clear line on how to issue it", async () => {
    expect(() => parseRestaurantArgs(["--pki-dir", pkiDir, "--instance", "4"], dir)).toThrow(
      /no identity restaurant\.4 in .*pki .*"npm run pki -- --pki-dir .*pki service create restaurant --instance 4"/,
    );
    await (await Pki.open(pkiDir)).createService("restaurant", { keyType: "ec", instance: 4 });
    expect(parseRestaurantArgs(["--pki-dir", pkiDir, "--instance", "4"], dir)).toMatchObject({
      clientId: "restaurant.4",
      cert: path.join(pkiDir, "things", "restaurant.4", "chain.pem"),
      key: path.join(pkiDir, "things", "restaurant.4", "key.pem"),
    });
    expect(() => parseRestaurantArgs(["--pki-dir", pkiDir, "--instance", "4", "--client-id", "restaurant"], dir)).toThrow(/give --instance or --client-id, not both/);
    expect(() => parseRestaurantArgs(["--pki-dir", pkiDir, "--instance", "1000"], dir)).toThrow(/--instance/);
  });

  it("refuses inconsistent or malformed flags with a message naming them", () => {
    const cert = path.join(pkiDir, "things", "restaurant", "chain.pem");
    expect(fs.existsSync(cert)).toBe(true);
    expect(() => parseRestaurantArgs(["--cert", cert], dir)).toThrow(/--ca, --cert and --key go together/);
    expect(() => parseRestaurantArgs(["--pki-dir", pkiDir, "--broker", "mqtt://127.0.0.1:1883"], dir)).toThrow(/--broker is not a broker URL: .*must use mqtts:\/\//);
    expect(() => parseRestaurantArgs(["--pki-dir", pkiDir, "--eta-min=-3"], dir)).toThrow(/--eta-min must be a whole number/);
    expect(() => parseRestaurantArgs(["--pki-dir", pkiDir, "--eta-min", "soon"], dir)).toThrow(/--eta-min must be a whole number from 0 to 600 min \(got "soon"\)/);
    // --eta, the flag's former name, still works, with a one-line notice.
    const notices: string[] = [];
    expect(parseRestaurantArgs(["--pki-dir", pkiDir, "--eta", "9"], dir, (line) => notices.push(line))!.etaMin).toBe(9);
    expect(parseRestaurantArgs(["--pki-dir", pkiDir, "--eta=11"], dir, (line) => notices.push(line))!.etaMin).toBe(11);
    expect(notices).toEqual(["note: --eta is deprecated, use --eta-min", "note: --eta is deprecated, use --eta-min"]);
    expect(() => parseRestaurantArgs(["--pki-dir", pkiDir, "--http-port", "99999"], dir)).toThrow(/--http-port must be a whole number from 0 to 65535/);
    expect(() => parseRestaurantArgs(["--pki-dir", pkiDir, "--client-id", "a/b"], dir)).toThrow(/--client-id/);
  });

  it("reads topicPrefix through the button's own setting: acme.pizza accepted, $aws refused, as everywhere", () => {
    expect(parseRestaurantArgs(["--pki-dir", pkiDir, "--topic-prefix", "acme.pizza"], dir)!.topicPrefix).toBe("acme.pizza");
    expect(() => parseRestaurantArgs(["--pki-dir", pkiDir, "--topic-prefix", "$aws"], dir)).toThrow(/--topic-prefix "\$aws" must not start with \$/);
    expect(restaurantUsage()).toMatch(/--topic-prefix TEXT\s+topic prefix/);
  });
});
