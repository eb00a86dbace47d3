// Runs qualification cases against one device under test: each case gets a fresh clock, its own servers
// and a factory-fresh device, everything closed afterwards whatever happened. A case records checks:
// a failed "required" check fails the case, a failed "advisory" one makes it pass-with-warnings.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BUTTON_SETTINGS, defaultsOf } from "../../modules/core/settings";
import type { CasePki, ServerCertKind } from "./case-pki";
import { SERVER_HOST } from "./case-pki";
import { CaseServer, type Behaviour, type ServerTlsOptions } from "./case-server";
import type { DeviceSettings, DeviceUnderTest, RunningDevice } from "./devices";

export type Verdict = "pass" | "pass-with-warnings" | "fail" | "skipped";

export interface Check {
  name: string;
  required: boolean;
  ok: boolean;
  detail: string;
}

export interface CaseResult {
  id: string;
  group: "TLS" | "MQTT" | "Product";
  title: string;
  device: DeviceUnderTest["id"];
  verdict: Verdict;
  durationMs: number;
  checks: Check[];
  /** Time-ordered lines: what the server saw and sent, what the LED showed, the device's warnings. */
  evidence: string[];
  /** Presses made and order rows the server-side restaurant holds after the case. */
  presses: number;
  orderRows: number;
  error?: string;
}

export interface CaseContext {
  readonly device: DeviceUnderTest;
  readonly pki: CasePki;
  readonly thingName: string;
  readonly topicPrefix: string;
  /** ms since the case started. */
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Polls until cond() holds; false on timeout (the case decides what that means). */
  until(cond: () => boolean, timeoutMs: number): Promise<boolean>;
  server(options: { cert: ServerCertKind; tls?: Partial<ServerTlsOptions>; behaviour?: Behaviour }): Promise<CaseServer>;
  startDevice(server: { port: number }, settings?: Partial<DeviceSettings>): Promise<RunningDevice>;
  /** One press of the started device; counted for the product check. */
  press(device: RunningDevice, timeoutMs?: number): ReturnType<RunningDevice["press"]>;
  check(name: string, ok: boolean, detail: string, options?: { advisory?: boolean }): boolean;
  note(text: string): void;
}

export interface QualificationCase {
  id: string;
  group: CaseResult["group"];
  title: string;
  run(ctx: CaseContext): Promise<void>;
}

/** Fast timings so retry and give-up cases take seconds; each case overrides what it needs. */
export const CASE_DEFAULTS: DeviceSettings = {
  connectionMode: "on-demand",
  ackTimeoutMs: 3_000,
  backoffBaseMs: 200,
  backoffCapMs: 1_600,
  giveUpMs: 10_000,
  keepaliveMs: defaultsOf(BUTTON_SETTINGS)["mqtt.keepaliveMs"] as number,
};

const CASE_TIMEOUT_MS = 90_000;

/** Polls `cond` every 20 ms; false when it is still not true after `timeoutMs`. */
async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** Runs a case within CASE_TIMEOUT_MS; the error that stopped it, if one did. */
async function runWithin(testCase: QualificationCase, ctx: CaseContext): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      testCase.run(ctx),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`case did not finish within ${CASE_TIMEOUT_MS / 1000} s`)), CASE_TIMEOUT_MS);
      }),
    ]);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  } finally {
    clearTimeout(timer);
  }
}

/** fail when a required check failed; pass-with-warnings when only advisory ones did. */
function verdictOf(checks: readonly Check[]): Verdict {
  if (checks.some((c) => c.required && !c.ok)) return "fail";
  return checks.some((c) => !c.ok) ? "pass-with-warnings" : "pass";
}

