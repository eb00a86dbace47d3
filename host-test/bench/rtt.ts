// Round trips: a cold press → ack through a relay that adds a fixed delay each way (delay-relay.ts), counted
// in RTTs. On a real network a battery button's press costs round trips, not CPU: TCP (1) + TLS 1.2 (2
// full, 1 resumed) + MQTT (1 when CONNECT, SUBSCRIBE and PUBLISH leave in one flight) = 4 full, 3 resumed.
//
// For the virtual button (the core's session over node:tls) and, with $MODDABLE, the firmware (x-cli-lin),
// against the embedded broker and mosquitto, with a full and with a resumed TLS handshake:
// - virtual, full: the TLS session is forgotten before each click; resumed: the previous click's is offered;
// - firmware, full: a fresh process per click with its RTC memory file removed (the firmware keeps its TLS
//   session there, across restarts, as across deep sleep: without it every click would resume); resumed: the
//   following clicks of one process, resumed only if the broker accepts the session ID it offers.
// Whether a handshake was really resumed is read from the wire (TLS record order), not assumed.
// The broker → restaurant → broker leg stays on loopback: it is CPU time, not a round trip of the button's.
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { defaultConfig } from "../../modules/core/config";
import { RTC_MEMORY_FILE } from "../../tools/firmware/battery";
import { findSdk } from "../../tools/firmware/sdk";
import { FirmwareProcess } from "../../tools/firmware/process";
import { VirtualDevice } from "../device/virtual-device";
import { startDelayRelay } from "./delay-relay";
import { quietLog } from "./device-probe";
import { buildBenchFirmware, FIRMWARE_THING } from "./firmware";
import { BENCH_THING, benchCredentials, benchStorePath, onMosquittoStack, type Stack, type Workspace } from "./stack";
import { round, summarize, type Summary } from "./stats";

export const RTT_TARGETS = { full: 4.3, resumed: 3.3 } as const;

export interface RttCell {
  /** press → ack, ms. */
  pressToAck: Summary;
  /** press → ack p50 / RTT. */
  rtts: number;
  /** Handshakes the wire showed as resumed, of clicks. */
  resumed: number;
  clicks: number;
}

export interface RttHost {
  full: RttCell;
  resumed: RttCell;
}

type BrokerRuns = { embedded: RttHost | { skipped: string }; mosquitto: RttHost | { skipped: string } };

export interface RttResult {
  oneWayMs: number;
  rttMs: number;
  virtual: BrokerRuns;
  firmware: BrokerRuns | { skipped: string };
}

interface Target {
  host: string;
  port: number;
}

export async function benchRtt(
  ws: Workspace,
  stack: Stack,
  options: { clicks: number; firmwareClicks: number; oneWayMs: number; progress: (line: string) => void },
): Promise<RttResult> {
  const rttMs = 2 * options.oneWayMs;
  const sdk = findSdk();
  const firmwareBinary = sdk.ok ? (await buildBenchFirmware(ws, sdk.sdk, options.progress)).binaryPath : undefined;
  const onBroker = async (label: string, target: Target): Promise<{ virtual: RttHost; firmware?: RttHost }> => {
    options.progress(`rtt (${label}): virtual button, ${options.clicks} full + ${options.clicks} resumed cold clicks at RTT ${rttMs} ms`);
    const virtual = await virtualClicks(ws, target, options);
    if (!firmwareBinary) return { virtual };
    options.progress(`rtt (${label}): firmware, ${options.firmwareClicks} full + ${options.firmwareClicks} resumed cold clicks`);
    const firmware = await firmwareClicks(ws, firmwareBinary, target, label, options);
    return { virtual, firmware };
  };

  const embedded = await onBroker("embedded broker", { host: stack.host, port: stack.port });
  const mosquitto = await onMosquittoStack(ws, "rtt-mosquitto.sqlite", (target) => onBroker("mosquitto", target));
  const of = (host: "virtual" | "firmware", run: typeof mosquitto): RttHost | { skipped: string } =>
    "skipped" in run ? run : (run[host] ?? { skipped: "no firmware" });
  return {
    oneWayMs: options.oneWayMs,
    rttMs,
    virtual: { embedded: embedded.virtual, mosquitto: of("virtual", mosquitto) },
    firmware: sdk.ok ? { embedded: embedded.firmware!, mosquitto: of("firmware", mosquitto) } : { skipped: sdk.reason },
  };
}

function cell(samples: number[], resumed: number, rttMs: number): RttCell {
  const pressToAck = summarize(samples);
  return { pressToAck, rtts: round(pressToAck.p50 / rttMs), resumed, clicks: samples.length };
}

