// mosquitto as a child process: its log as lines (with waiters for a pattern), one start that resolves
// once it listens, and a stop by PID (SIGTERM, then SIGKILL).
//
// The log goes to stderr (unbuffered; stdout to a pipe is block-buffered by libc and lines would arrive
// late). mosquitto blocks on a full pipe, so load runs use `quiet` (no per-connection lines).
import { spawn, type ChildProcess } from "node:child_process";

/** Every log line since the first start, and waiters for a line matching a pattern. */
export class LogLines {
  readonly lines: string[] = [];
  private readonly waiters: Array<{ pattern: RegExp; from: number; resolve: (line: string) => void }> = [];

  constructor(private readonly onLine?: (line: string) => void) {}

  push(line: string): void {
    this.lines.push(line);
    this.onLine?.(line);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (this.lines.length - 1 >= w.from && w.pattern.test(line)) {
        this.waiters.splice(i, 1);
        w.resolve(line);
      }
    }
  }

  /** The first line from index `from` matching; undefined after timeoutMs (or when `cancel` resolves first). */
  waitFor(pattern: RegExp, from: number, timeoutMs: number, cancel?: Promise<unknown>): Promise<string | undefined> {
    const seen = this.lines.slice(from).find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const done = (line: string | undefined) => {
        clearTimeout(timer);
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(line);
      };
      const waiter = { pattern, from, resolve: (line: string) => done(line) };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.waiters.push(waiter);
      // Lines still in the pipe when it exits arrive before "exit"; give them a tick.
      void cancel?.then(() => setImmediate(() => done(undefined)));
    });
  }
}

export interface MosquittoProcess {
  proc: ChildProcess;
  exited: Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A test that dies must not leave brokers behind: kill our own children (by PID) on exit. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of running) {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  });
}

/** Starts `binary -c configPath`, its output going to `log` line by line. */
export function spawnMosquitto(binary: string, configPath: string, log: LogLines): MosquittoProcess {
  // Through sh only to raise the open-files limit to the hard limit (1,000 clients need more than a
  // 1,024 default); `exec` keeps the PID, so the PID we stop is mosquitto's.
  const proc = spawn("/bin/sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', binary, "-c", configPath], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(proc);
  installExitHook();
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  void exited.then(() => running.delete(proc));
  for (const stream of [proc.stdout!, proc.stderr!]) {
    let buffered = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        log.push(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
  }
  return { proc, exited };
}

/** mosquitto logs "mosquitto version X running" once its listeners are open. */
export async function waitListening(started: MosquittoProcess, log: LogLines, from: number, timeoutMs: number): Promise<"listening" | "exited" | "timeout"> {
  const line = await log.waitFor(/mosquitto version \S+ running/, from, timeoutMs, started.exited);
  if (line !== undefined) return "listening";
  return started.proc.exitCode !== null || started.proc.signalCode !== null ? "exited" : "timeout";
}

/** SIGTERM, SIGKILL after 3 s; resolves once it has exited. */
export async function stopMosquitto(started: MosquittoProcess): Promise<void> {
  const { proc } = started;
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  const pid = proc.pid;
  process.kill(pid, "SIGTERM");
  const killTimer = setTimeout(() => {
    if (proc.exitCode === null) process.kill(pid, "SIGKILL");
  }, 3_000);
  await started.exited;
  clearTimeout(killTimer);
}

/** SIGKILL, for a start that did not come up. */
export async function killMosquitto(started: MosquittoProcess): Promise<void> {
  if (started.proc.exitCode === null && started.proc.pid !== undefined) {
    process.kill(started.proc.pid, "SIGKILL");
    await started.exited;
  }
}
