/**
 * Test fixture for the query compiler: a generated event table loaded into a
 * real in-memory DuckDB, and an independent plain-TypeScript evaluation of
 * query specs over the same events (weighted by explicit expansion).
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { ColumnInfo, DatasetSchema } from '../../../src/query/schema.js';
import type { Calculation, Filter, FilterValue } from '../../../src/query/spec.js';
import { mulberry32 } from '../../fixtures/random.js';

export type Cell = string | number | boolean | null;
export interface TestEvent {
  /** Unix microseconds. */
  time: number;
  samplerate: number;
  fields: Record<string, Cell>;
}

export const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z
export const HOSTILE_VALUES = ["'; DROP TABLE t; --", '%', '_', '\\', '100%_done\\', 'a"b', "it's", 'é 名前'];

export const COLUMNS: ColumnInfo[] = [
  { name: 'service.name', type: 'string' },
  { name: 'duration_ms', type: 'float' },
  { name: 'status_code', type: 'integer' },
  { name: 'ok', type: 'boolean' },
  { name: 'user.id', type: 'string' },
  { name: 'note', type: 'string' },
  { name: 'a"b', type: 'string' },
  { name: 'x; DROP TABLE t', type: 'integer' },
  { name: 'é 名前', type: 'string' },
];

export const random = mulberry32;

/** Events over two hours from T0; `sampled` gives sample rates 1–5, else all 1. */
export function generateEvents(count: number, seed: number, sampled: boolean): TestEvent[] {
  const rand = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const services = ['api', 'web', 'worker', 'batch', null];
  const events: TestEvent[] = [];
  for (let i = 0; i < count; i++) {
    const time = (T0 * 1000 + Math.floor(rand() * 7200 * 1000)) * 1000 + Math.floor(rand() * 1000);
    const service = pick(services);
    const duration = rand() < 0.1 ? null : Math.round(Math.exp(3 + rand() * 3) * 1000) / 1000;
    // Some repeated durations, so that weighted groups of equal values are exercised.
    const durationValue = duration !== null && rand() < 0.2 ? 42 : duration;
    events.push({
      time,
      samplerate: sampled ? 1 + Math.floor(rand() * 5) : 1,
      fields: {
        'service.name': service,
        duration_ms: durationValue,
        status_code: rand() < 0.05 ? null : pick([200, 200, 200, 201, 404, 500, 503]),
        ok: rand() < 0.1 ? null : rand() < 0.8,
        'user.id': rand() < 0.1 ? null : `u${Math.floor(rand() * 40)}`,
        note: rand() < 0.3 ? null : pick([...HOSTILE_VALUES, 'plain', 'prefix-plain', 'Plain']),
        'a"b': rand() < 0.2 ? null : pick(['x', 'y', "'; DROP TABLE t; --"]),
        'x; DROP TABLE t': rand() < 0.2 ? null : Math.floor(rand() * 10),
        'é 名前': rand() < 0.2 ? null : pick(['名前', 'é', '%_\\']),
      },
    });
  }
  return events;
}

export function schemaFor(hasSampling: boolean, table = 'events'): DatasetSchema {
  return { dataset: table, columns: COLUMNS, hasSampling };
}

const SQL_TYPE = { string: 'VARCHAR', integer: 'BIGINT', float: 'DOUBLE', boolean: 'BOOLEAN' } as const;
const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Creates each table in a fresh in-memory database and inserts the events with bound parameters. */
export async function loadEvents(
  tables: Record<string, TestEvent[]>,
  columnsByTable: Record<string, ColumnInfo[]> = {},
): Promise<DuckDBConnection> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  for (const [table, events] of Object.entries(tables)) {
    const tableColumns = columnsByTable[table] ?? COLUMNS;
    const columns = tableColumns.map((c) => `${quote(c.name)} ${SQL_TYPE[c.type]}`).join(', ');
    await connection.run(`CREATE TABLE ${quote(table)} (_time TIMESTAMP, _samplerate BIGINT, ${columns})`);
    const placeholders = tableColumns.map((c, i) => `CAST($${i + 3} AS ${SQL_TYPE[c.type]})`).join(', ');
    const insert = await connection.prepare(
      `INSERT INTO ${quote(table)} VALUES (make_timestamp(CAST($1 AS BIGINT)), CAST($2 AS BIGINT), ${placeholders})`,
    );
    for (const event of events) {
      insert.bind([BigInt(event.time), event.samplerate, ...tableColumns.map((c) => event.fields[c.name] ?? null)]);
      await insert.run();
    }
  }
  return connection;
}

// ---------------------------------------------------------------------------
// Reference evaluation in plain TypeScript.

/** Does one event match one filter, by the documented semantics (missing fields match only negative ops). */
export function matches(event: TestEvent, filter: Filter): boolean {
  const value = event.fields[filter.column] ?? null;
  const target = filter.value;
  switch (filter.op) {
    case 'exists':
      return value !== null;
    case 'does-not-exist':
      return value === null;
    case '=':
      return target === null ? value === null : value !== null && value === target;
    case '!=':
      return target === null ? value !== null : value === null || value !== target;
    case '>':
      return value !== null && (value as number) > (target as number);
    case '>=':
      return value !== null && (value as number) >= (target as number);
    case '<':
      return value !== null && (value as number) < (target as number);
    case '<=':
      return value !== null && (value as number) <= (target as number);
    case 'starts-with':
      return typeof value === 'string' && value.startsWith(String(target));
    case 'does-not-start-with':
      return typeof value !== 'string' || !value.startsWith(String(target));
    case 'contains':
      return typeof value === 'string' && value.includes(String(target));
    case 'does-not-contain':
      return typeof value !== 'string' || !value.includes(String(target));
    case 'in':
      return (target as FilterValue[]).some((t) => (t === null ? value === null : value === t));
    case 'not-in':
      return !(target as FilterValue[]).some((t) => (t === null ? value === null : value === t));
  }
}

