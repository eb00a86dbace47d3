// The virtual button's keys. A terminal reports key presses, not key releases, so a key cannot be held
// like a button. Enter (or space) is one tap of the button: two quick Enters are a DOUBLE, because the
// taps go into the core's click classifier as the board's GPIO edges would. s, d and l stand for a whole
// gesture (SINGLE, DOUBLE, LONG), which VirtualButton plays as raw edges into the same classifier.
import type { ClickType } from "../../modules/core/config";

export type KeyCommand = "TAP" | ClickType | "quit";

export interface KeyboardButtonOptions {
  input: NodeJS.ReadStream;
  onCommand(command: KeyCommand): void;
  /** Unknown keys (for a hint line). */
  onUnknownKey?(key: string): void;
}

/** Maps one key to a command; exported for tests. Ctrl-C arrives as a key in raw mode (no SIGINT). */
export function commandForKey(key: string): KeyCommand | undefined {
  switch (key) {
    case "\r":
    case "\n":
    case " ":
      return "TAP";
    case "s":
      return "SINGLE";
    case "d":
      return "DOUBLE";
    case "l":
      return "LONG";
    case "q":
    case "\u0003": // Ctrl-C
    case "\u0004": // Ctrl-D
      return "quit";
    default:
      return undefined;
  }
}

export class KeyboardButton {
  readonly #input: NodeJS.ReadStream;
  readonly #onData: (chunk: Buffer | string) => void;
  readonly #wasRaw: boolean;
  #closed = false;

  constructor(options: KeyboardButtonOptions) {
    this.#input = options.input;
    this.#wasRaw = Boolean(options.input.isTTY && options.input.isRaw);
    if (options.input.isTTY) options.input.setRawMode(true);
    this.#onData = (chunk) => {
      const text = typeof chunk === "string" ? chunk : chunk.toString("utf8");
      // "\r\n" from a pipe is one Enter, not two clicks.
      for (const key of text.replace(/\r\n/g, "\n")) {
        const command = commandForKey(key.toLowerCase());
        if (command) options.onCommand(command);
        else options.onUnknownKey?.(key);
      }
    };
    this.#input.on("data", this.#onData);
    this.#input.on("end", () => {
      if (!this.#closed) options.onCommand("quit");
    });
    this.#input.resume();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#input.off("data", this.#onData);
    if (this.#input.isTTY) this.#input.setRawMode(this.#wasRaw);
    this.#input.pause();
  }
}
