/**
 * The DuckDB ↔ ClickHouse differential test: the same seeded events (sample rates, nulls, a column
 * appearing midway, an integer column widened to float) ingested into the DuckDB event store and
 * the ClickHouse event store on chDB (ClickHouse's engine in-process); a generated set of queries
 * (calculations × filters × breakdowns × granularity × havings) and compare and explain reports
 * must agree: counts and sums exactly, averages to 1e-9 relative, percentiles within the tolerance
 * docs/storage.md states (1e-9 relative: both compute the same interpolation, only rounding differs).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Calculation, Filter, QueryResult } from '../../src/query/spec.js';
import { runCompare, runExplain } from '../../src/server/analysis/analysis-service.js';
import { runQuery } from '../../src/server/query/query-service.js';
import { openEventStore } from '../../src/store/duckdb/event-store.js';
import { openEventStoreAt } from '../../src/store/factory.js';
import type { EventStore, IncomingEvent } from '../../src/store/types.js';
import { mulberry32 } from '../fixtures/random.js';

const DATASET = 'shop';
const EVENTS = 6000;
const HOUR = 3600;
/** A fixed clock: the events span the four hours before it. */
const NOW_SECONDS = 1_780_000_000;
const NOW_MS = NOW_SECONDS * 1000;
const WINDOW = { start_time: NOW_SECONDS - 4 * HOUR, end_time: NOW_SECONDS };

let dir: string;
let duck: EventStore;
let click: EventStore;

/** Seeded events: fields with nulls, sample rates 1..10, `region` from the middle on, `latency` integers then floats. */
function generateEvents(seed: number): IncomingEvent[] {
  const rand = mulberry32(seed);
  const services = ['api', 'web', 'worker', 'api-gateway'];
  const routes = ['/cart', '/checkout', '/search', '/cart/items', null];
  const events: IncomingEvent[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const half = i >= EVENTS / 2;
    const data: Record<string, unknown> = {
      service: services[Math.floor(rand() * services.length)],
      route: routes[Math.floor(rand() * routes.length)],
      status: rand() < 0.1 ? 500 : rand() < 0.2 ? 404 : 200,
      bytes: Math.floor(rand() * 100_000),
      duration_ms: Math.round(Math.exp(3 + rand() * 3) * 1000) / 1000,
      error: rand() < 0.08,
      'flag.checkout': rand() < 0.5 ? 'on' : 'off',
      user: `u${Math.floor(rand() * 400)}`,
    };
    if (rand() < 0.15) data.duration_ms = null;
    if (rand() < 0.1) delete data.service;
    if (half) data.region = rand() < 0.6 ? 'eu' : rand() < 0.5 ? 'us' : null;
    data.latency = half ? Math.round(rand() * 5000) / 10 : Math.floor(rand() * 500);
    events.push({
      time: (NOW_SECONDS - 4 * HOUR + Math.floor((i / EVENTS) * 4 * HOUR)) * 1000 + Math.floor(rand() * 1000),
      samplerate: rand() < 0.5 ? 1 : 1 + Math.floor(rand() * 10),
      data,
    });
  }
  return events;
}

