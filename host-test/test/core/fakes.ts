// Deterministic fakes for the core's ports. Time only moves when a test calls advance().
import type {
  Clock,
  CloseKind,
  ConnectionHandlers,
  Led,
  Log,
  MqttConnection,
  MqttConnector,
  TimerHandle,
  Timers,
} from "../../../modules/core/ports";

import type { RtcSlot } from "../../../modules/core/rtc-record";

export { MemoryStore } from "../../device/memory-store";

/** One slot of RTC memory that outlives the code reading it (a new reader = a wake from deep sleep). */
export class MemorySlot implements RtcSlot {
  bytes: Uint8Array | undefined;
  writes = 0;
  read(): Uint8Array | undefined {
    return this.bytes?.slice();
  }
  write(bytes: Uint8Array): void {
    this.writes++;
    this.bytes = bytes.slice();
  }
  clear(): void {
    this.bytes = undefined;
  }
}

interface Pending {
  id: number;
  at: number;
  callback: () => void;
}

/** One-shot timers plus a clock over the same virtual time. */
export class FakeTimers implements Timers, Clock {
  private time: number;
  private nextId = 1;
  private queue: Pending[] = [];
  /** Every delay ever requested, in order (lets tests check backoff delays). */
  readonly requested: number[] = [];

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  set(callback: () => void, delayMs: number): TimerHandle {
    this.requested.push(delayMs);
    const at = this.time + Math.max(0, Number.isFinite(delayMs) ? delayMs : 0);
    const id = this.nextId++;
    this.queue.push({ id, at, callback });
    return id;
  }

  clear(handle: TimerHandle): void {
    this.queue = this.queue.filter((p) => p.id !== handle);
  }

  get pendingCount(): number {
    return this.queue.length;
  }

  /** Moves time forward by ms, running due timers in (time, creation) order, including ones they set. */
  advance(ms: number): void {
    this.advanceTo(this.time + ms);
  }

  advanceTo(target: number): void {
    if (target < this.time) throw new Error(`time cannot go back (${target} < ${this.time})`);
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.queue) {
        if (p.at <= target && (!next || p.at < next.at || (p.at === next.at && p.id < next.id))) next = p;
      }
      if (!next) break;
      this.queue = this.queue.filter((p) => p !== next);
      this.time = next.at;
      next.callback();
    }
    this.time = target;
  }

  /** Jumps the clock without running timers (a host whose event loop stalled). */
  jump(ms: number): void {
    this.time += ms;
  }
}

/** A settable wall clock, independent of the timers (e.g. for pending-expiry across a reboot). */
export class FakeClock implements Clock {
  constructor(public time = 0) {}
  now(): number {
    return this.time;
  }
}

/** Records every LED change with the virtual time it happened. */
export class RecordingLed implements Led {
  on = false;
  readonly changes: { at: number; on: boolean }[] = [];
  constructor(private readonly clock: Clock) {}
  set(on: boolean): void {
    this.on = on;
    this.changes.push({ at: this.clock.now(), on });
  }
}

export class MemoryLog implements Log {
  readonly lines: string[] = [];
  info(message: string): void {
    this.lines.push(`info: ${message}`);
  }
  warn(message: string): void {
    this.lines.push(`warn: ${message}`);
  }
  error(message: string): void {
    this.lines.push(`error: ${message}`);
  }
  has(re: RegExp): boolean {
    return this.lines.some((l) => re.test(l));
  }
}

// ------------------------------------------------------------------------------------------ MQTT fake

/** One fake connection. The test (or the connector's hooks) plays the broker's side. */
export class FakeConnection implements MqttConnection {
  readonly published: { topic: string; payload: Uint8Array }[] = [];
  closedByCore = false;
  ended = false;
  isReady = false;

  constructor(
    readonly id: number,
    readonly subscribe: string,
    private readonly handlers: ConnectionHandlers,
    private readonly owner: FakeConnector,
  ) {}

  get open(): boolean {
    return !this.closedByCore && !this.ended;
  }

  publish(topic: string, payload: Uint8Array): void {
    if (!this.open) throw new Error(`publish on closed connection ${this.id}`);
    if (!this.isReady) throw new Error(`publish before ready on connection ${this.id}`);
    this.published.push({ topic, payload });
    this.owner.onPublish?.(this, topic, payload);
  }

  close(): void {
    this.closedByCore = true;
  }

  // ---- broker side
  ready(): void {
    if (!this.open) return;
    this.isReady = true;
    this.handlers.onReady();
  }

  deliver(topic: string, payload: Uint8Array): void {
    if (this.open) this.handlers.onMessage(topic, payload);
  }

  /** The peer / network ends the connection. Like a real adapter: never after the core closed it. */
  drop(kind: CloseKind = "network", detail = "connection reset"): void {
    if (!this.open) return;
    this.ended = true;
    this.handlers.onClose(kind, detail);
  }
}

export class FakeConnector implements MqttConnector {
  readonly connections: FakeConnection[] = [];
  onConnect?: (c: FakeConnection) => void;
  onPublish?: (c: FakeConnection, topic: string, payload: Uint8Array) => void;

  connect(request: { subscribe: string }, handlers: ConnectionHandlers): MqttConnection {
    const c = new FakeConnection(this.connections.length + 1, request.subscribe, handlers, this);
    this.connections.push(c);
    this.onConnect?.(c);
    return c;
  }

  get last(): FakeConnection | undefined {
    return this.connections[this.connections.length - 1];
  }

  get openConnections(): FakeConnection[] {
    return this.connections.filter((c) => c.open);
  }

  get allPublished(): { topic: string; payload: Uint8Array }[] {
    return this.connections.flatMap((c) => c.published);
  }
}
