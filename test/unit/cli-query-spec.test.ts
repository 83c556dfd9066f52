import { describe, expect, it } from 'vitest';
import { parseEventLine } from '../../src/cli/events/read-ndjson.js';
import { buildQuerySpec, heatmapGranularity, parseSpecText } from '../../src/cli/query/build-spec.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const NOW_S = NOW / 1000;

describe('buildQuerySpec', () => {
  it('turns shorthand options into a Honeycomb query spec', () => {
    const spec = buildQuerySpec(
      {},
      {
        calc: ['P99(duration_ms)', 'count'],
        where: ['status_code >= 500', 'service.name = "api"'],
        by: ['service.name,region', 'flag.new_cart'],
        since: '2h',
        granularity: '1m',
        order: ['P99(duration_ms) desc'],
        having: ['COUNT > 10'],
        limit: '5',
      },
      NOW,
    );
    expect(spec).toEqual({
      calculations: [{ op: 'P99', column: 'duration_ms' }, { op: 'COUNT' }],
      filters: [
        { column: 'status_code', op: '>=', value: 500 },
        { column: 'service.name', op: '=', value: 'api' },
      ],
      filter_combination: 'AND',
      breakdowns: ['service.name', 'region', 'flag.new_cart'],
      time_range: 7200,
      granularity: 60,
      orders: [{ op: 'P99', column: 'duration_ms', order: 'descending' }],
      havings: [{ calculate_op: 'COUNT', op: '>', value: 10 }],
      limit: 5,
    });
  });

  it('defaults to COUNT and combines --where with OR under --any', () => {
    const spec = buildQuerySpec({}, { where: ['status_code >= 500', 'error exists'], any: true }, NOW);
    expect(spec.calculations).toEqual([{ op: 'COUNT' }]);
    expect(spec.filter_combination).toBe('OR');
    expect(spec.filters).toHaveLength(2);
    expect(() => buildQuerySpec({}, { where: ['a = 1 AND b = 2', 'c = 3'], any: true }, NOW)).toThrow(/--any/);
  });

  it('resolves --start and --end against the clock and drops a time_range from the spec file', () => {
    const spec = buildQuerySpec({ time_range: 600 }, { start: '-3h', end: '-1h' }, NOW);
    expect(spec).toMatchObject({ start_time: NOW_S - 3 * 3600, end_time: NOW_S - 3600 });
    expect(spec.time_range).toBeUndefined();
    expect(buildQuerySpec({}, { start: '2026-01-15T11:00:00Z' }, NOW)).toMatchObject({ start_time: NOW_S - 3600, end_time: NOW_S });
    expect(() => buildQuerySpec({}, { start: '-1h', end: '-2h' }, NOW)).toThrow(/ends before it starts/);
  });

  it('lets options override the fields of a spec file and keeps the rest', () => {
    const base = { calculations: [{ op: 'AVG' as const, column: 'x' }], breakdowns: ['a'], limit: 3, start_time: 1, end_time: 2 };
    const spec = buildQuerySpec(base, { by: ['b'], since: '15m' }, NOW);
    expect(spec).toEqual({ calculations: [{ op: 'AVG', column: 'x' }], breakdowns: ['b'], limit: 3, end_time: 2, time_range: 900 });
  });

  it('adds HEATMAP(column) with a round granularity of about 60 buckets', () => {
    const spec = buildQuerySpec({}, { heatmap: 'duration_ms', since: '1h' }, NOW);
    expect(spec.calculations).toEqual([{ op: 'HEATMAP', column: 'duration_ms' }]);
    expect(spec.granularity).toBe(60);
    expect(buildQuerySpec({}, { heatmap: 'd', calc: ['COUNT'], granularity: '5m' }, NOW)).toMatchObject({
      calculations: [{ op: 'COUNT' }, { op: 'HEATMAP', column: 'd' }],
      granularity: 300,
    });
    expect([heatmapGranularity(7200), heatmapGranularity(86400), heatmapGranularity(30)]).toEqual([120, 1800, 1]);
  });

  it('rejects bad shorthand with usage errors', () => {
    for (const flags of [
      { calc: ['P1000(x)'] },
      { where: ['a =='] },
      { since: 'soon' },
      { limit: '-1' },
      { order: [''] },
      { having: ['COUNT > x'] },
    ]) {
      expect(() => buildQuerySpec({}, flags, NOW), JSON.stringify(flags)).toThrow(expect.objectContaining({ code: 'usage' }));
    }
  });
});

describe('parseSpecText', () => {
  it('accepts a JSON object and explains anything else', () => {
    expect(parseSpecText('{"limit": 3}', 'spec file q.json')).toEqual({ limit: 3 });
    expect(() => parseSpecText('{', 'spec file q.json')).toThrow(/^spec file q.json is not valid JSON/);
    expect(() => parseSpecText('[1]', 'the spec on stdin')).toThrow('the spec on stdin is not a JSON object');
  });
});

describe('parseEventLine', () => {
  it('takes bare events and Honeycomb batch items', () => {
    expect(parseEventLine('{"duration_ms": 5}')).toEqual({ item: { data: { duration_ms: 5 } } });
    expect(parseEventLine('{"data": {"a": 1}, "time": "2026-01-15T12:00:00Z", "samplerate": 10}')).toEqual({
      item: { data: { a: 1 }, time: '2026-01-15T12:00:00Z', samplerate: 10 },
    });
    // A field named data beside other fields is an ordinary event field.
    expect(parseEventLine('{"data": {"a": 1}, "user": "x"}')).toEqual({ item: { data: { data: { a: 1 }, user: 'x' } } });
    expect(parseEventLine('{"data": "text"}')).toEqual({ item: { data: { data: 'text' } } });
  });

  it('skips blank lines and explains bad ones in lowercase', () => {
    expect(parseEventLine('   ')).toBeUndefined();
    expect(parseEventLine('{"a": ')).toEqual({ error: expect.stringMatching(/^invalid JSON: [a-z]/) });
    expect(parseEventLine('42')).toEqual({ error: 'expected a JSON object, got number' });
    expect(parseEventLine('null')).toEqual({ error: 'expected a JSON object, got null' });
    expect(parseEventLine('{"data": {}, "time": true}')).toEqual({ error: '`time` must be an ISO-8601 string or a Unix timestamp' });
  });
});
