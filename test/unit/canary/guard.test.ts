import { describe, expect, it } from 'vitest';
import { defaultGuards, guardFromInput, parseGuard, toleranceOnDifferenceScale } from '../../../src/canary/index.js';
import type { DatasetSchema } from '../../../src/query/schema.js';

describe('parseGuard', () => {
  it('reads the spec syntax: metric, comparator outside parentheses, tolerance, action', () => {
    const rate = parseGuard('RATE(status_code >= 500) <= +0.5pp');
    expect(rate).toMatchObject({ direction: 'lower-is-better', tolerance: 0.005, toleranceUnit: 'pp', action: 'rollback' });
    expect(rate.metric.kind).toBe('rate');
    expect(rate.text).toBe('RATE(status_code >= 500) <= +0.5pp');

    const latency = parseGuard('P95(duration_ms) <= +10% then pause');
    expect(latency).toMatchObject({ tolerance: 0.1, toleranceUnit: '%', action: 'pause' });
    expect(latency.metric).toMatchObject({ kind: 'percentile', column: 'duration_ms', quantile: 0.95 });

    expect(parseGuard('INCOMPLETE <= +0.5pp').metric.kind).toBe('incomplete');
    expect(parseGuard('AVG(duration_ms) <= 50')).toMatchObject({ tolerance: 50, toleranceUnit: 'unit' });
    expect(parseGuard('RATE(converted = true) >= -1pp')).toMatchObject({ direction: 'higher-is-better', tolerance: -0.01 });
  });

  it.each([
    ['', /empty guard/],
    ['P95(duration_ms)', /no <= or >=/],
    ['<= +10%', /metric is missing/],
    ['P95(duration_ms) <= ten', /not a number/],
    ['COUNT <= +10%', /COUNT cannot be a guard/],
    ['SUM(bytes) <= +10%', /SUM grows/],
    ['RATE(error = true) <= +10%', /percentage points/],
    ['P95(duration_ms) <= +1pp', /rates only/],
    ['P95(nope <= +10%', /invalid guard/],
  ])('refuses %j', (text, message) => {
    expect(() => parseGuard(text)).toThrow(message);
  });

  it('takes the object form of the API', () => {
    expect(guardFromInput({ metric: 'P99(duration_ms)', op: '<=', tolerance: '+20%' }, 'guards[0]').text).toBe('P99(duration_ms) <= +20%');
    expect(() => guardFromInput({ metric: 'P99(duration_ms)', tolerance: '+20%', when: 'now' }, 'guards[0]')).toThrow(
      /unknown field "when"/,
    );
    expect(() => guardFromInput(42, 'guards[0]')).toThrow(/guards\[0\] must be a guard text/);
  });

  it('places a tolerance in the metric unit on the relative scale with the control value', () => {
    const guard = parseGuard('AVG(duration_ms) <= +50');
    expect(toleranceOnDifferenceScale(guard, 250)).toBeCloseTo(0.2, 12);
    expect(toleranceOnDifferenceScale(guard, null)).toBeUndefined();
    expect(toleranceOnDifferenceScale(parseGuard('P95(duration_ms) <= +10%'), null)).toBe(0.1);
  });
});

describe('defaultGuards', () => {
  const schema = (columns: [string, 'string' | 'integer' | 'float' | 'boolean'][]): DatasetSchema =>
    ({ dataset: 'd', hasSampling: false, columns: columns.map(([name, type]) => ({ name, type })) }) as DatasetSchema;

  it('follows the spec: error rate, P95 latency, incomplete executions where the columns exist', () => {
    expect(
      defaultGuards(
        schema([
          ['error', 'boolean'],
          ['duration_ms', 'float'],
          ['meta.incomplete', 'boolean'],
        ]),
      ).map((g) => g.text),
    ).toEqual(['RATE(error = true) <= +0.5pp', 'P95(duration_ms) <= +10%', 'INCOMPLETE <= +0.5pp']);
    expect(defaultGuards(schema([['status_code', 'integer']])).map((g) => g.text)).toEqual(['RATE(status_code >= 500) <= +0.5pp']);
    expect(defaultGuards(schema([['route', 'string']]))).toEqual([]);
  });
});
