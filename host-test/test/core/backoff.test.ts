import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Backoff, backoffCeiling, backoffDelay } from "../../../modules/core/backoff";

describe("backoffCeiling", () => {
  it.each([
    [0, 1000],
    [1, 2000],
    [2, 4000],
    [3, 8000],
    [4, 16000],
    [5, 30000],
    [6, 30000],
    [100, 30000],
    [5000, 30000],
    [-3, 1000],
  ])("attempt %i → %i ms", (attempt, ceiling) => {
    expect(backoffCeiling(attempt)).toBe(ceiling);
  });

  it("uses custom base and cap", () => {
    expect(backoffCeiling(3, 100, 500)).toBe(500);
    expect(backoffCeiling(2, 100, 500)).toBe(400);
  });
});

describe("backoffDelay", () => {
  it("is base plus the random share of the window up to base·2^(attempt+1), capped", () => {
    expect(backoffDelay(0, { random: () => 0 })).toBe(1000);
    expect(backoffDelay(0, { random: () => 0.5 })).toBe(1500);
    expect(backoffDelay(3, { random: () => 0.25 })).toBe(1000 + 0.25 * 15_000);
    expect(backoffDelay(10, { random: () => 0.5 })).toBe(15_500);
    expect(backoffDelay(10, { random: () => 0.999999999 })).toBeLessThan(30_000);
  });

  it("never waits less than the base, whatever the random source says", () => {
    expect(backoffDelay(2, { random: () => Number.NaN })).toBe(1000);
    expect(backoffDelay(2, { random: () => -1 })).toBe(1000);
    expect(backoffDelay(2, { random: () => 7 })).toBeLessThan(8000);
  });

  it("a cap below the base wins: every delay is the cap", () => {
    expect(backoffDelay(0, { baseMs: 500, capMs: 200, random: () => 0.7 })).toBe(200);
  });

  it("is always an integer in [base, min(cap, base·2^(attempt+1))) with Math.random", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), (attempt) => {
        const d = backoffDelay(attempt);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(1000);
        expect(d).toBeLessThan(backoffCeiling(attempt + 1));
      }),
    );
  });

  it("is within bounds for any random value in [0,1) and any base/cap", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        (attempt, r, baseMs, capMs) => {
          const d = backoffDelay(attempt, { random: () => r, baseMs, capMs });
          expect(d).toBeGreaterThanOrEqual(Math.min(baseMs, capMs));
          expect(d).toBeLessThanOrEqual(Math.min(capMs, baseMs * 2 ** (attempt + 1)));
        },
      ),
    );
  });
});

describe("Backoff", () => {
  it("grows per call and restarts after reset", () => {
    const b = new Backoff({ random: () => 0.5 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([
      1500, 2500, 4500, 8500, 15500, 15500, 15500,
    ]);
    expect(b.attempts).toBe(7);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(1500);
  });
});
