// Per-connection publish limit for the embedded broker: one client cannot monopolise the broker or flood
// the restaurant behind it. Over the limit a client is slowed down, not cut off: its next publish is
// authorized only when a token is free. aedes reads a client's next packets only after the current ones
// are handled, so the wait pushes back on that client's TCP connection alone; everyone else is served as
// usual. Identities that publish for many others (the restaurant's acks) are exempt.
import { TokenBucket } from "../token-bucket";

export interface PublishLimit {
  /** Publishes a connection may send at once. */
  burst: number;
  /** Then this many per second. */
  perSecond: number;
  /** Client ids (= certificate CNs) without a limit. */
  exempt: readonly string[];
}

/** A button publishes one message per press; the restaurant answers for every button. */
export const DEFAULT_PUBLISH_LIMIT: PublishLimit = { burst: 20, perSecond: 10, exempt: ["restaurant"] };

export interface PublishDelay {
  /** How long to hold this publish before authorizing it (0: at once). */
  waitMs: number;
  /** True for the first held publish after the connection was within its limit (report it once). */
  started: boolean;
}

export class PublishLimiter {
  readonly #limit: PublishLimit;
  readonly #now: () => number;
  readonly #buckets = new WeakMap<object, { bucket: TokenBucket; throttled: boolean }>();

  constructor(limit: PublishLimit, now: () => number = Date.now) {
    if (!Number.isSafeInteger(limit.burst) || limit.burst < 1) throw new Error("publish limit: burst must be a whole number ≥ 1");
    if (!(limit.perSecond > 0) || !Number.isFinite(limit.perSecond)) throw new Error("publish limit: perSecond must be a number > 0");
    this.#limit = limit;
    this.#now = now;
  }

  /** Reserves the next publish of `connection` (one object per client connection). */
  delay(connection: object, clientId: string): PublishDelay {
    if (this.#limit.exempt.includes(clientId)) return { waitMs: 0, started: false };
    const now = this.#now();
    let entry = this.#buckets.get(connection);
    if (!entry) {
      entry = { bucket: new TokenBucket({ burst: this.#limit.burst, perMs: this.#limit.perSecond / 1000, now }), throttled: false };
      this.#buckets.set(connection, entry);
    }
    const waitMs = entry.bucket.reserve(now);
    const started = waitMs > 0 && !entry.throttled;
    entry.throttled = waitMs > 0;
    return { waitMs, started };
  }
}
