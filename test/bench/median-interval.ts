/**
 * A median with a confidence interval that assumes nothing of the distribution (order statistics,
 * as in the sign test): round-to-round noise on a shared 2-core host is neither normal nor
 * symmetric, so a mean ± deviation would claim more than a run shows. With paired rounds (two
 * targets seconds apart), the interval of the per-round ratios says whether a run shows a target
 * at, above or below a line such as "≥ 99%".
 */
export interface MedianInterval {
  readonly median: number;
  readonly low: number;
  readonly high: number;
  /** The interval's actual confidence (order statistics give a few levels only; at least the one asked for). */
  readonly level: number;
}

/** P(X ≤ k) for X ~ Binomial(n, 1/2). */
function binomialHalfCdf(n: number, k: number): number {
  let term = Math.pow(0.5, n);
  let sum = term;
  for (let i = 1; i <= k; i++) {
    term = (term * (n - i + 1)) / i;
    sum += term;
  }
  return sum;
}

/** The median of `values`, and the narrowest order-statistic interval with at least `confidence`; undefined when the values are too few for it. */
export function medianInterval(values: readonly number[], confidence = 0.95): MedianInterval | undefined {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return undefined;
  const middle = n % 2 === 1 ? (sorted[(n - 1) / 2] ?? NaN) : ((sorted[n / 2 - 1] ?? NaN) + (sorted[n / 2] ?? NaN)) / 2;
  // The interval [x(k), x(n-k+1)] (1-based) misses the median with probability 2·P(X ≤ k-1).
  let k = 0;
  while (k + 1 <= n - k && 2 * binomialHalfCdf(n, k) <= 1 - confidence) k += 1;
  if (k === 0) return undefined;
  return {
    median: middle,
    low: sorted[k - 1] ?? NaN,
    high: sorted[n - k] ?? NaN,
    level: 1 - 2 * binomialHalfCdf(n, k - 1),
  };
}
