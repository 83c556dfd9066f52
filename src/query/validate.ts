/**
 * Validation and normalisation of a raw Honeycomb Query Specification against
 * a dataset's schema. Pure: the current time comes in as an argument.
 */
import { FlagscopeError } from '../errors.js';
import type { ColumnInfo, ColumnType, DatasetSchema } from './schema.js';
import { calculationName } from './format.js';
import { INCOMPLETE_COLUMN, incompleteColumnType } from './incomplete.js';
import {
  CALC_OPS,
  FILTER_OPS,
  PERCENTILE_OPS,
  type CalcOp,
  type Calculation,
  type Filter,
  type FilterValue,
  type Having,
  type Order,
  type QuerySpec,
} from './spec.js';
import { closestName, shortName } from './suggest.js';

/** Default `time_range` in seconds when the spec gives fewer than two of start, end and range. */
export const DEFAULT_TIME_RANGE = 7200;
/** Default and maximum number of result groups. */
export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 10_000;
/** Most time buckets one query may ask for (range / granularity). */
export const MAX_TIME_BUCKETS = 1000;
/**
 * The coarsest granularity: ten years of seconds. A larger one is no use (one bucket covers any
 * window the store keeps) and its bucket width would overflow the SQL arithmetic.
 */
export const MAX_GRANULARITY_S = 315_576_000;
/** Most calculations, filters, breakdowns, orders and havings in one query. */
export const MAX_LIST_LENGTH = 100;
/**
 * Latest accepted start_time/end_time (year 5138), and the longest time_range; larger values are
 * milliseconds by mistake, and in microseconds they would no longer fit a 64-bit timestamp.
 */
export const MAX_UNIX_SECONDS = 99_999_999_999;
/** The window every query's resolved time range must lie in (docs/api.md, "Time windows"), as its 400s say it. */
export const QUERY_TIME_WINDOW = `Unix seconds 0 (1970-01-01T00:00:00Z) to ${MAX_UNIX_SECONDS} (5138-11-16T09:46:39Z)`;
/** Most values in one `in`/`not-in` filter. */
export const MAX_IN_VALUES = 1000;

const HAVING_OPS = ['=', '!=', '>', '>=', '<', '<='] as const;
const SPEC_KEYS = [
  'calculations',
  'filters',
  'filter_combination',
  'breakdowns',
  'orders',
  'havings',
  'limit',
  'time_range',
  'start_time',
  'end_time',
  'granularity',
] as const;
const CALC_KEYS = ['op', 'column', 'filters', 'filter_combination'];
const FILTER_KEYS = ['column', 'op', 'value'];
const ORDER_KEYS = ['column', 'op', 'order', 'filters', 'filter_combination'];
const HAVING_KEYS = ['calculate_op', 'column', 'op', 'value', 'filters', 'filter_combination'];

/** A query spec after validation: every default filled in, times absolute, filter values coerced to their column's type. */
export interface NormalizedQuery extends QuerySpec {
  calculations: Calculation[];
  filters: Filter[];
  filter_combination: 'AND' | 'OR';
  breakdowns: string[];
  orders: Order[];
  havings: Having[];
  limit: number;
  time_range: number;
  start_time: number;
  end_time: number;
  granularity?: number;
}

const SPEC_HINT = 'see docs/query.md for the fields of a query spec and their types';

function fail(path: string, problem: string, hint = SPEC_HINT, extra?: Record<string, unknown>): never {
  const message = path === '' ? problem : `${path}: ${problem}`;
  throw new FlagscopeError('invalid_input', message, hint, { details: { field: path, ...extra } });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(shortName(value, 40))}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      const suggestion = closestName(key, allowed);
      const at = path === '' ? key : `${path}.${key}`;
      fail(
        at,
        'unknown field',
        suggestion ? `did you mean "${suggestion}"? accepted fields: ${allowed.join(', ')}` : `accepted fields: ${allowed.join(', ')}`,
      );
    }
  }
}

function expectArray(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(path, `expected an array, got ${describe(value)}`);
  if (value.length > MAX_LIST_LENGTH) fail(path, `too many items (${value.length}, at most ${MAX_LIST_LENGTH})`);
  return value;
}

