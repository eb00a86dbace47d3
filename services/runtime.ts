// What the long-running services (`npm run broker`, `npm run restaurant`) share: one line on stdout for
// everything that happens (never a private key or a payload): readable on a terminal (time, level, event,
// the key fields), one JSON object when piped or with --json, as pino / pino-pretty do; command-line
// errors on stderr with exit code 2, and a clean exit 0 on SIGINT/SIGTERM.
import { UsageError } from "../tools/cli/conventions";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Log } from "../modules/core/ports";
import { takeColorFlag, useColor } from "../tools/cli/terminal";

export type LogLevel = "info" | "warn" | "error";

/** Writes one JSON line: {"time", "source", "event", …fields}. */
export type EventSink = (source: string, event: string, fields?: Record<string, unknown>) => void;

export function jsonLines(write: (line: string) => void = (line) => process.stdout.write(line)): EventSink {
  return (source, event, fields = {}) => {
    let line: string;
    try {
      line = JSON.stringify({ time: new Date().toISOString(), source, event, ...fields });
    } catch {
      line = JSON.stringify({ time: new Date().toISOString(), source, event, error: "fields not serializable" });
    }
    write(`${line}\n`);
  };
}

/** The level of an event: its own `level` field (log events), else what its name says. */
export function levelOf(event: string, fields: Record<string, unknown>): LogLevel {
  if (fields.level === "info" || fields.level === "warn" || fields.level === "error") return fields.level;
  if (/error|failed/.test(event) || (event === "exit" && fields.code !== 0)) return "error";
  if (/refused|denied|warning|too-large|rejected|invalid/.test(event)) return "warn";
  return "info";
}

const LEVEL_COLOURS: Record<LogLevel, number> = { info: 32, warn: 33, error: 31 };

/** A field value as it reads best: bare words bare, anything with spaces or quotes as JSON. */
function fieldText(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value === undefined) return "";
  try {
    return JSON.stringify(value);
  } catch {
    return "?";
  }
}

/**
 * The same events as jsonLines, for a person: "12:34:56.789 WARN  broker refused clientId=x reason=\"…\"".
 * Log events print their message as it is.
 */
