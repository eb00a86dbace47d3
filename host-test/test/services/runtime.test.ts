// The services' output: readable lines for a person on a terminal, JSON lines for machines (piped or
// --json), colours only on a terminal and never under NO_COLOR / --no-color.
import { describe, expect, it } from "vitest";
import { chooseOutput, jsonLines, levelOf, readableLines } from "../../../services/runtime";

const at = () => new Date("2026-11-30T08:41:02.345Z");

describe("service output", () => {
  it("readable: time, level, source, event and the key fields; a log event prints its message", () => {
    const lines: string[] = [];
    const sink = readableLines({ write: (l) => lines.push(l), now: at });
    sink("broker", "ready", { host: "127.0.0.1", port: 8883, note: "two words" });
    sink("broker", "refused", { clientId: "pizza-button-02", reason: "thing is INACTIVE" });
    sink("restaurant", "log", { level: "error", message: "database is locked" });
    expect(lines).toEqual([
      '08:41:02.345 INFO  broker ready host=127.0.0.1 port=8883 note="two words"\n',
      '08:41:02.345 WARN  broker refused clientId=pizza-button-02 reason="thing is INACTIVE"\n',
      "08:41:02.345 ERROR restaurant database is locked\n",
    ]);
  });

  it("readable with colour: the same text inside escape sequences", () => {
    const lines: string[] = [];
    readableLines({ write: (l) => lines.push(l), now: at, color: true })("broker", "ready", { port: 1 });
    expect(lines[0]).toContain("\x1b[");
    expect(lines[0]!.replace(/\x1b\[\d+m/g, "")).toBe("08:41:02.345 INFO  broker ready port=1\n");
  });

  it("json: one object per line, the same fields", () => {
    const lines: string[] = [];
    jsonLines((l) => lines.push(l))("broker", "ready", { port: 8883 });
    expect(JSON.parse(lines[0]!)).toMatchObject({ source: "broker", event: "ready", port: 8883 });
  });

  it("levels from the event: errors, refusals and warnings", () => {
    expect(levelOf("broker-error", {})).toBe("error");
    expect(levelOf("exit", { code: 1 })).toBe("error");
    expect(levelOf("exit", { code: 0 })).toBe("info");
    expect(levelOf("tls-refused", {})).toBe("warn");
    expect(levelOf("publish-denied", {})).toBe("warn");
    expect(levelOf("log", { level: "warn" })).toBe("warn");
    expect(levelOf("connect", {})).toBe("info");
  });

  it("chooses JSON when piped or asked, readable on a terminal; colour by NO_COLOR and the flags", () => {
    const tty = { isTTY: true };
    const env = {};
    expect(chooseOutput(["--port", "0"], tty, env)).toEqual({ argv: ["--port", "0"], json: false, color: true });
    expect(chooseOutput(["--json", "--port", "0"], tty, env)).toEqual({ argv: ["--port", "0"], json: true, color: false });
    expect(chooseOutput([], { isTTY: false }, env)).toMatchObject({ json: true, color: false });
    expect(chooseOutput(["--no-color"], tty, env)).toEqual({ argv: [], json: false, color: false });
    expect(chooseOutput([], tty, { NO_COLOR: "1" })).toMatchObject({ json: false, color: false });
    expect(chooseOutput([], tty, { NO_COLOR: "" })).toMatchObject({ color: true });
    expect(chooseOutput(["--color"], tty, { NO_COLOR: "1" })).toMatchObject({ color: true });
  });
});
