// Load: N buttons (a fleet of EC client certificates issued by the bench's CA), one press each, spread evenly
// over a window, against the embedded broker and then mosquitto. Built on the load driver of the reliability
// suite (host-test/load): the buttons run in this process (core flow + mqtt.js connector, in-memory
// stores), the broker (embedded broker process, or mosquitto) and the restaurant (`npm run restaurant
// --auto-accept`) each in a process of their own. Afterwards the restaurant's database is audited: every
// button exactly one accepted order, none lost, none doubled.
import os from "node:os";
import path from "node:path";
import { startEmbeddedBrokerProcess } from "../load/embedded-broker-process";
import { issueFleet, type Fleet } from "../load/fleet";
import { runLoad, type LoadResult as DriverResult, type Percentiles } from "../load/load-driver";
import { startRestaurantProcess } from "../load/restaurant-process";
import { mosquittoUnavailableReason, startMosquitto } from "../mosquitto/mosquitto";
import { OrderDb } from "../../services/restaurant/orders/order-db";
import type { Workspace } from "./stack";
import { machineCpuMs, ownCpuMs, processTreeCpuMs } from "./cpu";
import { round } from "./stats";

export type BrokerKind = "embedded" | "mosquitto";

export interface LoadRun {
  buttons: number;
  spreadMs: number;
  /** Presses per second the schedule offers. */
  offeredPerSec: number;
  /** First press → last outcome. */
  wallMs: number;
  /** Accepted orders / wall time. */
  ordersPerSec: number;
  /** Press → ack ("ok" outcomes), nearest-rank percentiles as the load driver computes them. */
  pressToAck: Percentiles;
  accepted: number;
  /** Buttons with no row in the restaurant's database. */
  lost: number;
  /** Rows beyond one per button (each button was pressed once). */
  duplicates: number;
  /** Buttons whose outcome was not "ok" (or that had none by the deadline). */
  failed: number;
  /** Buttons that needed more than one attempt (a resend of the same orderId: deduped, not a duplicate). */
  retried: number;
  connections: number;
  peakConnections: number;
  /** The restaurant's counts: orders received (repeats included) and acks published. */
  restaurant: { received: number; acksPublished: number; refused: number };
  buttonWarnings: number;
  sampleWarnings?: string[];
  /**
   * CPU time per accepted order during the run (ms): the simulated buttons (this process: client TLS,
   * mqtt.js, core), the broker process, the restaurant process; and how busy the whole machine was
   * (all cores, other users included), as a fraction. Shows which part saturates.
   */
  cpu?: { buttonsMsPerOrder: number; brokerMsPerOrder: number; restaurantMsPerOrder: number; machineBusy: number; othersBusy: number };
}

export interface LoadResult {
  buttons: number;
  /** Fleet issuance (not part of any figure). */
  issueMs: number;
  warmupButtons: number;
  /** The rush: every button pressed within spreadMs (default 2 s). */
  embedded: LoadRun | { skipped: string };
  mosquitto: LoadRun | { skipped: string };
  /** The same buttons (new orders) spread over a longer window, below the machine's saturation. */
  steady: { spreadMs: number; embedded: LoadRun | { skipped: string }; mosquitto: LoadRun | { skipped: string } } | { skipped: string };
}

export interface LoadAudit {
  accepted: number;
  lost: number;
  duplicates: number;
}

/** One accepted row per fleet button, no more: from the restaurant's database (after it stopped). */
export function auditDatabase(dbPath: string, things: readonly string[]): LoadAudit {
  const db = new OrderDb({ path: dbPath });
  try {
    const wanted = new Set(things);
    const perThing = new Map<string, { rows: number; accepted: number }>();
    for (const row of db.all()) {
      if (!wanted.has(row.thing)) continue;
      const entry = perThing.get(row.thing) ?? { rows: 0, accepted: 0 };
      entry.rows++;
      if (row.status === "accepted") entry.accepted++;
      perThing.set(row.thing, entry);
    }
    let rows = 0;
    let accepted = 0;
    for (const entry of perThing.values()) {
      rows += entry.rows;
      if (entry.rows === 1 && entry.accepted === 1) accepted++;
    }
    return { accepted, lost: things.length - perThing.size, duplicates: rows - perThing.size };
  } finally {
    db.close();
  }
}

export interface LoadOptions {
  buttons: number;
  spreadMs: number;
  /** 0: no steady run. */
  steadySpreadMs: number;
  deadlineMs: number;
  warmup: number;
  progress: (line: string) => void;
}

export async function benchLoad(ws: Workspace, options: LoadOptions): Promise<LoadResult> {
  const pkiDir = ws.dev.pki.dir;
  const fleet = await issueFleet({ pkiDir, count: options.buttons });
  const warmup = await issueFleet({ pkiDir, count: options.warmup, prefix: "warmup-button-" });
  options.progress(`load: ${options.buttons} + ${options.warmup} certificates issued in ${(fleet.issueMs + warmup.issueMs).toFixed(0)} ms`);
  const skip = mosquittoUnavailableReason();
  const both = async (spreadMs: number) => ({
    embedded: await benchLoadOn(ws, "embedded", fleet, warmup, { ...options, spreadMs }),
    mosquitto: skip ? { skipped: skip } : await benchLoadOn(ws, "mosquitto", fleet, warmup, { ...options, spreadMs }),
  });
  const rush = await both(options.spreadMs);
  const steady = options.steadySpreadMs > 0 ? { spreadMs: options.steadySpreadMs, ...(await both(options.steadySpreadMs)) } : { skipped: "quick run" };
  return { buttons: options.buttons, issueMs: round(fleet.issueMs + warmup.issueMs), warmupButtons: options.warmup, ...rush, steady };
}

