// The two devices under test, behind one small interface: the virtual button (the core + the Node
// adapters, as `npm run simulate` runs it) and the real firmware on the Moddable runtime (x-cli-lin build,
// driven through its stdin/stdout like the firmware e2e test). Each start() is a factory-fresh device
// (new store / new flash) pointed at one case server.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { defaultConfig, type ButtonConfig, type ConnectionMode } from "../../modules/core/config";
import type { Log } from "../../modules/core/ports";
import { buildFirmwareHost, type HostBuild } from "../../tools/firmware/host-build";
import { FirmwareProcess } from "../../tools/firmware/process";
import { REPO_ROOT, type Sdk } from "../../tools/firmware/sdk";
import { VirtualDevice } from "../device/virtual-device";
import type { DeviceIdentityFiles } from "./case-pki";

export interface DeviceSettings {
  connectionMode: ConnectionMode;
  ackTimeoutMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  giveUpMs: number;
  /** ms, as the button's setting mqtt.keepaliveMs. */
  keepaliveMs: number;
}

export interface DeviceTarget {
  host: string;
  port: number;
  /** Name the device checks the server certificate against. */
  serverName: string;
}

export interface PressOutcome {
  outcome: string;
  orderId: string | undefined;
  attempts: number | undefined;
  /** Case clock, when the device reported it. */
  at: number;
}

export interface RunningDevice {
  /** One SINGLE press; resolves with its outcome, rejects after timeoutMs. */
  press(timeoutMs: number): Promise<PressOutcome>;
  /** LED patterns the device showed, with times on the case clock. */
  leds(): Array<{ at: number; pattern: string }>;
  /** The device's own log lines (warnings and errors), with times. */
  log(): Array<{ at: number; text: string }>;
  /** Still running and answering (the firmware process has not crashed). */
  alive(): Promise<boolean>;
  /** XS memory peak since start, where the device can tell (firmware: chunk heap bytes). */
  memoryPeak(): Promise<string | undefined>;
  stop(): Promise<void>;
}

export interface DeviceUnderTest {
  readonly id: "virtual-button" | "firmware";
  readonly label: string;
  start(target: DeviceTarget, settings: DeviceSettings, now: () => number, workDir: string): Promise<RunningDevice>;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function virtualButton(identity: DeviceIdentityFiles): DeviceUnderTest {
  return {
    id: "virtual-button",
    label: "virtual button (core + Node adapters)",
    async start(target, settings, now, workDir) {
      const leds: Array<{ at: number; pattern: string }> = [];
      const lines: Array<{ at: number; text: string }> = [];
      const log: Log = {
        info: () => undefined,
        warn: (text) => lines.push({ at: now(), text: `warn ${text}` }),
        error: (text) => lines.push({ at: now(), text: `error ${text}` }),
      };
      const config: ButtonConfig = {
        ...defaultConfig,
        thingName: identity.thingName,
        connectionMode: settings.connectionMode,
        ackTimeoutMs: settings.ackTimeoutMs,
        backoffBaseMs: settings.backoffBaseMs,
        backoffCapMs: settings.backoffCapMs,
        giveUpMs: settings.giveUpMs,
      };
      mkdirSync(workDir, { recursive: true });
      const device = new VirtualDevice({
        config,
        broker: { host: target.host, port: target.port, servername: target.serverName },
        credentials: { ca: identity.ca, cert: identity.cert, key: identity.key },
        storePath: join(workDir, "store.json"),
        keepaliveMs: settings.keepaliveMs,
        log,
        onLedPattern: (pattern) => leds.push({ at: now(), pattern }),
      });
      device.start();
      let stopped = false;
      return {
        async press(timeoutMs) {
          const result = await withTimeout(device.press("SINGLE"), timeoutMs, "outcome of the press");
          return { outcome: result.outcome, orderId: result.orderId, attempts: result.attempts, at: now() };
        },
        leds: () => leds,
        log: () => lines,
        alive: async () => !stopped,
        memoryPeak: async () => undefined,
        async stop() {
          stopped = true;
          await device.stop();
        },
      };
    },
  };
}

/** Builds the headless firmware with the run's device identity (incremental: relinks when only it changed). */
export async function buildFirmwareUnderTest(sdk: Sdk, identity: DeviceIdentityFiles, log?: (line: string) => void): Promise<HostBuild> {
  return buildFirmwareHost({ sdk, certsDir: identity.firmwareDir, outDir: join(REPO_ROOT, "build", "firmware-qualify"), ...(log ? { log } : {}) });
}

export function firmwareDevice(build: HostBuild): DeviceUnderTest {
  return {
    id: "firmware",
    label: "firmware on the Moddable runtime (x-cli-lin, esp32/nodemcu XS memory budget)",
    async start(target, settings, now, workDir) {
      mkdirSync(workDir, { recursive: true });
      const startedAt = now();
      const fw = new FirmwareProcess({
        binary: build.binaryPath,
        cwd: workDir,
        args: [
          `mqtt.host=${target.host}`,
          `mqtt.port=${target.port}`,
          `mqtt.serverName=${target.serverName}`,
          `mqtt.keepaliveMs=${settings.keepaliveMs}`,
          `connection=${settings.connectionMode}`,
          `ackTimeoutMs=${settings.ackTimeoutMs}`,
          `backoffBaseMs=${settings.backoffBaseMs}`,
          `backoffCapMs=${settings.backoffCapMs}`,
          `giveUpMs=${settings.giveUpMs}`,
        ],
      });
      const stamp = (line: { at: number }) => startedAt + line.at;
      try {
        await fw.waitForLine((t) => t.startsWith("@ready "), "the firmware to be ready");
      } catch (error) {
        await fw.stop();
        throw error;
      }
      return {
        async press(timeoutMs) {
          const { outcome, index } = await fw.nextOutcome(fw.send("single"), timeoutMs);
          return {
            outcome: String(outcome.outcome),
            orderId: typeof outcome.orderId === "string" ? outcome.orderId : undefined,
            attempts: typeof outcome.attempts === "number" ? outcome.attempts : undefined,
            at: stamp(fw.lines[index]!),
          };
        },
        leds: () => fw.lines.filter((l) => l.text.startsWith("@pattern ")).map((l) => ({ at: stamp(l), pattern: l.text.slice(9) })),
        log: () =>
          fw.lines
            .filter((l) => !l.text.startsWith("@led ") && !l.text.startsWith("@pattern ") && !l.text.startsWith("@event "))
            .map((l) => ({ at: stamp(l), text: l.text })),
        async alive() {
          try {
            await fw.waitForLine((t) => t.startsWith("@mem "), "an answer to mem", { from: fw.send("mem"), timeoutMs: 3_000 });
            return true;
          } catch {
            return false;
          }
        },
        async memoryPeak() {
          try {
            const at = await fw.waitForLine((t) => t.startsWith("@mem "), "@mem", { from: fw.send("mem"), timeoutMs: 3_000 });
            const mem = JSON.parse(fw.lines[at]!.text.slice(5)) as { chunksPeak: number; slotsPeak: number };
            return `XS memory peak since boot: chunks ${mem.chunksPeak} bytes, slots ${mem.slotsPeak} bytes (the garbage collector runs when a heap is full)`;
          } catch {
            return undefined;
          }
        },
        async stop() {
          await fw.stop();
        },
      };
    },
  };
}
