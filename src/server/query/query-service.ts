/**
 * The query service: a query spec validated against the dataset's schema, compiled to SQL in
 * the event store's dialect, run through the store's `execute` and decoded into a
 * `QueryResult`; and the listing of datasets and of a dataset's columns. No HTTP here: the
 * routes beside it parse and answer.
 */
import { invalidInput, notFound } from '../../errors.js';
import { compileQuery } from '../../query/compile.js';
import type { ColumnInfo, ColumnType, DatasetInfo, DatasetSchema } from '../../query/schema.js';
import type { QueryResult } from '../../query/spec.js';
import { validateQuery } from '../../query/validate.js';
import type { ColumnTypeChange, EventStore } from '../../store/types.js';
import type { PreparedAnalysis } from '../admission.js';

/**
 * Checks a query spec on `dataset` and compiles it, without running it: `invalid_input` names
 * the problem, `not_found` an unknown dataset, before the query waits for a slot.
 *
 * @param spec the spec as the client sent it (any JSON value; validation checks its shape)
 * @param now Unix milliseconds, the end of relative time ranges
 */
export async function prepareQuery(
  events: EventStore,
  dataset: string,
  spec: unknown,
  now: number,
): Promise<PreparedAnalysis<QueryResult>> {
  const { schema, table } = await datasetOf(events, dataset);
  const normalized = validateQuery(spec, schema, now);
  const compiled = compileQuery(normalized, schema, { table }, events.dialect);
  return {
    async run(signal) {
      const started = performance.now();
      const data = compiled.decode(await events.execute(compiled.sql, compiled.params, { signal }));
      return {
        query: normalized,
        data,
        meta: {
          dataset,
          calculations: compiled.calculations,
          breakdowns: compiled.breakdowns,
          duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
        },
      };
    },
  };
}

/**
 * Runs a query spec on `dataset`: validates it (`invalid_input` names the problem, and nothing
 * runs), compiles it with the store's dialect and executes it on the store. Throws `not_found`
 * for an unknown dataset.
 *
 * @param spec the spec as the client sent it (any JSON value; validation checks its shape)
 * @param now Unix milliseconds, the end of relative time ranges
 */
export async function runQuery(
  events: EventStore,
  dataset: string,
  spec: unknown,
  now: number,
  signal?: AbortSignal,
): Promise<QueryResult> {
  return (await prepareQuery(events, dataset, spec, now)).run(signal);
}

/** Every dataset with its row count, column count and newest event time, by name. */
export function listDatasets(events: EventStore): Promise<DatasetInfo[]> {
  return events.listDatasets();
}

/** The columns of a dataset with their types; throws `not_found` for an unknown dataset. */
export async function datasetColumns(events: EventStore, dataset: string): Promise<{ dataset: string; columns: ColumnInfo[] }> {
  const schema = await events.getSchema(dataset);
  if (schema === undefined) throw notFound(`dataset "${dataset}" does not exist`, 'run `flagscope datasets` to see the datasets');
  return { dataset, columns: schema.columns };
}

const COLUMN_TYPES: readonly ColumnType[] = ['string', 'integer', 'float', 'boolean'];

/** Changes a column's type from a request body `{"type": "string"|"integer"|"float"|"boolean"}`. */
export async function setColumnType(
  events: EventStore,
  dataset: string,
  column: string,
  body: Record<string, unknown>,
): Promise<ColumnTypeChange> {
  const type = body.type;
  const extra = Object.keys(body).filter((key) => key !== 'type');
  if (extra.length > 0) throw invalidInput(`unknown field ${JSON.stringify(extra[0])} in the column type`, 'send {"type": "string"}');
  if (typeof type !== 'string' || !COLUMN_TYPES.includes(type as ColumnType)) {
    throw invalidInput(
      `"type" must be one of ${COLUMN_TYPES.join(', ')}, not ${JSON.stringify(type ?? null)}`,
      'send {"type": "string"}, for example',
    );
  }
  return events.setColumnType(dataset, column, type as ColumnType);
}

/** The schema a query is validated against and the table it reads, or `not_found`. */
async function datasetOf(events: EventStore, dataset: string): Promise<{ schema: DatasetSchema; table: string }> {
  const schema = await events.getSchema(dataset);
  const table = events.tableOf(dataset);
  if (schema === undefined || table === undefined) {
    throw notFound(`dataset ${JSON.stringify(dataset)} does not exist`, 'run `flagscope datasets` to list datasets');
  }
  return { schema, table };
}
