// The virtual button's gestures through the core's real click classifier on real timers: each gesture
// must come out as the click it stands for, also when gestures are queued back to back.
import { describe, expect, it } from "vitest";
import type { ClickType } from "../../../modules/core/config";
import { ClickClassifier } from "../../../modules/core/click";
import { nodeTimers } from "../../device/timers";
import { gestureEdges, VirtualButton } from "../../device/virtual-button";

describe("VirtualButton", () => {
  it("SINGLE, DOUBLE, LONG, DOUBLE, SINGLE queued at once are classified as exactly those clicks", async () => {
    const clicks: ClickType[] = [];
    const classifier = new ClickClassifier({ timers: nodeTimers, longPressMs: 600, onClick: (type) => clicks.push(type) });
    const button = new VirtualButton({ sink: classifier, timing: { doubleClickMs: 400, longPressMs: 600 } });
    const sequence: ClickType[] = ["SINGLE", "DOUBLE", "LONG", "DOUBLE", "SINGLE"];
    for (const type of sequence) button.play(type);
    const deadline = Date.now() + 15_000;
    while (clicks.length < sequence.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(clicks).toEqual(sequence);
    button.dispose();
    classifier.dispose();
  });

  it("two quick taps (two quick Enters) are one DOUBLE; a tap alone is a SINGLE, as on the board", async () => {
    const clicks: ClickType[] = [];
    const classifier = new ClickClassifier({ timers: nodeTimers, onClick: (type) => clicks.push(type) });
    const button = new VirtualButton({ sink: classifier, timing: { doubleClickMs: 400, longPressMs: 1500 } });
    const settle = async (count: number) => {
      const deadline = Date.now() + 5_000;
      while (clicks.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 500)); // nothing more may come
    };
    button.tap();
    button.tap(); // the second key arrives while the first tap is still being played
    await settle(1);
    expect(clicks).toEqual(["DOUBLE"]);
    button.tap();
    await new Promise((r) => setTimeout(r, 150));
    button.tap(); // 150 ms later: well inside the double-click window
    await settle(2);
    expect(clicks).toEqual(["DOUBLE", "DOUBLE"]);
    button.tap();
    await settle(3);
    expect(clicks).toEqual(["DOUBLE", "DOUBLE", "SINGLE"]);
    button.dispose();
    classifier.dispose();
  });

  it("gestures are press/release pairs; a LONG is held past the threshold", () => {
    for (const type of ["SINGLE", "DOUBLE", "LONG"] as const) {
      const edges = gestureEdges(type, { doubleClickMs: 400, longPressMs: 1500 });
      expect(edges.map(([pressed]) => pressed)).toEqual(edges.map((_, i) => i % 2 === 0));
    }
    const long = gestureEdges("LONG", { doubleClickMs: 400, longPressMs: 1500 });
    expect(long[1]![1] - long[0]![1]).toBeGreaterThan(1500);
  });
});
