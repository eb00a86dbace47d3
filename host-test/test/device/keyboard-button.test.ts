import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { commandForKey, KeyboardButton, type KeyCommand } from "../../device/keyboard-button";

describe("KeyboardButton", () => {
  it("maps keys to gestures: Enter/space = SINGLE, d = DOUBLE, l = LONG, q / Ctrl-C / Ctrl-D = quit", () => {
    expect(["\r", "\n", " ", "s"].map(commandForKey)).toEqual(["SINGLE", "SINGLE", "SINGLE", "SINGLE"]);
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
    expect(commands).toEqual(["SINGLE", "DOUBLE", "LONG", "quit"]);
    expect(unknown).toEqual(["z"]);
    button.close();
  });
});
