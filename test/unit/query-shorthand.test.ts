import { describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../src/errors.js';
import { calculationName, formatFilter, formatFilters } from '../../src/query/format.js';
import { mergeWhere, parseCalculation, parseDuration, parseHaving, parseOrder, parseTime, parseWhere } from '../../src/query/shorthand.js';
import type { Calculation, Filter } from '../../src/query/spec.js';

function usageError(fn: () => unknown): FlagscopeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FlagscopeError) return e;
    throw e;
  }
  throw new Error('expected a usage error');
}

describe('parseWhere', () => {
  it.each<[string, Filter[], 'AND' | 'OR']>([
    ['status_code >= 500', [{ column: 'status_code', op: '>=', value: 500 }], 'AND'],
    ['status_code>=500', [{ column: 'status_code', op: '>=', value: 500 }], 'AND'],
    [
      'status_code >= 500 AND service.name = "api"',
      [
        { column: 'status_code', op: '>=', value: 500 },
        { column: 'service.name', op: '=', value: 'api' },
      ],
      'AND',
    ],
    [
      'a = 1 or b = 2 OR c = 3',
      [
        { column: 'a', op: '=', value: 1 },
        { column: 'b', op: '=', value: 2 },
        { column: 'c', op: '=', value: 3 },
      ],
      'OR',
    ],
    ['service.name = api', [{ column: 'service.name', op: '=', value: 'api' }], 'AND'],
    ["name != 'it\\'s'", [{ column: 'name', op: '!=', value: "it's" }], 'AND'],
    ['x == -1.5e3', [{ column: 'x', op: '=', value: -1500 }], 'AND'],
    [
      'x < 0.25 AND y <= 7 AND z > -2',
      [
        { column: 'x', op: '<', value: 0.25 },
        { column: 'y', op: '<=', value: 7 },
        { column: 'z', op: '>', value: -2 },
      ],
      'AND',
    ],
    [
      'ok = true AND done = false AND gone = null',
      [
        { column: 'ok', op: '=', value: true },
        { column: 'done', op: '=', value: false },
        { column: 'gone', op: '=', value: null },
      ],
      'AND',
    ],
    ['code = "500"', [{ column: 'code', op: '=', value: '500' }], 'AND'],
    ['path starts-with /api/v1', [{ column: 'path', op: 'starts-with', value: '/api/v1' }], 'AND'],
    ['path does-not-start-with "/internal"', [{ column: 'path', op: 'does-not-start-with', value: '/internal' }], 'AND'],
    ['msg contains "100%_done\\\\"', [{ column: 'msg', op: 'contains', value: '100%_done\\' }], 'AND'],
    ['msg DOES-NOT-CONTAIN timeout', [{ column: 'msg', op: 'does-not-contain', value: 'timeout' }], 'AND'],
    ['error exists', [{ column: 'error', op: 'exists' }], 'AND'],
    [
      'error does-not-exist AND a exists',
      [
        { column: 'error', op: 'does-not-exist' },
        { column: 'a', op: 'exists' },
      ],
      'AND',
    ],
    ['region in (eu, "us east", 3, null)', [{ column: 'region', op: 'in', value: ['eu', 'us east', 3, null] }], 'AND'],
    ['region not-in ("a,b")', [{ column: 'region', op: 'not-in', value: ['a,b'] }], 'AND'],
    ['`a"b` = "x"', [{ column: 'a"b', op: '=', value: 'x' }], 'AND'],
    ['`x; DROP TABLE t` = "\'; DROP TABLE t; --"', [{ column: 'x; DROP TABLE t', op: '=', value: "'; DROP TABLE t; --" }], 'AND'],
    ['`é 名前` = 名前', [{ column: 'é 名前', op: '=', value: '名前' }], 'AND'],
    ['`a\\`b` exists', [{ column: 'a`b', op: 'exists' }], 'AND'],
    ['`` exists', [{ column: '', op: 'exists' }], 'AND'],
    ['k8s.pod/name:x-y = "\\u00e9\\n"', [{ column: 'k8s.pod/name:x-y', op: '=', value: 'é\n' }], 'AND'],
  ])('%s', (text, filters, combination) => {
    expect(parseWhere(text)).toEqual({ filters, filter_combination: combination });
  });

  it.each<[string, string, string?]>([
    ['', 'the expression is empty'],
    ['status_code', 'expected an operator after status_code'],
    ['status_code => 5', 'expected a value at position 14, found ">"', 'quote values'],
    ['status_code equals 5', 'unknown operator "equals" after status_code'],
    ['name startswith a', 'unknown operator "startswith"', 'did you mean "starts-with"?'],
    ['region not in (a)', 'unknown operator "not"', 'not-in'],
    ['a = 1 AND b = 2 OR c = 3', 'AND and OR cannot be mixed in one expression', 'use one --where per AND-ed condition'],
    ['a = 1 b = 2', 'expected AND or OR at position 7'],
    ['a = "open', 'unterminated " quote starting at position 5'],
    ['`open = 1', 'unterminated ` quote'],
    ['a in 1, 2', 'expected "(" to open a list of values'],
    ['a in (1, 2', 'unclosed list of values'],
    ['a in (1 2)', 'expected "," or ")"'],
    ['= 5', 'expected a column name at position 1'],
    ['a = ', 'expected a value at the end'],
    ['a = "\\uZZ"', 'bad \\u escape'],
  ])('rejects %j', (text, message, hint) => {
    const error = usageError(() => parseWhere(text));
    expect(error.code).toBe('usage');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(message);
    expect(error.message).not.toMatch(/\.$/);
    expect(error.hint).toBeTruthy();
    if (hint) expect(error.hint).toContain(hint);
  });
});

