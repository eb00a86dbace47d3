// `npm run bench`: the product's latency and capacity, each measured side by side with a baseline in the
// same run (this machine is shared and noisy: only ratios measured together mean something).
//
//   npm run bench                      full run (< 5 min; + the first firmware build when $MODDABLE is set)
//   npm run bench -- --quick           smoke run (< 30 s): small N everywhere
//   npm run bench -- --table           also print a human table (stderr; stdout stays one JSON document)
//   npm run bench -- --html FILE       also write one self-contained page with the distributions and timeline
//   npm run bench -- --only warm,cold  sections: warm, cold, rtt, load, scale, firmware, battery
//   --warm N  --cold N  --load N  --load-spread-ms MS  --steady-spread-ms MS (0: none)  --firmware-clicks N
//   --rtt N (clicks per cell)  --rtt-one-way-ms MS (delay each way; RTT = 2 × MS; the battery section's too)
//   --battery N (presses after deep sleep per power-on)
//   --state-dir DIR (button stores and restaurant databases; default tmpfs)
//   Profiling: node --cpu-prof --cpu-prof-dir=prof --import tsx host-test/bench/bench.ts --only warm
//   (this process only: the load section's broker and restaurant run in processes of their own;
//   BENCH_BROKER_CPU_PROF=DIR profiles the embedded broker's process of the load section)
//
// stdout: ONE JSON document (sections: warm, cold, rtt, load, scale, firmware, battery; targets). stderr: progress.
// Everything runs on 127.0.0.1 with ephemeral ports; PKI, databases and stores live in temp dirs that are
// removed at the end.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { findMosquitto } from "../mosquitto/mosquitto";
import { benchBattery } from "./battery";
import { benchCold } from "./cold";
import { benchFirmware, firmwareSkipReason } from "./firmware";
import { benchLoad } from "./load-bench";
import { benchScale } from "./scale-bench";
import { renderHtml } from "./html-report";
import { benchRtt } from "./rtt";
import { evaluateTargets, formatTable, type BenchReport } from "./report";
import { fsyncCostMs, openWorkspace, startStack, type Workspace } from "./stack";
import { benchWarm } from "./warm";

const SECTIONS = ["warm", "cold", "rtt", "load", "scale", "firmware", "battery"] as const;
type Section = (typeof SECTIONS)[number];

interface BenchSettings {
  quick: boolean;
  sections: Section[];
  warm: { n: number; blockSize: number; warmup: number };
  cold: { n: number; blockSize: number; warmup: number };
  load: { buttons: number; spreadMs: number; steadySpreadMs: number; deadlineMs: number; warmup: number };
  firmware: { clicks: number };
  /** Restaurant on SQLite vs PostgreSQL with 1 and 3 instances: buttons × presses orders each. */
  scale: { buttons: number; presses: number };
  rtt: { clicks: number; firmwareClicks: number; oneWayMs: number };
  battery: { powerOns: number; pressesAfterSleep: number };
  stateDir: string | undefined;
}

function usageError(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) usageError(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

function parseSettings(argv: string[]): BenchSettings & { table: boolean; html: string | undefined } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        quick: { type: "boolean", default: false },
        table: { type: "boolean", default: false },
        html: { type: "string" },
        only: { type: "string" },
        warm: { type: "string" },
        cold: { type: "string" },
        load: { type: "string" },
        "load-spread-ms": { type: "string" },
        "steady-spread-ms": { type: "string" },
        "firmware-clicks": { type: "string" },
        rtt: { type: "string" },
        "rtt-one-way-ms": { type: "string" },
        battery: { type: "string" },
        "state-dir": { type: "string" },
        help: { type: "boolean", default: false },
      },
    });
  } catch (error) {
    usageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stderr.write(
      "usage: npm run bench -- [--quick] [--table] [--html FILE] [--only warm,cold,rtt,load,scale,firmware,battery] [--warm N] [--cold N] [--load N]\n" +
        "                        [--load-spread-ms MS] [--steady-spread-ms MS] [--firmware-clicks N] [--rtt N] [--rtt-one-way-ms MS]\n" +
        "                        [--battery N]\n" +
        "                        [--state-dir DIR]\n",
    );
    process.exit(0);
  }
  const quick = values.quick;
  const sections = values.only
    ? values.only.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
        if (!(SECTIONS as readonly string[]).includes(s)) usageError(`unknown section ${JSON.stringify(s)} (${SECTIONS.join(", ")})`);
        return s as Section;
      })
    : // The scale section starts PostgreSQL and five restaurant runs: a full run has it, --quick only on request.
      SECTIONS.filter((s) => !(quick && s === "scale"));
  const buttons = count(values.load, "--load", quick ? 100 : 1000);
  return {
    quick,
    table: values.table,
    html: values.html,
    sections,
    warm: { n: count(values.warm, "--warm", quick ? 40 : 300), blockSize: quick ? 10 : 25, warmup: quick ? 5 : 20 },
    cold: { n: count(values.cold, "--cold", quick ? 10 : 50), blockSize: 5, warmup: quick ? 1 : 3 },
    // The rush: 1,000 presses in 2 s (500/s, as the reliability suite runs it): more than this 2-core
    // machine can serve with the 1,000 buttons' own TLS simulated on it, so it measures the queue. The
    // steady run: the same buttons over 20 s (50/s), below saturation even with the machine half taken.
    load: {
      buttons,
      spreadMs: count(values["load-spread-ms"], "--load-spread-ms", buttons * 2),
      steadySpreadMs: quick ? 0 : count(values["steady-spread-ms"], "--steady-spread-ms", buttons * 20),
      deadlineMs: quick ? 30_000 : 120_000,
      warmup: 10,
    },
    firmware: { clicks: count(values["firmware-clicks"], "--firmware-clicks", quick ? 5 : 20) },
    scale: { buttons: quick ? 20 : 100, presses: quick ? 5 : 10 },
    rtt: {
      clicks: count(values.rtt, "--rtt", quick ? 2 : 7),
      firmwareClicks: quick ? 1 : 3,
      oneWayMs: count(values["rtt-one-way-ms"], "--rtt-one-way-ms", 50),
    },
    battery: { powerOns: quick ? 1 : 2, pressesAfterSleep: count(values.battery, "--battery", quick ? 2 : 5) },
    stateDir: values["state-dir"],
  };
}

