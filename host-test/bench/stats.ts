// Summary statistics for latency samples (milliseconds). Percentiles use linear interpolation between
// closest ranks (the "R-7" method of spreadsheets and numpy's default), so p99 of 300 samples is not
// simply the 3rd largest sample.

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (sorted.length - 1) * p;
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/** Rounded for a report: 3 significant decimals below 10 ms, 2 below 100, 1 above. */
export function round(ms: number): number {
  if (!Number.isFinite(ms)) return ms;
  const digits = Math.abs(ms) < 10 ? 3 : Math.abs(ms) < 100 ? 2 : 1;
  const f = 10 ** digits;
  return Math.round(ms * f) / f;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = sorted.length;
  const sum = sorted.reduce((acc, x) => acc + x, 0);
  return {
    n,
    p50: round(percentile(sorted, 0.5)),
    p90: round(percentile(sorted, 0.9)),
    p99: round(percentile(sorted, 0.99)),
    mean: round(n ? sum / n : Number.NaN),
    min: round(n ? sorted[0]! : Number.NaN),
    max: round(n ? sorted[n - 1]! : Number.NaN),
  };
}

/** Samples as a report keeps them (for distributions): finite, in the order measured, 3 decimals. */
export function samplesOf(samples: readonly number[]): number[] {
  return samples.filter((x) => Number.isFinite(x)).map((x) => Math.round(x * 1000) / 1000);
}

export interface Ratio {
  p50: number;
  p90: number;
  p99: number;
}

/** ours / baseline per percentile, from unrounded samples. */
export function ratio(ours: readonly number[], baseline: readonly number[]): Ratio {
  const a = [...ours].sort((x, y) => x - y);
  const b = [...baseline].sort((x, y) => x - y);
  const r = (p: number) => Math.round((percentile(a, p) / percentile(b, p)) * 1000) / 1000;
  return { p50: r(0.5), p90: r(0.9), p99: r(0.99) };
}
