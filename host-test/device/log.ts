// The Log port for the harness: text lines or JSON objects, tagged with where they came from.
import type { Log } from "../../modules/core/ports";

export type LogLevel = "info" | "warn" | "error";

export interface LogOptions {
  source: string;
  json?: boolean;
  /** Where a finished line goes; defaults to stderr so stdout stays machine-readable. */
  write?: (line: string) => void;
  /** Lowest level written; "info" writes everything. */
  level?: LogLevel;
}

const RANK: Record<LogLevel, number> = { info: 0, warn: 1, error: 2 };

export function createLog(options: LogOptions): Log {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const min = RANK[options.level ?? "info"];
  const emit = (level: LogLevel, message: string) => {
    if (RANK[level] < min) return;
    write(
      options.json
        ? JSON.stringify({ event: "log", source: options.source, level, message })
        : `[${options.source}] ${level === "info" ? "" : `${level.toUpperCase()} `}${message}`,
    );
  };
  return {
    info: (message) => emit("info", message),
    warn: (message) => emit("warn", message),
    error: (message) => emit("error", message),
  };
}

/** A Log that keeps lines in memory, for tests that assert a reason was logged. */
export function memoryLog(): Log & { lines: Array<{ level: LogLevel; message: string }> } {
  const lines: Array<{ level: LogLevel; message: string }> = [];
  return {
    lines,
    info: (message) => lines.push({ level: "info", message }),
    warn: (message) => lines.push({ level: "warn", message }),
    error: (message) => lines.push({ level: "error", message }),
  };
}
