import { invalidInput } from '../errors.js';
import { normalQuantile } from './special.js';
import { type ComparisonResult, DEFAULT_SEQUENTIAL_TUNING, alwaysValidInterval, fixedHorizonInterval } from './two-sample.js';
import { requireAlpha, requireFinite, requireNonNegative } from './validate.js';

/**
 * A cohort's distribution of one numeric column as the database returns it:
 * weighted counts per bucket (weights are sample rates). Bucket `i` covers
 * `[edges[i], edges[i + 1])`, so `edges.length === counts.length + 1` and the
 * edges ascend; a bucket whose two edges are equal holds a single value.
 */
export interface QuantileHistogram {
  edges: number[];
  counts: number[];
  /**
   * Independent units behind the counts (Kish's effective sample size when
   * sample rates vary, or the stored row count when they are all equal);
   * defaults to the sum of the counts.
   */
  effectiveCount?: number;
}

/** Default relative accuracy of logarithmic buckets: 1% (γ = 1.01/0.99). */
export const DEFAULT_RELATIVE_ACCURACY = 0.01;

/**
 * Growth factor γ = (1 + a)/(1 − a) of logarithmic buckets with relative
 * accuracy `a` (the DDSketch mapping): bucket `i` covers [γ^i, γ^(i+1)), so a
 * value anywhere in it is within `a` of the bucket's midpoint in relative
 * terms.
 */
export function logBucketGamma(relativeAccuracy = DEFAULT_RELATIVE_ACCURACY): number {
  if (!(relativeAccuracy > 0 && relativeAccuracy < 1)) {
    throw invalidInput(`relative accuracy must be between 0 and 1, got ${String(relativeAccuracy)}`, 'use e.g. 0.01 for 1%');
  }
  return (1 + relativeAccuracy) / (1 - relativeAccuracy);
}

/**
 * Index of the logarithmic bucket holding `value` (> 0): ⌊ln(value)/ln γ⌋.
 * The same expression pushed down to SQL, `floor(ln(x) / ln(γ))`, groups the
 * rows; values ≤ 0 belong in the zero bucket (index −Infinity here).
 */
export function logBucketIndex(value: number, relativeAccuracy = DEFAULT_RELATIVE_ACCURACY): number {
  if (!(value > 0)) return Number.NEGATIVE_INFINITY;
  return Math.floor(Math.log(value) / Math.log(logBucketGamma(relativeAccuracy)));
}

/**
 * Builds a {@link QuantileHistogram} from logarithmic bucket counts
 * (`index` as from {@link logBucketIndex}, `count` the weighted count), with
 * `zeroCount` for values ≤ 0 (treated as exactly 0).
 */
export function histogramFromLogBuckets(
  buckets: ReadonlyArray<{ index: number; count: number }>,
  options: { relativeAccuracy?: number; zeroCount?: number; effectiveCount?: number } = {},
): QuantileHistogram {
  const gamma = logBucketGamma(options.relativeAccuracy ?? DEFAULT_RELATIVE_ACCURACY);
  const edges: number[] = [];
  const counts: number[] = [];
  const zeroCount = options.zeroCount ?? 0;
  requireNonNegative(zeroCount, 'zeroCount');
  if (zeroCount > 0) {
    edges.push(0, 0);
    counts.push(zeroCount);
  }
  const merged = new Map<number, number>();
  for (const bucket of buckets) {
    if (!Number.isInteger(bucket.index)) throw invalidInput(`bucket index must be an integer, got ${String(bucket.index)}`);
    requireNonNegative(bucket.count, 'bucket count');
    merged.set(bucket.index, (merged.get(bucket.index) ?? 0) + bucket.count);
  }
  const sorted = [...merged].map(([index, count]) => ({ index, count })).sort((x, y) => x.index - y.index);
  for (const bucket of sorted) {
    const lower = gamma ** bucket.index;
    const upper = gamma ** (bucket.index + 1);
    if (edges.length > 0 && edges[edges.length - 1] === lower) {
      edges.push(upper);
    } else {
      if (edges.length > 0) {
        // an empty gap between non-adjacent buckets
        edges.push(lower);
        counts.push(0);
      }
      if (edges.length === 0) edges.push(lower);
      edges.push(upper);
    }
    counts.push(bucket.count);
  }
  const histogram: QuantileHistogram = { edges, counts };
  if (options.effectiveCount !== undefined) histogram.effectiveCount = options.effectiveCount;
  return histogram;
}

function validateHistogram(h: QuantileHistogram, name: string): number {
  if (!h || !Array.isArray(h.edges) || !Array.isArray(h.counts) || h.edges.length !== h.counts.length + 1) {
    throw invalidInput(`${name} histogram needs edges.length === counts.length + 1`);
  }
  let total = 0;
  h.counts.forEach((count, i) => {
    requireNonNegative(count, `${name}.counts[${i}]`);
    total += count;
  });
  h.edges.forEach((edge, i) => {
    requireFinite(edge, `${name}.edges[${i}]`);
    if (i > 0 && edge < h.edges[i - 1]!) throw invalidInput(`${name} histogram edges must ascend`);
  });
  return total;
}

