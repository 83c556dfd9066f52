import { describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../src/errors.js';
import { compileQuery } from '../../src/query/compile.js';
import type { QuerySpec } from '../../src/query/spec.js';
import { validateQuery } from '../../src/query/validate.js';
import type { DatasetSchema } from '../../src/query/schema.js';

const NOW = 1_767_225_600_500; // 2026-01-01T00:00:00.500Z
const NOW_S = 1_767_225_601; // rounded up
const LONG = 'x'.repeat(10_000);

const schema: DatasetSchema = {
  dataset: 'events',
  hasSampling: false,
  columns: [
    { name: 'service.name', type: 'string' },
    { name: 'duration_ms', type: 'float' },
    { name: 'status_code', type: 'integer' },
    { name: 'ok', type: 'boolean' },
    { name: 'user.id', type: 'string' },
    { name: 'a"b', type: 'string' },
    { name: 'x; DROP TABLE t', type: 'integer' },
    { name: 'é 名前', type: 'string' },
    { name: '', type: 'string' },
    { name: LONG, type: 'float' },
  ],
};

function errorOf(spec: unknown): FlagscopeError {
  try {
    validateQuery(spec, schema, NOW);
  } catch (e) {
    if (e instanceof FlagscopeError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(spec)} to be rejected`);
}

describe('validateQuery defaults', () => {
  it('fills in COUNT, AND, limit, the last 7200 s and the default order', () => {
    expect(validateQuery({}, schema, NOW)).toEqual({
      calculations: [{ op: 'COUNT' }],
      filters: [],
      filter_combination: 'AND',
      breakdowns: [],
      orders: [{ op: 'COUNT', order: 'descending' }],
      havings: [],
      limit: 1000,
      time_range: 7200,
      start_time: NOW_S - 7200,
      end_time: NOW_S,
    });
  });

  it.each<[string, QuerySpec, { start_time: number; end_time: number; time_range: number }]>([
    ['time_range alone ends now', { time_range: 600 }, { start_time: NOW_S - 600, end_time: NOW_S, time_range: 600 }],
    ['start and end', { start_time: 1000, end_time: 4000 }, { start_time: 1000, end_time: 4000, time_range: 3000 }],
    ['start and range', { start_time: 1000, time_range: 60 }, { start_time: 1000, end_time: 1060, time_range: 60 }],
    ['end and range', { end_time: 5000, time_range: 60 }, { start_time: 4940, end_time: 5000, time_range: 60 }],
    ['end alone takes the default range', { end_time: 10_000 }, { start_time: 2800, end_time: 10_000, time_range: 7200 }],
    ['start alone ends now', { start_time: NOW_S - 30 }, { start_time: NOW_S - 30, end_time: NOW_S, time_range: 30 }],
  ])('resolves times: %s', (_, spec, expected) => {
    expect(validateQuery(spec, schema, NOW)).toMatchObject(expected);
  });

  it('refuses a time_range no timestamp can hold, as invalid input', () => {
    for (const time_range of [Number.MAX_SAFE_INTEGER, 100_000_000_000]) {
      const error = errorOf({ time_range });
      expect(error.code).toBe('invalid_input');
      expect(error.message).toContain('time_range');
    }
    expect(validateQuery({ time_range: 99_999_999_999, start_time: 0 }, schema, NOW).time_range).toBe(99_999_999_999);
  });

  it('refuses a time range reaching outside 1970..5138, with the window in the hint', () => {
    const nowSeconds = Math.ceil(NOW / 1000);
    for (const spec of [
      { time_range: 99_999_999_999 },
      { time_range: nowSeconds + 1 },
      { end_time: 100 },
      { end_time: 5000, time_range: 5001 },
      { start_time: 99_999_999_000, time_range: 1000 },
      { start_time: -1 },
      { end_time: -5, time_range: 1 },
    ]) {
      const error = errorOf(spec);
      expect(error.code, JSON.stringify(spec)).toBe('invalid_input');
      expect(error.hint, JSON.stringify(spec)).toMatch(/0 \(1970-01-01T00:00:00Z\) to 99999999999 \(5138-11-16T09:46:39Z\)/);
    }
    expect(validateQuery({ time_range: nowSeconds }, schema, NOW).start_time).toBe(0);
    expect(validateQuery({ start_time: 99_999_998_999, time_range: 1000 }, schema, NOW).end_time).toBe(99_999_999_999);
  });

  it('keeps a valid full spec and coerces filter values to column types', () => {
    const q = validateQuery(
      {
        calculations: [{ op: 'P99', column: 'duration_ms' }, { op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }],
        filters: [
          { column: 'status_code', op: '>=', value: '500' },
          { column: 'ok', op: '=', value: 'TRUE' },
          { column: 'service.name', op: 'in', value: ['api', 42, true, null] },
          { column: 'user.id', op: 'exists' },
        ],
        filter_combination: 'OR',
        breakdowns: ['service.name', 'service.name'],
        orders: [{ column: 'service.name' }, { op: 'COUNT', order: 'ascending' }],
        havings: [{ calculate_op: 'P99', column: 'duration_ms', op: '>', value: 250 }],
        limit: 10_000,
        granularity: 60,
        time_range: 3600,
      },
      schema,
      NOW,
    );
    expect(q.calculations).toEqual([{ op: 'P99', column: 'duration_ms' }, { op: 'COUNT' }]);
    expect(q.filters).toEqual([
      { column: 'status_code', op: '>=', value: 500 },
      { column: 'ok', op: '=', value: true },
      { column: 'service.name', op: 'in', value: ['api', '42', 'true', null] },
      { column: 'user.id', op: 'exists' },
    ]);
    expect(q.breakdowns).toEqual(['service.name']);
    expect(q.orders).toEqual([
      { column: 'service.name', order: 'ascending' },
      { op: 'COUNT', order: 'ascending' },
    ]);
    expect(q.havings).toEqual([{ calculate_op: 'P99', column: 'duration_ms', op: '>', value: 250 }]);
    expect(q.granularity).toBe(60);
  });

  it('orders by breakdowns when every calculation is a HEATMAP', () => {
    const q = validateQuery({ calculations: [{ op: 'HEATMAP', column: 'duration_ms' }], breakdowns: ['service.name'] }, schema, NOW);
    expect(q.orders).toEqual([{ column: 'service.name', order: 'ascending' }]);
  });

  it('accepts RATE with its filters, and orders and havings that name it', () => {
    const filters = [{ column: 'status_code', op: '>=', value: 500 }];
    const q = validateQuery(
      {
        calculations: [{ op: 'RATE', filters }],
        orders: [{ op: 'RATE', filters }],
        havings: [{ calculate_op: 'RATE', filters, op: '>', value: 0.01 }],
      },
      schema,
      NOW,
    );
    expect(q.calculations).toEqual([{ op: 'RATE', filters, filter_combination: 'AND' }]);
    expect(q.orders).toEqual([{ op: 'RATE', filters, filter_combination: 'AND', order: 'descending' }]);
  });
});

describe('INCOMPLETE', () => {
  const beacons: DatasetSchema = { ...schema, dataset: 'web', columns: [...schema.columns, { name: 'meta.incomplete', type: 'boolean' }] };

  it('is a calculation without column or filters, and orders and havings name it', () => {
    const q = validateQuery(
      {
        calculations: [{ op: 'COUNT' }, { op: 'INCOMPLETE' }, { op: 'INCOMPLETE' }],
        breakdowns: ['service.name'],
        orders: [{ op: 'INCOMPLETE' }],
        havings: [{ calculate_op: 'INCOMPLETE', op: '>=', value: 0.1 }],
        granularity: 60,
      },
      beacons,
      NOW,
    );
    expect(q.calculations).toEqual([{ op: 'COUNT' }, { op: 'INCOMPLETE' }]);
    expect(q.orders).toEqual([{ op: 'INCOMPLETE', order: 'descending' }]);
    expect(q.havings).toEqual([{ calculate_op: 'INCOMPLETE', op: '>=', value: 0.1 }]);
    const compiled = compileQuery(q, beacons, { table: 'web' });
    expect(compiled.calculations).toEqual(['COUNT', 'INCOMPLETE']);
    expect(compiled.sql).toContain('"meta.incomplete"');
  });

  it('says what is missing, why and what to do on a dataset without stitched beacons', () => {
    const error = errorOf({ calculations: [{ op: 'COUNT' }, { op: 'INCOMPLETE' }] });
    expect(error.code).toBe('invalid_input');
    expect(error.message).toBe(
      'calculations[1].op: dataset "events" has no meta.incomplete column, so it has no incomplete executions to count',
    );
    expect(error.hint).toContain('whose end never arrived');
    expect(error.hint).toContain('POST /1/beacons/events');
    expect(error.hint).toContain('send beacons to this dataset, or query one that receives them');
    expect(error.details).toEqual({ field: 'calculations[1].op', column: 'meta.incomplete' });
    expect(() => validateQuery({ orders: [{ op: 'INCOMPLETE' }] }, schema, NOW)).toThrow(
      /orders\[0\]\.op: dataset "events" has no meta\.incomplete/,
    );
  });

  it('refuses a column, filters, a meta.incomplete of another type, and an order or having on it when it is not calculated', () => {
    const numeric: DatasetSchema = { ...schema, columns: [...schema.columns, { name: 'meta.incomplete', type: 'integer' }] };
    const cases: [unknown, DatasetSchema, string][] = [
      [{ calculations: [{ op: 'INCOMPLETE', column: 'ok' }] }, beacons, 'calculations[0].column: INCOMPLETE takes no column'],
      [
        { calculations: [{ op: 'INCOMPLETE', filters: [{ column: 'ok', op: '=', value: true }] }] },
        beacons,
        'calculations[0].filters: only RATE takes filters',
      ],
      [
        { calculations: [{ op: 'INCOMPLETE' }] },
        numeric,
        'calculations[0].op: INCOMPLETE needs meta.incomplete to be a boolean column, and in dataset "events" it is integer',
      ],
      [{ orders: [{ op: 'INCOMPLETE' }] }, beacons, "orders[0]: INCOMPLETE is not one of the query's calculations"],
      [
        { havings: [{ calculate_op: 'INCOMPLETE', op: '>', value: 0 }] },
        beacons,
        "havings[0]: INCOMPLETE is not one of the query's calculations",
      ],
    ];
    for (const [spec, on, message] of cases) {
      let error: unknown;
      try {
        validateQuery(spec, on, NOW);
      } catch (e) {
        error = e;
      }
      expect(error, message).toBeInstanceOf(FlagscopeError);
      expect((error as FlagscopeError).message).toBe(message);
    }
  });
});

describe('validateQuery rejections', () => {
  it.each<[string, unknown, string, string?]>([
    ['not an object', [], 'the query spec must be a JSON object, got an array'],
    ['unknown top-level key', { calculation: [] }, 'calculation: unknown field', 'did you mean "calculations"?'],
    [
      'unknown calculation key',
      { calculations: [{ op: 'COUNT', colum: 'x' }] },
      'calculations[0].colum: unknown field',
      'did you mean "column"?',
    ],
    [
      'unknown calc op',
      { calculations: [{ op: 'COUNT' }, { op: 'P98', column: 'duration_ms' }] },
      'calculations[1].op: unknown calculation op "P98"',
    ],
    [
      'lower-case calc op',
      { calculations: [{ op: 'p99', column: 'duration_ms' }] },
      'calculations[0].op: unknown calculation op "p99"',
      'did you mean "P99"?',
    ],
    ['missing calc op', { calculations: [{ column: 'duration_ms' }] }, 'calculations[0].op: missing op'],
    [
      'unknown column',
      { calculations: [{ op: 'COUNT' }, { op: 'P99', column: 'durration_ms' }] },
      'calculations[1].column: unknown column "durration_ms"',
      'did you mean "duration_ms"?',
    ],
    ['missing column', { calculations: [{ op: 'AVG' }] }, 'calculations[0].column: AVG needs a column'],
    [
      'SUM of a string',
      { calculations: [{ op: 'SUM', column: 'service.name' }] },
      'calculations[0].op: SUM needs a numeric column, and "service.name" is string',
    ],
    [
      'percentile of a boolean',
      { calculations: [{ op: 'P50', column: 'ok' }] },
      'calculations[0].op: P50 needs a numeric column, and "ok" is boolean',
    ],
    ['HEATMAP of a string', { calculations: [{ op: 'HEATMAP', column: 'user.id' }] }, 'calculations[0].op: HEATMAP needs a numeric column'],
    ['COUNT with a column', { calculations: [{ op: 'COUNT', column: 'duration_ms' }] }, 'calculations[0].column: COUNT takes no column'],
    ['RATE without filters', { calculations: [{ op: 'RATE' }] }, 'calculations[0].filters: RATE needs at least one filter'],
    [
      'RATE with a bad filter',
      { calculations: [{ op: 'RATE', filters: [{ column: 'status', op: '>', value: 1 }] }] },
      'calculations[0].filters[0].column: unknown column "status"',
    ],
    [
      'filters on a non-RATE',
      { calculations: [{ op: 'AVG', column: 'duration_ms', filters: [] }] },
      'calculations[0].filters: only RATE takes filters',
    ],
    ['calculations not an array', { calculations: { op: 'COUNT' } }, 'calculations: expected an array, got an object'],
    ['unknown filter op', { filters: [{ column: 'status_code', op: '=>', value: 1 }] }, 'filters[0].op: unknown filter op "=>"'],
    [
      'filter op near miss',
      { filters: [{ column: 'service.name', op: 'startswith', value: 'a' }] },
      'filters[0].op: unknown filter op "startswith"',
      'did you mean "starts-with"?',
    ],
    [
      'unknown filter column',
      { filters: [{ column: 'statuscode', op: '=', value: 1 }] },
      'filters[0].column: unknown column "statuscode"',
      'did you mean "status_code"?',
    ],
    ['filter without column', { filters: [{ op: '=', value: 1 }] }, 'filters[0].column: missing column'],
    [
      'non-numeric string on a numeric column',
      { filters: [{ column: 'status_code', op: '=', value: 'abc' }] },
      'filters[0].value: wrong type: column "status_code" is an integer column, got the string "abc"',
    ],
    [
      'boolean on a numeric column',
      { filters: [{ column: 'duration_ms', op: '>', value: true }] },
      'filters[0].value: wrong type: column "duration_ms" is a float column, got boolean true',
    ],
    [
      'number on a boolean column',
      { filters: [{ column: 'ok', op: '=', value: 1 }] },
      'filters[0].value: wrong type: column "ok" is a boolean column, got number 1',
    ],
    [
      'ordering a boolean',
      { filters: [{ column: 'ok', op: '>', value: true }] },
      'filters[0].op: ">" cannot compare the boolean column "ok"',
    ],
    [
      'contains on a number',
      { filters: [{ column: 'status_code', op: 'contains', value: '5' }] },
      'filters[0].op: "contains" needs a string column, and "status_code" is integer',
    ],
    ['exists with a value', { filters: [{ column: 'ok', op: 'exists', value: true }] }, 'filters[0].value: "exists" takes no value'],
    ['= without a value', { filters: [{ column: 'ok', op: '=' }] }, 'filters[0].value: missing value for "="'],
    [
      'in with an empty array',
      { filters: [{ column: 'status_code', op: 'in', value: [] }] },
      'filters[0].value: "in" takes a non-empty array of values',
    ],
    [
      'in with a scalar',
      { filters: [{ column: 'status_code', op: 'not-in', value: 5 }] },
      'filters[0].value: "not-in" takes a non-empty array of values, got number 5',
    ],
    ['in with a bad element', { filters: [{ column: 'status_code', op: 'in', value: [200, 'x'] }] }, 'filters[0].value[1]: wrong type'],
    [
      'array for =',
      { filters: [{ column: 'status_code', op: '=', value: [1] }] },
      'filters[0].value: "=" takes a single value, got an array',
    ],
    ['> null', { filters: [{ column: 'status_code', op: '>', value: null }] }, 'filters[0].value: ">" needs a value, got null'],
    [
      'object value',
      { filters: [{ column: 'service.name', op: '=', value: { a: 1 } }] },
      'filters[0].value: expected a string, number, boolean or null, got an object',
    ],
    ['bad filter_combination', { filter_combination: 'and' }, 'filter_combination: expected "AND" or "OR", got the string "and"'],
    ['unknown breakdown', { breakdowns: ['service'] }, 'breakdowns[0]: unknown column "service"', 'did you mean "service.name"?'],
    ['breakdown not a string', { breakdowns: [1] }, 'breakdowns[0]: expected a column name, got number 1'],
    ['order by a non-breakdown column', { orders: [{ column: 'status_code' }] }, 'orders[0].column: "status_code" is not a breakdown'],
    [
      'order by a calculation not in the query',
      { orders: [{ op: 'AVG', column: 'duration_ms' }] },
      "orders[0]: AVG(duration_ms) is not one of the query's calculations",
    ],
    [
      'order by a heatmap',
      { calculations: [{ op: 'HEATMAP', column: 'duration_ms' }], orders: [{ op: 'HEATMAP', column: 'duration_ms' }] },
      'orders[0].op: results cannot be ordered by a HEATMAP',
    ],
    [
      'bad order direction',
      { orders: [{ op: 'COUNT', order: 'desc' }] },
      'orders[0].order: expected "ascending" or "descending", got the string "desc"',
    ],
    ['empty order', { orders: [{}] }, 'orders[0]: an order needs a breakdown column or a calculation op'],
    [
      'having on a missing calculation',
      { havings: [{ calculate_op: 'P99', column: 'duration_ms', op: '>', value: 1 }] },
      "havings[0]: P99(duration_ms) is not one of the query's calculations",
    ],
    [
      'having with a bad op',
      { havings: [{ calculate_op: 'COUNT', op: 'in', value: 1 }] },
      'havings[0].op: unknown having op the string "in"',
    ],
    [
      'having with a string value',
      { havings: [{ calculate_op: 'COUNT', op: '>', value: '5' }] },
      'havings[0].value: expected a number, got the string "5"',
    ],
    ['limit zero', { limit: 0 }, 'limit: must be between 1 and 10000, got 0'],
    ['limit too big', { limit: 10_001 }, 'limit: must be between 1 and 10000, got 10001'],
    ['limit fractional', { limit: 2.5 }, 'limit: expected an integer, got number 2.5'],
    ['limit as a string', { limit: '10' }, 'limit: expected an integer, got the string "10"'],
    [
      'all three times',
      { start_time: 1, end_time: 100, time_range: 99 },
      'time_range: give at most two of start_time, end_time and time_range',
    ],
    [
      'milliseconds for seconds',
      { start_time: 1_767_225_600_000, end_time: 1_767_225_700 },
      'start_time: 1767225600000 is too far in the future for unix seconds',
      'looks like milliseconds: use 1767225600',
    ],
    ['end before start', { start_time: 100, end_time: 50 }, 'end_time: the time range is empty: end_time 50 is not after start_time 100'],
    ['negative time_range', { time_range: -5 }, 'time_range: must be between 1 and'],
    [
      'granularity too fine',
      { time_range: 86_400, granularity: 60 },
      'granularity: 60 s is too fine for a 86400 s range (1440 buckets, at most 1000)',
      'use a granularity of at least 87 s',
    ],
    ['granularity zero', { granularity: 0 }, 'granularity: must be between 1 and'],
    // A bucket wider than ten years would overflow the bucket arithmetic in SQL (a 500 before).
    ['granularity past ten years', { granularity: 9_007_199_254_740_991 }, 'granularity: must be between 1 and 315576000'],
    [
      'too many calculations',
      { calculations: Array.from({ length: 101 }, () => ({ op: 'COUNT' })) },
      'calculations: too many items (101, at most 100)',
    ],
  ])('%s', (_, spec, message, hint) => {
    const error = errorOf(spec);
    expect(error.code).toBe('invalid_input');
    expect(error.httpStatus).toBe(400);
    expect(error.message).toContain(message);
    expect(error.message).not.toMatch(/\.$/);
    expect(error.hint).toBeTruthy();
    if (hint !== undefined) expect(error.hint).toContain(hint);
    const field = message.startsWith('the query spec') ? '' : message.split(':')[0];
    expect((error.details as { field: string }).field).toBe(field);
  });

  it('shortens a 10 kB unknown column name in the message and skips the suggestion', () => {
    const error = errorOf({ breakdowns: ['y'.repeat(10_000)] });
    expect(error.message.length).toBeLessThan(200);
    expect(error.hint).not.toContain('did you mean');
  });
});

describe('hostile column names and values compile to quoted identifiers and bound parameters', () => {
  const hostileColumns = ['a"b', 'x; DROP TABLE t', 'é 名前', '', LONG];
  const hostileValues = ["'; DROP TABLE t; --", '%', '_', '\\', 'it\'s "quoted"'];

  it.each(hostileColumns.map((c) => [c.length > 20 ? `${c.slice(0, 10)}… (${c.length} chars)` : JSON.stringify(c), c]))(
    'column %s',
    (_, column) => {
      const type = schema.columns.find((c) => c.name === column)?.type;
      const calculations =
        type === 'string'
          ? [{ op: 'COUNT_DISTINCT', column }]
          : [
              { op: 'P99', column },
              { op: 'HEATMAP', column },
            ];
      for (const hasSampling of [false, true]) {
        const s = { ...schema, hasSampling };
        const q = validateQuery({ calculations, breakdowns: [column], filters: [{ column, op: 'exists' }], granularity: 60 }, s, NOW);
        const { sql, params } = compileQuery(q, s, { table: 'my "table"' });
        const quoted = `"${column.replace(/"/g, '""')}"`;
        expect(sql).toContain(quoted);
        expect(sql).toContain('FROM "my ""table"""');
        // Outside the quoted identifiers nothing of the column name is left.
        const bare = sql.replace(/"(?:[^"]|"")*"/g, '');
        if (column.length > 0) expect(bare).not.toContain(column);
        expect(params.every((p) => typeof p !== 'string' || p !== column)).toBe(true);
      }
    },
  );

  it.each(hostileValues)('value %j', (value) => {
    const q = validateQuery(
      {
        calculations: [{ op: 'RATE', filters: [{ column: 'a"b', op: 'contains', value }] }],
        filters: [
          { column: 'service.name', op: '=', value },
          { column: 'é 名前', op: 'starts-with', value },
          { column: 'user.id', op: 'not-in', value: [value, 'z'] },
        ],
      },
      schema,
      NOW,
    );
    const { sql, params } = compileQuery(q, schema, { table: 'events' });
    const bare = sql.replace(/"(?:[^"]|"")*"/g, '');
    if (value.length > 1) expect(bare).not.toContain(value);
    expect(bare).not.toContain("'; DROP");
    expect(bare).not.toMatch(/LIKE/i);
    expect(params.filter((p) => p === value)).toHaveLength(4);
  });
});
