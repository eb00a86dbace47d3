// A token bucket: `burst` tokens at most, refilled continuously at `perMs` tokens per millisecond. Pure:
// the caller passes the time, so the restaurant's per-thing limit and the broker's per-connection limit
// are tested without waiting.

export interface TokenBucketOptions {
  /** Tokens available at once (and at start). */
  burst: number;
  /** Refill rate in tokens per millisecond. */
  perMs: number;
  /** Time of creation (ms). */
  now: number;
}

/** A bucket kept elsewhere (a database row): `tokens` left at time `at` (ms). */
export interface BucketState {
  tokens: number;
  at: number;
}

/** Takes one token from a stored bucket: whether it was taken, and the state to store back. */
export function takeStored(state: BucketState, shape: { burst: number; perMs: number }, now: number): { taken: boolean; state: BucketState } {
  const tokens = refilled(state, shape, now);
  const at = Math.max(now, state.at);
  return tokens >= 1 ? { taken: true, state: { tokens: tokens - 1, at } } : { taken: false, state: { tokens, at } };
}

function refilled(state: BucketState, shape: { burst: number; perMs: number }, now: number): number {
  return now > state.at ? Math.min(shape.burst, state.tokens + (now - state.at) * shape.perMs) : state.tokens;
}

export class TokenBucket {
  readonly #burst: number;
  readonly #perMs: number;
  #tokens: number;
  #at: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.burst >= 1) || !Number.isFinite(options.burst)) throw new Error("TokenBucket: burst must be a number ≥ 1");
    if (!(options.perMs > 0) || !Number.isFinite(options.perMs)) throw new Error("TokenBucket: rate must be a number > 0");
    this.#burst = options.burst;
    this.#perMs = options.perMs;
    this.#tokens = options.burst;
    this.#at = options.now;
  }

  /** Takes one token if there is one: true = go ahead, false = over the limit (nothing taken). */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * Takes one token now or in the future: returns how many ms the caller must wait for it (0 = at once).
   * Waiting callers queue up behind each other, so n callers over the limit wait 1/rate apart.
   */
  reserve(now: number): number {
    this.#refill(now);
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil(-this.#tokens / this.#perMs);
  }

  /** True when the bucket is full again (it can be forgotten without changing any answer). */
  isFull(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.#burst;
  }

  #refill(now: number): void {
    this.#tokens = refilled({ tokens: this.#tokens, at: this.#at }, { burst: this.#burst, perMs: this.#perMs }, now);
    this.#at = Math.max(now, this.#at);
  }
}
