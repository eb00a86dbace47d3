import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ClickClassifier } from "../../../modules/core/click";
import type { ClickType } from "../../../modules/core/config";
import { FakeTimers } from "./fakes";

type Edge = [pressed: boolean, atMs: number];
const P = (at: number): Edge => [true, at];
const R = (at: number): Edge => [false, at];

/** Real-time delivery: each edge arrives at its timestamp; timers run in between. */
function runRealTime(edges: Edge[], opts: { debounceMs?: number; doubleClickMs?: number; longPressMs?: number } = {}) {
  const timers = new FakeTimers();
  const clicks: { type: ClickType; at: number }[] = [];
  const c = new ClickClassifier({ timers, ...opts, onClick: (type) => clicks.push({ type, at: timers.now() }) });
  for (const [pressed, at] of edges) {
    timers.advanceTo(Math.max(at, timers.now()));
    c.edge(pressed, at);
  }
  timers.advance(10_000);
  return { clicks, timers, classifier: c };
}

/** Late delivery: the host was busy; all edges arrive at once after the last one, with their timestamps. */
function runBatched(edges: Edge[]) {
  const timers = new FakeTimers();
  const types: ClickType[] = [];
  const c = new ClickClassifier({ timers, onClick: (type) => types.push(type) });
  const last = edges.length ? Math.max(...edges.map((e) => e[1])) : 0;
  timers.jump(last + 5);
  for (const [pressed, at] of edges) c.edge(pressed, at);
  timers.advance(10_000);
  return types;
}

const types = (edges: Edge[]) => runRealTime(edges).clicks.map((c) => c.type);

