// The long-running services as child processes, started with the command their package.json script runs
// (so `npm run broker` / `npm run restaurant` is what is tested), their JSON lines parsed as they come,
// and a virtual button holding a thing's certificate from the service's PKI dir.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import type { ButtonConfig } from "../../../modules/core/config";
import { makeButton, type TestButton } from "../support/button";

export const ROOT = path.resolve(import.meta.dirname, "../../..");

export type LogLine = Record<string, any>;

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Every JSON line on stdout so far. */
  readonly lines: LogLine[];
  readonly stderr: () => string;
  /** Resolves with the first line (already seen or to come) matching; rejects on timeout or exit. */
  waitFor(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with how the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends the signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The command of a package.json script (`node --import tsx host-test/…/service.ts`), run without npm in
 * between so signals reach the service itself, as Ctrl-C in a terminal does.
 */
export function scriptCommand(name: string): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const script = pkg.scripts[name];
  if (!script) throw new Error(`package.json has no script ${name}`);
  const [bin, ...args] = script.split(/\s+/);
  return [bin === "node" ? process.execPath : path.join(ROOT, "node_modules/.bin", bin!), ...args];
}

const running = new Set<ChildProcess>();

export function startService(script: "broker" | "restaurant", args: string[]): ServiceProcess {
  const [command, ...base] = scriptCommand(script);
  const child = spawn(command!, [...base, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  let buffered = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (text.trim() === "") continue;
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        lines.push({ event: "non-json", text });
      }
    }
    for (const wake of waiters) wake();
  });
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // "close", not "exit": every line the process wrote has been read by then.
    child.on("close", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
      for (const wake of waiters) wake();
    });
  });
  let done = false;
  void exited.then(() => (done = true));

  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitFor(match, what, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(match);
          if (found) {
            cleanup();
            resolve(found);
          } else if (done) {
            cleanup();
            reject(new Error(`${script} exited before ${what}; stderr: ${stderr.slice(-2000)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${what} from ${script}; last lines: ${JSON.stringify(lines.slice(-5))} stderr: ${stderr.slice(-2000)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = "SIGTERM") {
      if (!done) child.kill(signal);
      return exited;
    },
  };
}

/** Ends every service still running (afterAll): SIGTERM, then SIGKILL after 5 s. Only children started here. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
          child.once("close", () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill("SIGTERM");
        }),
    ),
  );
}

export interface BrokerProcess extends ServiceProcess {
  port: number;
  url: string;
}

export async function startBrokerProcess(pkiDir: string, extra: string[] = []): Promise<BrokerProcess> {
  const service = startService("broker", ["--port", "0", "--pki-dir", pkiDir, ...extra]);
  const ready = await service.waitFor((l) => l.event === "ready", "the broker's ready line");
  return Object.assign(service, { port: ready.port as number, url: ready.url as string });
}

export interface RestaurantProcess extends ServiceProcess {
  kitchenUrl: string;
}

export async function startRestaurantProcess(opts: { brokerPort: number; pkiDir: string; db: string; extra?: string[] }): Promise<RestaurantProcess> {
  const service = startService("restaurant", [
    "--broker",
    `mqtts://127.0.0.1:${opts.brokerPort}`,
    "--pki-dir",
    opts.pkiDir,
    "--db",
    opts.db,
    "--http-port",
    "0",
    ...(opts.extra ?? []),
  ]);
  const listening = await service.waitFor((l) => l.source === "kitchen" && l.event === "listening", "the kitchen page's listening line");
  return Object.assign(service, { kitchenUrl: listening.url as string });
}

const execFileAsync = promisify(execFile);

/** `npm run pki -- --pki-dir <pkiDir> …args` as a child process, the way an operator runs it. */
export async function pkiTool(pkiDir: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync("npm", ["run", "--silent", "pki", "--", "--pki-dir", pkiDir, ...args], { cwd: ROOT });
  return stdout;
}

/** Credentials of a thing in the PKI dir, as the broker service laid it out. */
export function thingCredentials(pkiDir: string, thing: string): { ca: string; cert: string; key: string } {
  const dir = path.join(pkiDir, "things", thing);
  const read = (file: string) => fs.readFileSync(path.join(dir, file), "utf8");
  return { ca: read("ca.pem"), cert: read("chain.pem"), key: read("key.pem") };
}

/**
 * A virtual button (the core's OrderFlow on the Node adapters) for `thing`. It waits long for an ack, as
 * a person decides: the ack timeout is well above the time a test takes to click in the page.
 */
export function buttonFor(opts: { pkiDir: string; thing: string; brokerPort: number; dir: string; config?: Partial<ButtonConfig> }): TestButton {
  return makeButton({
    thingName: opts.thing,
    broker: { host: "127.0.0.1", port: opts.brokerPort },
    credentials: thingCredentials(opts.pkiDir, opts.thing),
    dir: opts.dir,
    config: { ackTimeoutMs: 40_000, giveUpMs: 55_000, ...opts.config },
  });
}

/** POSTs a decision to the kitchen API the way the page does (JSON, same origin). */
export async function postDecision(kitchenUrl: string, orderId: string, decision: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(new URL(`api/orders/${encodeURIComponent(orderId)}/${decision}`, kitchenUrl), {
    method: "POST",
    headers: { "Content-Type": "application/json", Origin: new URL(kitchenUrl).origin, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json().catch(() => undefined) };
}
