/**
 * What a canary measures at each tick, as SQL: the statement of `flagscope
 * compare` (src/compare/plan.ts) for the canary's flag and its guards' metrics,
 * built from the same compare request and validated the same way, over two
 * windows:
 *
 * - the guards' window, from the canary's start to now: one sequential test per
 *   guard over the canary's whole life (looking at every tick is what the
 *   always-valid tests allow);
 * - the step's window, from the moment the current percentage began to be
 *   served: cohort sizes only, for the minimum sample and the sample-ratio test
 *   against the split this step configures.
 *
 * Pure: statements and their decoding; the server executes them.
 */
import { invalidInput } from '../errors.js';
import type { MetricDefinition } from '../compare/metrics.js';
import { type CohortAggregate, type CompareStatement, buildCompareStatement } from '../compare/plan.js';
import { type CompareRequest, type ValidatedCompare, validateCompare } from '../compare/request.js';
import { metricCalculation } from '../compare/metrics.js';
import { duckdbDialect, type SqlDialect } from '../query/dialect.js';
import type { DatasetSchema } from '../query/schema.js';
import type { GuardDefinition } from './guard.js';
import type { CanaryPlan } from './plan.js';
import type { CanaryState } from './state.js';

/** A window of event time, unix seconds, start inclusive, end exclusive. */
export interface TimeWindow {
  start: number;
  end: number;
}

/** The two cohorts a canary compares, as the compare statement returns them (undefined: no events). */
export interface CanaryCohorts {
  control: CohortAggregate | undefined;
  canary: CohortAggregate | undefined;
}

/** One tick's measurement, decoded. */
export interface CanaryMeasurement {
  window: TimeWindow;
  stepWindow: TimeWindow;
  /** The guards' metrics as validated (index i measures guard i). */
  metrics: MetricDefinition[];
  /** Cohorts over the guards' window, with one aggregate per metric. */
  cumulative: CanaryCohorts;
  /** Cohorts over the step's window (counts and units only). */
  step: CanaryCohorts;
  /** Column of the randomised unit when units are counted. */
  unitColumn?: string;
}

/** The statements of one tick and how to decode their rows. */
export interface CanaryStatements {
  guards: CompareStatement;
  step: CompareStatement;
  window: TimeWindow;
  stepWindow: TimeWindow;
  decode(guardRows: readonly (readonly unknown[])[], stepRows: readonly (readonly unknown[])[]): CanaryMeasurement;
}

/** What {@link buildCanaryStatements} needs. */
export interface CanaryStatementInput {
  plan: CanaryPlan & { baseline: string };
  /** The guards in force (the plan's, or the dataset's defaults). */
  guards: GuardDefinition[];
  schema: DatasetSchema;
  /** The dataset's table, quoted in the store's dialect. */
  table: string;
  state: Pick<CanaryState, 'startedAt' | 'stepStartedAt'>;
  /** Now, in ms. */
  now: number;
  dialect?: SqlDialect;
}

/** A guard's metric as compare's request takes it (a text for INCOMPLETE, a calculation object otherwise). */
function metricInput(metric: MetricDefinition): unknown {
  if (metric.kind === 'incomplete') return 'INCOMPLETE';
  return metricCalculation(metric);
}

/** The windows of a tick: event seconds from the start (rounded up: the second of a change may hold the old split) to now (inclusive). */
export function canaryWindows(
  state: Pick<CanaryState, 'startedAt' | 'stepStartedAt'>,
  now: number,
): { window: TimeWindow; stepWindow: TimeWindow } {
  if (state.startedAt === null || state.stepStartedAt === null) {
    throw invalidInput('the canary has not started: there is nothing to measure yet', 'start it first');
  }
  const end = Math.floor(now / 1000) + 1;
  const window = { start: Math.ceil(state.startedAt / 1000), end };
  const stepWindow = { start: Math.ceil(state.stepStartedAt / 1000), end };
  window.end = Math.max(window.end, window.start + 1);
  stepWindow.end = Math.max(stepWindow.end, stepWindow.start + 1);
  return { window, stepWindow };
}

/**
 * The compare request that measures a canary over a window: its flag (control
 * the baseline), its guards' metrics, the unit column. `flagscope compare FLAG
 * --dataset D --control BASELINE --metric …` with the same window sends the
 * same request, so the canary's numbers are compare's.
 */
export function canaryCompareRequest(
  plan: CanaryPlan & { baseline: string },
  guards: GuardDefinition[],
  window: TimeWindow,
): CompareRequest {
  const request: CompareRequest = {
    flags: [{ flag: plan.flag, column: plan.column, control: plan.baseline }],
    metrics: guards.map((g) => metricInput(g.metric)),
    start_time: window.start,
    end_time: window.end,
  };
  if (plan.unit !== undefined) request.unit = plan.unit;
  return request;
}

/** The compare statement of a validated request (the same mapping `runCompare` makes). */
export function compareStatementOf(
  validated: ValidatedCompare,
  table: string,
  schema: DatasetSchema,
  dialect: SqlDialect,
): CompareStatement {
  return buildCompareStatement(
    {
      table,
      schema,
      cohortColumns: validated.columns.map((c) => c.column),
      metrics: validated.metrics,
      filters: validated.filters,
      filterCombination: validated.filterCombination,
      startTime: validated.startTime,
      endTime: validated.endTime,
      ...(validated.settings.relativeAccuracy === undefined ? {} : { relativeAccuracy: validated.settings.relativeAccuracy }),
      ...(validated.unitColumn === undefined ? {} : { unitColumn: validated.unitColumn }),
    },
    dialect,
  );
}

function cohortsOf(aggregates: CohortAggregate[], plan: CanaryPlan & { baseline: string }): CanaryCohorts {
  return {
    control: aggregates.find((c) => c.key[0] === plan.baseline),
    canary: aggregates.find((c) => c.key[0] === plan.variant),
  };
}

/**
 * Validates the guards against the dataset (columns, filter values) and builds
 * the tick's two statements. Throws `invalid_input` when a guard names a column
 * the dataset lacks (the message of compare's validator).
 */
export function buildCanaryStatements(input: CanaryStatementInput): CanaryStatements {
  const dialect = input.dialect ?? duckdbDialect;
  const { window, stepWindow } = canaryWindows(input.state, input.now);
  if (input.guards.length === 0) throw invalidInput(`the canary of ${input.plan.flag} has no guards`, 'give at least one --guard');
  const validated = validateCompare(canaryCompareRequest(input.plan, input.guards, window), input.schema, Math.floor(input.now / 1000));
  const metrics = input.guards.map((guard) => {
    const found = validated.metrics.find((m) => m.name === guard.metric.name);
    if (found === undefined)
      throw invalidInput(`guard ${guard.text}: its metric could not be validated`, 'check the guard against the dataset');
    return { ...found, direction: guard.direction };
  });
  const guards = compareStatementOf({ ...validated, metrics }, input.table, input.schema, dialect);
  const step = compareStatementOf(
    { ...validated, metrics: [], startTime: stepWindow.start, endTime: stepWindow.end },
    input.table,
    input.schema,
    dialect,
  );
  return {
    guards,
    step,
    window,
    stepWindow,
    decode(guardRows, stepRows) {
      const measurement: CanaryMeasurement = {
        window,
        stepWindow,
        metrics,
        cumulative: cohortsOf(guards.decode(guardRows), input.plan),
        step: cohortsOf(step.decode(stepRows), input.plan),
      };
      if (validated.unitColumn !== undefined) measurement.unitColumn = validated.unitColumn;
      return measurement;
    },
  };
}