describe("ClickClassifier (defaults: debounce 30, double 400, long 1500)", () => {
  const table: [string, Edge[], { type: ClickType; at: number }[]][] = [
    ["clean single, decided 400 ms after the release", [P(0), R(100)], [{ type: "SINGLE", at: 500 }]],
    [
      "single with press and release bounces",
      [P(0), R(3), P(6), R(9), P(12), R(200), P(204), R(208)],
      [{ type: "SINGLE", at: 608 }],
    ],
    ["glitch shorter than the debounce: nothing", [P(0), R(10)], []],
    ["burst of glitches: nothing", [P(0), R(5), P(40), R(60), P(100), R(129)], []],
    ["press held exactly debounceMs counts", [P(0), R(30)], [{ type: "SINGLE", at: 430 }]],
    ["double: second press 200 ms after the release, fires at that press (+debounce)", [P(0), R(100), P(300), R(400)], [{ type: "DOUBLE", at: 330 }]],
    ["double at the boundary (gap 399)", [P(0), R(100), P(499), R(600)], [{ type: "DOUBLE", at: 529 }]],
    [
      "gap of exactly doubleClickMs: two singles",
      [P(0), R(100), P(500), R(600)],
      [
        { type: "SINGLE", at: 500 },
        { type: "SINGLE", at: 1000 },
      ],
    ],
    [
      "two well separated singles",
      [P(0), R(100), P(1000), R(1100)],
      [
        { type: "SINGLE", at: 500 },
        { type: "SINGLE", at: 1500 },
      ],
    ],
    ["long fires at the threshold while held; release adds nothing", [P(0), R(3000)], [{ type: "LONG", at: 1500 }]],
    ["held 1499 ms is a single", [P(0), R(1499)], [{ type: "SINGLE", at: 1899 }]],
    ["held exactly 1500 ms is long", [P(0), R(1500)], [{ type: "LONG", at: 1500 }]],
    ["long with no release at all", [P(0)], [{ type: "LONG", at: 1500 }]],
    [
      "long, release, then a quick click: LONG then SINGLE (not DOUBLE)",
      [P(0), R(2000), P(2100), R(2200)],
      [
        { type: "LONG", at: 1500 },
        { type: "SINGLE", at: 2600 },
      ],
    ],
    ["triple click is one DOUBLE", [P(0), R(100), P(200), R(300), P(400), R(500)], [{ type: "DOUBLE", at: 230 }]],
    [
      "quadruple click is one DOUBLE",
      [P(0), R(80), P(160), R(240), P(320), R(400), P(480), R(560)],
      [{ type: "DOUBLE", at: 190 }],
    ],
    [
      "triple click then a pause and a single: DOUBLE, SINGLE",
      [P(0), R(100), P(200), R(300), P(400), R(500), P(1500), R(1600)],
      [
        { type: "DOUBLE", at: 230 },
        { type: "SINGLE", at: 2000 },
      ],
    ],
    ["double whose second press is held long: DOUBLE only", [P(0), R(100), P(300), R(3000)], [{ type: "DOUBLE", at: 330 }]],
    ["release glitch that ends before the long deadline: LONG on time", [P(0), R(1490), P(1495), R(2000)], [{ type: "LONG", at: 1500 }]],
    ["release glitch spanning the long deadline: LONG when it proves a glitch", [P(0), R(1480), P(1505), R(2000)], [{ type: "LONG", at: 1505 }]],
    ["real release just before the long deadline: SINGLE", [P(0), R(1480)], [{ type: "SINGLE", at: 1880 }]],
    ["second-press glitch spanning the single deadline: SINGLE when it proves a glitch", [P(0), R(100), P(495), R(505)], [{ type: "SINGLE", at: 505 }]],
    ["second press starting just before the single deadline: DOUBLE", [P(0), R(100), P(495), R(600)], [{ type: "DOUBLE", at: 525 }]],
    ["repeated press edges are one press", [P(0), P(50), P(60), R(100)], [{ type: "SINGLE", at: 500 }]],
    ["a release with no press (held at boot) is ignored", [R(0), R(100)], []],
    ["timestamps stepping back are clamped", [P(1000), R(900), P(905), R(1100)], [{ type: "SINGLE", at: 1500 }]],
  ];

  it.each(table)("%s", (_name, edges, expected) => {
    expect(runRealTime(edges).clicks).toEqual(expected);
  });

  it.each(table)("late, batched delivery gives the same clicks: %s", (_name, edges, expected) => {
    expect(runBatched(edges)).toEqual(expected.map((c) => c.type));
  });

  it("honours custom timings", () => {
    const opts = { debounceMs: 10, doubleClickMs: 250, longPressMs: 800 };
    expect(runRealTime([P(0), R(50), P(300), R(350)], opts).clicks.map((c) => c.type)).toEqual(["SINGLE", "SINGLE"]);
    expect(runRealTime([P(0), R(50), P(200)], opts).clicks).toEqual([{ type: "DOUBLE", at: 210 }]);
    expect(runRealTime([P(0)], opts).clicks).toEqual([{ type: "LONG", at: 800 }]);
    expect(runRealTime([P(0), R(5)], opts).clicks).toEqual([]);
  });

  it("debounceMs 0 accepts every edge at once", () => {
    expect(runRealTime([P(0), R(2)], { debounceMs: 0 }).clicks).toEqual([{ type: "SINGLE", at: 402 }]);
  });

  it("rejects inconsistent timings", () => {
    const timers = new FakeTimers();
    const onClick = () => {};
    expect(() => new ClickClassifier({ timers, onClick, debounceMs: -1 })).toThrow(RangeError);
    expect(() => new ClickClassifier({ timers, onClick, debounceMs: 500 })).toThrow(/doubleClickMs/);
    expect(() => new ClickClassifier({ timers, onClick, longPressMs: 20 })).toThrow(/longPressMs/);
  });

  it("ignores NaN timestamps", () => {
    const timers = new FakeTimers();
    const clicks: ClickType[] = [];
    const c = new ClickClassifier({ timers, onClick: (t) => clicks.push(t) });
    c.edge(true, 0);
    timers.advance(50);
    c.edge(false, Number.NaN);
    timers.advance(50);
    c.edge(false, 100);
    timers.advance(1000);
    expect(clicks).toEqual(["SINGLE"]);
    expect(timers.now()).toBe(1100);
  });

  it("dispose drops the gesture in progress and leaves no timers", () => {
    const { classifier, timers } = runRealTime([]);
    const clicks: ClickType[] = [];
    const c = new ClickClassifier({ timers, onClick: (t) => clicks.push(t) });
    c.edge(true, timers.now());
    timers.advance(100);
    c.edge(false, timers.now());
    c.dispose();
    expect(timers.pendingCount).toBe(0);
    timers.advance(5000);
    expect(clicks).toEqual([]);
    classifier.dispose();
  });
});

// ------------------------------------------------------------------------------------------ properties

