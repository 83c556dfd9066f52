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
import type { SqlParam } from '../query/compile.js';
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
  /** The guards' metrics as validated (index i measures guard i). */
  metrics: MetricDefinition[];
  /** Column of the randomised unit when units are counted. */
  unitColumn?: string;
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
  /**
   * In a batch: the bound parameters before this canary's in the statement it is part of (its
   * step statement's then follow its guards'). Absent: two statements, each numbered from 1.
   */
  paramOffset?: number;
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
  // Alone, each statement numbers its own parameters; in a batch, the step's follow the guards'.
  const offset = input.paramOffset ?? 0;
  const guards = compareStatementOf({ ...validated, metrics }, input.table, input.schema, offsetDialect(dialect, offset));
  const stepOffset = input.paramOffset === undefined ? 0 : offset + guards.params.length;
  const step = compareStatementOf(
    { ...validated, metrics: [], startTime: stepWindow.start, endTime: stepWindow.end },
    input.table,
    input.schema,
    offsetDialect(dialect, stepOffset),
  );
  return {
    guards,
    step,
    window,
    stepWindow,
    metrics,
    ...(validated.unitColumn === undefined ? {} : { unitColumn: validated.unitColumn }),
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

/** The dialect with its placeholders numbered after `offset` parameters. */
function offsetDialect(dialect: SqlDialect, offset: number): SqlDialect {
  return offset === 0 ? dialect : { ...dialect, placeholder: (index) => dialect.placeholder(index + offset) };
}

/** The columns a canary's statements read (time, sample rate, its flag's column, the unit, the guards' columns and filters). */
function columnsRead(statements: CanaryStatements, input: CanaryStatementInput): string[] {
  const columns = ['_time', '_samplerate', input.plan.column];
  const unit = statements.unitColumn;
  if (unit !== undefined) columns.push(unit);
  for (const metric of statements.metrics) {
    if (metric.column !== undefined) columns.push(metric.column);
    for (const filter of metric.filters ?? []) columns.push(filter.column);
  }
  return columns;
}

/** One statement measuring several canaries of one dataset, and how to decode it per canary. */
export interface CanaryBatch {
  sql: string;
  params: SqlParam[];
  /** Per canary, in the order given: its measurement from the batch's rows. */
  decode(rows: readonly (readonly unknown[])[]): CanaryMeasurement[];
}

/**
 * The statements of several canaries of one dataset as one statement: the events of the union of
 * their windows are read once (the columns any canary reads, kept by the engine for the
 * statement), then each canary's two statements of {@link buildCanaryStatements}, byte for byte
 * but reading that shared scan instead of the table, run over it; every row is tagged with the
 * statement it belongs to. Each canary's statements filter their own window and variant column,
 * so the numbers are those of its own statements. All inputs share the table, schema and dialect
 * of the first; throws as {@link buildCanaryStatements} does for the first canary that cannot be
 * measured.
 */
export function buildCanaryBatch(inputs: readonly CanaryStatementInput[]): CanaryBatch {
  if (inputs.length === 0) throw invalidInput('no canary to measure', 'give at least one canary');
  const first = inputs[0]!;
  const dialect = first.dialect ?? duckdbDialect;
  const scan = dialect.quoteIdent('canary_scan');
  const params: SqlParam[] = [];
  const micros = (seconds: number): string => {
    params.push(BigInt(seconds) * 1_000_000n);
    return dialect.timestampFromMicros(`CAST(${dialect.placeholder(params.length)} AS ${dialect.sqlType('bigint')})`);
  };
  const windows = inputs.map((input) => canaryWindows(input.state, input.now));
  const start = Math.min(...windows.map((w) => Math.min(w.window.start, w.stepWindow.start)));
  const end = Math.max(...windows.map((w) => Math.max(w.window.end, w.stepWindow.end)));
  const time = dialect.quoteIdent('_time');
  const where = `${time} >= ${micros(start)} AND ${time} < ${micros(end)}`;
  const built: CanaryStatements[] = [];
  const columns = new Set<string>();
  for (const input of inputs) {
    const statements = buildCanaryStatements({ ...input, table: scan, dialect, paramOffset: params.length });
    params.push(...statements.guards.params, ...statements.step.params);
    for (const column of columnsRead(statements, input)) columns.add(column);
    built.push(statements);
  }
  const all = built.flatMap((s) => [s.guards, s.step]);
  const width = Math.max(...all.map((s) => s.width));
  const parts = all.map((statement, q) => {
    const pad = ', CAST(NULL AS DOUBLE)'.repeat(width - statement.width);
    return `SELECT ${q} AS q, *${pad} FROM (${statement.sql})`;
  });
  const select = [...columns].map((c) => dialect.quoteIdent(c)).join(', ');
  const sql = `WITH ${scan} AS ${dialect.materializedCte}(SELECT ${select} FROM ${first.table} WHERE ${where})\n${parts.join('\nUNION ALL\n')}`;
  return {
    sql,
    params,
    decode(rows) {
      const byStatement: unknown[][][] = all.map(() => []);
      for (const row of rows) byStatement[Number(row[0])]!.push(row.slice(1));
      return built.map((statements, i) => statements.decode(byStatement[2 * i]!, byStatement[2 * i + 1]!));
    },
  };
}
