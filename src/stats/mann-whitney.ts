import { invalidInput } from '../errors.js';
import { normalCdf, normalSf } from './special.js';

/** Options of {@link mannWhitneyU}, named and defaulted as scipy's `mannwhitneyu`. */
export interface MannWhitneyOptions {
  /** Alternative hypothesis about the distribution of `x` relative to `y`; default 'two-sided'. */
  alternative?: 'two-sided' | 'less' | 'greater';
  /** Continuity correction of ½ in the normal approximation; default true (no effect on the exact method). */
  continuity?: boolean;
  /**
   * 'exact' (the exact null distribution, no tie correction), 'asymptotic'
   * (normal approximation with tie correction) or 'auto' (default): exact when
   * one sample has at most 8 values and there are no ties, as scipy decides.
   */
  method?: 'exact' | 'asymptotic' | 'auto';
}

/** Result of {@link mannWhitneyU}: the U statistic of `x` and the p-value. */
export interface MannWhitneyResult {
  u: number;
  pValue: number;
}

/** Largest min(m, n)·m·n for which the exact null distribution is computed (its cost; about 0.1 s at the limit). */
export const EXACT_MANN_WHITNEY_LIMIT = 20_000_000;

/** Average ranks (1-based) of `values` and the sizes of the tie groups. */
export function averageRanks(values: readonly number[]): { ranks: number[]; tieSizes: number[] } {
  const order = values.map((value, index) => ({ value, index })).sort((a, b) => a.value - b.value);
  const ranks = new Array<number>(values.length);
  const tieSizes: number[] = [];
  let start = 0;
  while (start < order.length) {
    let end = start + 1;
    while (end < order.length && order[end]!.value === order[start]!.value) end++;
    const rank = (start + 1 + end) / 2;
    for (let i = start; i < end; i++) ranks[order[i]!.index] = rank;
    tieSizes.push(end - start);
    start = end;
  }
  return { ranks, tieSizes };
}

/**
 * Exact null distribution of the Mann–Whitney U statistic for samples of
 * sizes m and n (no ties): `result[k]` = P(U = k), k = 0…m·n. The counts are
 * the coefficients of the Gaussian binomial coefficient [m+n choose m]_q =
 * ∏ᵢ₌₁..ₘ (1 − q^(n+i)) / (1 − q^i) (Mann & Whitney 1947; Andrews 1976), built
 * one factor at a time: multiplying by (1 − q^(n+i)) and dividing by
 * (1 − q^i) keeps every intermediate a Gaussian binomial with non-negative
 * coefficients, and each step is rescaled to probabilities so nothing
 * overflows. Cost O(min(m, n) · m · n).
 */
export function mannWhitneyExactDistribution(m: number, n: number): Float64Array {
  if (!Number.isInteger(m) || !Number.isInteger(n) || m < 0 || n < 0) {
    throw invalidInput(`sample sizes must be non-negative integers, got ${m} and ${n}`);
  }
  const small = Math.min(m, n);
  const large = Math.max(m, n);
  const maxU = small * large;
  const coefficients = new Float64Array(maxU + 1);
  coefficients[0] = 1;
  for (let i = 1; i <= small; i++) {
    const degree = i * large; // degree of [large+i choose i]_q
    const shift = large + i;
    // × (1 − q^(large+i))
    for (let k = degree; k >= shift; k--) coefficients[k] = coefficients[k]! - coefficients[k - shift]!;
    // ÷ (1 − q^i): ascending running sums with stride i
    for (let k = i; k <= degree; k++) coefficients[k] = coefficients[k]! + coefficients[k - i]!;
    let total = 0;
    for (let k = 0; k <= degree; k++) {
      if (coefficients[k]! < 0) coefficients[k] = 0; // rounding noise only
      total += coefficients[k]!;
    }
    for (let k = 0; k <= degree; k++) coefficients[k] = coefficients[k]! / total;
  }
  return coefficients;
}

