// The Led port in a terminal. The core's pattern player switches the LED on and off; it also tells us the
// pattern's name, which a real LED cannot show but a terminal can. Modes:
//   tty    one live line, redrawn in place: coloured dot (● lit, ○ dark) + pattern name + a status text;
//   lines  a plain line per pattern change (logs, pipes, no-TTY);
//   json   one JSON object per pattern change (machines);
//   silent nothing (tests).
import type { Led } from "../../modules/core/ports";

export type LedOutputMode = "tty" | "lines" | "json" | "silent";

export interface TerminalLedOptions {
  mode: LedOutputMode;
  write?: (text: string) => void;
  /** Extra text shown after the pattern on the live line, e.g. the flow state and step timings. */
  status?: () => string;
}

const COLOURS: Record<string, number> = {
  working: 33, // yellow
  ok: 32, // green
  rejected: 31, // red
  failed: 31,
  "auth-error": 35, // magenta
  busy: 34, // blue
  cancelled: 36, // cyan
};

export class TerminalLed implements Led {
  readonly mode: LedOutputMode;
  #write: (text: string) => void;
  #status: (() => string) | undefined;
  #on = false;
  #pattern = "off";
  #changes = 0;

  constructor(options: TerminalLedOptions) {
    this.mode = options.mode;
    this.#write = options.write ?? ((text) => process.stdout.write(text));
    this.#status = options.status;
  }

  get isOn(): boolean {
    return this.#on;
  }

  get pattern(): string {
    return this.#pattern;
  }

  /** How many times the LED switched (tests use it to see a pattern actually played). */
  get switchCount(): number {
    return this.#changes;
  }

  set(on: boolean): void {
    if (on !== this.#on) this.#changes += 1;
    this.#on = on;
    if (this.mode === "tty") this.redraw();
  }

  /** Called by the pattern player's onPattern hook; `name` is a pattern of the core's LED table. */
  showPattern(name: string): void {
    this.#pattern = name;
    if (this.mode === "tty") this.redraw();
    else if (this.mode === "lines") this.#write(`LED ${name}\n`);
    else if (this.mode === "json") this.#write(`${JSON.stringify({ event: "led", pattern: name })}\n`);
  }

  /** The dot and the pattern name, coloured for a terminal. */
  render(): string {
    const colour = COLOURS[this.#pattern] ?? 37;
    const dot = this.#on ? `\x1b[${colour}m●\x1b[0m` : "\x1b[90m○\x1b[0m";
    return `${dot} \x1b[${colour}m${this.#pattern.padEnd(10)}\x1b[0m`;
  }

  /** Redraws the live line (tty mode). */
  redraw(): void {
    if (this.mode !== "tty") return;
    const status = this.#status?.() ?? "";
    this.#write(`\r\x1b[2K${this.render()}${status ? `  ${status}` : ""}`);
  }

  /** Prints text above the live line without tearing it (tty mode); plain write otherwise. */
  printAbove(text: string): void {
    const line = text.endsWith("\n") ? text : `${text}\n`;
    if (this.mode === "tty") {
      this.#write(`\r\x1b[2K${line}`);
      this.redraw();
    } else if (this.mode !== "silent") {
      this.#write(line);
    }
  }

  /** Leaves the live line and moves to a fresh one (on exit). */
  finish(): void {
    if (this.mode === "tty") this.#write("\n");
  }
}
