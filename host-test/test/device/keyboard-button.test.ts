import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { commandForKey, KeyboardButton, type KeyCommand } from "../../device/keyboard-button";

describe("KeyboardButton", () => {
  it("maps keys: Enter/space = a tap, s = SINGLE, d = DOUBLE, l = LONG, q / Ctrl-C / Ctrl-D = quit", () => {
    expect(["\r", "\n", " "].map(commandForKey)).toEqual(["TAP", "TAP", "TAP"]);
    expect(commandForKey("s")).toBe("SINGLE");
    expect(commandForKey("d")).toBe("DOUBLE");
    expect(commandForKey("l")).toBe("LONG");
    expect(["q", "\u0003", "\u0004"].map(commandForKey)).toEqual(["quit", "quit", "quit"]);
    expect(commandForKey("x")).toBeUndefined();
  });

  it("reads a stream (no TTY): CRLF is one Enter, case is ignored, unknown keys are reported, end = quit", async () => {
    const input = new PassThrough() as unknown as NodeJS.ReadStream;
    const commands: KeyCommand[] = [];
    const unknown: string[] = [];
    const button = new KeyboardButton({ input, onCommand: (c) => commands.push(c), onUnknownKey: (k) => unknown.push(k) });
    (input as unknown as PassThrough).write("\r\nD");
    (input as unknown as PassThrough).write("lz");
    (input as unknown as PassThrough).end();
    await new Promise((resolve) => setImmediate(resolve));
    expect(commands).toEqual(["TAP", "DOUBLE", "LONG", "quit"]);
    expect(unknown).toEqual(["z"]);
    button.close();
  });
});
