/**
 * `flagscope/stats` — the statistics engine behind `flagscope compare`,
 * `flagscope explain` and canary gates, published so you can build your own
 * gates in TypeScript. Pure functions, no I/O, no dependencies.
 *
 * Everything works from aggregates a database can compute per cohort
 * (counts, sums, sums of squares, histograms), never from raw rows:
 *
 * ```ts
 * import { sequentialTest, adjustPValues, verdict } from 'flagscope/stats';
 *
 * const control = { n: 50_000, sum: 1_000, sumSquares: 1_000 };   // 2.0% errors
 * const canary = { n: 50_000, sum: 1_200, sumSquares: 1_200 };    // 2.4% errors
 * const result = sequentialTest(control, canary, { relative: true });
 * // result.effect ≈ 0.2, result.ci, result.pValue (valid however often you look)
 * const [q] = adjustPValues([result.pValue], 'bh');
 * verdict({ effect: result.effect, qValue: q!, direction: 'lower-is-better', sampleSize: 50_000 }); // 'worse'
 * ```
 *
 * Definitions, references and the choices made are in `docs/stats.md`.
 *
 * @packageDocumentation
 */

export {
  type Summary,
  type WeightedAggregate,
  summaryMean,
  summaryVariance,
  proportionSummary,
  summarize,
  addSummaries,
  effectiveSampleSize,
  summaryFromWeighted,
} from './summary.js';

export {
  type ComparisonResult,
  type WelchOptions,
  type SequentialOptions,
  type DifferenceEstimate,
  type ProportionCounts,
  type TwoProportionOptions,
  DEFAULT_SEQUENTIAL_TUNING,
  estimateDifference,
  fixedHorizonInterval,
  welchTTest,
  sequentialRho,
  alwaysValidInterval,
  sequentialTest,
  twoProportionTest,
} from './two-sample.js';

export { type SrmResult, srmTest } from './srm.js';

export { type AdjustMethod, adjustPValues } from './adjust.js';

export {
  type MannWhitneyOptions,
  type MannWhitneyResult,
  EXACT_MANN_WHITNEY_LIMIT,
  averageRanks,
  mannWhitneyExactDistribution,
  mannWhitneyU,
} from './mann-whitney.js';

export {
  type QuantileHistogram,
  type QuantileEstimate,
  type PercentileOptions,
  DEFAULT_RELATIVE_ACCURACY,
  logBucketGamma,
  logBucketIndex,
  histogramFromLogBuckets,
  histogramQuantile,
  estimateQuantile,
  percentileTest,
} from './percentile.js';

export {
  type InteractionCells,
  type InteractionOptions,
  type SequentialInteractionOptions,
  interactionTest,
  sequentialInteractionTest,
} from './interaction.js';

export {
  type ContingencyResult,
  type HistogramRankOptions,
  type HistogramRankResult,
  contingencyTest,
  histogramRankTest,
} from './distribution.js';

export {
  type MetricDirection,
  type Verdict,
  type VerdictInput,
  type GuardOutcome,
  verdict,
  checkGuard,
} from './verdict.js';

export {
  logGamma,
  regularizedGammaP,
  regularizedGammaQ,
  regularizedBeta,
  erfc,
  normalCdf,
  normalSf,
  normalPdf,
  normalQuantile,
  chiSquareSf,
  studentTCdf,
  studentTSf,
  studentTQuantile,
} from './special.js';