function expectCombination(value: unknown, path: string): 'AND' | 'OR' {
  if (value === undefined) return 'AND';
  if (value === 'AND' || value === 'OR') return value;
  fail(path, `expected "AND" or "OR", got ${describe(value)}`);
}

function expectInteger(value: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) fail(path, `expected an integer, got ${describe(value)}`);
  if (value < min || value > max) {
    fail(path, `must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

/** A dataset's columns by name, answering an unknown name with the nearest one (shared with raw events). */
export class SchemaIndex {
  readonly byName = new Map<string, ColumnInfo>();
  constructor(readonly schema: DatasetSchema) {
    for (const column of schema.columns) this.byName.set(column.name, column);
  }

  column(value: unknown, path: string): ColumnInfo {
    if (typeof value !== 'string') fail(path, `expected a column name, got ${describe(value)}`);
    const column = this.byName.get(value);
    if (column) return column;
    const suggestion = closestName(value, this.byName.keys());
    fail(
      path,
      `unknown column ${JSON.stringify(shortName(value))}`,
      suggestion !== undefined
        ? `did you mean ${JSON.stringify(suggestion)}? \`flagscope columns DATASET\` lists the columns`
        : '`flagscope columns DATASET` lists the columns',
      { column: shortName(value, 200) },
    );
  }
}

function isNumeric(type: ColumnType): boolean {
  return type === 'integer' || type === 'float';
}

const NUMERIC_TEXT = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;

/**
 * Coerces one filter value to the column's type (see docs/query.md, "Type coercion"):
 * numeric columns take numbers and numeric strings; boolean columns take booleans and
 * "true"/"false"; string columns take strings, and numbers or booleans as their text.
 */
function coerceValue(value: unknown, column: ColumnInfo, path: string): FilterValue {
  if (value === null) return null;
  if (isNumeric(column.type)) {
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) fail(path, `expected a finite number, got ${describe(value)}`);
      return value;
    }
    if (typeof value === 'string' && NUMERIC_TEXT.test(value)) return Number(value);
    fail(
      path,
      `wrong type: column ${JSON.stringify(shortName(column.name))} is ${column.type === 'integer' ? 'an integer' : 'a float'} column, got ${describe(value)}`,
      'compare numeric columns with numbers',
    );
  }
  if (column.type === 'boolean') {
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
    fail(
      path,
      `wrong type: column ${JSON.stringify(shortName(column.name))} is a boolean column, got ${describe(value)}`,
      'compare boolean columns with true or false',
    );
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(path, `expected a finite number, got ${describe(value)}`);
    return String(value);
  }
  if (typeof value === 'boolean') return String(value);
  fail(path, `expected a string, number, boolean or null, got ${describe(value)}`);
}

const STRING_OPS = new Set(['starts-with', 'does-not-start-with', 'contains', 'does-not-contain']);
const ORDERING_OPS = new Set(['>', '>=', '<', '<=']);

