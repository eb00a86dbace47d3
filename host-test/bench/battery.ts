// Battery: the real firmware (x-cli-lin) in battery mode, through the delay relay (RTT 2 × oneWayMs), as a
// button on two AA cells lives: power-on, then presses that each wake it from deep sleep (the process ends
// with @sleep; tools/firmware/battery.ts starts it again for the press, with its RTC memory file kept).
//
// Per press, in two groups: the first press after a power-on (RTC memory empty: a full TLS handshake) and the
// presses after a deep sleep (the TLS session kept in RTC memory: resumed, if the broker still has it):
// - press → ack by the firmware's clock (flow.click → ack, the measure of the rtt section), in RTTs;
// - wake → ack on the harness's clock: from the press that wakes the sleeping button to its ack line
//   (process start and XS boot, the 400 ms double-click window, then the connection);
// - whether the handshake was resumed, read from the wire (TLS record order at the relay);
// - the firmware's CPU time in TLS: its process's on-CPU time (Linux /proc/<pid>/schedstat, ns) from its
//   ClientHello leaving to its Finished leaving, sampled by the relay as those records arrive. The firmware
//   is single-threaded and waits on the network at the first sample, so this is the handshake's own work
//   (chain check, ECDHE, RSA signature for a full one; two PRFs for a resumed one), ClientHello excluded;
// - the round trips the press waited on, counted at the relay (wire-turns.ts: TCP, then each client flight
//   up to the ack), and the split of press → ack into the wire (round trips × RTT), the broker's answering
//   time (broker, and the restaurant for the ack) and the rest, the firmware's: its CPU on the connection
//   and the time the process waits to be scheduled (the headless host's sockets wake it as data arrives,
//   modules/device/linux-host/socket.c).
// Against the embedded broker and mosquitto. Needs $MODDABLE; otherwise { skipped: reason }.
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { BatteryFirmware } from "../../tools/firmware/battery";
import { findSdk } from "../../tools/firmware/sdk";
import { startDelayRelay, type DelayRelay } from "./delay-relay";
import { buildBenchFirmware, FIRMWARE_THING } from "./firmware";
import { onMosquittoStack, type Stack, type Workspace } from "./stack";
import { round, summarize, type Summary } from "./stats";
import { wireSplit } from "./wire-turns";

/** Presses after a deep sleep: press → ack at most this many RTTs (TCP 1 + resumed TLS 1 + MQTT 1, + CPU). */
export const BATTERY_RESUMED_TARGET_RTT = 3.3;
/** Presses after a deep sleep: round trips on the wire (TCP 1 + resumed TLS 1 + CONNECT…PUBLISH → ack 1). */
export const BATTERY_RESUMED_WIRE_ROUND_TRIPS = 3;

const HANDSHAKE = 22;
const CHANGE_CIPHER_SPEC = 20;

export interface BatteryPhase {
  presses: number;
  /** flow.click → ack, the firmware's clock (ms). */
  pressToAck: Summary;
  /** pressToAck p50 / RTT. */
  rtts: number;
  /** The wake press → the ack line, the harness's clock (ms). */
  wakeToAck: Summary;
  /** Connection opened → ready (TCP + TLS + CONNACK + SUBACK), the firmware's clock (ms). */
  connectToReady: Summary;
  /** Handshakes the wire showed as resumed. */
  resumedOnWire: number;
  /** Round trips the press waited on, counted at the relay: TCP 1 + each client flight up to the ack. */
  wireRoundTrips: Summary;
  /** press → ack split (ms): the relay's delay (round trips × RTT), the broker side's answering time, and the rest. */
  split: {
    wireMs: Summary;
    serverMs: Summary;
    /** press → ack − wire − server: the firmware's CPU and its waits to be woken and scheduled. */
    clientMs: Summary;
    /** The firmware's CPU time from the accept to its first flight after the ack; skipped without schedstat. */
    clientCpuMs: Summary | { skipped: string };
  };
  /** Firmware CPU time from its ClientHello to its Finished (ms); empty where /proc has no schedstat. */
  tlsCpuMs: Summary | { skipped: string };
  /** The last press of the group on the wire: every chunk as it reached the relay (ms from its accept of
   *  the TCP connection, before the relay's delay), and when the firmware reported the outcome. */
  lastPress?: { chunks: Array<{ atMs: number; from: "client" | "server"; bytes: number; records: number[] }>; outcomeAtMs: number };
}

