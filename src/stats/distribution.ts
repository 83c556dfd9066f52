import { invalidInput } from '../errors.js';
import { chiSquareSf, normalCdf, normalSf } from './special.js';
import { requireNonNegative } from './validate.js';

/** Result of {@link contingencyTest}. */
export interface ContingencyResult {
  chiSquare: number;
  df: number;
  pValue: number;
}

/**
 * Pearson's chi-square test of independence on an r×c table of counts (e.g.
 * rows = selected / rest, columns = the values of a string column), as scipy's
 * `chi2_contingency`: expected counts from the margins, df = (r−1)(c−1), and
 * with `correction` (default true) Yates' continuity correction when df = 1
 * (each |observed − expected| reduced by at most ½). Rows and columns whose
 * total is 0 are dropped first; with fewer than two of either left, `pValue`
 * is 1.
 */
export function contingencyTest(table: number[][], options: { correction?: boolean } = {}): ContingencyResult {
  if (!Array.isArray(table) || table.some((row) => !Array.isArray(row) || row.length !== table[0]!.length)) {
    throw invalidInput('contingency table must be an array of rows of equal length');
  }
  table.forEach((row, i) => row.forEach((count, j) => requireNonNegative(count, `table[${i}][${j}]`)));
  const columns = table.length === 0 ? 0 : table[0]!.length;
  const columnTotals = Array.from({ length: columns }, (_, j) => table.reduce((sum, row) => sum + row[j]!, 0));
  const keptColumns = columnTotals.map((total, j) => (total > 0 ? j : -1)).filter((j) => j >= 0);
  const rows = table.map((row) => keptColumns.map((j) => row[j]!)).filter((row) => row.some((count) => count > 0));
  const df = (rows.length - 1) * (keptColumns.length - 1);
  if (rows.length < 2 || keptColumns.length < 2) return { chiSquare: 0, df: Math.max(df, 0), pValue: 1 };
  const rowTotals = rows.map((row) => row.reduce((a, b) => a + b, 0));
  const colTotals = keptColumns.map((_, j) => rows.reduce((sum, row) => sum + row[j]!, 0));
  const total = rowTotals.reduce((a, b) => a + b, 0);
  const yates = (options.correction ?? true) && df === 1;
  let chiSquare = 0;
  rows.forEach((row, i) => {
    row.forEach((observed, j) => {
      const expected = (rowTotals[i]! * colTotals[j]!) / total;
      let difference = Math.abs(observed - expected);
      if (yates) difference -= Math.min(0.5, difference);
      chiSquare += (difference * difference) / expected;
    });
  });
  return { chiSquare, df, pValue: chiSquareSf(chiSquare, df) };
}

/** Options of {@link histogramRankTest}. */
export interface HistogramRankOptions {
  alternative?: 'two-sided' | 'less' | 'greater';
  continuity?: boolean;
}

/** Result of {@link histogramRankTest}. */
export interface HistogramRankResult {
  /** Mann–Whitney U of the first histogram. */
  u: number;
  pValue: number;
  /**
   * U/(n_x·n_y): the probability that a value from `x` exceeds one from `y`
   * (ties count ½); 0.5 means no shift. An effect size for ranking columns.
   */
  probabilityOfSuperiority: number;
}

/**
 * Mann–Whitney rank test of two distributions given as counts over the same
 * ascending buckets (e.g. selected vs. other events of a numeric column,
 * bucketed in the database). Values in one bucket are treated as ties, so the
 * result equals `mannWhitneyU(…, { method: 'asymptotic' })` on the values
 * replaced by their bucket: U = Σ_b x_b·(Y_below(b) + y_b/2), the
 * tie-corrected normal approximation and scipy's continuity correction.
 * Counts must be counts of units (with sample rates, rescale weighted counts
 * by n_eff/Σw).
 */
export function histogramRankTest(x: number[], y: number[], options: HistogramRankOptions = {}): HistogramRankResult {
  if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) {
    throw invalidInput('both histograms need counts over the same buckets');
  }
  x.forEach((count, i) => requireNonNegative(count, `x[${i}]`));
  y.forEach((count, i) => requireNonNegative(count, `y[${i}]`));
  const alternative = options.alternative ?? 'two-sided';
  const n1 = x.reduce((a, b) => a + b, 0);
  const n2 = y.reduce((a, b) => a + b, 0);
  if (n1 === 0 || n2 === 0) return { u: Number.NaN, pValue: 1, probabilityOfSuperiority: Number.NaN };
  let u = 0;
  let yBelow = 0;
  let tieTerm = 0;
  for (let b = 0; b < x.length; b++) {
    u += x[b]! * (yBelow + y[b]! / 2);
    yBelow += y[b]!;
    const t = x[b]! + y[b]!;
    tieTerm += t * t * t - t;
  }
  const n = n1 + n2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  let numerator = u - (n1 * n2) / 2;
  if (options.continuity ?? true) {
    const sign = alternative === 'greater' ? 1 : alternative === 'less' ? -1 : Math.sign(numerator);
    numerator -= 0.5 * sign;
  }
  const z = numerator / sd;
  let pValue: number;
  if (Number.isNaN(z)) pValue = 1;
  else if (alternative === 'greater') pValue = normalSf(z);
  else if (alternative === 'less') pValue = normalCdf(z);
  else pValue = 2 * normalSf(Math.abs(z));
  return { u, pValue: Math.min(1, Math.max(0, pValue)), probabilityOfSuperiority: u / (n1 * n2) };
}