function mosquittoVersion(): string | null {
  const binary = findMosquitto();
  if (!binary) return null;
  try {
    execFileSync(binary, ["-h"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    // `mosquitto -h` prints its usage and exits 3.
    const out = String((error as { stdout?: string }).stdout ?? "");
    return /mosquitto version (\S+)/.exec(out)?.[1] ?? "unknown";
  }
  return "unknown";
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const progress = (line: string) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1)} s] ${line}\n`);
  const loadavgStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const want = (s: Section) => settings.sections.includes(s);
  progress(`load average ${loadavgStart.join(" ")} on ${os.cpus().length} CPUs; sections: ${settings.sections.join(", ")}${settings.quick ? " (quick)" : ""}`);

  const ws: Workspace = await openWorkspace(settings.stateDir ? { stateRoot: settings.stateDir } : {});
  const report: BenchReport = {
    bench: "pizza-button",
    version: 1,
    startedAt,
    durationMs: 0,
    quick: settings.quick,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      loadavgStart,
      loadavgEnd: [],
      mosquitto: mosquittoVersion(),
    },
    settings: { workDir: ws.dir, stateDir: ws.stateDir, fsyncMs: { stateDir: fsyncCostMs(ws.stateDir), tmpdir: fsyncCostMs(ws.dir) }, deviceKey: "RSA-2048 (load fleet: EC P-256)", tls: "TLSv1.2", topicPrefix: "pizza" },
    targets: [],
  };
  // Stopped (Ctrl-C, or a test's timeout): process.exit runs the exit hooks that end child brokers
  // (host-test/mosquitto: by PID; the load section's broker process leaves when our pipe to it closes),
  // and this one, last, removes the temp dirs.
  process.on("exit", () => ws.close());
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) process.once(signal, () => process.exit(code));

  try {
    if (want("warm") || want("cold") || want("rtt") || want("firmware") || want("battery")) {
      const stack = await startStack(ws);
      try {
        if (want("warm")) {
          progress(`warm: ${settings.warm.n} clicks each, ours and baseline in ABBA blocks of ${settings.warm.blockSize}`);
          report.warm = await benchWarm(ws, stack, { ...settings.warm, progress });
        }
        if (want("cold")) {
          progress(`cold: ${settings.cold.n} clicks each, ours and baseline in ABBA blocks of ${settings.cold.blockSize}`);
          report.cold = await benchCold(ws, stack, { ...settings.cold, progress });
          report.settings.tls = `${report.cold.tls.protocol} ${report.cold.tls.cipher}`;
        }
        if (want("rtt")) {
          progress(`rtt: cold press→ack through a relay adding ${settings.rtt.oneWayMs} ms each way`);
          report.rtt = await benchRtt(ws, stack, { ...settings.rtt, progress });
        }
        if (want("firmware")) {
          const reason = firmwareSkipReason();
          if (reason) {
            progress(`firmware: skipped (${reason})`);
            report.firmware = { skipped: reason };
          } else {
            report.firmware = await benchFirmware(ws, stack, { clicks: settings.firmware.clicks, progress });
          }
        }
        if (want("battery")) {
          progress(`battery: the firmware in battery mode at RTT ${2 * settings.rtt.oneWayMs} ms, ${settings.battery.powerOns} power-on(s) × (1 + ${settings.battery.pressesAfterSleep} presses after deep sleep)`);
          report.battery = await benchBattery(ws, stack, { ...settings.battery, oneWayMs: settings.rtt.oneWayMs, progress });
        }
      } finally {
        await stack.close();
      }
    }

    if (want("load")) {
      report.load = await benchLoad(ws, { ...settings.load, progress });
    }
    if (want("scale")) {
      report.scale = await benchScale(ws, { ...settings.scale, progress });
    }
  } finally {
    ws.close();
  }

  for (const section of SECTIONS) {
    if (want(section)) continue;
    const quickSkip = settings.quick && section === "scale" && !process.argv.includes("--only");
    report[section] = { skipped: quickSkip ? "quick run (npm run bench -- --quick --only scale)" : "not selected (--only)" };
  }
  report.machine.loadavgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  report.durationMs = Math.round(performance.now() - t0);
  report.targets = evaluateTargets(report);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (settings.table) process.stderr.write(`\n${formatTable(report)}\n`);
  if (settings.html) {
    fs.writeFileSync(settings.html, renderHtml(report));
    progress(`wrote ${settings.html}`);
  }
  progress("done");
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  },
);