export interface BatteryRun {
  /** The first press after each power-on (full handshake). */
  powerOn: BatteryPhase;
  /** The presses after a deep sleep (the session kept in RTC memory). */
  afterSleep: BatteryPhase;
}

export interface BatteryResult {
  oneWayMs: number;
  rttMs: number;
  embedded: BatteryRun | { skipped: string };
  mosquitto: BatteryRun | { skipped: string };
}

export async function benchBattery(
  ws: Workspace,
  stack: Stack,
  options: { powerOns: number; pressesAfterSleep: number; oneWayMs: number; progress: (line: string) => void },
): Promise<BatteryResult | { skipped: string }> {
  const sdk = findSdk();
  if (!sdk.ok) return { skipped: sdk.reason };
  const binary = (await buildBenchFirmware(ws, sdk.sdk, options.progress)).binaryPath;
  const rttMs = 2 * options.oneWayMs;
  const embedded = await batteryPresses(binary, { host: stack.host, port: stack.port }, path.join(ws.dir, "battery-embedded"), { ...options, label: "embedded broker" });
  const mosquitto = await onMosquittoStack(ws, "battery-mosquitto.sqlite", (target) =>
    batteryPresses(binary, target, path.join(ws.dir, "battery-mosquitto"), { ...options, label: "mosquitto" }),
  );
  return { oneWayMs: options.oneWayMs, rttMs, embedded, mosquitto };
}

/** On-CPU time of a process so far (ns), or undefined without /proc/<pid>/schedstat. */
function cpuNs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const value = Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

interface Samples {
  wireRoundTrips: number[];
  wireMs: number[];
  serverMs: number[];
  clientMs: number[];
  clientCpuMs: number[];
  pressToAck: number[];
  wakeToAck: number[];
  connectToReady: number[];
  tlsCpuMs: number[];
  resumed: number;
  lastPress?: BatteryPhase["lastPress"];
}

