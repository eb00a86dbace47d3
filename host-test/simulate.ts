// `npm run simulate`: embedded broker + restaurant + one virtual button in one process.
//   interactive: Enter = a tap (two quick = DOUBLE), s = SINGLE, d = DOUBLE, l = LONG, q = quit; a live line shows the LED, the flow state
//                and the step timings of the last connection;
//   script:      --clicks single,double,long [--json] runs the clicks in order, each waiting for its
//                outcome, ends with a {"summary":…} line and exits 0 only if every outcome is the contract's.
// See --help (host-test/config.ts) for every option.
import type { ClickType } from "../modules/core/config";
import type { FlowEvent, FlowState } from "../modules/core/flow";
import type { Log } from "../modules/core/ports";
import type { BrokerEvent } from "../services/broker/broker";
import { ConfigError, parseSimulateArgs, usage, type SimulateConfig } from "./config";
import { isLiveTerminal, takeColorFlag, useColor } from "../tools/cli/terminal";
import { KeyboardButton } from "./device/keyboard-button";
import type { LiveField, LiveStatus } from "./device/live-line";
import type { ConnectionEvent } from "./device/mqtt-connector";
import type { OutcomeEvent, VirtualDevice } from "./device/virtual-device";
import { startSimulation, type Simulation, type SimulationHooks } from "./simulation";
import type { VirtualUpdateEvent } from "./device/virtual-updates";

/** What the contract says each click must end in. */
const EXPECTED: Record<ClickType, string> = { SINGLE: "ok", DOUBLE: "ok", LONG: "cancelled" };

const startedAt = performance.now();
const since = () => round(performance.now() - startedAt);

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/**
 * Step timings of the connection(s) used between two outcomes. pressToAckMs and publishToAckMs come from
 * the outcome event itself (VirtualDevice: one definition, one clock), so the events, the readable lines,
 * the live line and the summary always show the same figures.
 */
class StepTimings {
  tcpMs: number | undefined;
  tlsMs: number | undefined;
  tlsProtocol: string | undefined;
  tlsResumed: boolean | undefined;
  connackMs: number | undefined;
  subackMs: number | undefined;
  pubackMs: number | undefined;
  publishToAckMs: number | undefined;

  record(event: ConnectionEvent): void {
    switch (event.step) {
      case "tcp":
        this.tcpMs = round(event.ms);
        this.tlsMs = this.connackMs = this.subackMs = this.pubackMs = undefined;
        break;
      case "tls":
        this.tlsMs = round(event.ms);
        this.tlsProtocol = event.protocol;
        this.tlsResumed = event.resumed;
        break;
      case "connack":
        this.connackMs = round(event.ms);
        break;
      case "suback":
        this.subackMs = round(event.ms);
        break;
      case "puback":
        this.pubackMs = round(event.ms);
        break;
      default:
        break;
    }
  }

  outcome(event: FlowEvent): void {
    if (event.type === "outcome") this.publishToAckMs = event.publishToAckMs;
  }

  /** The timings of this click, and a fresh collector for the next. */
  take(): Record<string, number | string | boolean> {
    const out: Record<string, number | string | boolean> = {};
    for (const key of ["tcpMs", "tlsMs", "tlsProtocol", "tlsResumed", "connackMs", "subackMs", "pubackMs"] as const) {
      const value = this[key];
      if (value !== undefined) out[key] = value;
    }
    this.tcpMs = this.tlsMs = this.tlsProtocol = this.tlsResumed = this.connackMs = this.subackMs = this.pubackMs = this.publishToAckMs = undefined;
    return out;
  }

  /** The live line's timings field: in full, and a short form for narrow terminals. */
  field(): LiveField {
    const long: string[] = [];
    const short: string[] = [];
    if (this.tcpMs !== undefined) long.push(`TCP ${this.tcpMs} ms`);
    if (this.tlsMs !== undefined) {
      long.push(`TLS${this.tlsResumed ? " (resumed)" : ""} ${this.tlsMs} ms`);
      short.push(`TLS ${Math.round(this.tlsMs)}`);
    }
    if (this.publishToAckMs !== undefined) {
      long.push(`publish→ack ${this.publishToAckMs} ms`);
      short.push(`pub→ack ${Math.round(this.publishToAckMs)}`);
    }
    return { long: long.join(" "), short: short.length ? `${short.join(" ")} ms` : "" };
  }
}

interface Output {
  json: boolean;
  /** A JSON event line (json mode only). */
  event(source: string, event: string, fields?: Record<string, unknown>): void;
  /** A human line (text modes; above the live line in tty mode). */
  line(text: string): void;
  error(text: string): void;
}

