import { describe, expect, it } from "vitest";
import { LedPlayer } from "../../../modules/core/led";
import { TerminalLed } from "../../device/terminal-led";
import { nodeTimers } from "../../device/timers";

describe("TerminalLed", () => {
  it("tty: redraws one live line with a lit/dark dot, the pattern and the status text", () => {
    const out: string[] = [];
    const led = new TerminalLed({ mode: "tty", write: (t) => out.push(t), status: () => "awaiting-ack" });
    led.showPattern("working");
    led.set(true);
    expect(out.at(-1)).toMatch(/^\r\x1b\[2K\x1b\[33m●\x1b\[0m \x1b\[33mworking\s*\x1b\[0m  awaiting-ack$/);
    led.set(false);
    expect(out.at(-1)).toContain("○");
    led.printAbove("a log line");
    expect(out.slice(-2)[0]).toBe("\r\x1b[2Ka log line\n");
  });

  it("json and lines modes print one entry per pattern change, not per blink", () => {
    const json: string[] = [];
    const led = new TerminalLed({ mode: "json", write: (t) => json.push(t) });
    led.showPattern("ok");
    led.set(true);
    led.set(false);
    expect(json).toEqual(['{"event":"led","pattern":"ok"}\n']);
    const lines: string[] = [];
    const plain = new TerminalLed({ mode: "lines", write: (t) => lines.push(t) });
    plain.showPattern("failed");
    expect(lines).toEqual(["LED failed\n"]);
  });

  it("follows the core's pattern player", async () => {
    const led = new TerminalLed({ mode: "silent" });
    const player = new LedPlayer({ led, timers: nodeTimers, onPattern: (name) => led.showPattern(name) });
    player.play("busy"); // 50 ms on, then off
    expect(led.pattern).toBe("busy");
    expect(led.isOn).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(led.isOn).toBe(false);
    expect(led.pattern).toBe("off");
  });
});
