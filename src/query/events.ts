/**
 * Raw events (`POST /api/v1/events/{dataset}`, docs/api.md "Raw events"): the request validated
 * against a dataset's schema, and one parameterised statement that reads the events and the
 * cursor in the same snapshot. Pure: the current time and the limits come in as arguments.
 *
 * Two modes:
 * - a **list**: the events of a time range that match the filters, newest first (event time, then
 *   the order of storage), at most `limit`;
 * - **after a cursor**: the events stored after it that match the filters, in the order they were
 *   stored, whatever their event time (`flagscope events tail`).
 *
 * The cursor is the place of a row in its table's order of storage (`dialect.storageOrder`, DuckDB's
 * `rowid`), which grows with every commit: commits of one table are serialised, so a statement that
 * sees a row sees every row stored before it, and "after position P" misses nothing and repeats
 * nothing. The cursor names the table too, so a dataset deleted and created again starts over.
 * Each answer's cursor comes from the statement that read its events: for a list, the newest row
 * stored when it ran (matching or not), so a tail started from a list misses nothing either.
 */
import { FlagscopeError } from '../errors.js';
import { duckdbDialect, type SqlDialect, type SqlParam } from './dialect.js';
import { columnTypes, compileFilters } from './compile/filters.js';
import { ParamList } from './compile/params.js';
import type { DatasetSchema } from './schema.js';
import type { Filter } from './spec.js';
import { closestName } from './suggest.js';
import { SchemaIndex, validateQuery } from './validate.js';

/** Events a list returns when the request names no limit. */
export const DEFAULT_EVENTS_LIMIT = 100;
/** Columns one request may name (a dataset holds at most 2,000). */
export const MAX_EVENT_COLUMNS = 2_000;

/** The bounds a server puts on raw-event requests (`ServerLimits` fields of the same meaning). */
export interface EventsLimits {
  /** Most events one answer carries. */
  maxEventsPerRequest: number;
  /** Longest `wait_ms` a request after a cursor may ask for. */
  maxEventsWaitMs: number;
}

/**
 * A cursor taken apart: the table it belongs to, where its position counts (the epoch of the
 * table's storage order, and the order's gap and floor), and the position of the last row it
 * covers (-1: before the first).
 *
 * The order's **gap** is `max position + 1 − rows`: appends leave it alone (each adds one position
 * and one row); a compaction of deleted rows' places lowers it, moving every row after those places
 * down by as much. The **floor** is a position at or after every deleted row's place when the cursor
 * was made, so a cursor at or past its floor moves down by exactly the gap's fall. A deletion
 * starts a new epoch (its translation is the store's). docs/storage.md, "Retention and the storage order".
 */
export interface EventsCursor {
  table: string;
  epoch: number;
  gap: bigint;
  floor: bigint;
  position: bigint;
}

/** A raw-event request after validation. */
export interface NormalizedEventsRequest {
  filters: Filter[];
  filter_combination: 'AND' | 'OR';
  /** The columns read, in schema order unless the request named them. */
  columns: string[];
  /**
   * The request named no columns: each event comes with every column of the table as the
   * statement reading it finds them (not as `columns`, the schema when the request was validated),
   * so a column added by a commit the statement sees is never left out of that commit's events.
   */
  everyColumn: boolean;
  limit: number;
  /** A list's time range (Unix seconds); absent after a cursor. */
  start_time?: number;
  end_time?: number;
  /** After a cursor: its parsed form, or `end` (only the cursor of the newest row). */
  after?: EventsCursor | 'end';
  wait_ms: number;
}

const REQUEST_KEYS = ['filters', 'filter_combination', 'time_range', 'start_time', 'end_time', 'columns', 'limit', 'after', 'wait_ms'];
const TIME_KEYS = ['time_range', 'start_time', 'end_time'] as const;
const CURSOR =
  /^([A-Za-z0-9_]{1,64})\.(?:e(0|[1-9][0-9]{0,8})\.g(0|[1-9][0-9]{0,18})\.f(-1|0|[1-9][0-9]{0,18})\.)?(-1|0|[1-9][0-9]{0,18})$/;
const MAX_POSITION = 9_223_372_036_854_775_807n;
const HINT = 'see docs/api.md, "Raw events", for the fields of the request';