function validateFilter(input: unknown, path: string, columns: SchemaIndex): Filter {
  if (!isRecord(input)) fail(path, `expected an object, got ${describe(input)}`);
  checkKeys(input, FILTER_KEYS, path);
  if (input.op === undefined) fail(`${path}.op`, 'missing filter op', `one of: ${FILTER_OPS.join(' ')}`);
  if (typeof input.op !== 'string' || !(FILTER_OPS as readonly string[]).includes(input.op)) {
    const suggestion = typeof input.op === 'string' ? closestName(input.op, FILTER_OPS) : undefined;
    fail(
      `${path}.op`,
      `unknown filter op ${typeof input.op === 'string' ? JSON.stringify(shortName(input.op)) : describe(input.op)}`,
      `${suggestion ? `did you mean "${suggestion}"? ` : ''}filter ops: ${FILTER_OPS.join(' ')}`,
    );
  }
  const op = input.op as Filter['op'];
  if (input.column === undefined)
    fail(`${path}.column`, 'missing column', 'every filter names a column, e.g. {"column": "status_code", "op": ">=", "value": 500}');
  const column = columns.column(input.column, `${path}.column`);
  const valuePath = `${path}.value`;
  if (op === 'exists' || op === 'does-not-exist') {
    if (input.value !== undefined) fail(valuePath, `"${op}" takes no value`, 'remove the value');
    return { column: column.name, op };
  }
  if (input.value === undefined)
    fail(valuePath, `missing value for "${op}"`, 'give a "value", or use "exists" / "does-not-exist" to test for presence');
  if (op === 'in' || op === 'not-in') {
    if (!Array.isArray(input.value) || input.value.length === 0) {
      fail(valuePath, `"${op}" takes a non-empty array of values, got ${describe(input.value)}`, 'e.g. "value": ["a", "b"]');
    }
    if (input.value.length > MAX_IN_VALUES) fail(valuePath, `too many values (${input.value.length}, at most ${MAX_IN_VALUES})`);
    const values = input.value.map((v, i) => coerceValue(v, column, `${valuePath}[${i}]`));
    return { column: column.name, op, value: values };
  }
  if (Array.isArray(input.value))
    fail(valuePath, `"${op}" takes a single value, got an array`, 'use "in" or "not-in" for a list of values');
  if (STRING_OPS.has(op)) {
    if (column.type !== 'string') {
      fail(
        `${path}.op`,
        `"${op}" needs a string column, and ${JSON.stringify(shortName(column.name))} is ${column.type}`,
        'use = != > < on numbers and booleans',
      );
    }
    if (input.value === null) fail(valuePath, `"${op}" needs a string value, got null`);
  }
  if (ORDERING_OPS.has(op)) {
    if (column.type === 'boolean')
      fail(`${path}.op`, `"${op}" cannot compare the boolean column ${JSON.stringify(shortName(column.name))}`, 'use = or != on booleans');
    if (input.value === null)
      fail(valuePath, `"${op}" needs a value, got null`, 'use "exists" or "does-not-exist" to test for a missing field');
  }
  return { column: column.name, op, value: coerceValue(input.value, column, valuePath) };
}

function validateFilters(input: unknown, path: string, columns: SchemaIndex): Filter[] {
  if (input === undefined) return [];
  return expectArray(input, path).map((f, i) => validateFilter(f, `${path}[${i}]`, columns));
}

function validateCalcOp(value: unknown, path: string): CalcOp {
  if (value === undefined) fail(path, 'missing op', `one of: ${CALC_OPS.join(' ')}`);
  if (typeof value === 'string' && (CALC_OPS as readonly string[]).includes(value)) return value as CalcOp;
  const suggestion = typeof value === 'string' ? closestName(value.toUpperCase(), CALC_OPS) : undefined;
  fail(
    path,
    `unknown calculation op ${typeof value === 'string' ? JSON.stringify(shortName(value)) : describe(value)}`,
    `${suggestion ? `did you mean "${suggestion}"? ` : ''}calculation ops: ${CALC_OPS.join(' ')}`,
  );
}

const NUMERIC_CALC_OPS = new Set<string>(['SUM', 'AVG', 'HEATMAP', ...PERCENTILE_OPS]);