/** The virtual button, full and resumed handshakes alternating (both see the same machine load). */
async function virtualClicks(ws: Workspace, target: Target, options: { clicks: number; oneWayMs: number }): Promise<RttHost> {
  const relay = await startDelayRelay(target, { oneWayMs: options.oneWayMs });
  const device = new VirtualDevice({
    config: { ...defaultConfig, thingName: BENCH_THING, connectionMode: "on-demand" },
    broker: { host: "127.0.0.1", port: relay.port },
    credentials: benchCredentials(ws),
    storePath: benchStorePath(ws), // the bench button's one store: its seq counter goes on
    log: quietLog,
  });
  device.start();
  const full: number[] = [];
  const resumed: number[] = [];
  let fullResumed = 0;
  let resumedResumed = 0;
  const click = async (): Promise<{ ms: number; resumed: boolean }> => {
    const before = relay.connections.length;
    const result = await device.click("SINGLE");
    if (result.outcome !== "ok") throw new Error(`rtt: click ended ${result.outcome}`);
    await device.connector.drain(); // the disconnect: not timed
    return { ms: result.clickToOutcomeMs, resumed: relay.connections[before]?.resumed === true };
  };
  try {
    await click(); // warm-up: code paths compiled, a session to resume
    for (let i = 0; i < options.clicks; i++) {
      device.connector.forgetTlsSession();
      const f = await click();
      full.push(f.ms);
      if (f.resumed) fullResumed++;
      const r = await click();
      resumed.push(r.ms);
      if (r.resumed) resumedResumed++;
    }
  } finally {
    await device.stop();
    await relay.close();
  }
  const rttMs = 2 * options.oneWayMs;
  return { full: cell(full, fullResumed, rttMs), resumed: cell(resumed, resumedResumed, rttMs) };
}

/** The firmware: a fresh process per full-handshake click; then clicks in one process for resumption. */
async function firmwareClicks(
  ws: Workspace,
  binary: string,
  target: Target,
  label: string,
  options: { firmwareClicks: number; oneWayMs: number },
): Promise<RttHost> {
  const relay = await startDelayRelay(target, { oneWayMs: options.oneWayMs });
  const runDir = path.join(ws.dir, `rtt-firmware-${label.replace(/\W+/g, "-")}`);
  mkdirSync(runDir, { recursive: true }); // one Preference store: the seq counter goes on across processes
  const start = async (powerOn: boolean) => {
    if (powerOn) rmSync(path.join(runDir, RTC_MEMORY_FILE), { force: true }); // no kept TLS session: a full handshake
    const fw = new FirmwareProcess({ binary, cwd: runDir, args: ["mqtt.host=127.0.0.1", `mqtt.port=${relay.port}`, "connection=on-demand"] });
    await fw.waitForLine((t) => t === `@ready ${FIRMWARE_THING}`, "the firmware to be ready", { timeoutMs: 30_000 });
    return fw;
  };
  const click = async (fw: FirmwareProcess): Promise<{ ms: number; resumed: boolean }> => {
    const before = relay.connections.length;
    const from = fw.send("single");
    const { outcome } = await fw.nextOutcome(from, 30_000);
    if (outcome.outcome !== "ok") throw new Error(`rtt: firmware click ended ${String(outcome.outcome)}:\n${fw.transcript()}`);
    await fw.waitForLine((t) => t === "@mqtt out DISCONNECT", "the DISCONNECT", { from, timeoutMs: 5_000 });
    await waitUntil(() => relay.connections[before]?.closed === true, 5_000);
    return { ms: Number(outcome.pressToAckMs), resumed: relay.connections[before]?.resumed === true };
  };
  const full: number[] = [];
  const resumed: number[] = [];
  let fullResumed = 0;
  let resumedResumed = 0;
  try {
    for (let i = 0; i < options.firmwareClicks; i++) {
      const fw = await start(true);
      try {
        const f = await click(fw);
        full.push(f.ms);
        if (f.resumed) fullResumed++;
      } finally {
        await fw.stop();
      }
    }
    const fw = await start(false);
    try {
      await click(fw); // the session to resume
      for (let i = 0; i < options.firmwareClicks; i++) {
        const r = await click(fw);
        resumed.push(r.ms);
        if (r.resumed) resumedResumed++;
      }
    } finally {
      await fw.stop();
    }
  } finally {
    await relay.close();
  }
  const rttMs = 2 * options.oneWayMs;
  return { full: cell(full, fullResumed, rttMs), resumed: cell(resumed, resumedResumed, rttMs) };
}

async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}