function fail(field: string, problem: string, hint = HINT): never {
  throw new FlagscopeError('invalid_input', field === '' ? problem : `${field}: ${problem}`, hint, { details: { field } });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function wholeNumber(value: unknown, field: string, min: number, max: number, hint?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value))
    fail(field, `expected a whole number, got ${JSON.stringify(value) ?? 'nothing'}`);
  if (value < min || value > max) fail(field, `${value} is outside ${min}..${max}`, hint ?? `give a number from ${min} to ${max}`);
  return value;
}

/** Reads a cursor text (`ds_3.1234`, or `ds_3.e1.g7120.f7229.7239` after a deletion); `invalid_input` for anything else. */
export function parseEventsCursor(text: unknown): EventsCursor | 'end' {
  if (text === 'end') return 'end';
  const match = typeof text === 'string' ? CURSOR.exec(text) : null;
  if (match === null) {
    const shown = typeof text === 'string' ? JSON.stringify(text.slice(0, 80)) : (JSON.stringify(text) ?? 'nothing');
    fail('after', `${shown} is not a cursor`, 'pass the `cursor` of an earlier answer unchanged, or "end" for events stored from now on');
  }
  const [position, gap, floor] = [match[5], match[3] ?? '0', match[4] ?? '-1'].map((n) => BigInt(n as string)) as [bigint, bigint, bigint];
  if (position > MAX_POSITION || gap > MAX_POSITION || floor > MAX_POSITION)
    fail('after', 'the cursor is out of range', 'pass the `cursor` of an earlier answer unchanged');
  return { table: match[1] as string, epoch: match[2] === undefined ? 0 : Number(match[2]), gap, floor, position };
}

/** The text of a cursor: the short form while its table never lost a row. */
export function formatEventsCursor(cursor: EventsCursor): string {
  if (cursor.epoch === 0 && cursor.gap === 0n) return `${cursor.table}.${cursor.position}`;
  return `${cursor.table}.e${cursor.epoch}.g${cursor.gap}.f${cursor.floor}.${cursor.position}`;
}

/**
 * Validates a raw-event request against `schema`: filters and the time range exactly as a
 * query's (`validateQuery`, the same messages and paths), then the columns, limit, cursor and wait.
 *
 * @param now Unix milliseconds, the end of relative time ranges
 * @throws FlagscopeError `invalid_input` naming the field
 */
export function validateEventsRequest(input: unknown, schema: DatasetSchema, now: number, limits: EventsLimits): NormalizedEventsRequest {
  if (!isRecord(input))
    fail('', 'the request must be a JSON object', 'e.g. {"filters": [{"column": "status_code", "op": ">=", "value": 500}], "limit": 20}');
  for (const key of Object.keys(input)) {
    if (!REQUEST_KEYS.includes(key)) {
      const suggestion = closestName(key, REQUEST_KEYS);
      fail(
        key,
        'unknown field',
        `${suggestion === undefined ? '' : `did you mean "${suggestion}"? `}accepted fields: ${REQUEST_KEYS.join(', ')}`,
      );
    }
  }
  const after = input.after === undefined ? undefined : parseEventsCursor(input.after);
  if (after !== undefined) {
    const time = TIME_KEYS.find((key) => input[key] !== undefined);
    if (time !== undefined)
      fail(
        time,
        'a time range does not apply after a cursor',
        `drop ${time}: events stored after the cursor are returned whatever their event time`,
      );
  }
  // Filters and time range: the query's own validation, so they mean what they mean in a query.
  const spec: Record<string, unknown> = {};
  for (const key of ['filters', 'filter_combination', ...TIME_KEYS]) if (input[key] !== undefined) spec[key] = input[key];
  const query = validateQuery(spec, schema, now);
  const columns = validateColumns(input.columns, schema);
  const limit =
    input.limit === undefined
      ? Math.min(DEFAULT_EVENTS_LIMIT, limits.maxEventsPerRequest)
      : wholeNumber(
          input.limit,
          'limit',
          0,
          limits.maxEventsPerRequest,
          `at most ${limits.maxEventsPerRequest} events an answer; page with the cursor`,
        );
  let wait = 0;
  if (input.wait_ms !== undefined) {
    if (after === undefined) fail('wait_ms', 'waiting needs a cursor', 'send "after" with a cursor of an earlier answer, or drop wait_ms');
    wait = wholeNumber(input.wait_ms, 'wait_ms', 0, limits.maxEventsWaitMs);
  }
  const request: NormalizedEventsRequest = {
    filters: query.filters,
    filter_combination: query.filter_combination,
    columns,
    everyColumn: input.columns === undefined,
    limit,
    wait_ms: wait,
  };
  if (after === undefined) {
    request.start_time = query.start_time;
    request.end_time = query.end_time;
  } else request.after = after;
  return request;
}

