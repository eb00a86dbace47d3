// Firmware: the real firmware (main.ts + core + device adapters compiled by the Moddable SDK for its
// headless x-cli-lin target: XS, the SDK's own TLS 1.2 stack under the core's MQTT session) clicking cold
// (on-demand mode) against the embedded broker and the restaurant, then against mosquitto. Both brokers
// resume TLS sessions by ID: the SDK's client caches one session per server name. Needs
// $MODDABLE with built host tools; otherwise the section is { skipped: reason }.
//
// Reading the figures: the headless host's sockets (modules/device/linux-host/socket.c) call the firmware
// back as data arrives, as lwIP does on an ESP32, so a click's time is the wire, the broker and XS's own CPU
// (the SDK's Linux socket module it replaces polled every 20 ms: ~40 ms more per request/response).
//
// Measured per click:
// - press → ack by the firmware's own clock (the core's outcome event, pressToAckMs: flow.click → ack,
//   the same span as the virtual button's; the click classifier's double-click window comes before it);
// - connect → ready as the firmware's flow sees it (TCP + TLS + CONNACK + SUBACK: connectMs);
// - the TLS handshake and MQTT exchanges from the wire, through a record-reading relay (tls-relay.ts);
// - XS memory (chunk and slot bytes in use, high-water mark during the click) when the firmware answers
//   the `mem` stdin command with an `@mem {...}` line (see MEM_PROTOCOL).
import { mkdirSync } from "node:fs";
import path from "node:path";
import { buildFirmwareHost, type HostBuild } from "../../tools/firmware/host-build";
import { REPO_ROOT, findSdk, type Sdk } from "../../tools/firmware/sdk";
import { FirmwareProcess, type FlowEventLine } from "../../tools/firmware/process";
import { onMosquittoStack, type Stack, type Workspace } from "./stack";
import { round, samplesOf, summarize, type Summary } from "./stats";
import { startTlsRelay, wireAckAt, wireSteps } from "./tls-relay";

/** The firmware host's XS memory report (modules/device/linux-host/board.ts "mem"); named in the skip reason of an older build. */
export const MEM_PROTOCOL =
  'stdin "mem" → stdout "@mem {"chunksUsed":N,"chunksPeak":N,"slotsUsed":N,"slotsPeak":N}" (bytes; ' +
  "XS the->currentChunksSize, the->peakChunksSize, the->currentHeapCount × sizeof(txSlot), " +
  "the->peakHeapCount × sizeof(txSlot); peaks since the previous `mem`, which resets them to the current values)";

export const FIRMWARE_THING = "bench-firmware";

export interface FirmwareMemory {
  /** High-water mark during a click (peak after the click, peaks reset just before it). */
  chunksPeakBytes: Summary;
  slotsPeakBytes: Summary;
  /** In use when idle after a click. */
  chunksIdleBytes: Summary;
  slotsIdleBytes: Summary;
}

/** Cold clicks of the firmware against one broker. */
export interface FirmwareRun {
  clicks: number;
  /** flow.click → ack, the firmware's clock (ms resolution). */
  pressToAck: Summary;
  /** connect → ready (TCP + TLS + CONNACK + SUBACK), the firmware's clock. */
  connectToReady: Summary;
  /** ClientHello → end of the handshake as the firmware sees it, on the wire. */
  tlsHandshake: Summary;
  /** Connections whose TLS session was resumed (abbreviated handshake: no certificates, no RSA signature). */
  resumedHandshakes: number;
  /**
   * Where a click's time goes, step by step, from the firmware's stdout lines (ms resolution) and the
   * relay's view of the wire. Steps sum to about press→ack. See FIRMWARE_STEPS.
   */
  split: Record<FirmwareStep, Summary>;
  memory: FirmwareMemory | { skipped: string };
  /** Every click's press→ack (ms), for the distributions of the HTML report. */
  samples: number[];
}