/** Checks a calculation-shaped object (a calculation, or the calculation an order or having refers to). */
function validateCalcRef(op: CalcOp, input: Record<string, unknown>, path: string, opPath: string, columns: SchemaIndex): Calculation {
  if (op === 'COUNT') {
    if (input.column !== undefined) fail(`${path}.column`, 'COUNT takes no column', 'remove the column, or use COUNT_DISTINCT');
    if (input.filters !== undefined) fail(`${path}.filters`, 'only RATE takes filters');
    return { op };
  }
  if (op === 'INCOMPLETE') {
    if (input.column !== undefined)
      fail(`${path}.column`, 'INCOMPLETE takes no column', `it counts ${INCOMPLETE_COLUMN} = true; remove the column, or use RATE(filter)`);
    if (input.filters !== undefined) fail(`${path}.filters`, 'only RATE takes filters');
    if (input.filter_combination !== undefined) fail(`${path}.filter_combination`, 'only RATE takes a filter_combination');
    incompleteColumnType(columns.schema, opPath);
    return { op };
  }
  if (op === 'RATE') {
    if (input.column !== undefined)
      fail(
        `${path}.column`,
        'RATE takes filters, not a column',
        'e.g. {"op": "RATE", "filters": [{"column": "status_code", "op": ">=", "value": 500}]}',
      );
    const filters = validateFilters(input.filters, `${path}.filters`, columns);
    if (filters.length === 0)
      fail(
        `${path}.filters`,
        'RATE needs at least one filter',
        'e.g. {"op": "RATE", "filters": [{"column": "status_code", "op": ">=", "value": 500}]}',
      );
    return { op, filters, filter_combination: expectCombination(input.filter_combination, `${path}.filter_combination`) };
  }
  if (input.filters !== undefined) fail(`${path}.filters`, 'only RATE takes filters');
  if (input.filter_combination !== undefined) fail(`${path}.filter_combination`, 'only RATE takes a filter_combination');
  if (input.column === undefined) fail(`${path}.column`, `${op} needs a column`, `e.g. {"op": "${op}", "column": "duration_ms"}`);
  const column = columns.column(input.column, `${path}.column`);
  if (NUMERIC_CALC_OPS.has(op) && !isNumeric(column.type)) {
    fail(
      opPath,
      `${op} needs a numeric column, and ${JSON.stringify(shortName(column.name))} is ${column.type}`,
      op === 'SUM' || op === 'AVG' ? 'use COUNT_DISTINCT, or a breakdown, on string columns' : 'pick an integer or float column',
    );
  }
  if ((op === 'MIN' || op === 'MAX') && column.type === 'boolean') {
    fail(
      opPath,
      `${op} needs a numeric or string column, and ${JSON.stringify(shortName(column.name))} is boolean`,
      'use RATE for booleans',
    );
  }
  return { op, column: column.name };
}

function validateCalculation(input: unknown, path: string, columns: SchemaIndex): Calculation {
  if (!isRecord(input)) fail(path, `expected an object, got ${describe(input)}`);
  checkKeys(input, CALC_KEYS, path);
  const op = validateCalcOp(input.op, `${path}.op`);
  return validateCalcRef(op, input, path, `${path}.op`, columns);
}

function findCalculation(ref: Calculation, calculations: Calculation[], path: string): void {
  const name = calculationName(ref);
  if (!calculations.some((c) => calculationName(c) === name)) {
    fail(
      path,
      `${shortName(name)} is not one of the query's calculations`,
      `add it to "calculations" first (they are: ${calculations.map(calculationName).join(', ')})`,
    );
  }
}

/** Resolves absolute start and end (unix seconds) from any two of start_time, end_time and time_range, like Honeycomb. */
export function resolveTimes(spec: Record<string, unknown>, now: number): { start_time: number; end_time: number; time_range: number } {
  const unixSeconds = (field: 'start_time' | 'end_time'): number | undefined => {
    const value = spec[field];
    if (value === undefined) return undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value > MAX_UNIX_SECONDS) {
      fail(
        field,
        `${value} is too far in the future for unix seconds`,
        `${field} is in unix seconds; ${value} looks like milliseconds: use ${Math.floor(value / 1000)}`,
      );
    }
    if (typeof value === 'number' && Number.isInteger(value) && value < 0) {
      fail(field, `${value} is before 1970-01-01T00:00:00Z`, `${field} must lie in the window queries cover: ${QUERY_TIME_WINDOW}`);
    }
    return expectInteger(value, field, 0);
  };
  const start = unixSeconds('start_time');
  const end = unixSeconds('end_time');
  const range = spec.time_range === undefined ? undefined : expectInteger(spec.time_range, 'time_range', 1, MAX_UNIX_SECONDS);
  const nowSeconds = Math.ceil(now / 1000);
  let startTime: number;
  let endTime: number;
  if (start !== undefined && end !== undefined) {
    if (range !== undefined)
      fail(
        'time_range',
        'give at most two of start_time, end_time and time_range',
        'drop time_range when both start_time and end_time are set',
      );
    startTime = start;
    endTime = end;
  } else if (start !== undefined) {
    startTime = start;
    endTime = range !== undefined ? start + range : nowSeconds;
  } else if (end !== undefined) {
    endTime = end;
    startTime = end - (range ?? DEFAULT_TIME_RANGE);
  } else {
    endTime = nowSeconds;
    startTime = nowSeconds - (range ?? DEFAULT_TIME_RANGE);
  }
  if (startTime < 0 || endTime > MAX_UNIX_SECONDS) {
    const field = range !== undefined ? 'time_range' : startTime < 0 ? 'end_time' : 'start_time';
    fail(
      field,
      `the time range ${startTime}..${endTime} reaches ${startTime < 0 ? 'before 1970-01-01T00:00:00Z' : 'past the year 5138'}`,
      `a query's time range must lie in ${QUERY_TIME_WINDOW}: give a shorter time_range or a later start_time`,
    );
  }
  if (endTime <= startTime) {
    fail(
      end !== undefined ? 'end_time' : 'start_time',
      `the time range is empty: end_time ${endTime} is not after start_time ${startTime}`,
      'make end_time later than start_time',
    );
  }
  return { start_time: startTime, end_time: endTime, time_range: endTime - startTime };
}

