import { invalidInput } from '../errors.js';
import { type Summary, summaryMean, summaryVariance } from './summary.js';
import { type ComparisonResult, DEFAULT_SEQUENTIAL_TUNING, alwaysValidInterval, fixedHorizonInterval } from './two-sample.js';
import { requireAlpha, requireFinite, requireNonNegative } from './validate.js';

/**
 * The four cells of a 2×2 combination of two flags (each "off" = its control
 * variant, "on" = the variant under study): units with neither flag on, only
 * the first, only the second, and both.
 */
export interface InteractionCells {
  neither: Summary;
  firstOnly: Summary;
  secondOnly: Summary;
  both: Summary;
}

/** Options of {@link interactionTest} and {@link sequentialInteractionTest}. */
export interface InteractionOptions {
  /**
   * Measure the interaction multiplicatively: (m_both·m_neither)/(m_first·m_second) − 1,
   * i.e. how much worse or better the combination is than the product of the two
   * relative effects. Default: additive difference-in-differences.
   */
  relative?: boolean;
  alpha?: number;
}

/** Options of {@link sequentialInteractionTest}. */
export interface SequentialInteractionOptions extends InteractionOptions {
  /** Total units (all four cells) at which the confidence sequence is tightest; default 5,000. */
  tuning?: number;
}

const CELL_NAMES = ['neither', 'firstOnly', 'secondOnly', 'both'] as const;
const CELL_SIGNS = { neither: 1, firstOnly: -1, secondOnly: -1, both: 1 } as const;

interface InteractionEstimate {
  effect: number;
  se: number;
  df: number;
  n: number;
  logScale: boolean;
}

function estimateInteraction(cells: InteractionCells, relative: boolean): InteractionEstimate | undefined {
  if (!cells || typeof cells !== 'object') throw invalidInput('interaction needs the four cells neither, firstOnly, secondOnly, both');
  let effect = 0;
  let variance = 0;
  let dfDenominator = 0;
  let n = 0;
  for (const name of CELL_NAMES) {
    const cell = cells[name];
    if (!cell) throw invalidInput(`interaction cell ${name} is missing`);
    requireNonNegative(cell.n, `${name}.n`);
    requireFinite(cell.sum, `${name}.sum`);
    requireNonNegative(cell.sumSquares, `${name}.sumSquares`);
    n += cell.n;
    if (cell.n < 2) return undefined;
    const mean = summaryMean(cell);
    let seSquared = summaryVariance(cell) / cell.n;
    if (relative) {
      if (!(mean > 0)) return undefined;
      effect += CELL_SIGNS[name] * Math.log(mean);
      seSquared /= mean * mean;
    } else {
      effect += CELL_SIGNS[name] * mean;
    }
    variance += seSquared;
    dfDenominator += (seSquared * seSquared) / (cell.n - 1);
  }
  return { effect, se: Math.sqrt(variance), df: (variance * variance) / dfDenominator, n, logScale: relative };
}

function fromLogScale(onLogScale: ComparisonResult): ComparisonResult {
  const ratio = Math.exp(onLogScale.effect);
  return {
    effect: ratio - 1,
    se: ratio * onLogScale.se,
    ci: [Math.exp(onLogScale.ci[0]) - 1, Math.exp(onLogScale.ci[1]) - 1],
    pValue: onLogScale.pValue,
  };
}

const UNDEFINED: ComparisonResult = {
  effect: Number.NaN,
  se: Number.NaN,
  ci: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY],
  pValue: 1,
};

/**
 * Interaction of two flags from the four cell summaries, fixed horizon:
 * the difference-in-differences (m_both − m_secondOnly) − (m_firstOnly − m_neither)
 * — how much the first flag's effect changes when the second is on — with
 * standard error √Σ s²ᵢ/nᵢ over the four independent cells and the
 * Welch–Satterthwaite degrees of freedom of that contrast. With `relative`,
 * the same contrast of log means (a ratio of ratios), mapped back to a
 * relative effect. Undefined (p = 1) when a cell has fewer than two units.
 */
export function interactionTest(cells: InteractionCells, options: InteractionOptions = {}): ComparisonResult {
  const alpha = options.alpha ?? 0.05;
  requireAlpha(alpha);
  const estimate = estimateInteraction(cells, options.relative ?? false);
  if (!estimate) return { ...UNDEFINED, ci: [...UNDEFINED.ci] };
  const result = fixedHorizonInterval(estimate.effect, estimate.se, estimate.df, alpha);
  return estimate.logScale ? fromLogScale(result) : result;
}

/**
 * Always-valid version of {@link interactionTest}: the same contrast under the
 * normal-mixture confidence sequence of {@link sequentialTest}, with n the
 * units of all four cells, so the interaction can be watched as data arrives.
 */
export function sequentialInteractionTest(cells: InteractionCells, options: SequentialInteractionOptions = {}): ComparisonResult {
  const alpha = options.alpha ?? 0.05;
  requireAlpha(alpha);
  const estimate = estimateInteraction(cells, options.relative ?? false);
  if (!estimate) return { ...UNDEFINED, ci: [...UNDEFINED.ci] };
  const result = alwaysValidInterval(estimate.effect, estimate.se, estimate.n, {
    alpha,
    tuning: options.tuning ?? DEFAULT_SEQUENTIAL_TUNING,
  });
  return estimate.logScale ? fromLogScale(result) : result;
}
