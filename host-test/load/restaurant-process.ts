// The restaurant as its own process for load runs: `npm run restaurant` (services/restaurant/service.ts)
// with --auto-accept, so its SQLite commits (synchronous=FULL: an fsync each) do not stall the event loop
// that drives 1,000 buttons, and the buttons' TLS work does not delay the restaurant. Counts its
// "received" and "ack-published" events from its JSON-lines output; read the database after stop().
//
// Its stdout goes to a FILE, not a pipe: Node writes to a pipe synchronously on Linux, so a parent too
// busy to read (1,000 handshakes) would block the restaurant on its own log lines and stall every order.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface RestaurantProcess {
  readonly pid: number;
  readonly dbPath: string;
  /** Orders seen / acks published (repeats included), from its event lines; final after stop(). */
  readonly received: number;
  readonly acksPublished: number;
  readonly refused: number;
  /** SIGTERM by PID (the service closes cleanly: its database is complete when this resolves). */
  stop(): Promise<void>;
  /** SIGKILL by PID: the process dies wherever it is (the failover test). */
  kill(): Promise<void>;
}

export async function startRestaurantProcess(options: {
  brokerUrl: string;
  /** PEM file paths: the CA that verifies the broker, the restaurant's certificate (chain) and key. */
  caPath: string;
  certPath: string;
  keyPath: string;
  /** SQLite file or postgres:// URL. */
  dbPath: string;
  /** Where its JSON lines go; default: next to the SQLite file. */
  logPath?: string;
  /** More flags (--instance N, --shared-group G, request limits). */
  extraArgs?: string[];
  timeoutMs?: number;
}): Promise<RestaurantProcess> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.resolve(here, "../..");
  const args = [
    path.join(root, "services/restaurant/service.ts"),
    "--broker", options.brokerUrl,
    "--ca", options.caPath,
    "--cert", options.certPath,
    "--key", options.keyPath,
    "--db", options.dbPath,
    "--auto-accept",
    "--http-port", "0",
    ...(options.extraArgs ?? []),
  ];
  const logPath = options.logPath ?? `${options.dbPath}.log`;
  const out = openSync(logPath, "w");
  // node --import tsx (not the tsx CLI, which forks a second process): the PID is the restaurant itself.
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: root, stdio: ["ignore", out, "pipe"] });
  closeSync(out);
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  let gone = false;
  const exited = new Promise<void>((resolve) => child.once("exit", () => ((gone = true), resolve())));
  const counts = { received: 0, acksPublished: 0, refused: 0, connected: 0 };
  const count = () => {
    const next = { received: 0, acksPublished: 0, refused: 0, connected: 0 };
    for (const line of readFileSync(logPath, "utf8").split("\n")) {
      if (!line.includes('"source":"restaurant"')) continue;
      const event = (JSON.parse(line) as { event?: string }).event;
      if (event === "received") next.received++;
      else if (event === "ack-published") next.acksPublished++;
      else if (event === "input-refused") next.refused++;
      else if (event === "connected") next.connected++;
    }
    Object.assign(counts, next);
  };
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    count();
    if (counts.connected > 0) break;
    if (gone) throw new Error(`restaurant process exited (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
      throw new Error(`restaurant process did not connect in time: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const pid = child.pid!;
  return {
    pid,
    dbPath: options.dbPath,
    get received() {
      if (!gone) count();
      return counts.received;
    },
    get acksPublished() {
      return counts.acksPublished;
    },
    get refused() {
      return counts.refused;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, "SIGTERM");
      const timer = setTimeout(() => child.exitCode === null && process.kill(pid, "SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
      count();
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, "SIGKILL");
      await exited;
      count();
    },
  };
}