/**
 * Validates a raw query spec (parsed JSON) against a dataset's schema and fills in
 * the defaults: COUNT when there are no calculations, AND, limit 1000, the last
 * 7200 s ending now, and orders by the first calculation descending.
 *
 * @param input the spec as parsed from JSON; anything else is rejected
 * @param schema the dataset's columns and whether it holds sampled events
 * @param now the current time in unix milliseconds (the default end of the range)
 * @throws FlagscopeError `invalid_input` naming the bad field, e.g. `calculations[1].column: unknown column "durration_ms"`
 */
export function validateQuery(input: unknown, schema: DatasetSchema, now: number): NormalizedQuery {
  if (!isRecord(input))
    fail(
      '',
      `the query spec must be a JSON object, got ${describe(input)}`,
      'e.g. {"calculations": [{"op": "COUNT"}], "time_range": 3600}',
    );
  checkKeys(input, SPEC_KEYS, '');
  const columns = new SchemaIndex(schema);
  // Fields are checked in this order, so the first error reported is always the same one.
  const calculations = validateCalculations(input.calculations, columns);
  const filters = validateFilters(input.filters, 'filters', columns);
  const filterCombination = expectCombination(input.filter_combination, 'filter_combination');
  const breakdowns = validateBreakdowns(input.breakdowns, columns);
  const orders = validateOrders(input.orders, columns, calculations, breakdowns);
  const havings =
    input.havings === undefined
      ? []
      : expectArray(input.havings, 'havings').map((h, i) => validateHaving(h, `havings[${i}]`, columns, calculations));
  const limit = input.limit === undefined ? DEFAULT_LIMIT : expectInteger(input.limit, 'limit', 1, MAX_LIMIT);
  const times = resolveTimes(input, now);
  const normalized: NormalizedQuery = {
    calculations,
    filters,
    filter_combination: filterCombination,
    breakdowns,
    orders,
    havings,
    limit,
    time_range: times.time_range,
    start_time: times.start_time,
    end_time: times.end_time,
  };
  if (input.granularity !== undefined) normalized.granularity = validateGranularity(input.granularity, times.time_range);
  return normalized;
}

/** The calculations without duplicates (by name), in spec order; COUNT when there are none. */
function validateCalculations(value: unknown, columns: SchemaIndex): Calculation[] {
  const calculations: Calculation[] = [];
  const seen = new Set<string>();
  if (value !== undefined) {
    expectArray(value, 'calculations').forEach((c, i) => {
      const calc = validateCalculation(c, `calculations[${i}]`, columns);
      const name = calculationName(calc);
      if (!seen.has(name)) {
        seen.add(name);
        calculations.push(calc);
      }
    });
  }
  if (calculations.length === 0) calculations.push({ op: 'COUNT' });
  return calculations;
}

/** Breakdown columns by their stored names, without duplicates. */
function validateBreakdowns(value: unknown, columns: SchemaIndex): string[] {
  const breakdowns: string[] = [];
  if (value !== undefined) {
    expectArray(value, 'breakdowns').forEach((b, i) => {
      const column = columns.column(b, `breakdowns[${i}]`);
      if (!breakdowns.includes(column.name)) breakdowns.push(column.name);
    });
  }
  return breakdowns;
}

