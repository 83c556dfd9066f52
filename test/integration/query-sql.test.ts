/**
 * The compiled SQL runs in a real in-memory DuckDB over generated events, and
 * every answer is compared with a plain-TypeScript evaluation of the same query.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileQuery, type CompiledQuery } from '../../src/query/compile.js';
import { calculationName } from '../../src/query/format.js';
import type { Calculation, Filter, HeatmapValue, QuerySpec, ResultRow, SeriesRow } from '../../src/query/spec.js';
import type { ColumnInfo } from '../../src/query/schema.js';
import { validateQuery } from '../../src/query/validate.js';
import {
  HOSTILE_VALUES,
  T0,
  close,
  generateEvents,
  groupBy,
  loadEvents,
  referenceCalc,
  referenceHeatmapBounds,
  schemaFor,
  selectEvents,
  type TestEvent,
} from './query/fixture.js';

const NOW = (T0 + 7200) * 1000;
const START = T0;
const END = T0 + 7200;

const ALL_CALCS: Calculation[] = [
  { op: 'COUNT' },
  { op: 'SUM', column: 'duration_ms' },
  { op: 'AVG', column: 'duration_ms' },
  { op: 'MIN', column: 'duration_ms' },
  { op: 'MAX', column: 'duration_ms' },
  { op: 'MIN', column: 'service.name' },
  { op: 'MAX', column: 'note' },
  { op: 'SUM', column: 'status_code' },
  { op: 'AVG', column: 'status_code' },
  { op: 'COUNT_DISTINCT', column: 'user.id' },
  { op: 'COUNT_DISTINCT', column: 'status_code' },
  { op: 'HEATMAP', column: 'duration_ms' },
  { op: 'RATE', filters: [{ column: 'status_code', op: '>=', value: 500 }] },
  {
    op: 'RATE',
    filters: [
      { column: 'ok', op: '=', value: false },
      { column: 'status_code', op: '=', value: 404 },
    ],
    filter_combination: 'OR',
  },
  ...(['P001', 'P01', 'P05', 'P10', 'P20', 'P25', 'P50', 'P75', 'P80', 'P90', 'P95', 'P99', 'P999'] as const).map((op) => ({
    op,
    column: 'duration_ms',
  })),
  { op: 'P50', column: 'status_code' },
  { op: 'P99', column: 'x; DROP TABLE t' },
];

interface Dataset {
  name: string;
  table: string;
  events: TestEvent[];
  hasSampling: boolean;
}

let connection: DuckDBConnection;
const sampledEvents = generateEvents(1500, 7, true);
const unsampledEvents = generateEvents(1500, 11, false);
const datasets: Dataset[] = [
  { name: 'sample rates 1–5 (weighted path)', table: 'sampled', events: sampledEvents, hasSampling: true },
  { name: 'every sample rate 1 (quantile_cont fast path)', table: 'unsampled', events: unsampledEvents, hasSampling: false },
  { name: 'every sample rate 1 through the weighted path', table: 'unsampled', events: unsampledEvents, hasSampling: true },
];

/** Values that defeat the histogram: one far outlier puts almost everything into its first bin. */
function skewedEvents(): TestEvent[] {
  const base = generateEvents(400, 3, true);
  return base
    .map((e, i): TestEvent => {
      const service = ['api', 'web', 'worker'][i % 3] ?? 'api';
      let duration: number | null = i % 7 === 0 ? Math.floor(i / 7) : (i * 37) % 101;
      if (service === 'web') duration = 5;
      if (i === 5) duration = 1e9;
      if (i === 8) duration = -3;
      return { ...e, fields: { ...e.fields, 'service.name': service, duration_ms: duration } };
    })
    .concat([
      { time: T0 * 1_000_000 + 1, samplerate: 4, fields: { 'service.name': 'single', duration_ms: 12.5 } },
      { time: T0 * 1_000_000 + 2, samplerate: 2, fields: { 'service.name': 'nulls', duration_ms: null } },
      { time: T0 * 1_000_000 + 3, samplerate: 1, fields: { 'service.name': 'nulls' } },
    ]);
}
const skewed = skewedEvents();
const skewedFlat = skewed.map((e) => ({ ...e, samplerate: 1 }));