describe("ClickClassifier properties", () => {
  const rawEdges = fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 200 })), { maxLength: 60 }).map((steps) => {
    let t = 0;
    return steps.map(([pressed, dt]): Edge => [pressed, (t += dt)]);
  });

  it("never throws, on any edge sequence and any timestamps", () => {
    const anyTime = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(Number.NaN, Infinity, -Infinity, -1));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), anyTime), { maxLength: 40 }), (edges) => {
        const timers = new FakeTimers();
        const c = new ClickClassifier({ timers, onClick: () => {} });
        for (const [pressed, at] of edges) c.edge(pressed, at);
        timers.advance(100_000);
      }),
    );
  });

  it("batched delivery classifies exactly like real-time delivery", () => {
    fc.assert(
      fc.property(rawEdges, (edges) => {
        expect(runBatched(edges)).toEqual(types(edges));
      }),
      { numRuns: 500 },
    );
  });

  it("at most one click per accepted press, and never a click without a press", () => {
    fc.assert(
      fc.property(rawEdges, (edges) => {
        const presses = edges.filter(([p]) => p).length;
        expect(types(edges).length).toBeLessThanOrEqual(presses);
      }),
      { numRuns: 500 },
    );
  });

  // Clean presses with durations and gaps well away from the thresholds, then the same presses with
  // contact bounce (bursts of pulses each shorter than debounceMs) at every transition.
  const press = fc.record({
    // ≥ 100 ms: one bounce pair lasts up to 58 ms, and the contact must then hold for the 30 ms debounce
    // (at 80 ms a press could end up stable for only 22 ms, which no debouncer can tell from noise).
    duration: fc.oneof(fc.integer({ min: 100, max: 1300 }), fc.integer({ min: 1700, max: 3000 })),
    gap: fc.oneof(fc.integer({ min: 120, max: 300 }), fc.integer({ min: 500, max: 2500 })),
    pressBounce: fc.array(fc.integer({ min: 1, max: 29 }), { maxLength: 3 }),
    releaseBounce: fc.array(fc.integer({ min: 1, max: 29 }), { maxLength: 3 }),
  });

  type PressSpec = { duration: number; gap: number; pressBounce: number[]; releaseBounce: number[] };

  function reference(presses: { duration: number; gap: number }[]): ClickType[] {
    const out: ClickType[] = [];
    let i = 0;
    while (i < presses.length) {
      if (presses[i]!.duration >= 1500) {
        out.push("LONG");
        i++;
      } else if (i + 1 < presses.length && presses[i]!.gap < 400) {
        out.push("DOUBLE");
        i++;
        while (i + 1 < presses.length && presses[i]!.gap < 400) i++;
        i++;
      } else {
        out.push("SINGLE");
        i++;
      }
    }
    return out;
  }

  function script(presses: PressSpec[], withBounce: boolean): Edge[] {
    const edges: Edge[] = [];
    let t = 0;
    const burst = (level: boolean, at: number, intervals: number[]) => {
      // Pulses in pairs so the burst ends on the target level; at most ~2 × 29 ms per pair.
      const pairs = withBounce ? intervals.slice(0, intervals.length - (intervals.length % 2)) : [];
      edges.push([level, at]);
      let x = at;
      pairs.forEach((dt, k) => edges.push([k % 2 === 0 ? !level : level, (x += dt)]));
    };
    for (const p of presses) {
      burst(true, t, p.pressBounce);
      burst(false, t + p.duration, p.releaseBounce);
      t += p.duration + p.gap;
    }
    return edges;
  }

  it("contact bounce never adds, drops or changes a click", () => {
    fc.assert(
      fc.property(fc.array(press, { minLength: 1, maxLength: 8 }), (presses) => {
        const clean = types(script(presses, false));
        expect(clean).toEqual(reference(presses));
        expect(types(script(presses, true))).toEqual(clean);
      }),
      { numRuns: 500 },
    );
  });
});

// ------------------------------------------------------------------------------ press that woke the device

