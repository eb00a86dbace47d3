// Running the headless firmware binary (x-cli-lin) as a child process: stdin drives the button, stdout
// lines (@led, @pattern, @event, …; see modules/device/linux-host/board.ts) are collected and awaited.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";

export interface FirmwareLine {
  /** ms since the process started (Node's clock). */
  at: number;
  text: string;
}

export interface FlowEventLine {
  type: string;
  [field: string]: unknown;
}

export class FirmwareProcess {
  readonly lines: FirmwareLine[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  /** Date.now() when the process was started (line times count from it). */
  readonly startedAt = Date.now();
  private partial = "";
  private readonly exited: Promise<number | null>;

  constructor(options: { binary: string; cwd: string; args: string[] }) {
    this.child = spawn(options.binary, options.args, { cwd: options.cwd, stdio: ["pipe", "pipe", "pipe"] });
    const take = (chunk: Buffer) => {
      const parts = (this.partial + chunk.toString("utf8")).split("\n");
      this.partial = parts.pop()!;
      for (const text of parts) this.lines.push({ at: Date.now() - this.startedAt, text });
    };
    this.child.stdout.on("data", take);
    this.child.stderr.on("data", take);
    this.exited = new Promise((resolve) => this.child.on("close", resolve));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Sends one stdin command (single | double | long | press | release | quit); returns the number of
   * lines seen before it, to wait for what follows (nextOutcome(from)).
   */
  send(command: string): number {
    const from = this.lines.length;
    this.child.stdin.write(`${command}\n`);
    return from;
  }

  /** Lines with a tag, e.g. tagged("pattern") → ["working", "ok", …]. */
  tagged(tag: string): string[] {
    const prefix = `@${tag} `;
    return this.lines.filter((l) => l.text.startsWith(prefix)).map((l) => l.text.slice(prefix.length));
  }

  /** Flow events (the firmware's onEvent), in order. Waits for lines, so read after waitForLine. */
  events(): FlowEventLine[] {
    return this.tagged("event").map((json) => JSON.parse(json) as FlowEventLine);
  }

  /** Resolves with the first line index ≥ from whose text satisfies `match`; rejects on timeout/exit. */
  async waitForLine(match: (text: string) => boolean, what: string, options: { from?: number; timeoutMs?: number } = {}): Promise<number> {
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    for (;;) {
      const index = this.lines.findIndex((l, i) => i >= (options.from ?? 0) && match(l.text));
      if (index >= 0) return index;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`firmware exited before ${what}:\n${this.transcript()}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${this.transcript()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Waits for the next flow outcome event after line `from` and returns it with the LED patterns shown
   * since `from`. (The firmware prints a pattern before the outcome event, so both are in by then.)
   */
  async nextOutcome(from: number, timeoutMs?: number): Promise<{ outcome: FlowEventLine; patterns: string[]; index: number }> {
    const index = await this.waitForLine((t) => t.startsWith("@event ") && t.includes('"type":"outcome"'), "a click outcome", { from, timeoutMs });
    const outcome = JSON.parse(this.lines[index]!.text.slice("@event ".length)) as FlowEventLine;
    const patterns = this.lines.slice(from, index).filter((l) => l.text.startsWith("@pattern ")).map((l) => l.text.slice(9));
    return { outcome, patterns, index };
  }

  /** Resolves with the exit code once the process has ended (e.g. after "@sleep"). */
  async waitForExit(timeoutMs = 15_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`firmware still running after ${timeoutMs} ms:\n${this.transcript()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  transcript(): string {
    return this.lines.map((l) => `  ${String(l.at).padStart(6)} ${l.text}`).join("\n");
  }

  /** Ends the process: EOF on stdin makes the host leave its loop; SIGKILL (this PID only) if it hangs. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) {
      this.child.stdin.end();
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 3_000);
      const code = await this.exited;
      clearTimeout(timer);
      return code;
    }
    return this.child.exitCode;
  }
}