/** User columns named like the compiler's internal aliases must still mean the user's columns. */
const ALIAS_NAMES = [
  'w',
  'g0',
  'v0',
  'v1',
  'b',
  'r0',
  'c0',
  'a0',
  'q0',
  'lo',
  'width',
  'bin',
  'cum',
  'tot',
  'slot',
  'kind',
  'rk',
  'n',
  'wt',
  'v',
  'src',
  'top',
  'h',
  'idx',
];
const aliasColumns: ColumnInfo[] = ALIAS_NAMES.map((name, i) => ({
  name,
  type: i % 3 === 2 ? 'string' : i % 3 === 1 ? 'float' : 'integer',
}));
const aliasEvents: TestEvent[] = generateEvents(300, 5, true).map((e, i) => ({
  ...e,
  fields: Object.fromEntries(
    aliasColumns.map((c, j) => [
      c.name,
      (i + j) % 5 === 0
        ? null
        : c.type === 'string'
          ? `s${(i * (j + 1)) % 4}`
          : c.type === 'float'
            ? ((i * 7 + j) % 13) / 4
            : (i * (j + 3)) % 9,
    ]),
  ),
}));

beforeAll(async () => {
  connection = await loadEvents(
    { sampled: sampledEvents, unsampled: unsampledEvents, skewed, skewed_flat: skewedFlat, aliases: aliasEvents },
    { aliases: aliasColumns },
  );
});

afterAll(() => {
  connection.closeSync();
});

async function run(dataset: Dataset, spec: QuerySpec): Promise<{ compiled: CompiledQuery; results: ResultRow[]; series?: SeriesRow[] }> {
  const schema = schemaFor(dataset.hasSampling, dataset.table);
  const normalized = validateQuery(spec, schema, NOW);
  const compiled = compileQuery(normalized, schema, { table: dataset.table });
  const reader = await connection.runAndReadAll(compiled.sql, compiled.params as never);
  const decoded = compiled.decode(reader.getRows());
  return { compiled, results: decoded.results, ...(decoded.series ? { series: decoded.series } : {}) };
}

/** Compares every calculation of a result row with the reference over `events`. */
function expectRowMatches(
  row: ResultRow,
  calcs: Calculation[],
  events: TestEvent[],
  bounds: Map<string, { lower: number; width: number } | undefined>,
): void {
  for (const calc of calcs) {
    const name = calculationName(calc);
    const actual = row.data[name];
    const expected = referenceCalc(calc, events, bounds.get(calc.column ?? ''));
    if (calc.op === 'HEATMAP') {
      if (expected === null) {
        expect(actual, name).toBeNull();
        continue;
      }
      const heatmap = actual as HeatmapValue;
      const reference = expected as HeatmapValue;
      expect(close(heatmap.lower, reference.lower), `${name}.lower`).toBe(true);
      expect(close(heatmap.width, reference.width), `${name}.width`).toBe(true);
      expect(heatmap.buckets, `${name}.buckets`).toEqual(reference.buckets);
    } else if (typeof expected === 'string') {
      expect(actual, name).toBe(expected);
    } else {
      expect(close(actual, expected as number | null), `${name}: got ${String(actual)}, expected ${String(expected)}`).toBe(true);
    }
  }
}

function heatmapBoundsOf(events: TestEvent[], calcs: Calculation[]): Map<string, { lower: number; width: number } | undefined> {
  const bounds = new Map<string, { lower: number; width: number } | undefined>();
  for (const c of calcs) if (c.op === 'HEATMAP' && c.column) bounds.set(c.column, referenceHeatmapBounds(events, c.column));
  return bounds;
}