export function matchesAll(event: TestEvent, filters: Filter[], combination: 'AND' | 'OR'): boolean {
  if (filters.length === 0) return true;
  return combination === 'AND' ? filters.every((f) => matches(event, f)) : filters.some((f) => matches(event, f));
}

/** Linear interpolation at h = (n − 1)·q over the sorted multiset in which each value appears `weight` times. */
export function expandedPercentile(pairs: { value: number; weight: number }[], q: number): number | null {
  const expanded: number[] = [];
  for (const { value, weight } of pairs) for (let i = 0; i < weight; i++) expanded.push(value);
  if (expanded.length === 0) return null;
  expanded.sort((a, b) => a - b);
  const h = (expanded.length - 1) * q;
  const lo = expanded[Math.floor(h)] as number;
  const hi = expanded[Math.ceil(h)] as number;
  return lo + (h - Math.floor(h)) * (hi - lo);
}

export interface ReferenceHeatmap {
  lower: number;
  width: number;
  buckets: number[];
}

/** The value of one calculation over a group of events, computed independently of the SQL. */
export function referenceCalc(
  calc: Calculation,
  events: TestEvent[],
  heatmapBounds?: { lower: number; width: number },
): number | string | ReferenceHeatmap | null {
  const column = calc.column ?? '';
  const present = events.filter((e) => (e.fields[column] ?? null) !== null);
  const total = (list: TestEvent[]): number => list.reduce((s, e) => s + e.samplerate, 0);
  switch (calc.op) {
    case 'COUNT':
      return total(events);
    case 'RATE': {
      const all = total(events);
      return all === 0 ? null : total(events.filter((e) => matchesAll(e, calc.filters ?? [], calc.filter_combination ?? 'AND'))) / all;
    }
    case 'SUM':
      return present.length === 0 ? null : present.reduce((s, e) => s + (e.fields[column] as number) * e.samplerate, 0);
    case 'AVG':
      return present.length === 0 ? null : present.reduce((s, e) => s + (e.fields[column] as number) * e.samplerate, 0) / total(present);
    case 'MIN':
    case 'MAX': {
      if (present.length === 0) return null;
      const values = present.map((e) => e.fields[column] as number | string);
      const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return (calc.op === 'MIN' ? sorted[0] : sorted[sorted.length - 1]) ?? null;
    }
    case 'COUNT_DISTINCT':
      return new Set(present.map((e) => e.fields[column])).size;
    case 'HEATMAP': {
      if (present.length === 0 || heatmapBounds === undefined) return null;
      const buckets = new Array<number>(30).fill(0);
      for (const e of present) {
        const index = Math.min(Math.floor(((e.fields[column] as number) - heatmapBounds.lower) / heatmapBounds.width), 29);
        buckets[index] = (buckets[index] ?? 0) + e.samplerate;
      }
      return { ...heatmapBounds, buckets };
    }
    default: {
      // The name is the quantile's decimal digits (P05 is 0.05, P999 is 0.999), read here independently of the compiler's table.
      const q = Number(`0.${calc.op.slice(1)}`);
      return expandedPercentile(
        present.map((e) => ({ value: e.fields[column] as number, weight: e.samplerate })),
        q,
      );
    }
  }
}

/** Query-wide heatmap bucket edges: 30 equal-width buckets between min and max. */
export function referenceHeatmapBounds(events: TestEvent[], column: string): { lower: number; width: number } | undefined {
  const values = events.map((e) => e.fields[column]).filter((v): v is number => typeof v === 'number');
  if (values.length === 0) return undefined;
  const lower = Math.min(...values);
  const upper = Math.max(...values);
  return { lower, width: upper > lower ? (upper - lower) / 30 : 1 };
}

/** Events inside [start, end) seconds that pass the filters. */
export function selectEvents(
  events: TestEvent[],
  start: number,
  end: number,
  filters: Filter[] = [],
  combination: 'AND' | 'OR' = 'AND',
): TestEvent[] {
  return events.filter((e) => e.time >= start * 1_000_000 && e.time < end * 1_000_000 && matchesAll(e, filters, combination));
}

/** Groups events by the JSON of their breakdown values. */
export function groupBy(events: TestEvent[], breakdowns: string[]): Map<string, TestEvent[]> {
  const groups = new Map<string, TestEvent[]>();
  for (const e of events) {
    const key = JSON.stringify(breakdowns.map((b) => e.fields[b] ?? null));
    const list = groups.get(key) ?? [];
    list.push(e);
    groups.set(key, list);
  }
  return groups;
}

/** Asserts two numbers agree to a relative 1e-9 (the SQL and the reference sum in different orders). */
export function close(actual: unknown, expected: number | null): boolean {
  if (expected === null) return actual === null;
  if (typeof actual !== 'number') return false;
  return Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
}
