/**
 * Runs comparisons and explanations on an event store through its `execute` path, the same one
 * queries take. The statements come from `src/compare/`, built in the store's dialect (user values
 * only as parameters, identifiers quoted after a schema check); this module only executes them
 * and hands the aggregates to the pure report builders.
 */
import { notFound } from '../../errors.js';
import { assembleCompareReport, type CompareReport } from '../../compare/report.js';
import { buildCompareStatement } from '../../compare/plan.js';
import { parseCompareRequest, validateCompare, withFlagConfiguration, type FlagSplitSource } from '../../compare/request.js';
import { choosePairColumns } from '../../compare/explain/pairs.js';
import { planExplainColumns } from '../../compare/explain/plan.js';
import { assembleExplainReport, type ExplainReport } from '../../compare/explain/report.js';
import { parseExplainRequest, validateExplain } from '../../compare/explain/request.js';
import { buildExplainPairsStatement, buildExplainProfileStatement, buildExplainStatement } from '../../compare/explain/statements.js';
import type { DatasetSchema } from '../../query/schema.js';
import type { EventStore } from '../../store/types.js';
import type { PreparedAnalysis } from '../admission.js';

/** The schema of a dataset and its table, quoted in the store's dialect; `not_found` for an unknown dataset. */
async function datasetContext(events: EventStore, dataset: string): Promise<{ table: string; schema: DatasetSchema }> {
  const schema = await events.getSchema(dataset);
  const table = events.tableOf(dataset);
  if (schema === undefined || table === undefined) {
    throw notFound(`dataset "${dataset}" does not exist`, 'run `flagscope datasets` to see the datasets');
  }
  return { table: events.dialect.quoteIdent(table), schema };
}

/** The flags of the server, when it has them: `get` throws for an unknown key. */
export interface FlagLookup {
  get(key: string): FlagSplitSource;
}

/**
 * In place of the flag lookup for a caller that may not read flags: the comparison uses no
 * flag's configuration, and its notes say so. Hiding only `expected` would not do: the
 * chi-square and p-value beside the observed counts give the split back.
 */
export const FLAGS_WITHHELD = 'withheld';

/** The note of a comparison that could have used flag configuration its caller may not read. */
export const FLAGS_WITHHELD_NOTE =
  "the flags' configured split and default variant were not used: the key lacks the flags:read scope; pass `expect` and `control` (`--expect`, `--control`), or use a key with flags:read";

/**
 * Compares cohorts of `dataset` as `body` asks (see docs/api.md). The
 * expected split and default variant of each flag come from `flags` unless
 * the request gives them (none with {@link FLAGS_WITHHELD}).
 */
export async function runCompare(
  events: EventStore,
  dataset: string,
  body: unknown,
  now: number,
  flags?: FlagLookup | typeof FLAGS_WITHHELD,
  signal?: AbortSignal,
): Promise<CompareReport & { duration_ms: number }> {
  return (await prepareCompare(events, dataset, body, now, flags)).run(signal);
}

/**
 * Checks a comparison and builds its statement without running it (a bad request is a 400
 * before it waits for a slot); `run` executes it and assembles the report.
 */
export async function prepareCompare(
  events: EventStore,
  dataset: string,
  body: unknown,
  now: number,
  flags?: FlagLookup | typeof FLAGS_WITHHELD,
): Promise<PreparedAnalysis<CompareReport & { duration_ms: number }>> {
  let request = parseCompareRequest(body);
  const withheld = flags === FLAGS_WITHHELD && request.flags.some((f) => f.expect === undefined || f.control === undefined);
  if (flags !== undefined && flags !== FLAGS_WITHHELD) {
    request = withFlagConfiguration(request, (key) => {
      try {
        return flags.get(key);
      } catch {
        return undefined;
      }
    });
  }
  const { table, schema } = await datasetContext(events, dataset);
  const validated = validateCompare(request, schema, now);
  const statement = buildCompareStatement(
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
    events.dialect,
  );
  return {
    async run(signal) {
      const started = performance.now();
      const rows = await events.execute(statement.sql, statement.params, { signal });
      const report = assembleCompareReport({
        dataset,
        columns: validated.columns,
        metrics: validated.metrics,
        cohorts: statement.decode(rows),
        startTime: validated.startTime,
        endTime: validated.endTime,
        settings: validated.settings,
        notes: validated.notes,
        ...(validated.unitColumn === undefined ? {} : { unitColumn: validated.unitColumn }),
      });
      if (withheld) report.notes.push(FLAGS_WITHHELD_NOTE);
      return { ...report, duration_ms: Math.round((performance.now() - started) * 1000) / 1000 };
    },
  };
}

/** Explains what sets the selected events of `dataset` apart (see docs/api.md). */
export async function runExplain(
  events: EventStore,
  dataset: string,
  body: unknown,
  now: number,
  signal?: AbortSignal,
): Promise<ExplainReport & { duration_ms: number }> {
  return (await prepareExplain(events, dataset, body, now)).run(signal);
}

/**
 * Checks an explanation request without running it (a bad request is a 400 before it waits for
 * a slot); `run` executes its statements, one after another, and assembles the report.
 */
export async function prepareExplain(
  events: EventStore,
  dataset: string,
  body: unknown,
  now: number,
): Promise<PreparedAnalysis<ExplainReport & { duration_ms: number }>> {
  const request = parseExplainRequest(body);
  const { table, schema } = await datasetContext(events, dataset);
  const validated = validateExplain(request, schema, now);
  return {
    async run(signal) {
      const started = performance.now();
      const options = { signal };
      const datasetRows = (await events.listDatasets()).find((d) => d.name === dataset)?.rows ?? 0;
      const profile = buildExplainProfileStatement(table, schema, validated, datasetRows, events.dialect);
      const plan = planExplainColumns(schema, validated, profile.decode(await events.execute(profile.sql, profile.params, options)));
      const statement = buildExplainStatement(table, schema, validated, plan, events.dialect);
      const single = statement.decode(await events.execute(statement.sql, statement.params, options));
      const pairColumns = choosePairColumns(plan, single, validated);
      let pairs: ReturnType<typeof single.slice> = [];
      if (pairColumns.length > 0) {
        const pairStatement = buildExplainPairsStatement(table, schema, validated, pairColumns, plan.restModulus, events.dialect);
        pairs = pairStatement.decode(await events.execute(pairStatement.sql, pairStatement.params, options));
      }
      const report = assembleExplainReport({ dataset, validated, plan, groups: [...single, ...pairs] });
      return { ...report, duration_ms: Math.round((performance.now() - started) * 1000) / 1000 };
    },
  };
}
