// Plays a gesture as raw press/release edges with real timing into the core's ClickClassifier, so the
// harness classifies clicks with the same code as the board (debounce, double-click window, long press).
import type { ClickType } from "../../modules/core/config";

export interface EdgeSink {
  edge(pressed: boolean, atMs: number): void;
}

export interface GestureTiming {
  doubleClickMs: number;
  longPressMs: number;
}

/** Edges of one gesture as [pressed, offsetMs] pairs. Tap and gap lengths are a brisk human's. */
export function gestureEdges(type: ClickType, timing: GestureTiming): Array<[boolean, number]> {
  const tap = 80;
  switch (type) {
    case "SINGLE":
      return [
        [true, 0],
        [false, tap],
      ];
    case "DOUBLE": {
      const gap = Math.min(120, Math.floor(timing.doubleClickMs / 2));
      return [
        [true, 0],
        [false, tap],
        [true, tap + gap],
        [false, 2 * tap + gap],
      ];
    }
    case "LONG":
      return [
        [true, 0],
        [false, timing.longPressMs + 200],
      ];
  }
}

/** Release to press of two taps in a row when the second comes while the first is still being played. */
const TAP_GAP_MS = 60;

export class VirtualButton {
  readonly #sink: EdgeSink;
  readonly #timing: GestureTiming;
  readonly #now: () => number;
  /** Edges not yet delivered, as [pressed, delay after the previous edge]. */
  readonly #queue: Array<[boolean, number]> = [];
  #timer: NodeJS.Timeout | undefined;
  /** When the classifier is done with the previous gesture: its last edge + the double-click window. */
  #quietAt = -Infinity;

  constructor(options: { sink: EdgeSink; timing: GestureTiming; now?: () => number }) {
    this.#sink = options.sink;
    this.#timing = options.timing;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Queues a gesture. Its edges are delivered one after the other on timers, each delay counted from the
   * edge actually delivered before it (a busy event loop stretches a gesture; it never squeezes one), and
   * stamped with the monotonic clock. A gesture starts only once the previous one is over for the
   * classifier, as a person's next press would: a press inside the previous gesture's double-click window
   * is rightly taken as part of that gesture.
   */
  play(type: ClickType): void {
    const edges = gestureEdges(type, this.#timing);
    let previous = 0;
    edges.forEach(([pressed, offset], index) => {
      this.#queue.push([pressed, index === 0 ? -1 : offset - previous]); // -1: "when quiet"
      previous = offset;
    });
    if (this.#timer === undefined) this.#next();
  }

  /**
   * One tap (press, release 80 ms later), played as soon as the edges before it are out, without waiting
   * for the classifier's double-click window: a key pressed twice quickly taps twice, and the classifier
   * makes a DOUBLE of it, as it would of two quick presses of the board's button.
   */
  tap(): void {
    const [[, press], [, release]] = gestureEdges("SINGLE", this.#timing) as [[boolean, number], [boolean, number]];
    // Right after a pending release, leave a finger's gap (longer than any debounce) before the next press.
    this.#queue.push([true, this.#queue.length > 0 ? TAP_GAP_MS : press], [false, release - press]);
    if (this.#timer === undefined) this.#next();
  }

  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }

  #next(): void {
    const head = this.#queue[0];
    if (!head) return;
    const delay = head[1] < 0 ? Math.max(0, Math.ceil(this.#quietAt - this.#now())) : head[1];
    const deliver = () => {
      this.#timer = undefined;
      const [pressed] = this.#queue.shift()!;
      this.#sink.edge(pressed, this.#now());
      const next = this.#queue[0];
      if (!next || next[1] < 0) this.#quietAt = this.#now() + this.#timing.doubleClickMs + 50;
      this.#next();
    };
    if (delay === 0 && head[1] < 0) {
      deliver(); // an idle button reacts at once: the press is the caller's "now"
      return;
    }
    this.#timer = setTimeout(deliver, delay);
  }
}
