/**
 * The event store's read side: a few connections reserved for read-only statements, used in
 * turn, and the conversion of DuckDB's result values into the store-neutral rows of
 * {@link SqlRow} that the query compiler's and `src/compare/`'s decoders read.
 */
import {
  DuckDBArrayValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBStructValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
} from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBResultReader, DuckDBValue } from '@duckdb/node-api';
import { FlagscopeError } from '../../errors.js';
import type { SqlParam } from '../../query/dialect.js';
import type { SqlRow, SqlValue } from '../types.js';

const DAY_MS = 86_400_000;

/** Runs read-only statements on reader connections, tracked so the store can wait for them on close. */
export class EventReader {
  private cursor = 0;
  private closed = false;
  private readonly running = new Set<Promise<DuckDBResultReader>>();

  constructor(private readonly connections: DuckDBConnection[]) {}

  /**
   * Runs one statement with its bound parameters on the next reader connection and resolves to
   * its rows. Rejects with `server_error` once {@link stop} was called.
   */
  async execute(sql: string, params: readonly SqlParam[]): Promise<SqlRow[]> {
    const reader = await this.read(sql, params);
    return neutralRows(reader.getRows());
  }

  /** Refuses new statements and resolves once the running ones are done. */
  async stop(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running]);
  }

  /** Closes the connections (after {@link stop}). */
  closeSync(): void {
    for (const connection of this.connections) connection.closeSync();
  }

  private read(sql: string, params: readonly SqlParam[]): Promise<DuckDBResultReader> {
    if (this.closed) return Promise.reject(new FlagscopeError('server_error', 'the event store is closed', 'restart the server'));
    const connection = this.connections[this.cursor % this.connections.length]!;
    this.cursor++;
    const running = connection.runAndReadAll(sql, params as DuckDBValue[]);
    this.running.add(running);
    const forget = (): void => void this.running.delete(running);
    running.then(forget, forget);
    return running;
  }
}

/**
 * DuckDB's rows with every value in store-neutral terms. Scalars (numbers, bigints, strings,
 * booleans, null) pass as DuckDB gives them, so the common aggregate rows are not copied; only
 * the rare object values are replaced in place.
 */
function neutralRows(rows: DuckDBValue[][]): SqlRow[] {
  for (const row of rows) {
    for (let index = 0; index < row.length; index++) {
      const value = row[index];
      if (typeof value === 'object' && value !== null) row[index] = neutralValue(value) as DuckDBValue;
    }
  }
  return rows as SqlRow[];
}

/** Lists and arrays as arrays, structs as objects, timestamps and dates as `Date`, decimals as numbers, the rest as text. */
function neutralValue(value: DuckDBValue): SqlValue {
  if (typeof value !== 'object' || value === null) return value as SqlValue;
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) return value.items.map(neutralValue);
  if (value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue) return new Date(Number(value.micros / 1000n));
  if (value instanceof DuckDBDateValue) return new Date(value.days * DAY_MS);
  if (value instanceof DuckDBStructValue) {
    const entries: Record<string, SqlValue> = {};
    for (const [field, entry] of Object.entries(value.entries)) entries[field] = neutralValue(entry);
    return entries;
  }
  if (value instanceof DuckDBDecimalValue) return Number(value.toString());
  return String(value);
}