/**
 * The `q`-quantile of a histogram (0 ≤ q ≤ 1): the value below which a share
 * `q` of the weight lies, interpolating linearly inside the bucket that
 * crosses it. NaN for an empty histogram.
 */
export function histogramQuantile(h: QuantileHistogram, q: number): number {
  const total = validateHistogram(h, 'the');
  if (!(q >= 0 && q <= 1)) throw invalidInput(`quantile must be between 0 and 1, got ${String(q)}`);
  if (total === 0) return Number.NaN;
  const target = q * total;
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < h.counts.length; i++) {
    const count = h.counts[i]!;
    if (count === 0) continue;
    last = i;
    if (cumulative + count >= target) {
      const lower = h.edges[i]!;
      const upper = h.edges[i + 1]!;
      const fraction = (target - cumulative) / count;
      return lower + fraction * (upper - lower);
    }
    cumulative += count;
  }
  return h.edges[last + 1]!;
}

/** Point estimate and standard error of a quantile from a histogram. */
export interface QuantileEstimate {
  value: number;
  se: number;
  n: number;
}

/** Half-width, in standard errors, of the rank band used to estimate the density at the quantile. */
const DENSITY_BAND_Z = normalQuantile(0.975);

/**
 * Estimates the `q`-quantile of a histogram and its standard error without
 * assuming a distribution: the binomial order-statistic band. The rank of the
 * sample quantile has standard deviation √(n·q(1−q)), so the values at ranks
 * q ± z·√(q(1−q)/n) bracket it; their distance divided by 2z estimates
 * √(q(1−q)/n) / f(ξ_q), the asymptotic standard error of a sample quantile
 * (McKean & Schrader 1984; Price & Bonett 2002). It works from bucket counts,
 * so percentiles are aggregated in the database.
 */
export function estimateQuantile(h: QuantileHistogram, q: number): QuantileEstimate {
  const total = validateHistogram(h, 'the');
  if (!(q > 0 && q < 1)) throw invalidInput(`quantile must be strictly between 0 and 1, got ${String(q)}`);
  const n = h.effectiveCount ?? total;
  requireNonNegative(n, 'effectiveCount');
  if (total === 0 || n === 0) return { value: Number.NaN, se: Number.NaN, n: 0 };
  const value = histogramQuantile(h, q);
  const spread = Math.sqrt((q * (1 - q)) / n);
  const low = Math.max(0, q - DENSITY_BAND_Z * spread);
  const high = Math.min(1, q + DENSITY_BAND_Z * spread);
  const se = ((histogramQuantile(h, high) - histogramQuantile(h, low)) * spread) / (high - low);
  return { value, se, n };
}

/** Options of {@link percentileTest}. */
export interface PercentileOptions {
  /** Compare Q_b/Q_a − 1 (on the log scale) instead of Q_b − Q_a. */
  relative?: boolean;
  alpha?: number;
  /** Always-valid confidence sequence (default) or a fixed-horizon normal interval. */
  sequential?: boolean;
  tuning?: number;
}

/**
 * Compares the `q`-quantile (e.g. 0.95 for P95) of treatment `b` with control
 * `a` from their histograms. Each quantile's standard error comes from
 * {@link estimateQuantile}; the difference is asymptotically normal, so the
 * same always-valid confidence sequence as {@link sequentialTest} applies (or
 * a fixed-horizon normal interval with `sequential: false`). The relative
 * version works on ln(Q_b/Q_a) and maps the interval back, so it stays
 * positive-definite; it needs both quantiles > 0.
 */
export function percentileTest(a: QuantileHistogram, b: QuantileHistogram, q: number, options: PercentileOptions = {}): ComparisonResult {
  const alpha = options.alpha ?? 0.05;
  requireAlpha(alpha);
  const control = estimateQuantile(a, q);
  const treatment = estimateQuantile(b, q);
  const n = control.n + treatment.n;
  const interval = (effect: number, se: number): ComparisonResult =>
    options.sequential === false
      ? fixedHorizonInterval(effect, se, Number.POSITIVE_INFINITY, alpha)
      : alwaysValidInterval(effect, se, n, { alpha, tuning: options.tuning ?? DEFAULT_SEQUENTIAL_TUNING });
  if (!options.relative) {
    return interval(treatment.value - control.value, Math.hypot(control.se, treatment.se));
  }
  if (!(control.value > 0 && treatment.value > 0)) {
    return { effect: Number.NaN, se: Number.NaN, ci: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY], pValue: 1 };
  }
  const logRatio = Math.log(treatment.value / control.value);
  const logSe = Math.hypot(control.se / control.value, treatment.se / treatment.value);
  const onLogScale = interval(logRatio, logSe);
  const ratio = Math.exp(logRatio);
  return {
    effect: ratio - 1,
    se: ratio * logSe,
    ci: [Math.exp(onLogScale.ci[0]) - 1, Math.exp(onLogScale.ci[1]) - 1],
    pValue: onLogScale.pValue,
  };
}
