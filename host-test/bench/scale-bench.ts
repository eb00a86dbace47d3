// Scale: orders/s of the restaurant on SQLite (one instance) next to PostgreSQL with one and with three
// instances, side by side in one run, same buttons, same embedded broker process. Each button places
// `presses` orders one after the other. PostgreSQL is a throwaway cluster (host-test/load/postgres-cluster);
// without its binaries the PostgreSQL rows say why they were skipped. Every run is audited: one accepted
// row per order, nothing lost, nothing doubled.
import path from "node:path";
import { startEmbeddedBrokerProcess } from "../load/embedded-broker-process";
import { issueFleet, type Fleet } from "../load/fleet";
import { runLoad } from "../load/load-driver";
import { findPostgres, startPostgres, type TestPostgres } from "../load/postgres-cluster";
import { startRestaurantProcess, type RestaurantProcess } from "../load/restaurant-process";
import { restaurantInstanceFiles } from "../load/instance-identity";
import { openOrderStore } from "../../services/restaurant/orders/open-store";
import type { Workspace } from "./stack";
import { round } from "./stats";

export interface ScaleRun {
  store: "sqlite" | "postgres";
  instances: number;
  orders: number;
  wallMs: number;
  ordersPerSec: number;
  pressToAckP50Ms: number;
  pressToAckP99Ms: number;
  accepted: number;
  lost: number;
  duplicates: number;
}

export interface ScaleResult {
  buttons: number;
  presses: number;
  sqlite1: ScaleRun;
  postgres1: ScaleRun | { skipped: string };
  postgres3: ScaleRun | { skipped: string };
}

export interface ScaleOptions {
  buttons: number;
  presses: number;
  progress: (line: string) => void;
}

export async function benchScale(ws: Workspace, options: ScaleOptions): Promise<ScaleResult> {
  const fleet = await issueFleet({ pkiDir: ws.dev.pki.dir, count: options.buttons, prefix: "scale-button-" });
  const found = findPostgres();
  const postgres = "bin" in found ? await startPostgres(found.bin) : undefined;
  try {
    const sqlite1 = await scaleRun(ws, fleet, options, { store: "sqlite", instances: 1, db: path.join(ws.stateDir, "scale.sqlite") });
    const onPostgres = async (instances: number, name: string) =>
      postgres ? scaleRun(ws, fleet, options, { store: "postgres", instances, db: await postgres.createDatabase(name) }) : { skipped: (found as { missing: string }).missing };
    return { buttons: options.buttons, presses: options.presses, sqlite1, postgres1: await onPostgres(1, "scale_one"), postgres3: await onPostgres(3, "scale_three") };
  } finally {
    await postgres?.stop();
  }
}

async function scaleRun(
  ws: Workspace,
  fleet: Fleet,
  options: ScaleOptions,
  run: { store: "sqlite" | "postgres"; instances: number; db: string },
): Promise<ScaleRun> {
  const broker = await startEmbeddedBrokerProcess({ pkiDir: ws.dev.pki.dir });
  ws.trackProcess(broker.pid);
  const instances: RestaurantProcess[] = [];
  try {
    for (let n = 1; n <= run.instances; n++) {
      // Several instances: each its own certificate and identity restaurant.N.
      const identity = run.instances > 1 ? await restaurantInstanceFiles(ws.dev.pki, n) : ws.dev.restaurant;
      const instance = await startRestaurantProcess({
        brokerUrl: broker.url,
        caPath: identity.caPath,
        certPath: identity.chainPath,
        keyPath: identity.keyPath,
        dbPath: run.db,
        logPath: path.join(ws.stateDir, `scale-${run.store}-${run.instances}-${n}.log`),
        extraArgs: [...(run.instances > 1 ? ["--instance", String(n)] : []), "--order-burst", "1000000", "--orders-per-hour", "1000000000"],
        timeoutMs: 60_000,
      });
      ws.trackProcess(instance.pid);
      instances.push(instance);
    }
    options.progress(`scale: ${fleet.members.length} buttons × ${options.presses} orders → ${run.instances} instance(s) on ${run.store}`);
    const result = await runLoad({ broker, fleet, presses: options.presses, pressWindowMs: 1_000, timeoutMs: 300_000 });
    const audit = await auditRun(run.db, result.okOrderIds.length);
    return {
      store: run.store,
      instances: run.instances,
      orders: fleet.members.length * options.presses,
      wallMs: result.wallMs,
      ordersPerSec: round(audit.accepted / (result.wallMs / 1000)),
      pressToAckP50Ms: result.pressToAckMs.p50,
      pressToAckP99Ms: result.pressToAckMs.p99,
      ...audit,
      lost: fleet.members.length * options.presses - audit.accepted,
    };
  } finally {
    for (const instance of instances) {
      await instance.stop();
      ws.untrackProcess(instance.pid);
    }
    await broker.stop();
    ws.untrackProcess(broker.pid);
  }
}

async function auditRun(db: string, okOutcomes: number): Promise<{ accepted: number; duplicates: number }> {
  const store = await openOrderStore({ db });
  try {
    const rows = await store.all();
    const ids = new Set(rows.map((row) => row.orderId));
    return { accepted: Math.min(okOutcomes, rows.filter((row) => row.status === "accepted").length), duplicates: rows.length - ids.size };
  } finally {
    await store.close();
  }
}
