// Exponential backoff with jitter and a floor: retry n waits a uniformly random time in
// [base, min(cap, base × 2^(n+1))). The jitter spreads the retries of many buttons that lost the broker at
// the same moment, so they do not all come back in lock-step (no reconnect storm); the floor keeps every
// retry at least `base` after the failed attempt, as AWS IoT expects of a device (no hammering the broker
// with near-immediate retries, which plain "full jitter" from 0 allows).

export interface BackoffOptions {
  baseMs?: number; // default 1000
  capMs?: number; // default 30000
  /** Uniform in [0, 1). Injectable for tests. */
  random?: () => number;
}

/** min(cap, base × 2^attempt) for a 0-based attempt: the top of retry (attempt − 1)'s window. */
export function backoffCeiling(attempt: number, baseMs = 1_000, capMs = 30_000): number {
  const n = Math.max(0, Math.floor(attempt));
  // 2^n overflows to Infinity for large n; min() with the cap keeps it finite.
  return Math.min(capMs, baseMs * 2 ** Math.min(n, 1024));
}

/** Delay before retry number `attempt` (0 = first retry): in [min(base, cap), min(cap, base·2^(attempt+1))). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const baseMs = options.baseMs ?? 1_000;
  const capMs = options.capMs ?? 30_000;
  const floor = Math.min(baseMs, capMs);
  const ceiling = backoffCeiling(Math.max(0, Math.floor(attempt)) + 1, baseMs, capMs);
  let r = (options.random ?? Math.random)();
  if (!(r >= 0)) r = 0; // NaN or negative from a bad source
  if (r >= 1) r = 0.999999;
  return Math.floor(floor + r * (ceiling - floor));
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
