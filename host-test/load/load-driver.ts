// The load driver: N virtual buttons, each with its own certificate, each pressed once, spread evenly over
// a window, against one broker and whatever restaurant listens there (see restaurant-process.ts). Each
// button is the core's button (createButton) on the harness's mqtt.js connector and Node timers — the same
// code as `simulate` — with an in-memory store (a JSON file per button would measure 3,000 fsyncs of
// emulated flash, not the system) and a LED nobody looks at. Reused by the benchmarks.
//
// Measures wall time (first press → last outcome), orders/s, press→ack percentiles (performance.now(),
// click to the flow's outcome), connections and their peak concurrency. checkOrders() then checks the
// restaurant's database: one accepted row per button, no duplicates, nothing lost.
import { createButton } from "../../modules/core/button";
import { defaultConfig, type ButtonConfig } from "../../modules/core/config";
import type { FlowEvent } from "../../modules/core/flow";
import type { Log } from "../../modules/core/ports";
import { systemClock } from "../device/clock";
import { MemoryStore } from "../device/memory-store";
import { MqttConnector, type ConnectionEvent } from "../device/mqtt-connector";
import { nodeTimers } from "../device/timers";
import { OrderDb } from "../../services/restaurant/orders/order-db";
import type { Fleet } from "./fleet";

export interface LoadOptions {
  broker: { host: string; port: number };
  fleet: Fleet;
  /** Presses are spread evenly over this many milliseconds. */
  pressWindowMs: number;
  /** Flow timings etc.; defaults: ack timeout 10 s, backoff 1 s → 30 s, give up after 60 s. */
  config?: Partial<ButtonConfig>;
  /** Hard bound on the whole run (presses + outcomes). */
  timeoutMs?: number;
  /** Orders each button places, one after the other (the next press follows the previous outcome). Default 1. */
  presses?: number;
}

/** One press's outcome as the button saw it: what the failover test compares with the database row. */
export interface PressOutcome {
  thing: string;
  orderId: string | undefined;
  outcome: string;
  /** The ack the button acted on (undefined when it got none). */
  ack: unknown;
}

export interface Percentiles {
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  buttons: number;
  /** Count per outcome ("ok", "failed", …), plus "missing" for buttons without an outcome in time. */
  outcomes: Record<string, number>;
  /** First press → last outcome. */
  wallMs: number;
  /** Accepted orders per second of wall time. */
  ordersPerSec: number;
  pressToAckMs: Percentiles;
  /** Buttons that needed more than one attempt (a resend of the same orderId). */
  retried: number;
  /** TLS+MQTT connections opened by all buttons. */
  connections: number;
  /** Most button connections open at the same time. */
  peakConnections: number;
  /** Warnings and errors the buttons logged (first few kept). */
  buttonWarnings: number;
  sampleWarnings: string[];
  /** orderId of every button that ended "ok" (for checkOrders). */
  okOrderIds: string[];
  /** Every press's outcome, in the order they came. */
  pressOutcomes: PressOutcome[];
}

export interface OrderCheck {
  rows: number;
  acceptedRows: number;
  duplicateOrderIds: number;
  /** Buttons of the fleet with exactly one row in the database. */
  thingsWithExactlyOneRow: number;
  /** Rows that belong to no button of the fleet. */
  strangerRows: number;
  /** "ok" outcomes whose order is in the database, accepted. */
  okOutcomesInDb: number;
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { min: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest-rank percentile.
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  const round = (v: number) => Math.round(v * 10) / 10;
  return { min: round(sorted[0]!), p50: round(at(50)), p90: round(at(90)), p99: round(at(99)), max: round(sorted.at(-1)!) };
}

/** The buttons' warnings and errors: counted, the first ten kept as samples. */
class WarningCount {
  count = 0;
  readonly samples: string[] = [];

  logFor(name: string): Log {
    const note = (message: string) => {
      this.count++;
      if (this.samples.length < 10) this.samples.push(`${name}: ${message}`);
    };
    return { info: () => {}, warn: note, error: note };
  }
}

/** The buttons' timings under load: an ack may take seconds, so they wait and back off longer than one button would. */
function loadButtonConfig(overrides: Partial<ButtonConfig> | undefined): Omit<ButtonConfig, "thingName"> {
  return {
    ...defaultConfig,
    ackTimeoutMs: 10_000,
    backoffBaseMs: 1_000,
    backoffCapMs: 30_000,
    giveUpMs: 60_000,
    ...overrides,
  };
}

/** The fleet's open TCP connections, and the most that were open at once. */
class ConnectionGauge {
  private readonly open = new Set<string>();
  peak = 0;

