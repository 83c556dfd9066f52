import { invalidInput } from '../errors.js';
import { chiSquareSf } from './special.js';
import { requireNonNegative } from './validate.js';

/** Result of {@link srmTest}. */
export interface SrmResult {
  chiSquare: number;
  df: number;
  pValue: number;
}

/**
 * Sample-ratio-mismatch test: Pearson's chi-square goodness-of-fit of the
 * observed units per arm against the split the weights configure. Weights are
 * normalised to the observed total (so percentages, fractions or expected
 * counts all work); arms with weight 0 are skipped, and `df` is the number of
 * remaining arms minus one. With fewer than two arms or no units the test has
 * nothing to say: `pValue` 1. Units observed in an arm of weight 0 are a
 * mismatch the caller should report separately.
 *
 * `observed` must be counts of independent units. With sample rates, pass the
 * stored row counts (or weighted counts divided by the mean sample rate), not
 * the weighted counts, or the test is over-confident by that factor.
 */
export function srmTest(observed: number[], weights: number[]): SrmResult {
  if (!Array.isArray(observed) || !Array.isArray(weights) || observed.length !== weights.length) {
    throw invalidInput(
      `observed and weights must be arrays of the same length, got ${String(observed?.length)} and ${String(weights?.length)}`,
      'give one expected weight per arm',
    );
  }
  observed.forEach((count, i) => requireNonNegative(count, `observed[${i}]`));
  weights.forEach((weight, i) => requireNonNegative(weight, `weights[${i}]`));
  const arms = observed.map((count, i) => ({ count, weight: weights[i]! })).filter((arm) => arm.weight > 0);
  const total = arms.reduce((sum, arm) => sum + arm.count, 0);
  const df = arms.length - 1;
  if (arms.length < 2 || total === 0) return { chiSquare: 0, df: Math.max(df, 0), pValue: 1 };
  const totalWeight = arms.reduce((sum, arm) => sum + arm.weight, 0);
  let chiSquare = 0;
  for (const arm of arms) {
    const expected = (arm.weight / totalWeight) * total;
    chiSquare += (arm.count - expected) ** 2 / expected;
  }
  return { chiSquare, df, pValue: chiSquareSf(chiSquare, df) };
}
