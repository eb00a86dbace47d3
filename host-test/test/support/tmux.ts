// A pseudo-terminal for tests of what a person sees: a detached tmux session of a given size on its own
// server socket (never the user's), typed into with send-keys and read with capture-pane.
import { execFileSync, spawnSync } from "node:child_process";
import crypto from "node:crypto";

export function hasTmux(): boolean {
  const found = spawnSync("tmux", ["-V"], { stdio: "ignore" }).status === 0;
  if (!found) console.warn("terminal tests skipped: tmux not found (apt-get install tmux)");
  return found;
}

export class TmuxTerminal {
  readonly #socket = `pizza-test-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;

  /** Starts `command` (a shell line) in a terminal of columns × rows, in `cwd`. */
  constructor(options: { command: string; cwd: string; columns: number; rows: number; env?: Record<string, string> }) {
    const env = Object.entries(options.env ?? {}).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    // "; sleep" keeps the pane readable after the command ends.
    this.#tmux(["new-session", "-d", "-s", "t", "-x", String(options.columns), "-y", String(options.rows), "-c", options.cwd, ...env, `${options.command}; echo "[exit $?]"; sleep 600`]);
  }

  /** The screen as text, one string per line (trailing blanks trimmed by tmux). */
  screen(): string[] {
    return this.#tmux(["capture-pane", "-p", "-J", "-t", "t"]).split("\n"); // -J: a wrapped line is one row
  }

  keys(...keys: string[]): void {
    this.#tmux(["send-keys", "-t", "t", ...keys]);
  }

  resize(columns: number, rows: number): void {
    this.#tmux(["resize-window", "-t", "t", "-x", String(columns), "-y", String(rows)]);
  }

  /** Polls the screen until `predicate` holds; throws with the screen after `timeoutMs` (a hang, not a speed goal). */
  async waitFor(predicate: (rows: string[]) => boolean, what: string, timeoutMs = 60_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = this.screen();
      if (predicate(rows)) return rows;
      if (Date.now() > deadline) throw new Error(`terminal never showed ${what}; screen:\n${rows.join("\n")}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Ends the session and its server (only this test's socket). */
  close(): void {
    spawnSync("tmux", ["-L", this.#socket, "kill-server"], { stdio: "ignore" });
  }

  #tmux(args: string[]): string {
    return execFileSync("tmux", ["-L", this.#socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
  }
}
