/**
 * How the ClickHouse event store reaches ClickHouse: a small interface with two implementations,
 * `@clickhouse/client` over HTTP (production, http-executor.ts) and chDB, ClickHouse's engine
 * in-process (tests and benchmarks, chdb-executor.ts). Values never enter SQL text: statements
 * name them as ClickHouse query parameters `{name:Type}` and both implementations hand the values
 * to the engine beside the statement.
 */
import type { SqlRow } from '../types.js';
import { type CompactResult, decodeRows } from './decode.js';

/** Values of a statement's `{name:Type}` parameters, by name: text, or null for a `Nullable(…)` one. */
export type ClickHouseParams = Readonly<Record<string, string | null>>;

export type { CompactResult } from './decode.js';

/**
 * Settings every session runs with, so the engine answers as the compiler expects: a LEFT JOIN
 * without a match gives NULL (not the type's default), CAST keeps a NULL a NULL, grouping sets
 * give NULL for the keys a set leaves out, and 64-bit integers come back as exact text.
 */
export const SESSION_SETTINGS = {
  join_use_nulls: 1,
  cast_keep_nullable: 1,
  group_by_use_nulls: 1,
  output_format_json_quote_64bit_integers: 1,
  output_format_json_quote_denormals: 0,
  mutations_sync: '2',
} as const;

export interface ClickHouseExecutor {
  /** Where it runs, for messages (`chdb:/tmp/x`, `clickhouse://host:8123`), without credentials. */
  readonly description: string;
  /** Runs a statement that returns rows; values decoded by their ClickHouse types (decode.ts). */
  query(sql: string, params?: ClickHouseParams, signal?: AbortSignal): Promise<SqlRow[]>;
  /** Runs a statement that returns nothing (DDL, ALTER). */
  command(sql: string, params?: ClickHouseParams): Promise<void>;
  /** Inserts rows (objects keyed by column name, JSONEachRow); resolves once ClickHouse has accepted them. */
  insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void>;
  close(): Promise<void>;
}

/** The rows of a `JSONCompact` result text (empty text: no rows). */
export function rowsOfCompactText(text: string): SqlRow[] {
  if (text.trim() === '') return [];
  return decodeRows(JSON.parse(text) as CompactResult);
}

/** JSONEachRow text of rows: bigints as their decimal digits in quotes (ClickHouse reads them exactly). */
export function jsonEachRow(rows: readonly Record<string, unknown>[]): string {
  let text = '';
  for (const row of rows) text += `${JSON.stringify(row, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`;
  return text;
}
