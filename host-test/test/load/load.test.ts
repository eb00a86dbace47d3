// Load: virtual buttons, each with its own client certificate, each pressed once, the presses at 500 a second
// (1,000 in 2 s at full size) — against the embedded broker, then against mosquitto. Every order must be
// accepted exactly once: one "ok" outcome per button, one accepted row per button in the restaurant's SQLite
// database, no duplicate, none lost. Loopback only; bounded in count and time.
//
// Size: `npm test` runs 300 buttons (the same rate and the same checks, a third of the CPU on a 2-core
// machine); `npm run test:load` (and CI) runs the full 1,000. LOAD_BUTTONS sets any other count.
//
// Processes: the broker (embedded broker in its own Node process, or mosquitto) and the restaurant
// (`npm run restaurant --auto-accept`) each run on their own, so the buttons in this process do not
// share an event loop with what they measure. The figures (wall time, orders/s, press→ack p50/p99) are
// printed as one JSON line per broker for the report; they are not asserted (timing goals live in
// `npm run bench`), and they depend on the machine (its load average is printed with them).
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpuMsOf, ownCpuMs } from "../../load/cpu";
import { startEmbeddedBrokerProcess } from "../../load/embedded-broker-process";
import { issueFleet, type Fleet } from "../../load/fleet";
import { checkOrders, runLoad } from "../../load/load-driver";
import { startRestaurantProcess } from "../../load/restaurant-process";
import { startMosquitto } from "../../mosquitto/mosquitto";
import { createSecurityPki, type SecurityPki } from "../support/security-pki";
import { BROKER_KINDS, type BrokerKind } from "../support/test-brokers";

const BUTTONS = Number(process.env.LOAD_BUTTONS ?? 300);
const WARMUP = 10;
/** 500 presses a second, whatever the count. */
const PRESS_WINDOW_MS = BUTTONS * 2;

let pki: SecurityPki;
let fleet: Fleet;
let warmup: Fleet;

/** The soft limit on open files this process (and the children it starts) may use. */
function openFilesLimit(): number {
  const out = spawnSync("/bin/sh", ["-c", "ulimit -n"], { encoding: "utf8" }).stdout.trim();
  return out === "unlimited" ? Number.POSITIVE_INFINITY : Number(out);
}

beforeAll(async () => {
  // Up to one socket per button at once in this process, plus the runner's own.
  const limit = openFilesLimit();
  if (limit < BUTTONS + 200) {
    throw new Error(`open files limit (ulimit -n) is ${limit}; the load test needs ≥ ${BUTTONS + 200}: raise it (ulimit -n 4096)`);
  }
  pki = await createSecurityPki("load");
  await pki.thing("restaurant");
  fleet = await issueFleet({ pkiDir: pki.pki.dir, count: BUTTONS });
  warmup = await issueFleet({ pkiDir: pki.pki.dir, count: WARMUP, prefix: "warmup-button-" });
  console.log(JSON.stringify({ load: "fleet", certificates: BUTTONS + WARMUP, issueMs: Math.round(fleet.issueMs + warmup.issueMs) }));
}, 120_000);

afterAll(() => pki?.remove());

describe(`${BUTTONS} buttons pressing once within ${PRESS_WINDOW_MS / 1000} s`, () => {
  it.each(BROKER_KINDS)("%s broker: every order accepted exactly once, none lost, no duplicate row", async (kind: BrokerKind) => {
    const broker = kind === "embedded" ? await startEmbeddedBrokerProcess({ pkiDir: pki.pki.dir }) : await startMosquitto({ pkiDir: pki.pki.dir, quiet: true });
    const stopBroker = () => ("close" in broker ? broker.close() : broker.stop());
    const files = pki.pki.thingFiles("restaurant")!;
    const dbPath = path.join(pki.dir, `${kind}-orders.sqlite`);
    try {
      const restaurant = await startRestaurantProcess({
        brokerUrl: broker.url,
        caPath: files.caPath,
        certPath: files.chainPath,
        keyPath: files.keyPath,
        dbPath,
      });
      let result;
      let cpuMs: Record<string, number | undefined> = {};
      try {
        // A few presses first so both brokers are measured warm (JIT, first-connection costs).
        const warm = await runLoad({ broker, fleet: warmup, pressWindowMs: 200, timeoutMs: 30_000 });
        expect(warm.outcomes).toEqual({ ok: WARMUP });
        const pids = { broker: broker.pid!, restaurant: restaurant.pid };
        const before = { buttons: ownCpuMs(), broker: cpuMsOf(pids.broker), restaurant: cpuMsOf(pids.restaurant) };
        result = await runLoad({ broker, fleet, pressWindowMs: PRESS_WINDOW_MS, timeoutMs: 120_000 });
        const delta = (now: number | undefined, then: number | undefined) => (now === undefined || then === undefined ? undefined : Math.round(now - then));
        cpuMs = {
          buttons: Math.round(ownCpuMs() - before.buttons),
          broker: delta(cpuMsOf(pids.broker), before.broker),
          restaurant: delta(cpuMsOf(pids.restaurant), before.restaurant),
        };
      } finally {
        await restaurant.stop();
      }
      const check = checkOrders(dbPath, fleet, result.okOrderIds);

      console.log(
        JSON.stringify({
          load: kind,
          buttons: BUTTONS,
          pressWindowMs: PRESS_WINDOW_MS,
          wallMs: result.wallMs,
          ordersPerSec: result.ordersPerSec,
          pressToAckMs: result.pressToAckMs,
          retried: result.retried,
          connections: result.connections,
          peakConnections: result.peakConnections,
          restaurant: { received: restaurant.received, acksPublished: restaurant.acksPublished },
          cpuMs, // during the run: this process (the buttons), the broker's, the restaurant's
          machine: { cpus: os.cpus().length, loadavg1m: Math.round(os.loadavg()[0]! * 10) / 10 },
          ...(result.sampleWarnings.length ? { sampleWarnings: result.sampleWarnings.slice(0, 3) } : {}),
        }),
      );

      expect(result.outcomes).toEqual({ ok: BUTTONS });
      expect(check).toEqual({
        rows: BUTTONS + WARMUP,
        acceptedRows: BUTTONS + WARMUP,
        duplicateOrderIds: 0,
        thingsWithExactlyOneRow: BUTTONS,
        strangerRows: WARMUP, // the warm-up buttons' own orders, nobody else's
        okOutcomesInDb: BUTTONS,
      });
      expect(restaurant.refused).toBe(0);
      // A resend (ack timeout under load) is deduped: never a second row, but it shows here.
      expect(restaurant.received).toBeGreaterThanOrEqual(BUTTONS + WARMUP);
    } finally {
      await stopBroker();
    }
  }, 240_000);
});