function validateColumns(input: unknown, schema: DatasetSchema): string[] {
  if (input === undefined) return schema.columns.map((c) => c.name);
  if (!Array.isArray(input)) fail('columns', 'expected an array of column names', 'e.g. "columns": ["service.name", "duration_ms"]');
  if (input.length > MAX_EVENT_COLUMNS) fail('columns', `too many columns (${input.length}, at most ${MAX_EVENT_COLUMNS})`);
  const index = new SchemaIndex(schema);
  const names = new Set<string>();
  input.forEach((name, i) => {
    names.add(index.column(name, `columns[${i}]`).name);
  });
  return [...names];
}

/** One compiled raw-event statement and the decoder of its rows. */
export interface CompiledEvents {
  sql: string;
  params: SqlParam[];
  decode(rows: readonly (readonly unknown[])[]): DecodedEvents;
}

/** One stored event as the statement gives it back. */
export interface DecodedEvent {
  /** Event time in Unix microseconds. */
  timeMicros: bigint;
  samplerate: number;
  data: Record<string, string | number | boolean>;
}

export interface DecodedEvents {
  events: DecodedEvent[];
  /** The answer's cursor. */
  cursor: EventsCursor;
  /** More events matched than the limit. */
  more: boolean;
  /** The cursor was past the table's end (rows deleted and compacted): the answer starts from the end. */
  reset: boolean;
}

/**
 * Compiles a validated request on `table` (the dataset's table, unquoted) into one statement of
 * rows `[newest position, rows, cursor position now, cursor floor now, position, time µs,
 * samplerate, column…]`. A cursor of another table (the
 * dataset was deleted and created again) reads from the start of this one.
 */
