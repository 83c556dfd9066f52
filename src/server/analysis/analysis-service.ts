/**
 * Runs comparisons and explanations against an event store that can execute
 * compiled read-only SQL (the embedded DuckDB store). The statements come
 * from `src/compare/` (user values only as parameters, identifiers quoted
 * after a schema check); this module only executes them and hands the
 * aggregates to the pure report builders.
 */
import { FlagscopeError, notFound } from '../../errors.js';
import { assembleCompareReport, type CompareReport } from '../../compare/report.js';
import { buildCompareStatement } from '../../compare/plan.js';
import { parseCompareRequest, validateCompare, withFlagConfiguration, type FlagSplitSource } from '../../compare/request.js';
import { choosePairColumns } from '../../compare/explain/pairs.js';
import { planExplainColumns } from '../../compare/explain/plan.js';
import { assembleExplainReport, type ExplainReport } from '../../compare/explain/report.js';
import { parseExplainRequest, validateExplain } from '../../compare/explain/request.js';
import { buildExplainPairsStatement, buildExplainProfileStatement, buildExplainStatement } from '../../compare/explain/statements.js';
import type { SqlParam } from '../../query/compile.js';
import type { EventStore } from '../../store/types.js';

/** What an event store needs to offer for comparisons: compiled SQL on a reader, and a dataset's table. */
export interface AggregateSqlReader {
  readSql(sql: string, params: SqlParam[]): Promise<unknown[][]>;
  tableOf(dataset: string): string | undefined;
}

function sqlReaderOf(events: EventStore): AggregateSqlReader {
  const candidate = events as Partial<AggregateSqlReader>;
  if (typeof candidate.readSql !== 'function' || typeof candidate.tableOf !== 'function') {
    throw new FlagscopeError('internal', 'this event store cannot run comparisons', 'use the embedded DuckDB event store');
  }
  return candidate as AggregateSqlReader;
}

async function datasetContext(
  events: EventStore,
  dataset: string,
): Promise<{ reader: AggregateSqlReader; table: string; schema: NonNullable<Awaited<ReturnType<EventStore['getSchema']>>> }> {
  const schema = await events.getSchema(dataset);
  const reader = sqlReaderOf(events);
  const table = reader.tableOf(dataset);
  if (schema === undefined || table === undefined) {
    throw notFound(`dataset "${dataset}" does not exist`, 'run `flagscope datasets` to see the datasets');
  }
  return { reader, table, schema };
}

/** The flags of the server, when it has them: `get` throws for an unknown key. */
export interface FlagLookup {
  get(key: string): FlagSplitSource;
}

/**
 * Compares cohorts of `dataset` as `body` asks (see docs/api.md). The
 * expected split and default variant of each flag come from `flags` unless
 * the request gives them.
 */
export async function runCompare(
  events: EventStore,
  dataset: string,
  body: unknown,
  now: number,
  flags?: FlagLookup,
): Promise<CompareReport & { duration_ms: number }> {
  const started = performance.now();
  let request = parseCompareRequest(body);
  if (flags !== undefined) {
    request = withFlagConfiguration(request, (key) => {
      try {
        return flags.get(key);
      } catch {
        return undefined;
      }
    });
  }
  const { reader, table, schema } = await datasetContext(events, dataset);
  const validated = validateCompare(request, schema, now);
  const statement = buildCompareStatement({
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
  });
  const rows = await reader.readSql(statement.sql, statement.params);
  const report = assembleCompareReport({
    dataset,
    columns: validated.columns,
    metrics: validated.metrics,
    cohorts: statement.decode(rows),
    startTime: validated.startTime,
    endTime: validated.endTime,
    settings: validated.settings,
    ...(validated.unitColumn === undefined ? {} : { unitColumn: validated.unitColumn }),
  });
  return { ...report, duration_ms: Math.round((performance.now() - started) * 1000) / 1000 };
}

/** Explains what sets the selected events of `dataset` apart (see docs/api.md). */
export async function runExplain(
  events: EventStore,
  dataset: string,
  body: unknown,
  now: number,
): Promise<ExplainReport & { duration_ms: number }> {
  const started = performance.now();
  const request = parseExplainRequest(body);
  const { reader, table, schema } = await datasetContext(events, dataset);
  const validated = validateExplain(request, schema, now);
  const datasetRows = (await events.listDatasets()).find((d) => d.name === dataset)?.rows ?? 0;
  const profile = buildExplainProfileStatement(table, schema, validated, datasetRows);
  const plan = planExplainColumns(schema, validated, profile.decode(await reader.readSql(profile.sql, profile.params)));
  const statement = buildExplainStatement(table, schema, validated, plan);
  const single = statement.decode(await reader.readSql(statement.sql, statement.params));
  const pairColumns = choosePairColumns(plan, single, validated);
  let pairs: ReturnType<typeof single.slice> = [];
  if (pairColumns.length > 0) {
    const pairStatement = buildExplainPairsStatement(table, schema, validated, pairColumns, plan.restModulus);
    pairs = pairStatement.decode(await reader.readSql(pairStatement.sql, pairStatement.params));
  }
  const report = assembleExplainReport({ dataset, validated, plan, groups: [...single, ...pairs] });
  return { ...report, duration_ms: Math.round((performance.now() - started) * 1000) / 1000 };
}
