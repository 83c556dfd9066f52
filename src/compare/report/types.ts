/** The shapes of a comparison report and of its input, and the report's fixed settings. */
import type { MetricDirection, Verdict } from '../../stats/verdict.js';
import type { MetricDefinition, MetricKind } from '../metrics.js';
import type { CohortAggregate } from '../plan.js';

/** Significance level of the sample-ratio test (a mismatch is a broken experiment, so it is held to a stricter level). */
export const SRM_ALPHA = 0.001;
/** Units (effective sample size) a cohort needs before a verdict other than 'not enough data'. */
export const DEFAULT_MINIMUM_SAMPLE = 100;

/** Statistical settings of a report. */
export interface CompareSettings {
  /** Significance level of q-values and interval width; default 0.05. */
  alpha?: number;
  /** Sequential tuning (total units at which intervals are tightest); default 5,000. */
  tuning?: number;
  /** Relative accuracy of percentile buckets; default 1%. */
  relativeAccuracy?: number;
  /** Default {@link DEFAULT_MINIMUM_SAMPLE}. */
  minimumSample?: number;
}

/** One cohort column (a flag's variant column) of a comparison. */
export interface CohortColumn {
  /** Flag key, e.g. `checkout_v2`. */
  flag: string;
  /** Column holding the variant, e.g. `flag.checkout_v2`. */
  column: string;
  /** Control variant given by the caller. */
  control?: string;
  /** The flag's default variant from the flag API, used as control when `control` is absent. */
  defaultVariant?: string;
  /** Expected split (variant → weight, any scale) and where it comes from. */
  expected?: Record<string, number>;
  expectedSource?: 'flag' | 'expect';
}

export interface CompareReportInput {
  dataset: string;
  columns: CohortColumn[];
  metrics: MetricDefinition[];
  cohorts: CohortAggregate[];
  /** Unix seconds. */
  startTime: number;
  endTime: number;
  settings?: CompareSettings;
  /** The unit column whose distinct values the cohorts' `units` count, if any. */
  unitColumn?: string;
  /** Notes from checking the request (a default metric left out, and why), put first in the report's. */
  notes?: string[];
}

export interface CohortInfo {
  /** Variant per flag, e.g. `{ checkout_v2: 'on', new_cart: 'off' }`. */
  variants: Record<string, string>;
  /** `on` for one flag; `checkout_v2=on new_cart=off` for combinations. */
  label: string;
  control: boolean;
  /** Stored events. */
  rows: number;
  /** Events they represent (sample rates applied). */
  weight: number;
}

export interface MetricResult {
  metric: string;
  cohort: string;
  control: boolean;
  /** Events that carry the metric (weighted). */
  count: number;
  /** The metric's value in the cohort (a rate as a fraction, a percentile in the column's unit). */
  value: number | null;
  /** Difference from control: absolute for rates, relative (0.1 = +10%) otherwise; null for control. */
  difference: number | null;
  scale: 'absolute' | 'relative';
  /** Always-valid confidence interval of `difference`; null when undefined. */
  ci: [number, number] | null;
  pValue: number | null;
  qValue: number | null;
  /** Null for the control row and for COUNT (counts are judged by the sample-ratio line). */
  verdict: Verdict | null;
}

export interface InteractionResult {
  metric: string;
  /** The two flags and the variants compared with their controls. */
  flags: [string, string];
  variants: [string, string];
  /** How much the combination differs from what the two flags alone predict (same scale as the metric's difference). */
  effect: number | null;
  scale: 'absolute' | 'relative';
  ci: [number, number] | null;
  pValue: number | null;
  qValue: number | null;
  verdict: Verdict;
}

export interface SampleRatioLine {
  flag: string;
  column: string;
  /** Where the expected split comes from; null when none is known (no test). */
  source: 'flag' | 'expect' | null;
  /** The unit counted: a column of distinct units (e.g. `user.id`), or null for events. */
  unit: string | null;
  /** Distinct units per variant, or events in units of stored rows (weighted count divided by the mean sample rate). */
  observed: Record<string, number>;
  /** Expected share per variant (sums to 1), or null. */
  expected: Record<string, number> | null;
  chiSquare: number | null;
  df: number | null;
  pValue: number | null;
  /** Variants seen in the data that the expected split gives no weight. */
  unexpectedVariants: string[];
  /** True when p < {@link SRM_ALPHA} or events arrived in a variant that should get none. */
  mismatch: boolean;
}

export interface CompareReport {
  dataset: string;
  flags: string[];
  columns: string[];
  control: Record<string, string>;
  start_time: number;
  end_time: number;
  settings: { alpha: number; tuning: number; relativeAccuracy: number; minimumSample: number; srmAlpha: number };
  cohorts: CohortInfo[];
  metrics: { name: string; kind: MetricKind; direction: MetricDirection; scale: 'absolute' | 'relative' }[];
  results: MetricResult[];
  interactions: InteractionResult[];
  sampleRatio: SampleRatioLine[];
  /** The INCOMPLETE rows of `results` (one per cohort), or null when the dataset has no `meta.incomplete`. */
  incomplete: MetricResult[] | null;
  /** Notes on what could not be computed. */
  notes: string[];
}

/** A test of the report waiting for its q-value and verdict (Benjamini–Hochberg runs over all of them at once). */
export interface PendingTest {
  result: MetricResult | InteractionResult;
  effect: number;
  pValue: number;
  /** The smaller sample (units or effective events) of the two sides, for the minimum-sample rule. */
  units: number;
  direction: MetricDirection;
}