/** One line for a person about a firmware update step. */
function updateLine(event: VirtualUpdateEvent): string {
  switch (event.type) {
    case "boot":
      return `firmware ${event.version}${event.verdict === "probation" ? " (new: on probation until it reaches the broker)" : ""}`;
    case "job":
      return `job ${event.jobId}${event.version ? `: firmware ${event.version}` : ""}`;
    case "updating":
      return `updating to ${event.version} (downloading and checking)`;
    case "activating":
      return `${event.version} checked out (SHA-256 and signature): restarting into it`;
    case "reported":
      return `job ${event.jobId} ${event.status}${event.reason ? `: ${event.reason}` : ""}`;
    default:
      return event.reason;
  }
}

/**
 * The embedded broker's last refusal of this button, with its reason (the button itself only sees "not
 * authorized"), so an auth-error outcome can say why; cleared at each outcome.
 */
class BrokerRefusals {
  #last: string | undefined;

  /** A broker event: is it a refusal (of anyone)? Remembers it when it is this button's. */
  seen(event: BrokerEvent, thing: string | undefined): boolean {
    const name = event.event;
    const refusal = name === "tls-refused" || name === "refused" || name.endsWith("-denied");
    const ours = (event.clientId ?? event.cn) === undefined || [event.clientId, event.cn].includes(thing);
    if (refusal && ours) this.#last = `${name}: ${event.reason ?? "no reason given"}`;
    return refusal;
  }

  /** The reason for an auth-error outcome, if the broker gave one; every outcome clears it. */
  take(event: FlowEvent): string | undefined {
    if (event.type !== "outcome") return undefined;
    const reason = event.outcome === "auth-error" ? this.#last : undefined;
    this.#last = undefined;
    return reason;
  }
}

/** A flow event as a JSON event line, with the broker's reason for a refusal when there is one. */
function reportFlowEvent(event: FlowEvent, because: string | undefined, out: Output): void {
  const { type, ...fields } = event;
  if (because !== undefined && event.type === "outcome" && event.orderId) outcomeReasons.set(event.orderId, because);
  out.event("button", type, because === undefined ? fields : { ...fields, brokerReason: because });
  if (because !== undefined && !out.json) out.line(`the broker refused the button: ${because}`);
}

/** The command line, or the exit code when there is nothing to run (--help: 0, a usage error: 2). */
function readCommandLine(): { config: SimulateConfig; colorFlag: ReturnType<typeof takeColorFlag>["flag"] } | number {
  const colorChoice = takeColorFlag(process.argv.slice(2));
  let config: SimulateConfig | undefined;
  try {
    config = parseSimulateArgs(colorChoice.argv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`simulate: ${error.message}\nRun "npm run simulate -- --help" for the options.\n`);
    return 2;
  }
  if (!config) {
    // --no-color / --color are taken out before the settings are parsed (tools/cli/terminal.ts).
    const text = usage();
    const column = /^( +--help +)/m.exec(text)?.[1]!.length ?? 33;
    process.stdout.write(`${text}\n${"  --no-color".padEnd(column)}no colours on the live line (also NO_COLOR=1)\n`);
    return 0;
  }
  return { config, colorFlag: colorChoice.flag };
}

/** Where lines go: JSON events on stdout (--json), else human lines (above the live line in tty mode) and logs. */
function outputFor(config: SimulateConfig, opts: { script: boolean; tty: boolean; device: () => VirtualDevice | undefined }): { out: Output; logFor: (source: string) => Log } {
  const { script, tty } = opts;
  const out: Output = {
    json: config.json,
    event: (source, event, fields = {}) => {
      if (config.json) process.stdout.write(`${JSON.stringify({ t: since(), source, event, ...fields })}\n`);
    },
    line: (text) => {
      if (config.json) return;
      // From the moment the button exists its live line is on screen: every line goes above it.
      const device = opts.device();
      if (tty && device) device.led.printAbove(text);
      else process.stdout.write(`${text}\n`);
    },
    error: (text) => {
      if (config.json) out.event("simulate", "error", { message: text });
      else process.stderr.write(`simulate: ${text}\n`);
    },
  };
  const logFor = (source: string): Log => {
    const write = (level: "info" | "warn" | "error", message: string) => {
      if (config.json) return out.event(source, "log", { level, message });
      if (level === "info" && (script || source === "broker")) return; // scripts: only what went wrong
      const text = `[${source}] ${level === "info" ? "" : `${level}: `}${message}`;
      const device = opts.device();
      if (tty && device) device.led.printAbove(text);
      else process.stderr.write(`${text}\n`);
    };
    return { info: (m) => write("info", m), warn: (m) => write("warn", m), error: (m) => write("error", m) };
  };
  return { out, logFor };
}