async function batteryPresses(
  binary: string,
  target: { host: string; port: number },
  flash: string,
  options: { powerOns: number; pressesAfterSleep: number; oneWayMs: number; label: string; progress: (line: string) => void },
): Promise<BatteryRun> {
  // The handshake's CPU, sampled as the firmware's records reach the relay (before the relay's delay).
  const tls = { pid: undefined as number | undefined, state: "idle" as "idle" | "hello" | "ccs" | "done", startNs: 0, cpuMs: undefined as number | undefined };
  const onRecord = (from: "client" | "server", type: number) => {
    if (from !== "client") return;
    if (tls.state === "idle" && type === HANDSHAKE) {
      const ns = cpuNs(tls.pid);
      if (ns === undefined) return;
      tls.startNs = ns;
      tls.state = "hello";
    } else if (tls.state === "hello" && type === CHANGE_CIPHER_SPEC) tls.state = "ccs";
    else if (tls.state === "ccs" && type === HANDSHAKE) {
      const ns = cpuNs(tls.pid);
      if (ns !== undefined) tls.cpuMs = (ns - tls.startNs) / 1e6;
      tls.state = "done";
    }
  };
  const relay: DelayRelay = await startDelayRelay(target, { oneWayMs: options.oneWayMs, onRecord, clientCpuNs: () => cpuNs(tls.pid) });
  mkdirSync(flash, { recursive: true });
  // The tap is released once the woken firmware listens: LONG (a cancel) is set out of reach of a slow boot.
  const device = new BatteryFirmware({ binary, cwd: flash, args: ["mqtt.host=127.0.0.1", `mqtt.port=${relay.port}`, "connection=battery", "longPressMs=10000"] });
  const samples = (): Samples => ({ wireRoundTrips: [], wireMs: [], serverMs: [], clientMs: [], clientCpuMs: [], pressToAck: [], wakeToAck: [], connectToReady: [], tlsCpuMs: [], resumed: 0 });
  const first = samples();
  const after = samples();

  const press = async (into: Samples) => {
    const connections = relay.connections.length;
    tls.state = "idle";
    tls.cpuMs = undefined;
    const { fw, pressedAt } = device.press();
    tls.pid = fw.pid;
    await fw.waitForLine((t) => t === `@ready ${FIRMWARE_THING}`, "the woken firmware to be ready", { timeoutMs: 30_000 });
    const { outcome, index } = await fw.nextOutcome(fw.send("release"), 60_000);
    if (outcome.outcome !== "ok") throw new Error(`battery press (${options.label}) ended ${String(outcome.outcome)}:\n${fw.transcript()}`);
    into.pressToAck.push(Number(outcome.pressToAckMs));
    into.wakeToAck.push(fw.startedAt + fw.lines[index]!.at - pressedAt);
    const ready = fw.events().find((e) => e.type === "connection" && e.phase === "ready");
    if (ready) into.connectToReady.push(Number(ready.connectMs));
    await device.waitForSleep();
    const connection = relay.connections[connections];
    if (!connection || relay.connections.length !== connections + 1) throw new Error(`battery press (${options.label}): expected one connection, saw ${relay.connections.length - connections}:\n${fw.transcript()}`);
    if (connection.resumed) into.resumed++;
    const split = wireSplit(connection, { oneWayMs: options.oneWayMs, ackSeenAt: fw.startedAt + fw.lines[index]!.at });
    if (!split) throw new Error(`battery press (${options.label}): no ack chunk at the relay before the firmware's outcome`);
    into.wireRoundTrips.push(split.roundTrips);
    into.wireMs.push(split.wireMs);
    into.serverMs.push(round(split.serverMs));
    into.clientMs.push(round(Number(outcome.pressToAckMs) - split.wireMs - split.serverMs));
    if (split.clientCpuMs !== undefined) into.clientCpuMs.push(round(split.clientCpuMs));
    if (tls.cpuMs !== undefined) into.tlsCpuMs.push(round(tls.cpuMs));
    const sinceAccept = (at: number) => round(at - connection.acceptedAt);
    into.lastPress = {
      chunks: connection.chunks.map((c) => ({ atMs: sinceAccept(c.at), from: c.from, bytes: c.bytes, records: c.records })),
      outcomeAtMs: sinceAccept(fw.startedAt + fw.lines[index]!.at),
    };
  };

  try {
    for (let cycle = 0; cycle < options.powerOns; cycle++) {
      const boot = device.powerOn();
      await boot.waitForLine((t) => t === `@ready ${FIRMWARE_THING}`, "ready after power-on", { timeoutMs: 30_000 });
      await device.waitForSleep();
      await press(first);
      for (let i = 0; i < options.pressesAfterSleep; i++) await press(after);
      options.progress(`battery (${options.label}): power-on ${cycle + 1}/${options.powerOns}, ${options.pressesAfterSleep} presses after sleep, ${after.resumed}/${after.pressToAck.length} resumed so far`);
    }
  } finally {
    await device.stop();
    await relay.close();
  }
  const rttMs = 2 * options.oneWayMs;
  const phase = (s: Samples): BatteryPhase => {
    const pressToAck = summarize(s.pressToAck);
    return {
      presses: s.pressToAck.length,
      pressToAck,
      rtts: round(pressToAck.p50 / rttMs),
      wakeToAck: summarize(s.wakeToAck),
      connectToReady: summarize(s.connectToReady),
      resumedOnWire: s.resumed,
      wireRoundTrips: summarize(s.wireRoundTrips),
      split: {
        wireMs: summarize(s.wireMs),
        serverMs: summarize(s.serverMs),
        clientMs: summarize(s.clientMs),
        clientCpuMs: s.clientCpuMs.length > 0 ? summarize(s.clientCpuMs) : { skipped: "no /proc/<pid>/schedstat (Linux only)" },
      },
      tlsCpuMs: s.tlsCpuMs.length > 0 ? summarize(s.tlsCpuMs) : { skipped: "no /proc/<pid>/schedstat (Linux only)" },
      ...(s.lastPress ? { lastPress: s.lastPress } : {}),
    };
  };
  return { powerOn: phase(first), afterSleep: phase(after) };
}