describe.each(datasets)('calculations over $name', (dataset) => {
  it('computes every calculation over the whole range', async () => {
    const { results } = await run(dataset, { calculations: ALL_CALCS, start_time: START, end_time: END });
    const events = selectEvents(dataset.events, START, END);
    expect(results).toHaveLength(1);
    expectRowMatches(results[0] as ResultRow, ALL_CALCS, events, heatmapBoundsOf(events, ALL_CALCS));
  });

  it('computes every calculation per breakdown group, the null group included', async () => {
    const { results } = await run(dataset, { calculations: ALL_CALCS, breakdowns: ['service.name'], start_time: START, end_time: END });
    const events = selectEvents(dataset.events, START, END);
    const groups = groupBy(events, ['service.name']);
    expect(results).toHaveLength(groups.size);
    expect(results.some((r) => r.data['service.name'] === null)).toBe(true);
    const bounds = heatmapBoundsOf(events, ALL_CALCS);
    for (const row of results) {
      const group = groups.get(JSON.stringify([row.data['service.name']]));
      expect(group, `group ${String(row.data['service.name'])}`).toBeDefined();
      expectRowMatches(row, ALL_CALCS, group ?? [], bounds);
    }
    // Default order: the first calculation (COUNT) descending.
    const counts = results.map((r) => r.data.COUNT as number);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
  });

  it('restricts the time range to [start, end)', async () => {
    const start = T0 + 600;
    const end = T0 + 1800;
    const { results } = await run(dataset, {
      calculations: [{ op: 'COUNT' }, { op: 'P90', column: 'duration_ms' }],
      start_time: start,
      end_time: end,
    });
    const events = selectEvents(dataset.events, start, end);
    expect(results[0]?.data.COUNT).toBe(events.reduce((s, e) => s + e.samplerate, 0));
    expectRowMatches(results[0] as ResultRow, [{ op: 'P90', column: 'duration_ms' }], events, new Map());
  });
});

describe('weighted percentiles on skewed values', () => {
  it.each([
    { table: 'skewed', source: skewed, hasSampling: true },
    { table: 'skewed_flat', source: skewedFlat, hasSampling: true },
    { table: 'skewed_flat', source: skewedFlat, hasSampling: false },
  ])('match the expansion in $table with hasSampling=$hasSampling', async ({ table, source, hasSampling }) => {
    const calcs: Calculation[] = (['P001', 'P01', 'P10', 'P25', 'P50', 'P75', 'P90', 'P99', 'P999'] as const).map((op) => ({
      op,
      column: 'duration_ms',
    }));
    const dataset: Dataset = { name: table, table, events: source, hasSampling };
    const events = selectEvents(source, START, END);
    const { results } = await run(dataset, { calculations: calcs, breakdowns: ['service.name'], start_time: START, end_time: END });
    const groups = groupBy(events, ['service.name']);
    expect(results).toHaveLength(5);
    expect(results.find((r) => r.data['service.name'] === 'nulls')?.data['P50(duration_ms)']).toBeNull();
    for (const row of results) expectRowMatches(row, calcs, groups.get(JSON.stringify([row.data['service.name']])) ?? [], new Map());
    const { results: overall } = await run(dataset, { calculations: calcs, start_time: START, end_time: END });
    expectRowMatches(overall[0] as ResultRow, calcs, events, new Map());
  });
});