describe('formatFilter round-trips through parseWhere', () => {
  const filters: Filter[] = [
    { column: 'status_code', op: '>=', value: 500 },
    { column: 'service.name', op: '=', value: 'api' },
    { column: 'code', op: '=', value: '500' },
    { column: 'flag', op: '!=', value: 'true' },
    { column: 'ok', op: '=', value: false },
    { column: 'gone', op: '=', value: null },
    { column: 'x', op: '<', value: -0.001 },
    { column: 'big', op: '>', value: 1e21 },
    { column: 'a"b', op: 'contains', value: "'; DROP TABLE t; --" },
    { column: 'x; DROP TABLE t', op: 'starts-with', value: '%_\\' },
    { column: 'é 名前', op: 'does-not-contain', value: 'line\nbreak\ttab\u0001' },
    { column: '', op: 'exists' },
    { column: 'a`b\\c', op: 'does-not-exist' },
    { column: '-lead', op: 'does-not-start-with', value: '' },
    { column: 'region', op: 'in', value: ['eu', 'us, east', 3, true, null] },
    { column: 'AND', op: 'not-in', value: ['OR'] },
    { column: 'x'.repeat(10_000), op: '=', value: 'y'.repeat(10_000) },
  ];

  it.each(filters.map((f) => [formatFilter(f).slice(0, 60), f] as const))('%s', (_, filter) => {
    expect(parseWhere(formatFilter(filter))).toEqual({ filters: [filter], filter_combination: 'AND' });
  });

  it('round-trips a whole OR expression', () => {
    const some = filters.slice(0, 6);
    expect(parseWhere(formatFilters(some, 'OR'))).toEqual({ filters: some, filter_combination: 'OR' });
  });
});

describe('mergeWhere', () => {
  it('ANDs several expressions', () => {
    expect(mergeWhere([parseWhere('a = 1'), parseWhere('b = 2 AND c exists'), parseWhere('d = 4 OR d = 4')].slice(0, 2))).toEqual({
      filters: [
        { column: 'a', op: '=', value: 1 },
        { column: 'b', op: '=', value: 2 },
        { column: 'c', op: 'exists' },
      ],
      filter_combination: 'AND',
    });
  });

  it('keeps a single OR expression', () => {
    expect(mergeWhere([parseWhere('a = 1 OR b = 2')]).filter_combination).toBe('OR');
  });

  it('refuses to AND an OR expression with others', () => {
    const error = usageError(() => mergeWhere([parseWhere('a = 1 OR b = 2'), parseWhere('c = 3')]));
    expect(error.message).toBe('cannot AND the OR expression "a = 1 OR b = 2" with other --where options');
    expect(error.hint).toContain('only --where');
  });
});