async function ingestAll(store: EventStore, events: IncomingEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1000) {
    const outcomes = await store.ingest(DATASET, events.slice(i, i + 1000));
    expect(outcomes.every((o) => o.status === 202)).toBe(true);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-ch-diff-'));
  duck = await openEventStore({ path: join(dir, 'events.duckdb'), ingestWorkers: 0, now: () => NOW_MS });
  click = await openEventStoreAt(`chdb:${join(dir, 'chdb')}`, { now: () => NOW_MS });
  const events = generateEvents(20261206);
  await Promise.all([ingestAll(duck, events), ingestAll(click, events)]);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([duck?.close(), click?.close()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const CALCULATIONS: Calculation[][] = [
  [{ op: 'COUNT' }],
  [{ op: 'COUNT' }, { op: 'SUM', column: 'bytes' }],
  [
    { op: 'AVG', column: 'duration_ms' },
    { op: 'MAX', column: 'latency' },
  ],
  [
    { op: 'MIN', column: 'duration_ms' },
    { op: 'MAX', column: 'route' },
  ],
  [{ op: 'COUNT_DISTINCT', column: 'user' }],
  [
    { op: 'P50', column: 'duration_ms' },
    { op: 'P95', column: 'duration_ms' },
  ],
  [{ op: 'P99', column: 'latency' }, { op: 'COUNT' }],
  [
    { op: 'RATE', filters: [{ column: 'error', op: '=', value: true }] },
    { op: 'SUM', column: 'status' },
  ],
  [{ op: 'HEATMAP', column: 'bytes' }],
];

const FILTERS: Filter[][] = [
  [],
  [{ column: 'status', op: '>=', value: 404 }],
  [{ column: 'route', op: 'starts-with', value: '/cart' }],
  [{ column: 'route', op: 'does-not-contain', value: 'check' }],
  [{ column: 'service', op: 'in', value: ['api', null] }],
  [{ column: 'region', op: '!=', value: 'eu' }],
  [{ column: 'region', op: 'does-not-exist' }],
  [
    { column: 'error', op: '=', value: false },
    { column: 'duration_ms', op: '<', value: 200.5 },
  ],
  [{ column: 'service', op: 'not-in', value: ['web'] }],
];

const BREAKDOWNS: string[][] = [[], ['service'], ['region', 'flag.checkout'], ['error']];

interface GeneratedQuery {
  name: string;
  spec: Record<string, unknown>;
}

/** At least 60 specs: every calculation set with filters, breakdowns, granularity and havings taken in turn. */
function generateQueries(): GeneratedQuery[] {
  const rand = mulberry32(7);
  const queries: GeneratedQuery[] = [];
  CALCULATIONS.forEach((calculations, c) => {
    for (let k = 0; k < 8; k++) {
      const filters = FILTERS[(c + k) % FILTERS.length]!;
      const breakdowns = BREAKDOWNS[(c * 3 + k) % BREAKDOWNS.length]!;
      const spec: Record<string, unknown> = { ...WINDOW, calculations, filters, breakdowns };
      if (k % 3 === 1) spec.granularity = [300, 900, 3600][Math.floor(rand() * 3)];
      if (k % 4 === 2 && calculations[0]!.op !== 'HEATMAP') {
        const first = calculations[0]!;
        spec.havings = [
          {
            calculate_op: first.op,
            ...(first.column === undefined ? {} : { column: first.column }),
            ...(first.filters === undefined ? {} : { filters: first.filters }),
            op: '>',
            value: 0,
          },
        ];
      }
      if (k % 4 === 3 && breakdowns.length > 0)
        spec.orders = [
          {
            op: calculations[0]!.op === 'HEATMAP' ? 'COUNT' : calculations[0]!.op,
            ...(calculations[0]!.column === undefined || calculations[0]!.op === 'HEATMAP' ? {} : { column: calculations[0]!.column }),
            order: 'descending',
          },
        ];
      if (spec.orders !== undefined && calculations[0]!.op === 'HEATMAP') spec.calculations = [...calculations, { op: 'COUNT' }];
      if (k % 5 === 4) spec.filter_combination = 'OR';
      if (calculations[0]!.op === 'RATE' && spec.orders !== undefined) delete spec.orders;
      queries.push({ name: `q${queries.length}: ${JSON.stringify(spec)}`, spec });
    }
  });
  return queries;
}

const QUERIES = generateQueries();

/** Which calculation names are percentiles (a tolerance), and which are exact. */
function isPercentile(name: string): boolean {
  return /^P\d+\(/.test(name);
}

/**
 * The tolerance of a percentile, relative: both engines pick the same two values and interpolate
 * alike (docs/storage.md, "ClickHouse"), so only rounding differs.
 */
const PERCENTILE_TOLERANCE = 1e-9;

function expectSameValue(name: string, a: unknown, b: unknown, where: string): void {
  if (typeof a === 'number' && typeof b === 'number') {
    if (isPercentile(name)) {
      expect(Math.abs(a - b), `${where} ${name}: duckdb ${a}, clickhouse ${b}`).toBeLessThanOrEqual(
        PERCENTILE_TOLERANCE * Math.max(1, Math.abs(a)),
      );
    } else if (Number.isInteger(a) && Number.isInteger(b)) {
      expect(b, `${where} ${name}`).toBe(a);
    } else {
      expect(Math.abs(a - b), `${where} ${name}: duckdb ${a}, clickhouse ${b}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(a)));
    }
    return;
  }
  expect(b, `${where} ${name}`).toEqual(a);
}

function expectSameRows(
  calculations: string[],
  duckRows: Array<{ data: Record<string, unknown> }>,
  clickRows: Array<{ data: Record<string, unknown> }>,
  where: string,
): void {
  expect(clickRows.length, `${where}: row count`).toBe(duckRows.length);
  if (calculations.some(isPercentile)) {
    // Groups ordered by a percentile may swap places within its tolerance: match them by their breakdown values.
    const key = (row: { data: Record<string, unknown> }): string =>
      JSON.stringify(Object.entries(row.data).filter(([name]) => !calculations.includes(name)));
    const byKey = (rows: typeof duckRows) => [...rows].sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0));
    duckRows = byKey(duckRows);
    clickRows = byKey(clickRows);
  }
  duckRows.forEach((row, i) => {
    const other = clickRows[i]!;
    expect(Object.keys(other.data).sort(), where).toEqual(Object.keys(row.data).sort());
    for (const [key, value] of Object.entries(row.data)) {
      if (calculations.includes(key)) expectSameValue(key, value, other.data[key], `${where} row ${i}`);
      else expect(other.data[key], `${where} row ${i} ${key}`).toEqual(value);
    }
  });
}

describe('the ClickHouse event store agrees with the DuckDB one', () => {
  it('stores the same schema: columns, types (latency widened to float), sampling', async () => {
    const [a, b] = await Promise.all([duck.getSchema(DATASET), click.getSchema(DATASET)]);
    const shape = (s: typeof a) => s?.columns.map((c) => [c.name, c.type]).sort();
    expect(shape(b)).toEqual(shape(a));
    expect(b?.columns.find((c) => c.name === 'latency')?.type).toBe('float');
    expect(b?.hasSampling).toBe(true);
    const [listA] = await duck.listDatasets();
    const [listB] = await click.listDatasets();
    expect(listB).toEqual(listA);
  });

  it(`answers ${QUERIES.length} generated queries alike`, async () => {
    expect(QUERIES.length).toBeGreaterThanOrEqual(60);
    let compared = 0;
    for (const { name, spec } of QUERIES) {
      const [a, b] = (await Promise.all([runQuery(duck, DATASET, spec, NOW_MS), runQuery(click, DATASET, spec, NOW_MS)])) as [
        QueryResult,
        QueryResult,
      ];
      const calculations = a.meta.calculations;
      expectSameRows(calculations, a.data.results, b.data.results, name);
      expect(b.data.series?.length, `${name}: series`).toBe(a.data.series?.length);
      const times = [...new Set((a.data.series ?? []).map((row) => row.time))];
      expect([...new Set((b.data.series ?? []).map((row) => row.time))], `${name}: series times`).toEqual(times);
      for (const time of times) {
        const at = (rows: typeof a.data.series) => (rows ?? []).filter((row) => row.time === time);
        expectSameRows(calculations, at(a.data.series), at(b.data.series), `${name} series at ${time}`);
      }
      compared += a.data.results.length;
    }
    expect(compared).toBeGreaterThan(100);
  }, 300_000);

  it('answers alike where nothing matches: an empty time range, a filter no event passes', async () => {
    const calculations = [
      { op: 'COUNT' },
      { op: 'SUM', column: 'bytes' },
      { op: 'AVG', column: 'duration_ms' },
      { op: 'MIN', column: 'route' },
      { op: 'MAX', column: 'latency' },
      { op: 'COUNT_DISTINCT', column: 'user' },
      { op: 'P50', column: 'duration_ms' },
      { op: 'HEATMAP', column: 'bytes' },
      { op: 'RATE', filters: [{ column: 'error', op: '=', value: true }] },
    ];
    for (const spec of [
      { start_time: NOW_SECONDS - 40 * HOUR, end_time: NOW_SECONDS - 30 * HOUR, calculations },
      { ...WINDOW, calculations, filters: [{ column: 'status', op: '=', value: 201 }] },
      { ...WINDOW, calculations, filters: [{ column: 'status', op: '=', value: 201 }], granularity: 3600 },
      { ...WINDOW, calculations, filters: [{ column: 'status', op: '=', value: 201 }], breakdowns: ['service'] },
    ]) {
      const [a, b] = await Promise.all([runQuery(duck, DATASET, spec, NOW_MS), runQuery(click, DATASET, spec, NOW_MS)]);
      expect(b.data, JSON.stringify(spec)).toEqual(a.data);
    }
  });

  it('gives the same compare report', async () => {
    const body = { ...WINDOW, flags: ['checkout'], metrics: ['RATE(error = true)', 'AVG(duration_ms)', 'SUM(bytes)', 'COUNT'], unit: null };
    const [a, b] = await Promise.all([runCompare(duck, DATASET, body, NOW_MS), runCompare(click, DATASET, body, NOW_MS)]);
    const strip = ({ duration_ms: _d, ...rest }: typeof a) => rest;
    expect(JSON.parse(JSON.stringify(strip(b)), roundFloats)).toEqual(JSON.parse(JSON.stringify(strip(a)), roundFloats));
  });

  it("gives the same explain report: sides and every category finding (numeric buckets come from each engine's sketch)", async () => {
    const body = { ...WINDOW, selection: [{ column: 'status', op: '=', value: 500 }] };
    const [a, b] = await Promise.all([runExplain(duck, DATASET, body, NOW_MS), runExplain(click, DATASET, body, NOW_MS)]);
    expect(b.selected).toEqual(a.selected);
    expect(b.rest).toEqual(a.rest);
    expect(b.columns).toEqual(a.columns);
    // Numeric columns are bucketed at edges from approximate quantiles (DuckDB's approx_quantile,
    // ClickHouse's quantiles), so their findings, the q-values and which findings make the list
    // differ; a value's shares and its test do not.
    const numeric = new Set(['status', 'bytes', 'duration_ms', 'latency']);
    const categories = (report: typeof a) =>
      new Map(
        report.findings
          .filter((f) => f.kind === 'value' && f.columns.every((c) => !numeric.has(c)))
          .map((f) => [
            JSON.stringify([f.columns, f.values]),
            JSON.parse(JSON.stringify({ s: f.selectedShare, r: f.restShare, e: f.effect, p: f.pValue }), roundFloats),
          ]),
      );
    const [x, y] = [categories(a), categories(b)];
    const shared = [...x.keys()].filter((key) => y.has(key));
    expect(shared.length).toBeGreaterThan(10);
    for (const key of shared) expect(y.get(key), key).toEqual(x.get(key));
  });
});

/** Floats to 9 significant digits: the two engines sum in different orders. */
function roundFloats(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(9)) : value;
}