/**
 * Mann–Whitney U (Wilcoxon rank-sum) test of `x` against `y`, matching scipy's
 * `mannwhitneyu` (≥ 1.7): `u` is the statistic of `x`, U₁ = R₁ − n₁(n₁+1)/2
 * with average ranks for ties. The exact method uses the exact null
 * distribution (two-sided: 2·P(U ≥ max(U₁, U₂)), capped at 1); the asymptotic
 * method uses the normal approximation with the tie-corrected variance
 * n₁n₂/12·((n+1) − Σ(t³−t)/(n(n−1))) and, by default, a continuity correction
 * of ½ towards the mean. When every value is tied the p-value is 1.
 */
export function mannWhitneyU(x: number[], y: number[], options: MannWhitneyOptions = {}): MannWhitneyResult {
  const alternative = options.alternative ?? 'two-sided';
  const continuity = options.continuity ?? true;
  const requested = options.method ?? 'auto';
  if (!['two-sided', 'less', 'greater'].includes(alternative)) {
    throw invalidInput(`unknown alternative ${JSON.stringify(alternative)}`, "use 'two-sided', 'less' or 'greater'");
  }
  if (!['exact', 'asymptotic', 'auto'].includes(requested)) {
    throw invalidInput(`unknown method ${JSON.stringify(requested)}`, "use 'exact', 'asymptotic' or 'auto'");
  }
  if (!Array.isArray(x) || !Array.isArray(y) || x.length === 0 || y.length === 0) {
    throw invalidInput('both samples must be non-empty arrays of numbers');
  }
  for (const value of [...x, ...y]) {
    if (typeof value !== 'number' || Number.isNaN(value)) throw invalidInput('samples must not contain NaN');
  }
  const n1 = x.length;
  const n2 = y.length;
  const { ranks, tieSizes } = averageRanks([...x, ...y]);
  let rankSumX = 0;
  for (let i = 0; i < n1; i++) rankSumX += ranks[i]! - (n1 + 1) / 2;
  const u1 = rankSumX;
  const u2 = n1 * n2 - u1;
  const hasTies = tieSizes.some((size) => size > 1);

  let method: 'exact' | 'asymptotic' = requested === 'auto' ? 'asymptotic' : requested;
  const exactCost = Math.min(n1, n2) * n1 * n2;
  if (requested === 'auto' && (n1 <= 8 || n2 <= 8) && !hasTies && exactCost <= EXACT_MANN_WHITNEY_LIMIT) method = 'exact';
  if (method === 'exact' && exactCost > EXACT_MANN_WHITNEY_LIMIT) {
    throw invalidInput(
      `exact Mann–Whitney distribution for ${n1}×${n2} values is too expensive (limit min(m, n)·m·n ≤ ${EXACT_MANN_WHITNEY_LIMIT})`,
      "use method 'asymptotic' for samples this large",
    );
  }

  let pValue: number;
  if (method === 'exact') {
    const distribution = mannWhitneyExactDistribution(n1, n2);
    const survival = (k: number): number => {
      let total = 0;
      for (let u = Math.max(0, Math.floor(k)); u < distribution.length; u++) total += distribution[u]!;
      return total;
    };
    if (alternative === 'greater') pValue = survival(u1);
    else if (alternative === 'less') pValue = survival(u2);
    else pValue = 2 * survival(Math.max(u1, u2));
  } else {
    const n = n1 + n2;
    const tieTerm = tieSizes.reduce((sum, t) => sum + (t * t * t - t), 0);
    const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
    let numerator = u1 - (n1 * n2) / 2;
    if (continuity) {
      const sign = alternative === 'greater' ? 1 : alternative === 'less' ? -1 : Math.sign(numerator);
      numerator -= 0.5 * sign;
    }
    const z = numerator / sd;
    if (Number.isNaN(z)) pValue = 1;
    else if (alternative === 'greater') pValue = normalSf(z);
    else if (alternative === 'less') pValue = normalCdf(z);
    else pValue = 2 * normalSf(Math.abs(z));
  }
  return { u: u1, pValue: Math.min(1, Math.max(0, pValue)) };
}
