// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
// delay = random() × min(cap, base × 2^attempt). Full jitter spreads the retries of many buttons that
// lost the broker at the same moment, so they do not all come back in lock-step (no reconnect storm).

export interface BackoffOptions {
  baseMs?: number; // default 1000
  capMs?: number; // default 30000
  /** Uniform in [0, 1). Injectable for tests. */
  random?: () => number;
}

/** The ceiling of the jitter window for a 0-based attempt: min(cap, base × 2^attempt). */
export function backoffCeiling(attempt: number, baseMs = 1_000, capMs = 30_000): number {
  const n = Math.max(0, Math.floor(attempt));
  // 2^n overflows to Infinity for large n; min() with the cap keeps it finite.
  return Math.min(capMs, baseMs * 2 ** Math.min(n, 1024));
}

/** Delay before retry number `attempt` (0 = first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const ceiling = backoffCeiling(attempt, options.baseMs, options.capMs);
  let r = (options.random ?? Math.random)();
  if (!(r >= 0)) r = 0; // NaN or negative from a bad source
  if (r >= 1) r = 0.999999;
  return Math.floor(r * ceiling);
}

/** Stateful helper: next() returns successive delays; reset() after a success. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly options: BackoffOptions = {}) {}

  get attempts(): number {
    return this.attempt;
  }

  next(): number {
    return backoffDelay(this.attempt++, this.options);
  }

  reset(): void {
    this.attempt = 0;
  }
}
