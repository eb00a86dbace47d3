// The Led port in a terminal. The core's pattern player switches the LED on and off; it also tells us the
// pattern's name, which a real LED cannot show but a terminal can. Modes:
//   tty    one live line, redrawn in place: coloured dot (● lit, ○ dark) + pattern name + status fields,
//          fitted to the terminal's width (see live-line.ts) and redrawn at the new width on a resize;
//   lines  a plain line per pattern change (logs, pipes, no-TTY);
//   json   one JSON object per pattern change (machines);
//   silent nothing (tests).
import type { Led } from "../../modules/core/ports";
import { fitFields, truncate, visibleWidth, type LiveStatus } from "./live-line";

export type LedOutputMode = "tty" | "lines" | "json" | "silent";

export interface TerminalLedOptions {
  mode: LedOutputMode;
  write?: (text: string) => void;
  /** Fields shown after the pattern on the live line (most important first), e.g. the flow state and timings. */
  status?: () => LiveStatus | string;
  /** The terminal's width now (tty mode); default 80. Read at every redraw, so a resize is followed. */
  columns?: () => number | undefined;
  /** ANSI colours (tty mode); off for NO_COLOR / --no-color. Default on. */
  color?: boolean;
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
  #status: (() => LiveStatus | string) | undefined;
  #columns: () => number | undefined;
  #color: boolean;
  /** Visible width of the live line last drawn (0: none on screen). */
  #drawnWidth = 0;
  #on = false;
  #pattern = "off";
  #changes = 0;

  constructor(options: TerminalLedOptions) {
    this.mode = options.mode;
    this.#write = options.write ?? ((text) => process.stdout.write(text));
    this.#status = options.status;
    this.#columns = options.columns ?? (() => 80);
    this.#color = options.color ?? true;
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

  /** The dot and the pattern name, coloured for a terminal (padded to a steady width when there is room). */
  render(width = Infinity): string {
    const colour = COLOURS[this.#pattern] ?? 37;
    const paint = (code: number, text: string) => (this.#color ? `\x1b[${code}m${text}\x1b[0m` : text);
    const dot = this.#on ? paint(colour, "●") : paint(90, "○");
    const name = truncate(width >= 12 ? this.#pattern.padEnd(10) : this.#pattern, Math.max(0, width - 2));
    return name ? `${dot} ${paint(colour, name)}` : dot;
  }

  /** The whole live line for a terminal of `columns` columns: always narrower, so it never wraps. */
  line(columns: number): string {
    const room = Math.max(1, columns - 1); // writing into the last column makes some terminals wrap
    const head = this.render(room);
    const status = this.#status?.() ?? "";
    const statusRoom = room - visibleWidth(head) - 2;
    if (statusRoom < 4) return head;
    const text = typeof status === "string" ? truncate(status, statusRoom) : fitFields(status, statusRoom);
    return text ? `${head}  ${text}` : head;
  }

  /** Redraws the live line (tty mode). */
  redraw(): void {
    if (this.mode !== "tty") return;
    const columns = this.#columnsNow();
    // After the terminal got narrower it may have re-wrapped the old line over several rows: go back up to
    // its first row and clear from there, so no piece of it stays behind.
    const rowsUp = this.#drawnWidth > columns ? Math.ceil(this.#drawnWidth / columns) - 1 : 0;
    const line = this.line(columns);
    this.#write(`${rowsUp > 0 ? `\x1b[${rowsUp}A` : ""}\r\x1b[J${line}`);
    this.#drawnWidth = visibleWidth(line);
  }

  /** Prints text above the live line without tearing it (tty mode); plain write otherwise. */
  printAbove(text: string): void {
    const line = text.endsWith("\n") ? text : `${text}\n`;
    if (this.mode === "tty") {
      this.#write(`\r\x1b[J${line}`);
      this.#drawnWidth = 0;
      this.redraw();
    } else if (this.mode !== "silent") {
      this.#write(line);
    }
  }

  #columnsNow(): number {
    const columns = this.#columns();
    return columns !== undefined && Number.isFinite(columns) && columns > 0 ? Math.floor(columns) : 80;
  }

  /** Leaves the live line and moves to a fresh one (on exit). */
  finish(): void {
    if (this.mode === "tty") this.#write("\n");
    this.#drawnWidth = 0;
  }
}