describe("ClickClassifier.wakePress (woken from deep sleep by the button)", () => {
  /** Woken by a press at `wakeAt`, code running from `bootAt`; then the edges the board reports. */
  function fromSleep(wakeAt: number, bootAt: number, edges: Edge[], opts: { debounceMs?: number; doubleClickMs?: number; longPressMs?: number } = {}) {
    const timers = new FakeTimers(bootAt);
    const clicks: { type: ClickType; at: number }[] = [];
    const c = new ClickClassifier({ timers, ...opts, onClick: (type) => clicks.push({ type, at: timers.now() }) });
    expect(c.wakePress(wakeAt, bootAt)).toBe(true);
    for (const [pressed, at] of edges) {
      timers.advanceTo(Math.max(at, timers.now()));
      c.edge(pressed, at);
    }
    timers.advance(10_000);
    return { clicks, timers, classifier: c };
  }

  const table: [string, number, Edge[], { type: ClickType; at: number }[]][] = [
    ["released while booting (seen at boot): SINGLE once the double-click window passes", 250, [R(250)], [{ type: "SINGLE", at: 650 }]],
    ["released after boot: SINGLE 400 ms after the release", 200, [R(600)], [{ type: "SINGLE", at: 1000 }]],
    ["a second press within the window: DOUBLE at that press (+debounce)", 200, [R(300), P(500), R(600)], [{ type: "DOUBLE", at: 530 }]],
    ["held: LONG at wake + longPressMs, the release adds nothing", 200, [R(2500)], [{ type: "LONG", at: 1500 }]],
    ["never released: LONG on time", 200, [], [{ type: "LONG", at: 1500 }]],
    ["a boot slower than longPressMs, still held: LONG at once", 1600, [], [{ type: "LONG", at: 1600 }]],
    ["a boot slower than longPressMs, released at boot: LONG (held from the wake)", 1600, [R(1600)], [{ type: "LONG", at: 1600 }]],
    ["held 1499 ms from the wake: SINGLE", 200, [R(1499)], [{ type: "SINGLE", at: 1899 }]],
    ["the board reports the press it woke with: one press, not two", 200, [P(200), R(400)], [{ type: "SINGLE", at: 800 }]],
    ["release bounces after the wake: one SINGLE", 200, [R(400), P(405), R(410)], [{ type: "SINGLE", at: 810 }]],
    ["release glitch while held: LONG still on time", 200, [R(1000), P(1005), R(3000)], [{ type: "LONG", at: 1500 }]],
  ];

  it.each(table)("%s", (_name, bootAt, edges, expected) => {
    expect(fromSleep(0, bootAt, edges).clicks).toEqual(expected);
  });

  it("works with custom timings (LONG counted from the wake edge, not from boot)", () => {
    const opts = { debounceMs: 10, doubleClickMs: 250, longPressMs: 800 };
    expect(fromSleep(1000, 1300, [], opts).clicks).toEqual([{ type: "LONG", at: 1800 }]);
    expect(fromSleep(1000, 1300, [R(1350)], opts).clicks).toEqual([{ type: "SINGLE", at: 1600 }]);
  });

  it("is busy from the wake until the gesture is decided, then idle", () => {
    const timers = new FakeTimers(300);
    const clicks: ClickType[] = [];
    const c = new ClickClassifier({ timers, onClick: (t) => clicks.push(t) });
    expect(c.busy).toBe(false);
    c.wakePress(0, 300);
    expect(c.busy).toBe(true);
    c.edge(false, 300);
    timers.advance(399);
    expect(c.busy).toBe(true); // release settled (at 330), the double-click window is open until 700
    timers.advance(1);
    expect(clicks).toEqual(["SINGLE"]);
    expect(c.busy).toBe(false);
    expect(timers.pendingCount).toBe(0);
  });

  it("is refused after the first edge, twice, or with bad timestamps (nothing changes)", () => {
    const timers = new FakeTimers(100);
    const clicks: ClickType[] = [];
    const c = new ClickClassifier({ timers, onClick: (t) => clicks.push(t) });
    expect(c.wakePress(Number.NaN, 100)).toBe(false);
    expect(c.wakePress(0, Infinity)).toBe(false);
    expect(c.wakePress(200, 100)).toBe(false); // a press in the future
    expect(timers.pendingCount).toBe(0);
    expect(c.wakePress(0, 100)).toBe(true);
    expect(c.wakePress(50, 100)).toBe(false);
    const late = new ClickClassifier({ timers, onClick: (t) => clicks.push(t) });
    late.edge(false, 100); // a release the board saw first
    expect(late.wakePress(0, 100)).toBe(false);
    timers.advance(5_000);
    expect(clicks).toEqual(["LONG"]); // only the accepted wake press, held: no second click
  });

  it("property: after the first debounce, a wake press classifies like a press that was seen", () => {
    // The same edges after a press at t=0, once seen as an ordinary edge and once as the wake: the clicks
    // match as long as the board's first report comes after the debounce (a level held by then is real).
    const later = fc
      .array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 300 })), { maxLength: 30 })
      .chain((steps) =>
        fc.integer({ min: 30, max: 2_000 }).map((bootAt) => {
          let t = bootAt;
          return { bootAt, edges: steps.map(([pressed, dt]): Edge => [pressed, (t += dt)]) };
        }),
      );
    fc.assert(
      fc.property(later, ({ bootAt, edges }) => {
        const woken = fromSleep(0, bootAt, edges).clicks.map((c) => c.type);
        expect(woken).toEqual(types([P(0), ...edges]));
      }),
      { numRuns: 500 },
    );
  });
});