describe('parseCalculation and calculationName', () => {
  it.each<[string, Calculation, string]>([
    ['COUNT', { op: 'COUNT' }, 'COUNT'],
    ['count', { op: 'COUNT' }, 'COUNT'],
    ['COUNT()', { op: 'COUNT' }, 'COUNT'],
    ['P99(duration_ms)', { op: 'P99', column: 'duration_ms' }, 'P99(duration_ms)'],
    ['p999( duration_ms )', { op: 'P999', column: 'duration_ms' }, 'P999(duration_ms)'],
    ['COUNT_DISTINCT(user.id)', { op: 'COUNT_DISTINCT', column: 'user.id' }, 'COUNT_DISTINCT(user.id)'],
    ['avg(`a"b (ms)`)', { op: 'AVG', column: 'a"b (ms)' }, 'AVG(`a"b (ms)`)'],
    ['HEATMAP(duration_ms)', { op: 'HEATMAP', column: 'duration_ms' }, 'HEATMAP(duration_ms)'],
    ['INCOMPLETE', { op: 'INCOMPLETE' }, 'INCOMPLETE'],
    ['incomplete', { op: 'INCOMPLETE' }, 'INCOMPLETE'],
    ['INCOMPLETE()', { op: 'INCOMPLETE' }, 'INCOMPLETE'],
    [
      'RATE(status_code >= 500)',
      { op: 'RATE', filters: [{ column: 'status_code', op: '>=', value: 500 }], filter_combination: 'AND' },
      'RATE(status_code >= 500)',
    ],
    [
      'rate(error exists OR status_code in (500, 503))',
      {
        op: 'RATE',
        filters: [
          { column: 'error', op: 'exists' },
          { column: 'status_code', op: 'in', value: [500, 503] },
        ],
        filter_combination: 'OR',
      },
      'RATE(error exists OR status_code in (500, 503))',
    ],
    [
      'RATE(msg contains ")")',
      { op: 'RATE', filters: [{ column: 'msg', op: 'contains', value: ')' }], filter_combination: 'AND' },
      'RATE(msg contains ")")',
    ],
  ])('%s', (text, calc, name) => {
    expect(parseCalculation(text)).toEqual(calc);
    expect(calculationName(calc)).toBe(name);
    expect(parseCalculation(calculationName(calc))).toEqual(calc);
  });

  it.each<[string, string, string?]>([
    ['P98(duration_ms)', 'unknown op "P98"'],
    ['AVGG(x)', 'unknown op "AVGG"', 'did you mean AVG?'],
    ['AVERAGE(x)', 'unknown op "AVERAGE"', 'ops: COUNT SUM AVG'],
    ['P99', 'P99 needs a column', 'P99(duration_ms)'],
    ['RATE', 'RATE needs a filter', 'RATE(status_code >= 500)'],
    ['RATE()', 'RATE needs a filter'],
    ['COUNT(x)', 'COUNT takes no column', 'COUNT_DISTINCT'],
    ['INCOMPLETE(meta.incomplete)', 'INCOMPLETE takes no argument', 'RATE(filter)'],
    ['INCOMPLET', 'unknown op "INCOMPLET"', 'did you mean INCOMPLETE?'],
    ['P99(a b)', 'unexpected text after the column'],
    ['P99(duration_ms', 'expected OP or OP(column)'],
    ['RATE(status_code >>> 5)', 'expected a value'],
    ['', 'expected OP or OP(column)'],
  ])('rejects %j', (text, message, hint) => {
    const error = usageError(() => parseCalculation(text));
    expect(error.code).toBe('usage');
    expect(error.message).toContain(message);
    if (hint) expect(error.hint).toContain(hint);
  });
});