export function readableLines(
  options: { color?: boolean; write?: (line: string) => void; now?: () => Date } = {},
): EventSink {
  const write = options.write ?? ((line) => process.stdout.write(line));
  const now = options.now ?? (() => new Date());
  const paint = (code: number, text: string) => (options.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  return (source, event, fields = {}) => {
    const level = levelOf(event, fields);
    const time = now().toISOString().slice(11, 23);
    const { level: _level, message, ...rest } = fields;
    const parts = [
      paint(90, time),
      paint(LEVEL_COLOURS[level], level.toUpperCase().padEnd(5)),
      paint(36, source),
      event === "log" ? "" : paint(1, event),
      typeof message === "string" ? message : message === undefined ? "" : `message=${fieldText(message)}`,
      ...Object.entries(rest)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${paint(90, `${k}=`)}${fieldText(v)}`),
    ];
    write(`${parts.filter(Boolean).join(" ")}\n`);
  };
}

/** Output choices every service takes besides its own flags. */
export interface OutputChoice {
  /** argv without --json / --color / --no-color. */
  argv: string[];
  json: boolean;
  color: boolean;
}

/** Takes --json and --no-color / --color out of argv; JSON lines when asked or when stdout is no terminal. */
export function chooseOutput(argv: readonly string[], stdout: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): OutputChoice {
  const { argv: rest, flag } = takeColorFlag(argv);
  const json = rest.includes("--json") || !stdout.isTTY;
  return { argv: rest.filter((a) => a !== "--json"), json, color: !json && useColor(stdout, flag, env) };
}

/** The sink for a choice: JSON lines or readable lines, on stdout. */
export function sinkFor(choice: Pick<OutputChoice, "json" | "color">): EventSink {
  return choice.json ? jsonLines() : readableLines({ color: choice.color });
}

/** Help lines for the output flags every service takes (runServiceCli appends them to a service's usage). */
export const OUTPUT_USAGE = [
  "Output (every service):",
  "  --json          one JSON object per line even on a terminal (piped output is always JSON)",
  "  --no-color      no colours on the terminal (also NO_COLOR=1)",
].join("\n");

/** The core's Log port as JSON lines: {"event":"log","level",…,"message"}. */
export function jsonLog(sink: EventSink, source: string): Log {
  const emit = (level: LogLevel) => (message: string) => sink(source, "log", { level, message });
  return { info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/** A wrong command line: printed as one line plus a hint, exit code 2. */
export { UsageError };

/** True when `moduleUrl` (import.meta.url) is the script node was started with. */
export function isMainModule(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(moduleUrl);
}

/**
 * The command-line entry of a service: parses its flags (undefined = --help), prints usage errors with exit
 * code 2 and the help with exit code 0, then runs the service as runService does, JSON lines on stdout.
 */
export async function runServiceCli<Config>(opts: {
  name: string;
  parse(argv: string[]): Config | undefined;
  usage(): string;
  start(config: Config, sink: EventSink): Promise<{ close(): Promise<void> }>;
}): Promise<void> {
  const output = chooseOutput(process.argv.slice(2));
  const sink = sinkFor(output);
  let config: Config | undefined;
  try {
    config = opts.parse(output.argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${opts.name}: ${error.message}\nRun "npm run ${opts.name} -- --help" for the options.\n`);
    process.exit(2);
  }
  if (config === undefined) {
    process.stdout.write(`${opts.usage()}\n\n${OUTPUT_USAGE}\n`);
    process.exit(0);
  }
  const chosen = config;
  await runService({ name: opts.name, sink, start: () => opts.start(chosen, sink) });
}

/**
 * Runs `start`, then waits for SIGINT/SIGTERM and runs the close it returned; exits 0 after a clean
 * close, 1 if starting or closing failed. Another signal a second or more later exits at once (1).
 */
export async function runService(opts: {
  name: string;
  sink: EventSink;
  start(): Promise<{ close(): Promise<void> }>;
  /** Closing that takes longer than this exits anyway (1). */
  closeTimeoutMs?: number;
}): Promise<void> {
  let service: { close(): Promise<void> } | undefined;
  let stopping = false;
  let stoppingAt = 0;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // One Ctrl-C can arrive twice (the terminal signals the whole process group, wrappers relay it).
      if (Date.now() - stoppingAt < 1_000) return;
      opts.sink(opts.name, "exit", { code: 1, reason: `second ${signal} while stopping` });
      process.exit(1);
    }
    stopping = true;
    stoppingAt = Date.now();
    opts.sink(opts.name, "stopping", { signal });
    if (!service) {
      // Still starting (e.g. waiting for the broker): nothing is half-written (SQLite commits are atomic).
      opts.sink(opts.name, "exit", { code: 0 });
      process.exit(0);
    }
    const timer = setTimeout(() => {
      opts.sink(opts.name, "exit", { code: 1, reason: "close timed out" });
      process.exit(1);
    }, opts.closeTimeoutMs ?? 10_000);
    timer.unref();
    service.close().then(
      () => {
        opts.sink(opts.name, "exit", { code: 0 });
        process.stdout.write("", () => process.exit(0));
      },
      (error: unknown) => {
        opts.sink(opts.name, "exit", { code: 1, reason: `close failed: ${(error as Error).message}` });
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  // `… | head` closing the pipe must not crash the service with EPIPE.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
  try {
    const started = await opts.start();
    if (stopping) {
      await started.close();
      process.exit(0);
    }
    service = started;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${opts.name}: ${error.message}\nRun "npm run ${opts.name} -- --help" for the options.\n`);
      process.exit(2);
    }
    opts.sink(opts.name, "exit", { code: 1, reason: (error as Error).message });
    process.stderr.write(`${opts.name}: cannot start: ${(error as Error).message}\n`);
    process.stdout.write("", () => process.exit(1));
  }
}

/** Loopback listen addresses: the default for both services, no warning needed. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
