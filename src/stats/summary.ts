import { invalidInput } from '../errors.js';
import { requireFinite, requireNonNegative } from './validate.js';

/**
 * Sufficient statistics of one cohort for one metric: the number of units `n`,
 * the sum of the values and the sum of their squares. A rate is the mean of a
 * 0/1 indicator, so `{ n, sum: successes, sumSquares: successes }`.
 */
export interface Summary {
  n: number;
  sum: number;
  sumSquares: number;
}

/**
 * Per-cohort aggregates of sampled events as a database computes them, each
 * event weighted by its sample rate `w` (an event kept with sample rate N stands
 * for N events):
 *
 * - `rows` = COUNT(*), the events actually stored;
 * - `weight` = SUM(w), the events they represent;
 * - `weightSquares` = SUM(w²) (optional; when missing every row is assumed to
 *   carry the same weight, `weight² / rows`);
 * - `sum` = SUM(w·x) and `sumSquares` = SUM(w·x²).
 */
export interface WeightedAggregate {
  rows: number;
  weight: number;
  weightSquares?: number;
  sum: number;
  sumSquares: number;
}

/** Mean of a summary (NaN when `n` is 0). */
export function summaryMean(s: Summary): number {
  return s.n > 0 ? s.sum / s.n : Number.NaN;
}

/** Unbiased sample variance of a summary (NaN when `n` < 2; never negative). */
export function summaryVariance(s: Summary): number {
  if (s.n < 2) return Number.NaN;
  const mean = s.sum / s.n;
  const variance = (s.sumSquares - s.n * mean * mean) / (s.n - 1);
  return Math.max(variance, 0);
}

/** Summary of a rate: `successes` of `n` units, as a mean of 0/1 indicators. */
export function proportionSummary(successes: number, n: number): Summary {
  requireNonNegative(successes, 'successes');
  requireNonNegative(n, 'n');
  if (successes > n) throw invalidInput(`successes (${successes}) exceed the number of units (${n})`);
  return { n, sum: successes, sumSquares: successes };
}

/** Summary of raw values (for tests and small in-memory samples). */
export function summarize(values: readonly number[]): Summary {
  let sum = 0;
  let sumSquares = 0;
  for (const value of values) {
    requireFinite(value, 'value');
    sum += value;
    sumSquares += value * value;
  }
  return { n: values.length, sum, sumSquares };
}

/** Adds summaries (e.g. the batches that arrived since the last look). */
export function addSummaries(...summaries: readonly Summary[]): Summary {
  const total = { n: 0, sum: 0, sumSquares: 0 };
  for (const s of summaries) {
    total.n += s.n;
    total.sum += s.sum;
    total.sumSquares += s.sumSquares;
  }
  return total;
}

/**
 * Kish's effective sample size of weighted rows, `(Σw)² / Σw²`: the number of
 * unweighted units that would carry the same information. Equals `rows` when
 * every row has the same sample rate.
 */
export function effectiveSampleSize(agg: Pick<WeightedAggregate, 'rows' | 'weight' | 'weightSquares'>): number {
  if (agg.rows === 0 || agg.weight === 0) return 0;
  const weightSquares = agg.weightSquares ?? (agg.weight * agg.weight) / agg.rows;
  return (agg.weight * agg.weight) / weightSquares;
}

/**
 * Turns sample-rate-weighted aggregates into a {@link Summary} whose mean is the
 * weighted mean `Σw·x / Σw` and whose `n` is Kish's effective sample size, so
 * the standard error of the mean is `s / √n_eff` (sample rates raise the
 * estimated totals, never the precision). The sums are rescaled by
 * `n_eff / Σw`, which keeps the mean and the weighted variance.
 */
export function summaryFromWeighted(agg: WeightedAggregate): Summary {
  requireNonNegative(agg.rows, 'rows');
  requireNonNegative(agg.weight, 'weight');
  if (agg.weightSquares !== undefined) requireNonNegative(agg.weightSquares, 'weightSquares');
  requireFinite(agg.sum, 'sum');
  requireNonNegative(agg.sumSquares, 'sumSquares');
  if (agg.rows === 0 || agg.weight === 0) return { n: 0, sum: 0, sumSquares: 0 };
  const n = effectiveSampleSize(agg);
  const scale = n / agg.weight;
  return { n, sum: agg.sum * scale, sumSquares: agg.sumSquares * scale };
}