let runs = 0;

async function benchLoadOn(
  ws: Workspace,
  kind: BrokerKind,
  fleet: Fleet,
  warmup: Fleet,
  options: { spreadMs: number; deadlineMs: number; progress: (line: string) => void },
): Promise<LoadRun> {
  const pkiDir = ws.dev.pki.dir;
  // BENCH_BROKER_CPU_PROF=DIR: the embedded broker writes a V8 CPU profile there (node --cpu-prof).
  const profileDir = process.env.BENCH_BROKER_CPU_PROF;
  const nodeArgs = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const broker = kind === "embedded" ? await startEmbeddedBrokerProcess({ pkiDir, nodeArgs }) : await startMosquitto({ pkiDir, quiet: true });
  if ("dir" in broker) ws.track(broker.dir);
  else ws.trackProcess(broker.pid);
  const stopBroker = async () => {
    if ("close" in broker) await broker.close();
    else {
      await broker.stop();
      ws.untrackProcess(broker.pid);
    }
  };
  const dbPath = path.join(ws.stateDir, `load-${kind}-${++runs}.sqlite`);
  const brokerPid = broker.pid;
  let result: DriverResult;
  let restaurantCounts: LoadRun["restaurant"];
  let cpu: LoadRun["cpu"];
  try {
    const restaurant = await startRestaurantProcess({
      brokerUrl: broker.url,
      caPath: ws.dev.restaurant.caPath,
      certPath: ws.dev.restaurant.chainPath,
      keyPath: ws.dev.restaurant.keyPath,
      dbPath,
    });
    ws.trackProcess(restaurant.pid);
    try {
      // A few presses first, so both brokers are measured warm (JIT, first-connection costs).
      await runLoad({ broker, fleet: warmup, pressWindowMs: 200, timeoutMs: 30_000 });
      options.progress(`load: ${fleet.members.length} buttons → ${kind} broker, presses over ${options.spreadMs} ms (load average ${os.loadavg()[0]!.toFixed(1)})`);
      const before = { own: ownCpuMs(), broker: brokerPid && processTreeCpuMs(brokerPid), restaurant: processTreeCpuMs(restaurant.pid), machine: machineCpuMs() };
      result = await runLoad({ broker, fleet, pressWindowMs: options.spreadMs, timeoutMs: options.deadlineMs });
      const after = { own: ownCpuMs(), broker: brokerPid && processTreeCpuMs(brokerPid), restaurant: processTreeCpuMs(restaurant.pid), machine: machineCpuMs() };
      const orders = Math.max(1, result.outcomes.ok ?? 0);
      if (before.broker !== undefined && after.broker !== undefined && before.restaurant !== undefined && after.restaurant !== undefined && before.machine && after.machine) {
        const own = after.own - before.own;
        const brokerMs = after.broker - before.broker;
        const restaurantMs = after.restaurant - before.restaurant;
        const total = after.machine.total - before.machine.total;
        const busy = after.machine.busy - before.machine.busy;
        cpu = {
          buttonsMsPerOrder: round(own / orders),
          brokerMsPerOrder: round(brokerMs / orders),
          restaurantMsPerOrder: round(restaurantMs / orders),
          machineBusy: Math.round((busy / total) * 100) / 100,
          othersBusy: Math.round((Math.max(0, busy - own - brokerMs - restaurantMs) / total) * 100) / 100,
        };
      }
    } finally {
      await restaurant.stop();
      ws.untrackProcess(restaurant.pid);
    }
    restaurantCounts = { received: restaurant.received, acksPublished: restaurant.acksPublished, refused: restaurant.refused };
  } finally {
    await stopBroker();
  }
  const audit = auditDatabase(dbPath, fleet.members.map((m) => m.name));
  const buttons = fleet.members.length;
  return {
    buttons,
    spreadMs: options.spreadMs,
    offeredPerSec: round(options.spreadMs > 0 ? (buttons - 1) / (options.spreadMs / 1000) : Number.POSITIVE_INFINITY),
    wallMs: result.wallMs,
    ordersPerSec: round(audit.accepted / (result.wallMs / 1000)),
    pressToAck: result.pressToAckMs,
    accepted: audit.accepted,
    lost: audit.lost,
    duplicates: audit.duplicates,
    failed: buttons - (result.outcomes.ok ?? 0),
    retried: result.retried,
    connections: result.connections,
    peakConnections: result.peakConnections,
    restaurant: restaurantCounts,
    buttonWarnings: result.buttonWarnings,
    ...(result.sampleWarnings.length ? { sampleWarnings: result.sampleWarnings.slice(0, 3) } : {}),
    ...(cpu ? { cpu } : {}),
  };
}