describe.each(datasets)('breakdowns, orders, havings, limit and series over $name', (dataset) => {
  it('orders by a calculation ascending with breakdown tie-breaks, filters groups with havings, and limits', async () => {
    const calcs: Calculation[] = [{ op: 'COUNT' }, { op: 'P95', column: 'duration_ms' }];
    const { results } = await run(dataset, {
      calculations: calcs,
      breakdowns: ['service.name', 'status_code'],
      orders: [{ op: 'P95', column: 'duration_ms', order: 'ascending' }],
      havings: [{ calculate_op: 'COUNT', op: '>', value: 20 }],
      limit: 5,
      start_time: START,
      end_time: END,
    });
    const events = selectEvents(dataset.events, START, END);
    const expected = [...groupBy(events, ['service.name', 'status_code']).entries()]
      .map(([key, group]) => ({
        key,
        count: referenceCalc({ op: 'COUNT' }, group) as number,
        p95: referenceCalc(calcs[1] as Calculation, group) as number | null,
        group,
      }))
      .filter((g) => g.count > 20)
      .sort((a, b) => {
        if (a.p95 === null || b.p95 === null) return a.p95 === null ? (b.p95 === null ? 0 : 1) : -1;
        if (a.p95 !== b.p95) return a.p95 - b.p95;
        return a.key < b.key ? -1 : 1;
      })
      .slice(0, 5);
    expect(results.map((r) => JSON.stringify([r.data['service.name'], r.data.status_code]))).toEqual(expected.map((g) => g.key));
    results.forEach((row, i) => expectRowMatches(row, calcs, expected[i]?.group ?? [], new Map()));
  });

  it('orders by a breakdown column, nulls last', async () => {
    const { results } = await run(dataset, {
      breakdowns: ['service.name'],
      orders: [{ column: 'service.name', order: 'descending' }],
      start_time: START,
      end_time: END,
    });
    expect(results.map((r) => r.data['service.name'])).toEqual(['worker', 'web', 'batch', 'api', null]);
  });

  it('orders by a RATE calculation and tests it in a having', async () => {
    const rate: Calculation = { op: 'RATE', filters: [{ column: 'status_code', op: '>=', value: 500 }] };
    const { results } = await run(dataset, {
      calculations: [rate],
      breakdowns: ['user.id'],
      orders: [{ op: 'RATE', filters: rate.filters, order: 'descending' }],
      havings: [{ calculate_op: 'RATE', filters: rate.filters, op: '>=', value: 0.2 }],
      start_time: START,
      end_time: END,
    });
    const events = selectEvents(dataset.events, START, END);
    const expected = [...groupBy(events, ['user.id']).values()]
      .map((group) => referenceCalc(rate, group) as number)
      .filter((r) => r >= 0.2)
      .sort((a, b) => b - a);
    expect(results.map((r) => r.data[calculationName(rate)])).toEqual(expected.map((r) => expect.closeTo(r, 12)));
  });

  it('returns series aligned to the granularity for the same top groups only', async () => {
    const calcs: Calculation[] = [{ op: 'COUNT' }, { op: 'P50', column: 'duration_ms' }, { op: 'HEATMAP', column: 'duration_ms' }];
    const granularity = 900;
    const start = T0 + 100; // not aligned: the first bucket starts at T0
    const { results, series } = await run(dataset, {
      calculations: calcs,
      breakdowns: ['service.name'],
      limit: 2,
      granularity,
      start_time: start,
      end_time: END,
    });
    const events = selectEvents(dataset.events, start, END);
    const top = [...groupBy(events, ['service.name']).entries()]
      .map(([key, group]) => ({ key, count: referenceCalc({ op: 'COUNT' }, group) as number }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1))
      .slice(0, 2)
      .map((g) => g.key);
    expect(results.map((r) => JSON.stringify([r.data['service.name']]))).toEqual(top);
    expect(series).toBeDefined();
    const bounds = heatmapBoundsOf(events, calcs);
    const expectedSeries = new Map<string, TestEvent[]>();
    for (const e of events) {
      const key = JSON.stringify([e.fields['service.name'] ?? null]);
      if (!top.includes(key)) continue;
      const bucket = Math.floor(e.time / 1e6 / granularity) * granularity;
      const id = `${new Date(bucket * 1000).toISOString()} ${key}`;
      expectedSeries.set(id, [...(expectedSeries.get(id) ?? []), e]);
    }
    expect(series?.length).toBe(expectedSeries.size);
    expect(series?.[0]?.time).toBe(new Date(T0 * 1000).toISOString());
    const times = series?.map((s) => s.time) ?? [];
    expect(times).toEqual([...times].sort());
    for (const row of series ?? []) {
      const group = expectedSeries.get(`${row.time} ${JSON.stringify([row.data['service.name']])}`);
      expect(group, row.time).toBeDefined();
      expectRowMatches(row, calcs, group ?? [], bounds);
    }
  });

  it('returns a series without breakdowns', async () => {
    const { results, series } = await run(dataset, {
      calculations: [{ op: 'SUM', column: 'status_code' }],
      granularity: 1800,
      start_time: START,
      end_time: END,
    });
    const events = selectEvents(dataset.events, START, END);
    expect(results).toHaveLength(1);
    expect(series).toHaveLength(4);
    series?.forEach((row, i) => {
      const bucket = selectEvents(events, T0 + i * 1800, T0 + (i + 1) * 1800);
      expect(row.time).toBe(new Date((T0 + i * 1800) * 1000).toISOString());
      expect(close(row.data['SUM(status_code)'], referenceCalc({ op: 'SUM', column: 'status_code' }, bucket) as number)).toBe(true);
    });
  });
});