/** The "started" event and the first lines: where the broker is, which thing, which mode, the kitchen page. */
function announce(sim: Simulation, config: SimulateConfig, out: Output): void {
  const where = sim.broker ? `${sim.brokerUrl} (embedded)` : sim.brokerUrl;
  out.event("simulate", "started", {
    broker: sim.brokerUrl,
    embedded: sim.broker !== undefined,
    restaurant: sim.restaurant !== undefined,
    kitchen: sim.kitchenUrl,
    thing: sim.thingName,
    mode: config.button.connectionMode,
    stateDir: config.stateDir,
    pkiCreated: sim.pkiCreated,
  });
  out.line(`pizza button simulator: broker ${where}, thing ${sim.thingName}, ${config.button.connectionMode}` +
    `${sim.restaurant ? "" : ", no restaurant"}${sim.pkiCreated ? ` (new dev PKI in ${config.pkiDir})` : ""}`);
  if (sim.kitchenUrl) out.line(`kitchen page (orders as the restaurant sees them): ${sim.kitchenUrl}`);
}

/** Forwards the simulation's connection, restaurant, broker, LED, renewal, update and power events to the output. */
function reporters(opts: {
  config: SimulateConfig;
  out: Output;
  logFor: (source: string) => Log;
  timings: StepTimings;
  refusals: BrokerRefusals;
  script: boolean;
  tty: boolean;
  sim: () => Simulation | undefined;
}): Pick<SimulationHooks, "onConnectionEvent" | "onRestaurantEvent" | "onBrokerEvent" | "onLedPattern" | "onRenewalEvent" | "onUpdateEvent" | "onPower"> {
  const { config, out, logFor, timings, refusals, script, tty, sim } = opts;
  return {
    onConnectionEvent: (event) => {
      timings.record(event);
      const { step, connection, at, ...fields } = event;
      out.event("net", step, { connection, ...fields });
    },
    onRestaurantEvent: (event) => {
      const { type, ...fields } = event;
      out.event("restaurant", type, fields);
    },
    onBrokerEvent: (event) => {
      const { event: name, ...fields } = event;
      out.event("broker", name, fields);
      const refusal = refusals.seen(event, sim()?.thingName ?? config.button.thingName);
      if (!config.json && refusal) logFor("broker").warn(`${name}: ${event.reason ?? ""} ${event.clientId ?? ""}`.trim());
    },
    onLedPattern: (name) => out.event("led", "pattern", { pattern: name }),
    onRenewalEvent: ({ type, step, ...fields }) => out.event("renewal", step, fields),
    onUpdateEvent: (event) => {
      const { type, ...fields } = event;
      out.event("updates", type, fields);
      if (!out.json && type !== "done") out.line(updateLine(event));
    },
    onPower: (state) => {
      out.event("button", state);
      for (const listener of powerListeners) listener(state);
      if (!script) out.line(state === "sleep" ? "deep sleep (no connection, no timers): press a key to wake it" : "woken by the press");
      if (tty) sim()?.device.led.redraw();
    },
  };
}