  observe(button: number, event: ConnectionEvent): void {
    const key = `${button}/${event.connection}`;
    if (event.step === "tcp") {
      this.open.add(key);
      this.peak = Math.max(this.peak, this.open.size);
    } else if (event.step === "close") {
      this.open.delete(key);
    }
  }
}

/** Each button's first press, evenly spaced over the window (first at 0, last at windowMs); the timers, to cancel. */
function pressSpreadOver(windowMs: number, buttons: ReadonlyArray<{ button: { click(type: "SINGLE"): void } }>, onPress: (index: number) => void): NodeJS.Timeout[] {
  const spacing = buttons.length > 1 ? windowMs / (buttons.length - 1) : 0;
  return buttons.map(({ button }, index) =>
    setTimeout(() => {
      onPress(index);
      button.click("SINGLE");
    }, index * spacing),
  );
}

/** Outcomes per kind, press→ack of the accepted orders, their orderIds, and first press → last outcome. */
function tally(outcomes: ReadonlyArray<Extract<FlowEvent, { type: "outcome" }> | undefined>, pressedAt: readonly number[], doneAt: readonly number[], start: number) {
  const byOutcome: Record<string, number> = {};
  const latencies: number[] = [];
  let last = start;
  const okIds = new Set<string>();
  outcomes.forEach((outcome, index) => {
    const name = outcome?.outcome ?? "missing";
    byOutcome[name] = (byOutcome[name] ?? 0) + 1;
    if (outcome?.outcome === "ok") {
      latencies.push(doneAt[index]! - pressedAt[index]!);
      okIds.add(outcome.orderId!);
    }
    if (doneAt[index] !== undefined) last = Math.max(last, doneAt[index]!);
  });
  const firstPress = Math.min(...pressedAt.filter((t) => t !== undefined));
  return { byOutcome, latencies, okIds, wallMs: last - firstPress };
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { fleet } = options;
  const presses = options.presses ?? 1;
  const count = fleet.members.length * presses;
  const pressOutcomes: PressOutcome[] = [];
  const timeoutMs = options.timeoutMs ?? 90_000;
  const config = loadButtonConfig(options.config);

  const warnings = new WarningCount();
  const logFor = (name: string) => warnings.logFor(name);

  const connections = new ConnectionGauge();
  // Indexed by press: button index × presses + the button's press number.
  const outcomes: Array<Extract<FlowEvent, { type: "outcome" }> | undefined> = new Array(count);
  const pressedAt: number[] = new Array(count);
  const doneAt: number[] = new Array(count);
  const pressNumber: number[] = new Array(fleet.members.length).fill(0);
  let settled = 0;
  let allSettled!: () => void;
  const finished = new Promise<void>((resolve) => (allSettled = resolve));

  const buttons = fleet.members.map((member, index) => {
    const connector = new MqttConnector({
      host: options.broker.host,
      port: options.broker.port,
      ca: fleet.ca,
      cert: member.cert,
      key: member.key,
      clientId: member.name,
      log: logFor(member.name),
      observer: (event) => connections.observe(index, event),
    });
    const button = createButton(
      { ...config, thingName: member.name },
      { timers: nodeTimers, clock: systemClock, led: { set: () => {} }, store: new MemoryStore(), connector, log: logFor(member.name) },
      {
        onEvent: (event) => {
          const press = index * presses + pressNumber[index]!;
          if (event.type !== "outcome" || event.trigger !== "click" || outcomes[press]) return;
          outcomes[press] = event;
          doneAt[press] = performance.now();
          pressOutcomes.push({ thing: member.name, orderId: event.orderId, outcome: event.outcome, ack: event.ack });
          if (++settled === count) allSettled();
          if (pressNumber[index]! + 1 < presses) {
            pressNumber[index]!++;
            // After the flow has finished handling this outcome.
            setTimeout(() => {
              pressedAt[index * presses + pressNumber[index]!] = performance.now();
              buttons[index]!.button.click("SINGLE");
            }, 0);
          }
        },
      },
    );
    button.start();
    return { button, connector };
  });

  const start = performance.now();
  const timers = pressSpreadOver(options.pressWindowMs, buttons, (index) => (pressedAt[index * presses] = performance.now()));

  let timer: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
  timers.forEach(clearTimeout);

  for (const { button } of buttons) button.stop();
  await Promise.all(buttons.map(({ connector }) => connector.drain(2_000)));

  const { byOutcome, latencies, okIds, wallMs } = tally(outcomes, pressedAt, doneAt, start);

  return {
    buttons: fleet.members.length,
    outcomes: byOutcome,
    wallMs: Math.round(wallMs),
    ordersPerSec: Math.round(((byOutcome.ok ?? 0) / wallMs) * 1000 * 10) / 10,
    pressToAckMs: percentiles(latencies),
    retried: outcomes.filter((o) => o && o.attempts > 1).length,
    connections: buttons.reduce((sum, { connector }) => sum + connector.connectionCount, 0),
    peakConnections: connections.peak,
    buttonWarnings: warnings.count,
    sampleWarnings: warnings.samples,
    okOrderIds: [...okIds],
    pressOutcomes,
  };
}

/** Reads the restaurant's database (after it stopped) and checks it against the fleet and the outcomes. */
export function checkOrders(dbPath: string, fleet: Fleet, okOrderIds: readonly string[]): OrderCheck {
  const db = new OrderDb({ path: dbPath });
  try {
    const rows = db.all();
    const names = new Set(fleet.members.map((m) => m.name));
    const perThing = new Map<string, number>();
    for (const row of rows) perThing.set(row.thing, (perThing.get(row.thing) ?? 0) + 1);
    const ids = rows.map((r) => r.orderId);
    const accepted = new Set(rows.filter((r) => r.status === "accepted").map((r) => r.orderId));
    return {
      rows: rows.length,
      acceptedRows: accepted.size,
      duplicateOrderIds: ids.length - new Set(ids).size,
      thingsWithExactlyOneRow: fleet.members.filter((m) => perThing.get(m.name) === 1).length,
      strangerRows: rows.filter((r) => !names.has(r.thing)).length,
      okOutcomesInDb: okOrderIds.filter((id) => accepted.has(id)).length,
    };
  } finally {
    db.close();
  }
}