const FILTER_CASES: { name: string; filters: Filter[]; combination?: 'AND' | 'OR' }[] = [
  { name: '= on an integer', filters: [{ column: 'status_code', op: '=', value: 500 }] },
  { name: '= on a string', filters: [{ column: 'service.name', op: '=', value: 'api' }] },
  { name: '= on a boolean', filters: [{ column: 'ok', op: '=', value: true }] },
  { name: '= null', filters: [{ column: 'service.name', op: '=', value: null }] },
  { name: '!= (missing matches)', filters: [{ column: 'service.name', op: '!=', value: 'api' }] },
  { name: '!= on a boolean', filters: [{ column: 'ok', op: '!=', value: true }] },
  { name: '!= null', filters: [{ column: 'status_code', op: '!=', value: null }] },
  { name: '>', filters: [{ column: 'duration_ms', op: '>', value: 100 }] },
  { name: '>=', filters: [{ column: 'status_code', op: '>=', value: 404 }] },
  { name: '<', filters: [{ column: 'duration_ms', op: '<', value: 42 }] },
  { name: '<=', filters: [{ column: 'duration_ms', op: '<=', value: 42 }] },
  { name: '> a fraction on an integer column', filters: [{ column: 'status_code', op: '>', value: 403.5 }] },
  { name: '< a number beyond BIGINT on an integer column', filters: [{ column: 'status_code', op: '<', value: 1e20 }] },
  { name: 'starts-with', filters: [{ column: 'note', op: 'starts-with', value: 'prefix' }] },
  { name: 'does-not-start-with (missing matches)', filters: [{ column: 'note', op: 'does-not-start-with', value: 'p' }] },
  { name: 'contains', filters: [{ column: 'note', op: 'contains', value: 'lain' }] },
  { name: 'does-not-contain (missing matches)', filters: [{ column: 'note', op: 'does-not-contain', value: 'lain' }] },
  { name: 'exists', filters: [{ column: 'duration_ms', op: 'exists' }] },
  { name: 'does-not-exist', filters: [{ column: 'duration_ms', op: 'does-not-exist' }] },
  { name: 'in', filters: [{ column: 'status_code', op: 'in', value: [404, 503] }] },
  { name: 'in with null', filters: [{ column: 'service.name', op: 'in', value: ['web', null] }] },
  { name: 'not-in (missing matches)', filters: [{ column: 'service.name', op: 'not-in', value: ['web', 'api'] }] },
  { name: 'not-in with null', filters: [{ column: 'service.name', op: 'not-in', value: ['web', null] }] },
  {
    name: 'AND',
    filters: [
      { column: 'service.name', op: '=', value: 'api' },
      { column: 'status_code', op: '>=', value: 500 },
    ],
  },
  {
    name: 'OR',
    filters: [
      { column: 'service.name', op: '=', value: 'api' },
      { column: 'status_code', op: '>=', value: 500 },
    ],
    combination: 'OR',
  },
  {
    name: 'OR with missing fields',
    filters: [
      { column: 'duration_ms', op: '>', value: 300 },
      { column: 'ok', op: '=', value: false },
      { column: 'note', op: 'does-not-exist' },
    ],
    combination: 'OR',
  },
  ...HOSTILE_VALUES.flatMap((value): { name: string; filters: Filter[] }[] => [
    { name: `= ${JSON.stringify(value)}`, filters: [{ column: 'note', op: '=', value }] },
    { name: `contains ${JSON.stringify(value)}`, filters: [{ column: 'note', op: 'contains', value }] },
    { name: `starts-with ${JSON.stringify(value)}`, filters: [{ column: 'note', op: 'starts-with', value }] },
    { name: `does-not-contain ${JSON.stringify(value)}`, filters: [{ column: 'note', op: 'does-not-contain', value }] },
  ]),
  {
    name: 'hostile column names',
    filters: [
      { column: 'a"b', op: '=', value: "'; DROP TABLE t; --" },
      { column: 'x; DROP TABLE t', op: '>=', value: 5 },
    ],
  },
  { name: 'non-ASCII column and value', filters: [{ column: 'é 名前', op: 'in', value: ['名前', '%_\\'] }] },
];