export function compileEventsQuery(
  request: NormalizedEventsRequest,
  schema: DatasetSchema,
  table: string,
  dialect: SqlDialect = duckdbDialect,
): CompiledEvents {
  const params = new ParamList(dialect);
  const order = dialect.storageOrder;
  const quotedTable = dialect.quoteIdent(table);
  const time = dialect.quoteIdent('_time');
  const afterEnd = request.after === 'end';
  const cursor: EventsCursor | undefined =
    request.after === undefined || request.after === 'end'
      ? undefined
      : request.after.table === table
        ? request.after
        : { table, epoch: 0, gap: 0n, floor: -1n, position: -1n };
  const where = [`${order} <= (SELECT m FROM newest)`];
  let place = 'NULL AS p, NULL AS f';
  if (cursor !== undefined) {
    const bigint = (value: bigint): string => params.bind(value, dialect.sqlType('bigint'));
    const [p, g, f] = [bigint(cursor.position), bigint(cursor.gap), bigint(cursor.floor)];
    // The cursor's position in the order now: as it was while the gap has not moved; moved down by
    // the gap's fall when a compaction came after its floor; past every row (a reset) otherwise.
    const gapNow = 'coalesce(m + 1 - n, 0)';
    const shifted = `${p} >= ${f} AND ${gapNow} < ${g}`;
    place =
      `CASE WHEN ${p} < 0 OR ${gapNow} = ${g} THEN ${p} WHEN ${shifted} THEN ${p} - (${g} - ${gapNow}) ELSE ${bigint(MAX_POSITION)} END AS p, ` +
      `CASE WHEN ${gapNow} = ${g} THEN ${f} WHEN ${shifted} THEN ${f} - (${g} - ${gapNow}) END AS f`;
    where.push(`${order} > (SELECT p FROM place)`);
  }
  if (request.start_time !== undefined && request.end_time !== undefined) {
    const micros = (seconds: number): string =>
      dialect.timestampFromMicros(params.bind(BigInt(seconds) * 1_000_000n, dialect.sqlType('bigint')));
    where.push(`${time} >= ${micros(request.start_time)}`, `${time} < ${micros(request.end_time)}`);
  }
  const filters = compileFilters(request.filters, request.filter_combination, columnTypes(schema), params, dialect);
  if (filters !== undefined) where.push(filters);
  const listed = request.after === undefined;
  const limit = afterEnd ? 0 : request.limit;
  // Every column: one record of the row's columns in the statement's snapshot (the internal
  // `_samplerate` keeps it from being empty, and is left out when decoding).
  const columns = request.everyColumn
    ? [`${dialect.rowRecord(['_time'], schema.columns)} AS c0`]
    : request.columns.map((name, i) => `${dialect.quoteIdent(name)} AS c${i}`);
  // The rows are picked on the order columns alone, then their columns read (a wide table's
  // other columns are read for the picked rows only).
  const picked =
    `SELECT ${order} FROM ${quotedTable} WHERE ${where.join(' AND ')} ` +
    `ORDER BY ${listed ? `${time} DESC, ${order} DESC` : order} LIMIT ${params.bind(limit + 1, dialect.sqlType('bigint'))}`;
  const inner =
    `SELECT ${[`${order} AS p`, `${dialect.epochMicros(time)} AS t`, `${dialect.quoteIdent('_samplerate')} AS s`, ...columns].join(', ')} ` +
    `FROM ${quotedTable} WHERE ${order} IN (${picked})`;
  const sql =
    `WITH newest AS (SELECT max(${order}) AS m, count(*) AS n FROM ${quotedTable}), place AS (SELECT ${place} FROM newest)\n` +
    `SELECT newest.m, newest.n, place.p AS cursor_position, place.f AS cursor_floor, r.* FROM newest CROSS JOIN place LEFT JOIN (${inner}) r ON true\n` +
    `ORDER BY ${listed ? 'r.t DESC, r.p DESC' : 'r.p'}`;
  const names = request.columns;
  return {
    sql,
    params: params.values,
    decode(rows) {
      const first = rows[0];
      const big = (value: unknown, otherwise: bigint): bigint =>
        value === null || value === undefined ? otherwise : BigInt(value as bigint | number);
      const newest = big(first?.[0], -1n);
      const gap = first === undefined || first[0] === null || first[0] === undefined ? 0n : newest + 1n - big(first[1], 0n);
      const position = cursor === undefined ? undefined : big(first?.[2], MAX_POSITION);
      const events: DecodedEvent[] = [];
      let last = -1n;
      const found = rows.filter((row) => row[4] !== null && row[4] !== undefined);
      for (const row of found) {
        if (events.length === limit) break;
        last = BigInt(row[4] as bigint | number);
        const data: Record<string, string | number | boolean> = {};
        if (request.everyColumn) {
          for (const [name, stored] of Object.entries((row[7] ?? {}) as Record<string, unknown>)) {
            const value = name === '_samplerate' ? undefined : eventValue(stored);
            if (value !== undefined) data[name] = value;
          }
        } else {
          names.forEach((name, i) => {
            const value = eventValue(row[7 + i]);
            if (value !== undefined) data[name] = value;
          });
        }
        events.push({ timeMicros: BigInt(row[5] as bigint | number), samplerate: Number(row[6]), data });
      }
      const more = found.length > limit;
      const reset = position !== undefined && position > newest;
      const paged = position !== undefined && more;
      const next = paged ? last : newest;
      const floor = paged ? big(first?.[3], next) : next;
      return { events, cursor: { table, epoch: cursor?.epoch ?? 0, gap, floor, position: next }, more, reset };
    },
  };
}

/** A stored value in JSON terms: 64-bit integers beyond 2^53 as their decimal text, SQL NULL as absent. */
function eventValue(value: unknown): string | number | boolean | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'bigint')
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

/** Unix microseconds as ISO-8601 UTC with six decimals (`2026-01-01T00:00:00.123456Z`). */
export function isoMicros(micros: bigint): string {
  const ms = micros / 1000n;
  const rest = micros % 1000n;
  const base = new Date(Number(ms)).toISOString(); // …ss.mmmZ
  return `${base.slice(0, -1)}${String(rest < 0n ? rest + 1000n : rest).padStart(3, '0')}Z`;
}
