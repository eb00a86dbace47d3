import { describe, expect, it } from "vitest";
import { LedPlayer } from "../../../modules/core/led";
import { visibleWidth } from "../../device/live-line";
import { TerminalLed } from "../../device/terminal-led";
import { nodeTimers } from "../../device/timers";

describe("TerminalLed", () => {
  it("tty: redraws one live line with a lit/dark dot, the pattern and the status text", () => {
    const out: string[] = [];
    const led = new TerminalLed({ mode: "tty", write: (t) => out.push(t), status: () => "awaiting-ack" });
    led.showPattern("working");
    led.set(true);
    expect(out.at(-1)).toMatch(/^\r\x1b\[J\x1b\[33m●\x1b\[0m \x1b\[33mworking\s*\x1b\[0m  awaiting-ack$/);
    led.set(false);
    expect(out.at(-1)).toContain("○");
    led.printAbove("a log line");
    expect(out.slice(-2)[0]).toBe("\r\x1b[Ja log line\n");
  });

  it("tty: the live line stays narrower than the terminal, at every width and after a resize", () => {
    const out: string[] = [];
    let columns = 80;
    const status = () => [
      "awaiting-ack",
      { long: "last: SINGLE → ok (pizza-button-01-1796026537) in 154 ms", short: "last: SINGLE ok 154 ms" },
      { long: "TCP 1.8 ms TLS 21.07 ms publish→ack 63.2 ms", short: "TLS 21 pub→ack 63 ms" },
    ];
    const led = new TerminalLed({ mode: "tty", write: (t) => out.push(t), status, columns: () => columns });
    led.showPattern("auth-error");
    const drawn = () => visibleWidth(out.at(-1)!.replace(/^(\x1b\[\d+A)?\r\x1b\[J/, ""));
    for (columns = 4; columns <= 200; columns++) {
      led.set(columns % 2 === 0);
      expect(drawn()).toBeLessThan(columns);
    }
    // Narrower now: the wide line a reflowing terminal spread over rows is cleared from its first row.
    const wide = drawn();
    expect(wide).toBeGreaterThan(100);
    columns = 50;
    led.redraw();
    expect(out.at(-1)!.startsWith(`\x1b[${Math.ceil(wide / 50) - 1}A\r\x1b[J`)).toBe(true);
    expect(drawn()).toBeLessThan(50);
  });

  it("tty without colour (NO_COLOR / --no-color): no escape sequences but the redraw", () => {
    const out: string[] = [];
    const led = new TerminalLed({ mode: "tty", write: (t) => out.push(t), status: () => "idle", color: false });
    led.showPattern("ok");
    led.set(true);
    expect(out.at(-1)).toBe("\r\x1b[J● ok          idle");
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
