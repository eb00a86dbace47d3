// Interop: the product's full flow against a real mosquitto instead of the embedded broker. `npm run
// simulate` runs as a child process, the way a user points it at an external broker (--broker, --ca,
// --cert, --key, plus the restaurant's certificate), with a dev PKI (RSA-2048 device key, like the
// firmware) and the mosquitto config host-test/mosquitto writes from it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSimulate as simulate } from "../support/simulate-process";
import { OrderDb } from "../../../services/restaurant/orders/order-db";
import { startMosquitto, type RunningMosquitto } from "../../mosquitto/mosquitto";
import { ensureDevPki, type DevPki } from "../../../tools/pki/dev";
import { mosquittoSkipReason } from "../support/test-brokers";


describe.skipIf(mosquittoSkipReason !== undefined)("simulate against mosquitto", () => {
  let dir: string;
  let dev: DevPki;
  let mosquitto: RunningMosquitto;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pizza-interop-"));
    dev = await ensureDevPki(path.join(dir, "pki"));
    mosquitto = await startMosquitto({ pkiDir: dev.dir });
  });
  afterAll(async () => {
    await mosquitto?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("--clicks single,double,long → summary ok/ok/cancelled, three rows, both identities seen by mosquitto", async () => {
    const stateDir = path.join(dir, "state");
    const run = await simulate([
      "--broker", mosquitto.url,
      "--ca", dev.device.caPath,
      "--cert", dev.device.chainPath,
      "--key", dev.device.keyPath,
      "--restaurant-cert", dev.restaurant.chainPath,
      "--restaurant-key", dev.restaurant.keyPath,
      "--state-dir", stateDir,
      "--pki-dir", dev.dir,
      "--clicks", "single,double,long",
      "--json",
    ]);
    expect(run.code, run.stderr).toBe(0);
    const summary = (JSON.parse(run.stdout.trim().split("\n").at(-1)!) as { summary: any }).summary;
    expect(summary.passed).toBe(true);
    expect(summary.clicks.map((c: any) => [c.clickType, c.outcome])).toEqual([
      ["SINGLE", "ok"],
      ["DOUBLE", "ok"],
      ["LONG", "cancelled"],
    ]);
    for (const click of summary.clicks) expect(click.tlsProtocol).toBe("TLSv1.2");

    const db = new OrderDb({ path: path.join(stateDir, "restaurant.db") });
    try {
      const rows = db.all();
      expect(rows.map((r) => r.orderId)).toEqual(summary.clicks.map((c: any) => c.orderId));
      expect(rows.map((r) => r.status)).toEqual(["accepted", "accepted", "cancelled"]);
    } finally {
      db.close();
    }
    // It really was mosquitto: the device and the restaurant connected under their certificates' CNs.
    expect(mosquitto.logs.some((l) => /New client connected from 127\.0\.0\.1:\d+ as pizza-button-01 \(.*u'pizza-button-01'\)/.test(l))).toBe(true);
    expect(mosquitto.logs.some((l) => /New client connected from 127\.0\.0\.1:\d+ as restaurant \(.*u'restaurant'\)/.test(l))).toBe(true);
  }, 60_000);
});