async function main(): Promise<number> {
  const commandLine = readCommandLine();
  if (typeof commandLine === "number") return commandLine;
  const { config } = commandLine;

  const script = config.clicks !== undefined;
  const tty = !script && !config.json && isLiveTerminal(process.stdout);
  const color = useColor(process.stdout, commandLine.colorFlag);
  const timings = new StepTimings();
  let flowState: FlowState = "idle";
  let last = "";
  let lastShort = "";
  const refusals = new BrokerRefusals();
  /** True while the device boots (a message sent then is a resend), and the orderId it resent. */
  let booting = false;
  let bootResend: string | undefined;
  let sim: Simulation | undefined;
  let device: VirtualDevice | undefined;

  const { out, logFor } = outputFor(config, { script, tty, device: () => device });

  const onFlowEvent = (event: FlowEvent) => {
    if (event.type === "state") flowState = event.state;
    timings.outcome(event);
    // A message sent while booting is an order an earlier run left pending: say so in every mode, it is a
    // pizza the user did not order in this run (the restaurant dedupes it by orderId if it already has it).
    if (booting && event.type === "state" && event.orderId !== undefined && !bootResend) {
      bootResend = event.orderId;
      out.event("button", "boot-resend", { orderId: event.orderId });
      out.line(`resending order ${event.orderId}, left pending (never acknowledged) by an earlier run`);
    }
    reportFlowEvent(event, refusals.take(event), out);
    if (event.type === "outcome" && event.trigger === "boot" && !out.json) {
      const ms = event.pressToAckMs !== undefined ? ` in ${event.pressToAckMs} ms` : "";
      out.line(`resent at boot: ${event.clickType} → ${event.outcome} (${event.orderId})${ms}`);
    } else if (event.type === "outcome" && !script) {
      const ms = event.pressToAckMs !== undefined ? ` in ${event.pressToAckMs} ms` : "";
      last = `${event.clickType} → ${event.outcome}${event.orderId ? ` (${event.orderId})` : ""}${ms}`;
      lastShort = `${event.clickType} ${event.outcome}${event.pressToAckMs !== undefined ? ` ${Math.round(event.pressToAckMs)} ms` : ""}`;
      out.line(last);
    }
    for (const listener of flowListeners) listener(event);
    if (tty) sim?.device.led.redraw();
  };

  try {
    sim = await startSimulation(config, {
      log: logFor,
      ledMode: config.json || script ? "silent" : tty ? "tty" : "lines",
      // Most important first: on a narrow terminal the timings shorten first, then go (live-line.ts).
      status: (): LiveStatus => [
        sim?.device.asleep ? "asleep" : flowState,
        ...(last ? [{ long: `last: ${last}`, short: `last: ${lastShort}` }] : []),
        timings.field(),
      ],
      columns: () => process.stdout.columns,
      color,
      onFlowEvent,
      onDevice: (created) => (device = created),
      ...reporters({ config, out, logFor, timings, refusals, script, tty, sim: () => sim }),
    });
  } catch (error) {
    out.error(`cannot start: ${(error as Error).message}`);
    return 1;
  }

  announce(sim, config, out);

  const boot = (): Promise<OutcomeEvent | undefined> => {
    booting = true;
    try {
      sim!.device.start();
    } finally {
      booting = false;
    }
    // Both a resend's outcome and the persistent link's readiness come later, never inside start().
    return bootSettled(config!, bootResend !== undefined);
  };
  return script ? runScript(sim, config, timings, out, boot) : runInteractive(sim, config, out, tty, boot);
}

async function runScript(
  sim: Simulation,
  config: SimulateConfig,
  timings: StepTimings,
  out: Output,
  boot: () => Promise<OutcomeEvent | undefined>,
): Promise<number> {
  const device = sim.device;
  const interrupted = () => void sim.close().then(() => process.exit(130));
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  const bootOutcome = await boot();
  const resentAtBoot = bootOutcome ? [summaryOf(bootOutcome, "ok", timings.take())] : [];
  timings.take();

  // A click's outcome always comes (the flow gives up after giveUpMs); this guard only catches a bug.
  const guardMs = config.button.giveUpMs + config.button.longPressMs + config.button.doubleClickMs + 10_000;
  const clicks: Array<Record<string, unknown>> = [];
  let passed = true;
  for (const clickType of config.clicks!) {
    const result = await withTimeout(device.press(clickType), guardMs);
    const expected = EXPECTED[clickType];
    const entry: Record<string, unknown> = result
      ? summaryOf(result, expected, timings.take())
      : { clickType, orderId: null, outcome: "no-outcome", expected, pressToAckMs: null };
    if (entry.outcome !== expected) passed = false;
    clicks.push(entry);
    // A battery button sleeps between presses: let it, so each press is a wake (sleep → press → … → sleep).
    if (config.button.connectionMode === "battery" && result) {
      entry.slept = await asleep(sim, guardMs);
      if (!entry.slept) passed = false;
    }
    if (!out.json) {
      const ms = entry.pressToAckMs !== null ? ` press→ack ${entry.pressToAckMs} ms` : "";
      out.line(`${clickType} → ${String(entry.outcome)}${entry.orderId ? ` ${String(entry.orderId)}` : ""}${ms}${entry.outcome === expected ? "" : ` (expected ${expected})`}`);
    }
  }
  await sim.close();
  process.stdout.write(`${JSON.stringify({ summary: { clicks, resentAtBoot, passed, mode: config.button.connectionMode, broker: sim.broker ? "embedded" : sim.brokerUrl } })}\n`);
  return passed ? 0 : 1;
}

/** The broker's reason for an auth-error outcome (by orderId), where the embedded broker told it. */
const outcomeReasons = new Map<string, string>();

