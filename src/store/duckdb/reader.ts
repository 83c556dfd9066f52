/**
 * The event store's read side: a small pool of connections reserved for read-only statements
 * (interrupted when their caller gives up), and the conversion of DuckDB's result values into the store-neutral rows of
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

/** How often an aborted statement is interrupted again until it settles (an interrupt that lands before execution starts is lost). */
const INTERRUPT_REPEAT_MS = 25;

/** One caller waiting for a reader connection. */
interface Waiter {
  resolve(connection: DuckDBConnection): void;
  reject(error: unknown): void;
}

/**
 * Runs read-only statements on a small pool of reader connections, one statement per connection
 * at a time, tracked so the store can wait for them on close. A statement waits for a free
 * connection in this process, never on a connection inside the engine: a waiting statement holds
 * no thread of libuv's pool, so reads occupy at most as many of those threads as there are reader
 * connections, and writes (on their own connections) always find one free.
 */
export class EventReader {
  private closed = false;
  private readonly idle: DuckDBConnection[];
  private readonly waiting: Waiter[] = [];
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly connections: DuckDBConnection[]) {
    this.idle = [...connections];
  }

  /**
   * Runs one statement with its bound parameters on a free reader connection and resolves to its
   * rows. When `signal` aborts, the statement leaves the wait for a connection, or is interrupted
   * in the engine (again and again until it stops), and the call rejects with the signal's reason
   * once it has stopped. Rejects with `server_error` once {@link stop} was called.
   */
  async execute(sql: string, params: readonly SqlParam[], signal?: AbortSignal): Promise<SqlRow[]> {
    if (this.closed) throw closedError();
    signal?.throwIfAborted();
    const connection = await this.acquire(signal);
    try {
      signal?.throwIfAborted();
      let reader: DuckDBResultReader;
      try {
        reader = await this.read(connection, sql, params, signal);
      } catch (error) {
        // An interrupted statement fails with the engine's "Interrupted"; the caller gets why it was stopped.
        signal?.throwIfAborted();
        throw error;
      }
      signal?.throwIfAborted();
      return neutralRows(reader.getRows());
    } finally {
      this.release(connection);
    }
  }

  /** Statements running or waiting for a connection (store statistics). */
  load(): { running: number; waiting: number } {
    return { running: this.running.size, waiting: this.waiting.length };
  }

  /** Refuses new statements, rejects those waiting for a connection and resolves once the running ones are done. */
  async stop(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(closedError());
    await Promise.allSettled([...this.running]);
  }

  /** Closes the connections (after {@link stop}). */
  closeSync(): void {
    for (const connection of this.connections) connection.closeSync();
  }

  private acquire(signal: AbortSignal | undefined): Promise<DuckDBConnection> {
    const free = this.idle.pop();
    if (free !== undefined) return Promise.resolve(free);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.waiting.indexOf(waiter);
        if (at !== -1) this.waiting.splice(at, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        resolve: (connection) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(connection);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private release(connection: DuckDBConnection): void {
    const next = this.waiting.shift();
    if (next !== undefined) next.resolve(connection);
    else this.idle.push(connection);
  }

  private read(
    connection: DuckDBConnection,
    sql: string,
    params: readonly SqlParam[],
    signal: AbortSignal | undefined,
  ): Promise<DuckDBResultReader> {
    const running = connection.runAndReadAll(sql, params as DuckDBValue[]);
    this.running.add(running);
    let repeat: ReturnType<typeof setInterval> | undefined;
    const interrupt = (): void => {
      connection.interrupt();
      repeat ??= setInterval(() => connection.interrupt(), INTERRUPT_REPEAT_MS);
    };
    if (signal?.aborted === true) interrupt();
    else signal?.addEventListener('abort', interrupt, { once: true });
    const settle = (): void => {
      this.running.delete(running);
      signal?.removeEventListener('abort', interrupt);
      if (repeat !== undefined) clearInterval(repeat);
    };
    running.then(settle, settle);
    return running;
  }
}

function closedError(): FlagscopeError {
  return new FlagscopeError('server_error', 'the event store is closed', 'restart the server');
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