describe('filters', () => {
  const dataset = datasets[0] as Dataset;
  it.each(FILTER_CASES)('$name', async ({ filters, combination }) => {
    const spec: QuerySpec = {
      calculations: [{ op: 'COUNT' }, { op: 'AVG', column: 'duration_ms' }],
      filters,
      start_time: START,
      end_time: END,
    };
    if (combination) spec.filter_combination = combination;
    const { compiled, results } = await run(dataset, spec);
    const events = selectEvents(dataset.events, START, END, filters, combination);
    expect(results[0]?.data.COUNT).toBe(events.reduce((s, e) => s + e.samplerate, 0));
    expect(close(results[0]?.data['AVG(duration_ms)'], referenceCalc({ op: 'AVG', column: 'duration_ms' }, events) as number | null)).toBe(
      true,
    );
    // The filter selects something and leaves something out, so the case tests the op.
    expect(events.length).toBeGreaterThan(0);
    expect(events.length).toBeLessThan(selectEvents(dataset.events, START, END).length);
    // No user value is spliced into the SQL: outside quoted identifiers, none of the values' text appears.
    const sqlWithoutIdentifiers = compiled.sql.replace(/"(?:[^"]|"")*"/g, '""');
    for (const f of filters) {
      for (const v of Array.isArray(f.value) ? f.value : [f.value]) {
        if (typeof v === 'string' && v.length > 1 && !['api', 'web'].includes(v)) expect(sqlWithoutIdentifiers).not.toContain(v);
        if (v !== undefined && v !== null)
          expect(compiled.params).toContain(typeof v === 'number' && !Number.isSafeInteger(v) && Number.isInteger(v) ? String(v) : v);
      }
    }
  });

  it('the hostile values round-trip as data through breakdowns', async () => {
    const { results, compiled } = await run(datasets[0] as Dataset, { breakdowns: ['note'], start_time: START, end_time: END });
    const notes = results.map((r) => r.data.note);
    for (const value of HOSTILE_VALUES) expect(notes).toContain(value);
    expect(compiled.sql).toContain('"note"');
    expect(compiled.params).not.toContain("'; DROP TABLE t; --");
  });
});

describe('hostile column names', () => {
  it('are quoted identifiers in breakdowns and calculations, and the table is still there', async () => {
    const dataset = datasets[0] as Dataset;
    const { results, compiled } = await run(dataset, {
      calculations: [{ op: 'COUNT' }, { op: 'SUM', column: 'x; DROP TABLE t' }],
      breakdowns: ['a"b', 'é 名前'],
      start_time: START,
      end_time: END,
    });
    expect(compiled.sql).toContain('"a""b"');
    expect(compiled.sql).toContain('"x; DROP TABLE t"');
    expect(compiled.sql).toContain('"é 名前"');
    const events = selectEvents(dataset.events, START, END);
    const groups = groupBy(events, ['a"b', 'é 名前']);
    expect(results).toHaveLength(groups.size);
    for (const row of results) {
      const group = groups.get(JSON.stringify([row.data['a"b'], row.data['é 名前']])) ?? [];
      expect(row.data.COUNT).toBe(referenceCalc({ op: 'COUNT' }, group));
      expect(
        close(row.data['SUM(`x; DROP TABLE t`)'], referenceCalc({ op: 'SUM', column: 'x; DROP TABLE t' }, group) as number | null),
      ).toBe(true);
    }
    const count = await connection.runAndReadAll('SELECT count(*) FROM sampled');
    expect(Number(count.getRows()[0]?.[0])).toBe(dataset.events.length);
  });
});

describe('user columns named like internal aliases', () => {
  it.each([true, false])('keep their meaning (hasSampling=%s)', async (hasSampling) => {
    const schema = { dataset: 'aliases', columns: aliasColumns, hasSampling };
    const numeric = aliasColumns.filter((c) => c.type !== 'string').map((c) => c.name);
    const calcs: Calculation[] = [
      { op: 'COUNT' },
      ...numeric.flatMap((name): Calculation[] => [
        { op: 'SUM', column: name },
        { op: 'P50', column: name },
        { op: 'AVG', column: name },
      ]),
      { op: 'HEATMAP', column: 'v' },
      {
        op: 'RATE',
        filters: [
          { column: 'r0', op: '=', value: 's1' },
          { column: 'w', op: '>', value: 2 },
        ],
        filter_combination: 'OR',
      },
    ];
    const filters: Filter[] = [
      { column: 'slot', op: 'does-not-contain', value: 's3' },
      { column: 'tot', op: '!=', value: 4 },
    ];
    const spec: QuerySpec = { calculations: calcs, filters, breakdowns: ['src', 'b'], granularity: 1800, start_time: START, end_time: END };
    const normalized = validateQuery(spec, schema, NOW);
    const compiled = compileQuery(normalized, schema, { table: 'aliases' });
    const reader = await connection.runAndReadAll(compiled.sql, compiled.params as never);
    const { results, series } = compiled.decode(reader.getRows());
    const total = (rows: ResultRow[]): number => rows.reduce((sum, r) => sum + (r.data.COUNT as number), 0);
    expect(total(series ?? [])).toBe(total(results));
    const source = hasSampling ? aliasEvents : aliasEvents.map((e) => ({ ...e, samplerate: 1 }));
    const events = selectEvents(source, START, END, filters);
    const groups = groupBy(events, ['src', 'b']);
    if (hasSampling) {
      expect(results).toHaveLength(groups.size);
      const bounds = heatmapBoundsOf(events, calcs);
      for (const row of results) expectRowMatches(row, calcs, groups.get(JSON.stringify([row.data.src, row.data.b])) ?? [], bounds);
    } else {
      // The table has sample rates; with hasSampling false only the unweighted calculations are comparable.
      expect(results.map((r) => r.data.COUNT).reduce((a, b) => (a as number) + (b as number), 0)).toBe(events.length);
    }
  });
});

