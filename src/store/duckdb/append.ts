/**
 * Appends a plan's events to its dataset's table in DuckDB data chunks: events given as objects
 * are laid out column by column here, batches prepared by the ingest workers are appended as
 * they are. Runs inside the writer's open transaction.
 */
import { DuckDBDataChunk } from '@duckdb/node-api';
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { buildDataChunk, CHUNK_ROWS, ColumnBuilder, type ChunkColumnKind } from './chunk.js';
import { newShapeCache, resetShape, slotOf, type DatasetPlan } from './ingest-plan.js';
import { textOf } from '../../ingest/value-rules.js';
import { quoteIdentifier } from './catalog.js';
import type { ColumnType } from '../types.js';

/** Appends the plan's accepted events in data chunks, columns in table order. */
export async function appendEvents(connection: DuckDBConnection, plan: DatasetPlan): Promise<void> {
  if (plan.accepted.length === 0) return;
  const { types, slots } = plan;
  const shape = newShapeCache();
  resetShape(shape, slots, 0);
  const appender: DuckDBAppender = await connection.createAppender(plan.state.table);
  try {
    const accepted = plan.accepted;
    for (let offset = 0; offset < accepted.length; offset += CHUNK_ROWS) {
      const rows = Math.min(CHUNK_ROWS, accepted.length - offset);
      const time = new ColumnBuilder('timestamp', rows);
      const samplerate = new ColumnBuilder('integer', rows);
      const builders = types.map((type) => new ColumnBuilder(type, rows));
      for (let row = 0; row < rows; row++) {
        const event = accepted[offset + row]!;
        time.setInteger(row, Math.round(event.time * 1000));
        samplerate.setInteger(row, event.samplerate);
        const data = event.data;
        const mistyped = plan.mistyped[offset + row];
        let position = 0;
        for (const field in data) {
          const slot = slotOf(shape, slots, position++, field);
          const value = data[field];
          if (value === null || value === undefined || slot === undefined) continue;
          // A value that does not fit its column stays NULL there; the side column keeps it.
          if (mistyped?.fields.has(field)) continue;
          setValue(builders[slot.index]!, types[slot.index]!, row, value);
        }
        if (mistyped !== undefined) builders[plan.mistypedIndex]!.setString(row, mistyped.text);
        if (position < shape.fields.length) resetShape(shape, slots, position);
      }
      const chunk = buildDataChunk(
        chunkKinds(types),
        [time.finish(), samplerate.finish(), ...builders.map((builder) => builder.finish())],
        rows,
      );
      appender.appendDataChunk(new DuckDBDataChunk(chunk));
      appender.flushSync();
      // Let HTTP requests and queries run between chunks of a large group.
      if (offset + CHUNK_ROWS < accepted.length) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    appender.closeSync();
  }
  plan.addedRows += plan.accepted.length;
}

/**
 * Inserts the plan's accepted events with one `INSERT` each, values as bound parameters. Slower
 * per event than data chunks, but DuckDB's work runs off the event loop: appending to a table of
 * thousands of columns costs a few hundred milliseconds per transaction, which the appender's
 * synchronous flush would spend on the server's only JavaScript thread. For a few events.
 */
export async function insertEvents(connection: DuckDBConnection, plan: DatasetPlan): Promise<void> {
  const table = quoteIdentifier(plan.state.table);
  const names = [...plan.state.columns.map((column) => column.name), ...plan.newColumns];
  for (let row = 0; row < plan.accepted.length; row++) {
    const event = plan.accepted[row]!;
    const mistyped = plan.mistyped[row];
    const columns = ['_time', '_samplerate'];
    const values: string[] = ['make_timestamp($1::BIGINT)', '$2::BIGINT'];
    const params: Array<string | number | boolean | bigint> = [BigInt(Math.round(event.time * 1000)), BigInt(event.samplerate)];
    // No casts: the target columns type the parameters (a statement of 2,000 casts plans twice as slowly).
    const add = (column: string, value: string | number | boolean | bigint): void => {
      columns.push(column);
      params.push(value);
      values.push(`$${params.length}`);
    };
    for (const field in event.data) {
      const value = event.data[field];
      const slot = plan.slots.get(field);
      if (value === null || value === undefined || slot === undefined || mistyped?.fields.has(field)) continue;
      const type = plan.types[slot.index]!;
      if (type === 'string') add(slot.column, textOf(value));
      else if (type === 'integer') add(slot.column, BigInt(value as number | bigint));
      // As text, which DuckDB reads back to the same double (a whole number would bind as a BIGINT).
      else if (type === 'float') add(slot.column, String(Number(value)));
      else add(slot.column, value as boolean);
    }
    if (mistyped !== undefined) add(names[plan.mistypedIndex]!, mistyped.text);
    await connection.run(`INSERT INTO ${table} (${columns.map(quoteIdentifier).join(', ')}) VALUES (${values.join(', ')})`, params);
  }
  plan.addedRows += plan.accepted.length;
}

/** The kinds of a chunk's columns: `_time`, `_samplerate`, then the user columns. */
function chunkKinds(types: readonly ColumnType[]): ChunkColumnKind[] {
  return ['timestamp', 'integer', ...types];
}

/** Events in the plan's prepared batches. */
export function preparedEvents(plan: DatasetPlan): number {
  let events = 0;
  for (const batch of plan.prepared) events += batch.events;
  return events;
}

/**
 * Appends the plan's prepared chunks. The appender gathers the chunks of several requests
 * into full vectors; flushing every few thousand rows keeps each pause of the event loop short.
 */
export async function appendPrepared(connection: DuckDBConnection, plan: DatasetPlan): Promise<void> {
  if (plan.prepared.length === 0) return;
  const kinds = chunkKinds(plan.types);
  const appender: DuckDBAppender = await connection.createAppender(plan.state.table);
  try {
    let unflushed = 0;
    for (const batch of plan.prepared) {
      for (const chunk of batch.chunks) {
        appender.appendDataChunk(new DuckDBDataChunk(buildDataChunk(kinds, chunk.columns, chunk.rows)));
        unflushed += chunk.rows;
        if (unflushed >= PREPARED_FLUSH_ROWS) {
          appender.flushSync();
          unflushed = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
      plan.addedRows += batch.events;
    }
  } finally {
    appender.closeSync();
  }
}

/** Rows appended between two flushes of prepared chunks (two full vectors). */
const PREPARED_FLUSH_ROWS = 2 * CHUNK_ROWS;

function setValue(builder: ColumnBuilder, type: ColumnType, row: number, value: unknown): void {
  switch (type) {
    case 'string':
      builder.setString(row, textOf(value));
      return;
    case 'integer':
      if (typeof value === 'bigint') builder.setBigInt(row, value);
      else builder.setInteger(row, value as number);
      return;
    case 'float':
      builder.setFloat(row, Number(value));
      return;
    case 'boolean':
      builder.setBoolean(row, value as boolean);
      return;
  }
}
