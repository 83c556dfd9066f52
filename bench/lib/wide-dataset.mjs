/**
 * A wide benchmark dataset in a DuckDB file: created through the event store from
 * a few generated events (so its catalog and column types are the store's own),
 * then filled in bulk with one SQL statement so set-up stays fast.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { timed } from './measure.mjs';
import { wideEventGenerator } from './wide-events.mjs';

/**
 * @param {{
 *   path: string, dataset: string, events: number, startMs: number, spanMs: number,
 *   shapeEvent?: (event: { data: Record<string, unknown> }, i: number) => unknown,
 *   expressionFor: (column: { name: string, type: string }) => string,
 *   deferred?: string[],
 * }} options `expressionFor` gives each column's SQL over the row number `i`; the
 *   columns in `deferred` are filled by an UPDATE after the insert, so their
 *   expressions may read the other columns.
 * @returns {Promise<{ table: string, columns: { name: string, type: string }[], fillMs: number }>}
 */
export async function createWideDataset(options) {
  const { path, dataset, events, startMs, spanMs, expressionFor } = options;
  const shapeEvent = options.shapeEvent ?? ((event) => event);
  const deferred = new Set(options.deferred ?? []);
  const { openEventStore } = await import('../../dist/store/duckdb/event-store.js');
  const store = await openEventStore({ path });
  const generate = wideEventGenerator({ seed: 7, startMs, spanMs });
  await store.ingest(
    dataset,
    Array.from({ length: 10 }, (_, i) => shapeEvent(generate(i, 10), i)),
  );
  const table = store.dialect.quoteIdent(store.tableOf(dataset));
  const columns = (await store.getSchema(dataset)).columns;
  await store.close();

  const quote = (name) => `"${name.replace(/"/g, '""')}"`;
  const fill = await timed(async () => {
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    const expressions = columns.map((column) => (deferred.has(column.name) ? 'NULL' : expressionFor(column)));
    await connection.run(
      `INSERT INTO ${table} (_time, _samplerate, ${columns.map((c) => quote(c.name)).join(', ')}) ` +
        `SELECT make_timestamp(${startMs * 1000}::BIGINT + (i * ${spanMs * 1000} // ${events})::BIGINT), 1, ${expressions.join(', ')} FROM range(${events}) t(i)`,
    );
    for (const column of columns.filter((c) => deferred.has(c.name))) {
      await connection.run(`UPDATE ${table} SET ${quote(column.name)} = ${expressionFor(column)}`);
    }
    await connection.run('CHECKPOINT');
    connection.closeSync();
    instance.closeSync();
  });
  return { table, columns, fillMs: fill.ms };
}