describe('decode', () => {
  it('gives the same answer from getRows, getRowsJS and getRowsJson', async () => {
    const schema = schemaFor(true, 'sampled');
    const normalized = validateQuery(
      {
        calculations: [
          { op: 'COUNT' },
          { op: 'P50', column: 'duration_ms' },
          { op: 'HEATMAP', column: 'duration_ms' },
          { op: 'MAX', column: 'note' },
        ],
        breakdowns: ['status_code', 'ok'],
        granularity: 1800,
        start_time: START,
        end_time: END,
      },
      schema,
      NOW,
    );
    const compiled = compileQuery(normalized, schema, { table: 'sampled' });
    const reader = await connection.runAndReadAll(compiled.sql, compiled.params as never);
    const fromRows = compiled.decode(reader.getRows());
    expect(fromRows.results.length).toBeGreaterThan(5);
    expect(fromRows.results.some((r) => typeof r.data.status_code === 'number' && typeof r.data.ok === 'boolean')).toBe(true);
    expect(compiled.decode(reader.getRowsJS() as unknown[][])).toEqual(fromRows);
    expect(compiled.decode(reader.getRowsJson() as unknown[][])).toEqual(fromRows);
  });
});

describe('empty answers', () => {
  it('without breakdowns an empty range gives one row of zero count and null values', async () => {
    const { results, series } = await run(datasets[0] as Dataset, {
      calculations: [
        { op: 'COUNT' },
        { op: 'P99', column: 'duration_ms' },
        { op: 'HEATMAP', column: 'duration_ms' },
        { op: 'AVG', column: 'duration_ms' },
      ],
      start_time: T0 - 7200,
      end_time: T0,
      granularity: 60,
    });
    expect(results).toEqual([{ data: { COUNT: 0, 'P99(duration_ms)': null, 'HEATMAP(duration_ms)': null, 'AVG(duration_ms)': null } }]);
    expect(series).toEqual([]);
  });

  it('with breakdowns an empty range gives no groups', async () => {
    const { results } = await run(datasets[0] as Dataset, { breakdowns: ['service.name'], start_time: T0 - 7200, end_time: T0 });
    expect(results).toEqual([]);
  });
});