export type FirmwareResult =
  | { skipped: string }
  | (FirmwareRun & {
      build: { ms: number; binaryBytes: number };
      /** The same clicks against mosquitto. */
      mosquitto: FirmwareRun | { skipped: string };
      /** Battery mode: boots woken by a button press, no network involved. */
      wake: FirmwareWake;
    });

/** Boot-to-press latency of a battery button: the press that wakes it to the classifier holding it. */
export interface FirmwareWake {
  wakes: number;
  /** Press → classifier holds the press, the firmware's own count (its @wake line). */
  pressToClassifier: Summary;
  /** Press → the firmware listens to the button (@ready), on the harness's clock (includes the process start). */
  pressToReady: Summary;
}

export const FIRMWARE_STEPS = [
  "clickToConnect", // c: flow.click → connection opened (seq and pending written to Preference)
  "connectToAccept", // c: socket opened → TCP accepted by the relay
  "acceptToClientHello", // c: builds the ClientHello
  "serverFirstFlight", // s: ServerHello … ServerHelloDone (broker's key exchange signature)
  "clientSecondFlight", // c: chain check, ECDHE, Certificate + ClientKeyExchange + RSA CertificateVerify
  "serverFinish", // s: client certificate check, Finished
  "handshakeToConnect", // c: Finished check → CONNECT + SUBSCRIBE + PUBLISH (one flight)
  "connack", // s
  "connackToAck", // s: SUBACK, PUBACK, broker → restaurant (SQLite commit) → broker
  "ackToOutcome", // c: ack decoded, store updated, LED pattern → outcome event
] as const;
export type FirmwareStep = (typeof FIRMWARE_STEPS)[number];

export function firmwareSkipReason(): string | undefined {
  const sdk = findSdk();
  return sdk.ok ? undefined : sdk.reason;
}

export async function benchFirmware(
  ws: Workspace,
  stack: Stack,
  options: { clicks: number; progress: (line: string) => void },
): Promise<FirmwareResult> {
  const sdk = findSdk();
  if (!sdk.ok) return { skipped: sdk.reason };
  const build = await buildBenchFirmware(ws, sdk.sdk, options.progress);

  const embedded = await firmwareClicks(build.binaryPath, { host: stack.host, port: stack.port }, path.join(ws.dir, "firmware-run-embedded"), {
    ...options,
    label: "embedded broker",
  });
  const wake = await firmwareWakes(build.binaryPath, path.join(ws.dir, "firmware-run-wake"), { wakes: Math.max(5, options.clicks), progress: options.progress });
  const mosquitto = await onMosquittoStack(ws, "firmware-mosquitto.sqlite", (target) =>
    firmwareClicks(build.binaryPath, target, path.join(ws.dir, "firmware-run-mosquitto"), { ...options, label: "mosquitto" }),
  );
  return { ...embedded, build: { ms: round(build.buildMs), binaryBytes: build.binaryBytes }, mosquitto, wake };
}

/**
 * Battery mode: starts the binary as a sleeping button's press would (wake.button=<now>, as
 * tools/firmware/battery.ts does) and reads how long after the press the classifier held it. The button
 * stays held and no broker is needed: each run ends as soon as the firmware listens.
 */
async function firmwareWakes(binary: string, runDir: string, options: { wakes: number; progress: (line: string) => void }): Promise<FirmwareWake> {
  mkdirSync(runDir);
  const toClassifier: number[] = [];
  const toReady: number[] = [];
  for (let i = 0; i < options.wakes; i++) {
    const pressedAt = Date.now();
    const fw = new FirmwareProcess({ binary, cwd: runDir, args: ["mqtt.host=127.0.0.1", "mqtt.port=1", "connection=battery", `wake.button=${pressedAt}`] });
    try {
      const ready = await fw.waitForLine((t) => t === `@ready ${FIRMWARE_THING}`, "the woken firmware to be ready", { timeoutMs: 30_000 });
      const wake = fw.tagged("wake")[0];
      if (wake === undefined) throw new Error(`the woken firmware printed no @wake line:\n${fw.transcript()}`);
      toClassifier.push(Number(wake));
      toReady.push(fw.startedAt + fw.lines[ready]!.at - pressedAt);
    } finally {
      await fw.stop();
    }
  }
  options.progress(`firmware: ${options.wakes} wakes, press → classifier p50 ${summarize(toClassifier).p50} ms`);
  return { wakes: options.wakes, pressToClassifier: summarize(toClassifier), pressToReady: summarize(toReady) };
}

