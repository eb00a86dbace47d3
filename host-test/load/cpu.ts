// CPU time of a process, for load reports: where did the work go — the buttons, the broker, the
// restaurant? Linux only (/proc); undefined elsewhere or when the process is gone.
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (getconf CLK_TCK); 100 on Linux. */
const CLOCK_TICKS = 100;

/** User + system CPU milliseconds the process has used so far. */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime + stime) ? ((utime + stime) * 1000) / CLOCK_TICKS : undefined;
  } catch {
    return undefined;
  }
}

/** This process's CPU milliseconds (user + system). */
export function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