export async function runCase(
  testCase: QualificationCase,
  options: { device: DeviceUnderTest; pki: CasePki; workDir: string; topicPrefix?: string },
): Promise<CaseResult> {
  const started = performance.now();
  const now = () => Math.round(performance.now() - started);
  const checks: Check[] = [];
  const notes: Array<{ at: number; text: string }> = [];
  const servers: CaseServer[] = [];
  const devices: RunningDevice[] = [];
  let presses = 0;
  const workDir = join(options.workDir, `${options.device.id}-${testCase.id}`);
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const topicPrefix = options.topicPrefix ?? "pizza";

  const ctx: CaseContext = {
    device: options.device,
    pki: options.pki,
    thingName: options.pki.device.thingName,
    topicPrefix,
    now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    until,
    async server({ cert, tls, behaviour }) {
      const identity = await options.pki.server(cert);
      const server = await CaseServer.start({
        tls: { cert: identity.chain, key: identity.key, clientCa: options.pki.clientCa, ...tls },
        thingName: options.pki.device.thingName,
        topicPrefix,
        now,
        ...(behaviour ? { behaviour } : {}),
      });
      servers.push(server);
      notes.push({ at: now(), text: `server on 127.0.0.1:${server.port}: ${identity.describe} (chain ${identity.chainBytes} bytes DER)` });
      return server;
    },
    async startDevice(server, settings = {}) {
      const device = await options.device.start(
        { host: "127.0.0.1", port: server.port, serverName: SERVER_HOST },
        { ...CASE_DEFAULTS, ...settings },
        now,
        join(workDir, `device-${devices.length + 1}`),
      );
      devices.push(device);
      return device;
    },
    async press(device, timeoutMs = 30_000) {
      presses++;
      notes.push({ at: now(), text: "button pressed (SINGLE)" });
      const outcome = await device.press(timeoutMs);
      notes.push({ at: outcome.at, text: `device outcome: ${outcome.outcome} ${outcome.orderId ?? ""} (attempts ${outcome.attempts ?? "?"})` });
      return outcome;
    },
    check(name, ok, detail, { advisory = false } = {}) {
      checks.push({ name, required: !advisory, ok, detail });
      return ok;
    },
    note(text) {
      notes.push({ at: now(), text });
    },
  };

  const error = await runWithin(testCase, ctx);
  const deviceLines = devices.flatMap((d, i) => [
    ...d.leds().map((l) => ({ at: l.at, text: `LED ${l.pattern}${devices.length > 1 ? ` (device ${i + 1})` : ""}` })),
    ...d.log().map((l) => ({ at: l.at, text: `device: ${l.text.trim().replace(/\s*\n\s*/g, " ")}` })),
  ]);
  for (const device of devices) await device.stop().catch(() => undefined);
  const serverLines = servers.flatMap((s) => s.log);
  const orderRows = servers.reduce((sum, s) => sum + s.rows.size, 0);
  for (const server of servers) await server.close().catch(() => undefined);

  const evidence = [...notes, ...serverLines, ...deviceLines]
    .sort((a, b) => a.at - b.at)
    .map((l) => `${String(l.at).padStart(6)} ms  ${l.text}`);
  if (error) checks.push({ name: "case ran to the end", required: true, ok: false, detail: error });
  const verdict = verdictOf(checks);
  return {
    id: testCase.id,
    group: testCase.group,
    title: testCase.title,
    device: options.device.id,
    verdict,
    durationMs: now(),
    checks,
    evidence,
    presses,
    orderRows,
    ...(error ? { error } : {}),
  };
}

/** The product rule over every case run: one press never makes more than one order row. */
export function productCase(results: CaseResult[], device: DeviceUnderTest["id"]): CaseResult {
  const mine = results.filter((r) => r.device === device && r.group !== "Product");
  const checks = mine.map((r) => ({
    name: `${r.id}: order rows ≤ presses`,
    required: true,
    ok: r.orderRows <= r.presses,
    detail: `${r.presses} press(es), ${r.orderRows} order row(s)`,
  }));
  return {
    id: "product-one-order-per-press",
    group: "Product",
    title: "one press = at most one order row, under every fault above",
    device,
    verdict: checks.every((c) => c.ok) ? "pass" : "fail",
    durationMs: 0,
    checks,
    evidence: [],
    presses: mine.reduce((s, r) => s + r.presses, 0),
    orderRows: mine.reduce((s, r) => s + r.orderRows, 0),
  };
}