/** The firmware host binary with the bench's firmware identity baked in (built once per workspace). */
export async function buildBenchFirmware(ws: Workspace, sdk: Sdk, progress: (line: string) => void): Promise<HostBuild> {
  const cached = builds.get(ws);
  if (cached) return cached;
  // The firmware's identity: RSA-2048 (the SDK's TLS cannot use EC device keys), exported as DER.
  const pki = ws.dev.pki;
  if (!pki.thingFiles(FIRMWARE_THING)) await pki.createThing(FIRMWARE_THING, { keyType: "rsa" });
  const certsDir = path.join(ws.dir, "firmware-certs");
  await pki.exportModdable(FIRMWARE_THING, { outDir: certsDir });
  progress("firmware: building the x-cli-lin binary (the first build compiles XS: minutes; later ones: seconds)");
  const build = await buildFirmwareHost({ sdk, certsDir, outDir: path.join(REPO_ROOT, "build", "firmware-bench") });
  builds.set(ws, build);
  return build;
}

const builds = new WeakMap<Workspace, HostBuild>();

/** Starts the firmware (a fresh Preference store in runDir) behind a relay to `target` and clicks it cold. */
async function firmwareClicks(
  binary: string,
  target: { host: string; port: number },
  runDir: string,
  options: { clicks: number; label: string; progress: (line: string) => void },
): Promise<FirmwareRun> {
  const relay = await startTlsRelay(target);
  mkdirSync(runDir);
  const startedEpoch = Date.now(); // FirmwareProcess stamps lines in ms since its construction
  const fw = new FirmwareProcess({
    binary,
    cwd: runDir,
    args: ["mqtt.host=127.0.0.1", `mqtt.port=${relay.port}`, "connection=on-demand"],
  });
  try {
    await fw.waitForLine((t) => t === `@ready ${FIRMWARE_THING}`, "the firmware to be ready", { timeoutMs: 30_000 });
    const mem = await probeMem(fw);
    const pressToAck: number[] = [];
    const connect: number[] = [];
    const chunksPeak: number[] = [];
    const slotsPeak: number[] = [];
    const chunksIdle: number[] = [];
    const slotsIdle: number[] = [];
    const split = Object.fromEntries(FIRMWARE_STEPS.map((step) => [step, [] as number[]])) as Record<FirmwareStep, number[]>;
    const lineAt = (index: number) => startedEpoch + fw.lines[index]!.at;

    for (let i = 0; i < options.clicks; i++) {
      if (mem) await readMem(fw); // resets the peaks
      const from = fw.lines.length;
      const tracesBefore = relay.traces.length;
      fw.send("single");
      const at = await fw.waitForLine((t) => isEvent(t, (e) => e.type === "outcome"), `the outcome of click ${i + 1}`, { from });
      const outcome = parseEvent(fw.lines[at]!.text);
      if (outcome.outcome !== "ok") throw new Error(`firmware click ${i + 1} ended ${String(outcome.outcome)}:\n${fw.transcript()}`);
      pressToAck.push(Number(outcome.pressToAckMs));
      const ready = fw.lines.slice(from, at).map((l) => l.text).find((t) => isEvent(t, (e) => e.type === "connection" && e.phase === "ready"));
      if (ready) connect.push(Number(parseEvent(ready).connectMs));
      await fw.waitForLine((t) => isEvent(t, (e) => e.type === "state" && e.state === "idle"), "idle", { from: at });
      // On-demand: the firmware closes after the ack; wait until the relay saw it go, so clicks stay cold.
      await waitUntil(() => relay.traces.length > tracesBefore && relay.traces.at(-1)!.closedAt !== undefined, 5_000);
      if (mem) {
        const m = await readMem(fw);
        chunksPeak.push(m.chunksPeak);
        slotsPeak.push(m.slotsPeak);
        chunksIdle.push(m.chunksUsed);
        slotsIdle.push(m.slotsUsed);
      }
      const trace = relay.traces[tracesBefore];
      const clickLine = findLine(fw, from, at, (t) => t.startsWith("@click "));
      const connectingLine = findLine(fw, from, at, (t) => isEvent(t, (e) => e.type === "connection" && e.phase === "connecting"));
      if (trace && clickLine !== undefined && connectingLine !== undefined) {
        const w = wireSteps(trace);
        const add = (step: FirmwareStep, ms: number | undefined) => {
          if (ms !== undefined && Number.isFinite(ms)) split[step].push(ms);
        };
        add("clickToConnect", lineAt(connectingLine) - lineAt(clickLine));
        add("connectToAccept", trace.acceptedAt - lineAt(connectingLine));
        for (const step of FIRMWARE_STEPS) if (step in w) add(step, w[step as keyof typeof w] as number | undefined);
        const ackAt = wireAckAt(trace);
        if (ackAt !== undefined) add("ackToOutcome", lineAt(at) - ackAt);
      }
      if ((i + 1) % 5 === 0) options.progress(`firmware (${options.label}): ${i + 1}/${options.clicks} clicks`);
    }

    const wire = relay.traces.map(wireSteps);
    return {
      clicks: options.clicks,
      pressToAck: summarize(pressToAck),
      connectToReady: summarize(connect),
      tlsHandshake: summarize(wire.map((w) => w.tlsHandshake).filter((x): x is number => x !== undefined)),
      resumedHandshakes: wire.filter((w) => w.resumed).length,
      samples: samplesOf(pressToAck),
      split: Object.fromEntries(FIRMWARE_STEPS.map((step) => [step, summarize(split[step])])) as Record<FirmwareStep, Summary>,
      memory: mem
        ? {
            chunksPeakBytes: summarize(chunksPeak),
            slotsPeakBytes: summarize(slotsPeak),
            chunksIdleBytes: summarize(chunksIdle),
            slotsIdleBytes: summarize(slotsIdle),
          }
        : { skipped: `the firmware does not report XS memory; needed: ${MEM_PROTOCOL}` },
    };
  } finally {
    await fw.stop();
    await relay.close();
  }
}