describe('INCOMPLETE', () => {
  // A dataset of stitched executions: meta.incomplete true on about one in eight, false on the rest, missing on a few.
  const beaconColumns: ColumnInfo[] = [...schemaFor(true).columns, { name: 'meta.incomplete', type: 'boolean' }];
  const beaconEvents: TestEvent[] = generateEvents(1200, 13, true).map((e, i) => ({
    ...e,
    fields: {
      ...e.fields,
      'meta.incomplete': i % 29 === 0 ? null : (i * 7919) % 8 === 0 || (e.fields['service.name'] === 'web' && i % 3 === 0),
    },
  }));
  const textColumns: ColumnInfo[] = [...schemaFor(true).columns, { name: 'meta.incomplete', type: 'string' }];
  const textEvents: TestEvent[] = beaconEvents.map((e) => ({
    ...e,
    fields: { ...e.fields, 'meta.incomplete': e.fields['meta.incomplete'] === null ? null : String(e.fields['meta.incomplete']) },
  }));
  const flatEvents: TestEvent[] = beaconEvents.map((e) => ({ ...e, samplerate: 1 }));
  const share = (events: TestEvent[], value: boolean | string = true): number | null => {
    const all = events.reduce((s, e) => s + e.samplerate, 0);
    return all === 0 ? null : events.filter((e) => e.fields['meta.incomplete'] === value).reduce((s, e) => s + e.samplerate, 0) / all;
  };
  let db: DuckDBConnection;

  beforeAll(async () => {
    db = await loadEvents(
      { beacons: beaconEvents, beacons_flat: flatEvents, beacons_text: textEvents },
      { beacons: beaconColumns, beacons_flat: beaconColumns, beacons_text: textColumns },
    );
  });

  afterAll(() => {
    db.closeSync();
  });

  async function runOn(table: string, columns: ColumnInfo[], hasSampling: boolean, spec: QuerySpec) {
    const schema = { dataset: table, columns, hasSampling };
    const compiled = compileQuery(validateQuery(spec, schema, NOW), schema, { table });
    const reader = await db.runAndReadAll(compiled.sql, compiled.params as never);
    return { compiled, ...compiled.decode(reader.getRows()) };
  }

  it.each([true, false])(
    'is the weighted share of meta.incomplete = true per group, ordered and filtered by havings (hasSampling=%s)',
    async (hasSampling) => {
      const source = hasSampling ? beaconEvents : beaconEvents.map((e) => ({ ...e, samplerate: 1 }));
      const { results, compiled } = await runOn(hasSampling ? 'beacons' : 'beacons', beaconColumns, hasSampling, {
        calculations: [{ op: 'COUNT' }, { op: 'INCOMPLETE' }],
        breakdowns: ['service.name'],
        orders: [{ op: 'INCOMPLETE', order: 'descending' }],
        havings: [{ calculate_op: 'INCOMPLETE', op: '>', value: 0.05 }],
        start_time: START,
        end_time: END,
      });
      expect(compiled.calculations).toEqual(['COUNT', 'INCOMPLETE']);
      // The column name is a quoted identifier, `true` a bound parameter: no user text in the SQL.
      expect(compiled.sql).toContain('"meta.incomplete"');
      expect(compiled.params).toContain(true);
      const expected = [...groupBy(selectEvents(source, START, END), ['service.name']).entries()]
        .map(([key, group]) => ({ key: JSON.parse(key)[0] as string | null, value: share(group) as number, count: group.length }))
        .filter((g) => g.value > 0.05)
        .sort((a, b) => b.value - a.value);
      expect(expected.length).toBeGreaterThan(1);
      expect(results.map((r) => r.data['service.name'])).toEqual(expected.map((g) => g.key));
      expect(results.map((r) => r.data.INCOMPLETE)).toEqual(expected.map((g) => expect.closeTo(g.value, 12)));
    },
  );

  it('gives what RATE(meta.incomplete = true) gives, in results and in a series', async () => {
    const rate: Calculation = { op: 'RATE', filters: [{ column: 'meta.incomplete', op: '=', value: true }] };
    const spec = (calc: Calculation): QuerySpec => ({
      calculations: [calc],
      breakdowns: ['status_code'],
      granularity: 900,
      start_time: START,
      end_time: END,
    });
    const incomplete = await runOn('beacons', beaconColumns, true, spec({ op: 'INCOMPLETE' }));
    const viaRate = await runOn('beacons', beaconColumns, true, spec(rate));
    const values = (rows: ResultRow[] | undefined, name: string) => (rows ?? []).map((r) => r.data[name]);
    expect(values(incomplete.results, 'INCOMPLETE')).toEqual(values(viaRate.results, 'RATE(meta.incomplete = true)'));
    expect(values(incomplete.series, 'INCOMPLETE')).toEqual(values(viaRate.series, 'RATE(meta.incomplete = true)'));
    expect(incomplete.series?.map((s) => s.time)).toEqual(viaRate.series?.map((s) => s.time));
    // The series buckets hold the reference share of their events.
    const events = selectEvents(beaconEvents, START, END);
    for (const row of incomplete.series ?? []) {
      const bucket = events.filter(
        (e) =>
          Math.floor(e.time / 1e6 / 900) * 900 * 1000 === Date.parse(row.time) && (e.fields.status_code ?? null) === row.data.status_code,
      );
      expect(close(row.data.INCOMPLETE, share(bucket)), row.time).toBe(true);
    }
  });

  it('reads a meta.incomplete column of text as "true"', async () => {
    const { results } = await runOn('beacons_text', textColumns, true, {
      calculations: [{ op: 'INCOMPLETE' }],
      start_time: START,
      end_time: END,
    });
    expect(close(results[0]?.data.INCOMPLETE, share(selectEvents(textEvents, START, END), 'true'))).toBe(true);
  });
});