describe('parseOrder', () => {
  it.each([
    ['P99(duration_ms) desc', { op: 'P99', column: 'duration_ms', order: 'descending' }],
    ['P99(duration_ms) ASC', { op: 'P99', column: 'duration_ms', order: 'ascending' }],
    ['service.name', { column: 'service.name' }],
    ['service.name descending', { column: 'service.name', order: 'descending' }],
    ['-COUNT', { op: 'COUNT', order: 'descending' }],
    ['count', { op: 'COUNT' }],
    ['`count`', { column: 'count' }],
    ['INCOMPLETE desc', { op: 'INCOMPLETE', order: 'descending' }],
    ['-incomplete', { op: 'INCOMPLETE', order: 'descending' }],
    ['`INCOMPLETE` asc', { column: 'INCOMPLETE', order: 'ascending' }],
    ['- `a b` desc', { column: 'a b', order: 'descending' }],
    [
      'RATE(status_code >= 500) desc',
      { op: 'RATE', filters: [{ column: 'status_code', op: '>=', value: 500 }], filter_combination: 'AND', order: 'descending' },
    ],
  ])('%s', (text, order) => {
    expect(parseOrder(text)).toEqual(order);
  });

  it.each([
    ['', 'nothing to order by'],
    ['-COUNT asc', '"-" and "asc" disagree'],
    ['a b', 'unexpected text at position 3'],
  ])('rejects %j', (text, message) => {
    expect(usageError(() => parseOrder(text)).message).toContain(message);
  });
});

describe('parseHaving', () => {
  it.each([
    ['COUNT > 100', { calculate_op: 'COUNT', op: '>', value: 100 }],
    ['P99(duration_ms) >= 250', { calculate_op: 'P99', column: 'duration_ms', op: '>=', value: 250 }],
    ['avg(x)<=0.5', { calculate_op: 'AVG', column: 'x', op: '<=', value: 0.5 }],
    ['COUNT != 0', { calculate_op: 'COUNT', op: '!=', value: 0 }],
    ['INCOMPLETE > 0.05', { calculate_op: 'INCOMPLETE', op: '>', value: 0.05 }],
    [
      'RATE(status_code >= 500) > 0.01',
      { calculate_op: 'RATE', filters: [{ column: 'status_code', op: '>=', value: 500 }], filter_combination: 'AND', op: '>', value: 0.01 },
    ],
  ])('%s', (text, having) => {
    expect(parseHaving(text)).toEqual(having);
  });

  it.each([
    ['COUNT', 'expected CALCULATION OP NUMBER'],
    ['COUNT > many', '"many" is not a number'],
    ['P98(x) > 1', 'unknown op "P98"'],
  ])('rejects %j', (text, message) => {
    expect(usageError(() => parseHaving(text)).message).toContain(message);
  });
});

describe('parseDuration', () => {
  it.each([
    ['2h', 7200],
    ['30m', 1800],
    ['90s', 90],
    ['1d', 86_400],
    ['1w', 604_800],
    ['1h30m', 5400],
    ['1H', 3600],
    ['45', 45],
    [' 2m ', 120],
  ])('%s → %d s', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([
    ['', 'expected a number and a unit'],
    ['2 hours', 'expected a number and a unit'],
    ['1.5h', 'expected'],
    ['0s', 'must be more than zero'],
    ['-2h', 'expected'],
    ['h', 'expected'],
  ])('rejects %j', (text, message) => {
    const error = usageError(() => parseDuration(text));
    expect(error.message).toContain(message);
    expect(error.hint).toContain('1h30m');
  });
});

describe('parseTime', () => {
  const now = 1_767_225_600_900; // 2026-01-01T00:00:00.900Z
  it.each([
    ['2026-11-23T10:00:00Z', Date.UTC(2026, 10, 23, 10) / 1000],
    ['2026-11-23T10:00:00', Date.UTC(2026, 10, 23, 10) / 1000],
    ['2026-11-23 10:00:00', Date.UTC(2026, 10, 23, 10) / 1000],
    ['2026-11-23T12:00:00+02:00', Date.UTC(2026, 10, 23, 10) / 1000],
    ['2026-11-23', Date.UTC(2026, 10, 23) / 1000],
    ['1700000000', 1_700_000_000],
    ['-2h', 1_767_225_600 - 7200],
    ['now', 1_767_225_600],
  ])('%s', (text, seconds) => {
    expect(parseTime(text, now)).toBe(seconds);
  });

  it.each([
    ['yesterday', 'expected an ISO-8601 time, unix seconds or -DURATION'],
    ['2h', 'a duration is not a point in time', 'write -2h'],
    ['2026-13-45T99:00:00Z', 'expected an ISO-8601 time'],
    ['-2 hours', 'invalid duration'],
  ])('rejects %j', (text, message, hint?: string) => {
    const error = usageError(() => parseTime(text, now));
    expect(error.message).toContain(message);
    if (hint) expect(error.hint).toContain(hint);
  });
});