interface MemLine {
  chunksUsed: number;
  chunksPeak: number;
  slotsUsed: number;
  slotsPeak: number;
}

/** Does this firmware answer `mem`? (An unknown command is answered with an @error line.) */
async function probeMem(fw: FirmwareProcess): Promise<boolean> {
  const from = fw.lines.length;
  fw.send("mem");
  const at = await fw.waitForLine((t) => t.startsWith("@mem ") || (t.startsWith("@error") && t.includes("mem")), "an answer to mem", {
    from,
    timeoutMs: 5_000,
  });
  return fw.lines[at]!.text.startsWith("@mem ");
}

async function readMem(fw: FirmwareProcess): Promise<MemLine> {
  const from = fw.lines.length;
  fw.send("mem");
  const at = await fw.waitForLine((t) => t.startsWith("@mem "), "@mem", { from, timeoutMs: 5_000 });
  return JSON.parse(fw.lines[at]!.text.slice(5)) as MemLine;
}

function findLine(fw: FirmwareProcess, from: number, to: number, match: (text: string) => boolean): number | undefined {
  for (let i = from; i <= to && i < fw.lines.length; i++) if (match(fw.lines[i]!.text)) return i;
  return undefined;
}

function parseEvent(text: string): FlowEventLine {
  return JSON.parse(text.slice("@event ".length)) as FlowEventLine;
}

function isEvent(text: string, match: (event: FlowEventLine) => boolean): boolean {
  if (!text.startsWith("@event ")) return false;
  try {
    return match(parseEvent(text));
  } catch {
    return false;
  }
}

async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}
