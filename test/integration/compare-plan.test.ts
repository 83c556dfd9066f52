/**
 * The comparison statement run on a real in-memory DuckDB table: the
 * sufficient statistics and histograms it returns equal the ones computed in
 * JavaScript from the same rows, and user text only ever travels as parameters.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetric, withValidatedCalculation, metricCalculation } from '../../src/compare/metrics.js';
import { buildCompareStatement, ZERO_BUCKET, type HistogramAggregate, type MomentAggregate } from '../../src/compare/plan.js';
import { logBucketIndex } from '../../src/stats/percentile.js';
import type { DatasetSchema } from '../../src/query/schema.js';
import { validateQuery } from '../../src/query/validate.js';

interface Row {
  time: number;
  w: number;
  flag: string | null;
  error: boolean | null;
  duration: number | null;
  service: string;
  user: string | null;
}

const rows: Row[] = [];
let state = 9;
const rand = (): number => {
  state = (state * 1103515245 + 12345) % 2147483648;
  return state / 2147483648;
};
for (let i = 0; i < 2000; i++) {
  rows.push({
    time: 1_700_000_000 + i,
    w: i % 5 === 0 ? 10 : 1,
    flag: i % 17 === 0 ? null : ['on', 'off', 'it\'s "odd"'][i % 3]!,
    error: i % 23 === 0 ? null : rand() < 0.1,
    duration: i % 19 === 0 ? null : i % 31 === 0 ? 0 : Math.round(rand() * 50000) / 100,
    service: i % 2 === 0 ? 'checkout' : 'cart',
    user: i % 41 === 0 ? null : `u${i % 97}`,
  });
}

const schema: DatasetSchema = {
  dataset: 'test',
  hasSampling: true,
  columns: [
    { name: 'flag.odd "name"', type: 'string' },
    { name: 'error', type: 'boolean' },
    { name: 'duration_ms', type: 'float' },
    { name: 'service.name', type: 'string' },
    { name: 'user.id', type: 'string' },
  ],
};

let instance: DuckDBInstance;
let connection: DuckDBConnection;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
  await connection.run(
    'CREATE TABLE events (_time TIMESTAMP, _samplerate BIGINT, "flag.odd ""name""" VARCHAR, error BOOLEAN, duration_ms DOUBLE, "service.name" VARCHAR, "user.id" VARCHAR)',
  );
  const appender = await connection.createAppender('events');
  for (const r of rows) {
    appender.appendTimestamp({ micros: BigInt(r.time) * 1_000_000n } as never);
    appender.appendBigInt(BigInt(r.w));
    if (r.flag === null) appender.appendNull();
    else appender.appendVarchar(r.flag);
    if (r.error === null) appender.appendNull();
    else appender.appendBoolean(r.error);
    if (r.duration === null) appender.appendNull();
    else appender.appendDouble(r.duration);
    appender.appendVarchar(r.service);
    if (r.user === null) appender.appendNull();
    else appender.appendVarchar(r.user);
    appender.endRow();
  }
  appender.closeSync();
});

afterAll(() => {
  connection?.closeSync();
  instance?.closeSync();
});

describe('buildCompareStatement on DuckDB', () => {
  it('returns per-cohort sufficient statistics and log histograms equal to the ones computed from the rows', async () => {
    const metrics = ['RATE(error = true)', 'AVG(duration_ms)', 'SUM(duration_ms)', 'P95(duration_ms)', 'P50(duration_ms)', 'COUNT'].map(
      parseMetric,
    );
    const population = [{ column: 'service.name', op: '=' as const, value: 'checkout' }];
    const normalized = validateQuery(
      { calculations: metrics.map(metricCalculation), filters: population, start_time: 1_700_000_000, end_time: 1_700_001_500 },
      schema,
      0,
    );
    const validated = metrics.map((m, i) => withValidatedCalculation(m, normalized.calculations[i]!, schema));
    const statement = buildCompareStatement({
      table: '"events"',
      schema,
      cohortColumns: ['flag.odd "name"'],
      metrics: validated,
      filters: normalized.filters,
      filterCombination: 'AND',
      startTime: 1_700_000_000,
      endTime: 1_700_001_500,
    });
    // No user text in the SQL: values are parameters; the column name only as a quoted identifier.
    expect(statement.sql).not.toContain("'checkout'");
    expect(statement.sql).toContain('"flag.odd ""name"""');
    expect(statement.params).toContain('checkout');

    const reader = await connection.runAndReadAll(statement.sql, statement.params as never);
    const cohorts = statement.decode(reader.getRowsJS() as unknown[][]);

    const kept = rows.filter((r) => r.flag !== null && r.service === 'checkout' && r.time >= 1_700_000_000 && r.time < 1_700_001_500);
    const variants = [...new Set(kept.map((r) => r.flag!))].sort();
    expect(cohorts.map((c) => c.key[0])).toEqual(variants);
    for (const c of cohorts) {
      const mine = kept.filter((r) => r.flag === c.key[0]);
      expect(c.rows).toBe(mine.length);
      expect(c.weight).toBe(mine.reduce((s, r) => s + r.w, 0));
      expect(c.weightSquares).toBe(mine.reduce((s, r) => s + r.w * r.w, 0));
      const errors = c.metrics[0] as MomentAggregate;
      expect(errors.weight).toBe(c.weight);
      expect(errors.sum).toBe(mine.filter((r) => r.error === true).reduce((s, r) => s + r.w, 0));
      const withDuration = mine.filter((r) => r.duration !== null);
      const avg = c.metrics[1] as MomentAggregate;
      expect(avg.rows).toBe(withDuration.length);
      expect(avg.weight).toBe(withDuration.reduce((s, r) => s + r.w, 0));
      expect(avg.sum).toBeCloseTo(
        withDuration.reduce((s, r) => s + r.w * r.duration!, 0),
        6,
      );
      expect(avg.sumSquares).toBeCloseTo(
        withDuration.reduce((s, r) => s + r.w * r.duration! ** 2, 0),
        3,
      );
      const sum = c.metrics[2] as MomentAggregate;
      expect(sum.rows).toBe(mine.length);
      expect(sum.sum).toBeCloseTo(avg.sum, 6);
      const histogram = c.metrics[3] as HistogramAggregate;
      expect(c.metrics[4]).toBe(histogram);
      expect(histogram.weight).toBe(avg.weight);
      expect(histogram.zeroWeight).toBe(withDuration.filter((r) => r.duration! <= 0).reduce((s, r) => s + r.w, 0));
      const expected = new Map<number, number>();
      for (const r of withDuration) {
        if (r.duration! <= 0) continue;
        const index = logBucketIndex(r.duration!);
        expected.set(index, (expected.get(index) ?? 0) + r.w);
      }
      expect(new Map(histogram.buckets.map((b) => [b.index, b.count]))).toEqual(expected);
      expect(histogram.buckets.every((b) => b.index !== ZERO_BUCKET)).toBe(true);
      expect(c.metrics[5]).toMatchObject({ weight: c.weight });
      expect(c.units).toBeUndefined();
    }
  });

  it('adds per-unit moments of every rate, average and sum when given a unit column', async () => {
    const metrics = ['RATE(error = true)', 'AVG(duration_ms)'].map(parseMetric);
    const normalized = validateQuery(
      { calculations: metrics.map(metricCalculation), start_time: 1_700_000_000, end_time: 1_700_002_000 },
      schema,
      0,
    );
    const statement = buildCompareStatement({
      table: '"events"',
      schema,
      cohortColumns: ['flag.odd "name"'],
      metrics: metrics.map((m, i) => withValidatedCalculation(m, normalized.calculations[i]!, schema)),
      filters: [],
      filterCombination: 'AND',
      startTime: 1_700_000_000,
      endTime: 1_700_002_000,
      unitColumn: 'user.id',
    });
    const reader = await connection.runAndReadAll(statement.sql, statement.params as never);
    const cohorts = statement.decode(reader.getRowsJS() as unknown[][]);
    for (const c of cohorts) {
      const mine = rows.filter((r) => r.flag === c.key[0] && r.user !== null);
      const byUser = new Map<string, { errorX: number; y: number; durationX: number; durationY: number }>();
      for (const r of mine) {
        const u = byUser.get(r.user!) ?? { errorX: 0, y: 0, durationX: 0, durationY: 0 };
        u.errorX += r.error === true ? r.w : 0;
        u.y += r.w;
        if (r.duration !== null) {
          u.durationX += r.w * r.duration;
          u.durationY += r.w;
        }
        byUser.set(r.user!, u);
      }
      const users = [...byUser.values()];
      expect(c.units).toBe(users.length);
      const errors = (c.metrics[0] as MomentAggregate).perUnit!;
      expect(errors.units).toBe(users.length);
      expect(errors.sumX).toBe(users.reduce((s, u) => s + u.errorX, 0));
      expect(errors.sumXSquares).toBe(users.reduce((s, u) => s + u.errorX ** 2, 0));
      expect(errors.sumY).toBe(users.reduce((s, u) => s + u.y, 0));
      expect(errors.sumYSquares).toBe(users.reduce((s, u) => s + u.y ** 2, 0));
      expect(errors.sumXY).toBe(users.reduce((s, u) => s + u.errorX * u.y, 0));
      const durations = (c.metrics[1] as MomentAggregate).perUnit!;
      expect(durations.sumX).toBeCloseTo(
        users.reduce((s, u) => s + u.durationX, 0),
        6,
      );
      expect(durations.sumY).toBe(users.reduce((s, u) => s + u.durationY, 0));
      expect(durations.sumXY).toBeCloseTo(
        users.reduce((s, u) => s + u.durationX * u.durationY, 0),
        3,
      );
    }
  });
});