/** The orders; without any, the first calculation descending (not a HEATMAP), else the breakdowns ascending. */
function validateOrders(value: unknown, columns: SchemaIndex, calculations: Calculation[], breakdowns: string[]): Order[] {
  const orders =
    value === undefined
      ? []
      : expectArray(value, 'orders').map((o, i) => validateOrder(o, `orders[${i}]`, columns, calculations, breakdowns));
  if (orders.length === 0) {
    const first = calculations.find((c) => c.op !== 'HEATMAP');
    if (first) orders.push({ ...first, order: 'descending' });
    else for (const b of breakdowns) orders.push({ column: b, order: 'ascending' });
  }
  return orders;
}

/** One order: by a breakdown column (ascending by default) or by one of the calculations (descending by default). */
function validateOrder(o: unknown, path: string, columns: SchemaIndex, calculations: Calculation[], breakdowns: string[]): Order {
  if (!isRecord(o)) fail(path, `expected an object, got ${describe(o)}`);
  checkKeys(o, ORDER_KEYS, path);
  let direction: 'ascending' | 'descending' | undefined;
  if (o.order !== undefined) {
    if (o.order !== 'ascending' && o.order !== 'descending')
      fail(`${path}.order`, `expected "ascending" or "descending", got ${describe(o.order)}`);
    direction = o.order;
  }
  if (o.op === undefined) {
    if (o.column === undefined)
      fail(path, 'an order needs a breakdown column or a calculation op', 'e.g. {"op": "COUNT", "order": "descending"}');
    const column = columns.column(o.column, `${path}.column`);
    if (!breakdowns.includes(column.name)) {
      fail(
        `${path}.column`,
        `${JSON.stringify(shortName(column.name))} is not a breakdown`,
        'order by a breakdown column, or by a calculation with "op"',
      );
    }
    return { column: column.name, order: direction ?? 'ascending' };
  }
  const op = validateCalcOp(o.op, `${path}.op`);
  if (op === 'HEATMAP') fail(`${path}.op`, 'results cannot be ordered by a HEATMAP', 'order by another calculation');
  const ref = validateCalcRef(op, o, path, `${path}.op`, columns);
  findCalculation(ref, calculations, path);
  return { ...ref, order: direction ?? 'descending' };
}

/** One having: a comparison of one of the calculations (not a HEATMAP) with a number. */
function validateHaving(h: unknown, path: string, columns: SchemaIndex, calculations: Calculation[]): Having {
  if (!isRecord(h)) fail(path, `expected an object, got ${describe(h)}`);
  checkKeys(h, HAVING_KEYS, path);
  const calcOp = validateCalcOp(h.calculate_op, `${path}.calculate_op`);
  if (calcOp === 'HEATMAP') fail(`${path}.calculate_op`, 'a having cannot test a HEATMAP', 'use another calculation');
  const ref = validateCalcRef(calcOp, h, path, `${path}.calculate_op`, columns);
  findCalculation(ref, calculations, path);
  if (typeof h.op !== 'string' || !(HAVING_OPS as readonly string[]).includes(h.op)) {
    fail(`${path}.op`, `unknown having op ${describe(h.op)}`, `having ops: ${HAVING_OPS.join(' ')}`);
  }
  if (typeof h.value !== 'number' || !Number.isFinite(h.value)) fail(`${path}.value`, `expected a number, got ${describe(h.value)}`);
  const having: Having = { calculate_op: calcOp, op: h.op as Having['op'], value: h.value };
  if (ref.column !== undefined) having.column = ref.column;
  if (ref.filters !== undefined) {
    having.filters = ref.filters;
    having.filter_combination = ref.filter_combination ?? 'AND';
  }
  return having;
}

/** Seconds per time bucket, refused when the range would need more than {@link MAX_TIME_BUCKETS} buckets. */
function validateGranularity(value: unknown, timeRange: number): number {
  const granularity = expectInteger(value, 'granularity', 1, MAX_GRANULARITY_S);
  const buckets = Math.ceil(timeRange / granularity);
  if (buckets > MAX_TIME_BUCKETS) {
    const smallest = Math.ceil(timeRange / MAX_TIME_BUCKETS);
    fail(
      'granularity',
      `${granularity} s is too fine for a ${timeRange} s range (${buckets} buckets, at most ${MAX_TIME_BUCKETS})`,
      `use a granularity of at least ${smallest} s, or a shorter time range`,
    );
  }
  return granularity;
}
