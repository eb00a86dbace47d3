// The token bucket both limits use (restaurant per thing, broker per connection), on a clock the test moves.
import { describe, expect, it } from "vitest";
import { TokenBucket } from "../../../services/token-bucket";

describe("TokenBucket", () => {
  it("take: a burst at once, then one token per 1/rate; never more than the burst saved up", () => {
    const bucket = new TokenBucket({ burst: 3, perMs: 1 / 1000, now: 0 });
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true, false]);
    expect(bucket.take(999)).toBe(false);
    expect(bucket.take(1000)).toBe(true);
    expect(bucket.isFull(1_000_000)).toBe(true);
    expect([bucket.take(1_000_000), bucket.take(1_000_000), bucket.take(1_000_000), bucket.take(1_000_000)]).toEqual([true, true, true, false]);
  });

  it("reserve: callers over the limit queue up 1/rate apart", () => {
    const bucket = new TokenBucket({ burst: 2, perMs: 1 / 100, now: 0 });
    expect([0, 0, 0, 0].map((t) => bucket.reserve(t))).toEqual([0, 0, 100, 200]);
    expect(bucket.reserve(200)).toBe(100); // by t=200 the queued two have their tokens: the next waits one interval
  });

  it("refuses a burst below 1 or a rate that is not positive", () => {
    expect(() => new TokenBucket({ burst: 0, perMs: 1, now: 0 })).toThrow(/burst/);
    expect(() => new TokenBucket({ burst: 1, perMs: 0, now: 0 })).toThrow(/rate/);
  });
});
