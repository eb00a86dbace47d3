// Host globals that test libraries reach for when they load, which XS doesn't have. The XS bundle passes each
// library only the names it needs (bundle.ts, LIBRARY_GLOBALS), never as globals: the core and the tests still
// see XS's globals as they are, so a core module that used one of these would still fail on XS.

/** chai announces its plugins on an EventTarget. */
export class Event {
  readonly type: string;
  constructor(type: string) {
    this.type = type;
  }
}

type Listener = (event: Event) => void;

export class EventTarget {
  private readonly listeners = new Map<string, Set<Listener>>();

  addEventListener(type: string, listener: Listener): void {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)!.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }

  dispatchEvent(event: Event): boolean {
    for (const listener of this.listeners.get(event.type) ?? []) listener(event);
    return true;
  }
}

/** fast-check keeps its own reference to the timer functions at load; it calls them only for time limits. */
export function setTimeout(): never {
  throw new Error("fast-check time limits (timeout, interruptAfterTimeLimit) need timers, which the XS test worker has not");
}

export function clearTimeout(): void {}