function summaryOf(result: OutcomeEvent, expected: string, steps: Record<string, number | string | boolean>): Record<string, unknown> {
  const brokerReason = result.orderId !== undefined ? outcomeReasons.get(result.orderId) : undefined;
  return {
    clickType: result.clickType,
    orderId: result.orderId ?? null,
    outcome: result.outcome,
    expected,
    ...(brokerReason !== undefined ? { brokerReason } : {}),
    // The outcome event's own figures (see VirtualDevice's roundMs); null when no ack ended the click.
    pressToAckMs: result.pressToAckMs ?? null,
    publishToAckMs: result.publishToAckMs ?? null,
    attempts: result.attempts,
    resent: result.resent,
    ...steps,
  };
}

/** Observers of the button's events besides the printer (script-mode waits). */
const flowListeners = new Set<(event: FlowEvent) => void>();
const powerListeners = new Set<(state: "sleep" | "wake") => void>();

/** Battery mode: resolves true once the button is in deep sleep (false if it is not within limitMs). */
function asleep(sim: Simulation, limitMs: number): Promise<boolean> {
  if (sim.device.asleep) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const done = (slept: boolean) => {
      clearTimeout(limit);
      powerListeners.delete(check);
      resolve(slept);
    };
    const limit = setTimeout(() => done(false), limitMs);
    const check = (state: "sleep" | "wake") => {
      if (state === "sleep") done(true);
    };
    powerListeners.add(check);
  });
}

/**
 * Before scripted clicks: let a boot resend finish (resolves with its outcome), and in persistent mode let
 * the link come up.
 */
function bootSettled(config: SimulateConfig, pending: boolean): Promise<OutcomeEvent | undefined> {
  const persistent = config.button.connectionMode === "persistent";
  if (!pending && !persistent) return Promise.resolve(undefined);
  return new Promise<OutcomeEvent | undefined>((resolve) => {
    let outcome: OutcomeEvent | undefined;
    const done = () => {
      clearTimeout(limit);
      flowListeners.delete(check);
      resolve(outcome);
    };
    const limit = setTimeout(done, config.button.giveUpMs + 5_000);
    const check = (event: FlowEvent) => {
      if (
        pending
          ? event.type === "outcome" && event.trigger === "boot" && Boolean((outcome = event))
          : event.type === "connection" && (event.phase === "ready" || (event.phase === "closed" && event.kind === "auth"))
      ) {
        done();
      }
    };
    flowListeners.add(check);
  });
}

async function runInteractive(
  sim: Simulation,
  config: SimulateConfig,
  out: Output,
  tty: boolean,
  start: () => Promise<OutcomeEvent | undefined>,
): Promise<number> {
  out.line("Enter = tap (two quick = DOUBLE) · s = SINGLE · d = DOUBLE · l = LONG · q = quit");
  const boot = start();
  // Keys typed on a terminal act at once, as on the board (a press during an order blips "busy"; Enter is a
  // tap, two quick ones a DOUBLE). Keys from a pipe or file are a script with no timing between them: each
  // is a whole press (Enter a SINGLE) played after the previous one's outcome, and the end of the input
  // (or q) quits only after every queued press has been played.
  const queued = !process.stdin.isTTY;
  let queue: Promise<unknown> = boot;
  const redraw = () => sim.device.led.redraw();
  if (tty) process.stdout.on("resize", redraw);
  return new Promise<number>((resolve) => {
    let quitting = false;
    const quit = async (code: number, afterQueue: boolean) => {
      if (quitting) return;
      quitting = true;
      keyboard.close();
      if (afterQueue) await queue;
      process.stdout.off("resize", redraw);
      await sim.close();
      if (tty) sim.device.led.finish();
      resolve(code);
    };
    const keyboard = new KeyboardButton({
      input: process.stdin,
      onCommand: (command) => {
        if (command === "quit") return void quit(0, queued);
        if (!queued) return command === "TAP" ? sim.device.tap() : void sim.device.press(command);
        const press: ClickType = command === "TAP" ? "SINGLE" : command;
        queue = queue.then(() => sim.device.press(press));
      },
      onUnknownKey: (key) => {
        if (!queued || key.trim()) out.line("keys: Enter = tap (two quick = DOUBLE) · s = SINGLE · d = DOUBLE · l = LONG · q = quit");
      },
    });
    process.once("SIGINT", () => void quit(130, false));
    process.once("SIGTERM", () => void quit(143, false));
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

main().then(
  (code) => {
    // Flush stdout before leaving; anything still open (a slow socket close) must not keep us alive.
    process.stdout.write("", () => process.exit(code));
  },
  (error: unknown) => {
    process.stderr.write(`simulate: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
