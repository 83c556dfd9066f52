import { describe, expect, it } from 'vitest';
import { parseMetric, defaultMetrics, metricFromInput } from '../../src/compare/metrics.js';
import type { CohortAggregate, HistogramAggregate, MomentAggregate } from '../../src/compare/plan.js';
import { assembleCompareReport, chooseControl, parseExpectedSplit, SRM_ALPHA, unitRatio } from '../../src/compare/report.js';
import type { UnitMoments } from '../../src/compare/plan.js';
import { alwaysValidInterval } from '../../src/stats/two-sample.js';
import { configuredSplit, parseCompareRequest, withFlagConfiguration } from '../../src/compare/request.js';
import { adjustPValues } from '../../src/stats/adjust.js';
import { sequentialInteractionTest } from '../../src/stats/interaction.js';
import { histogramFromLogBuckets, percentileTest } from '../../src/stats/percentile.js';
import { srmTest } from '../../src/stats/srm.js';
import { summaryFromWeighted } from '../../src/stats/summary.js';
import { sequentialTest, twoProportionTest } from '../../src/stats/two-sample.js';

/** Moments of a 0/1 indicator: `successes` of `rows` unsampled events. */
function rate(rows: number, successes: number): MomentAggregate {
  return { rows, weight: rows, weightSquares: rows, sum: successes, sumSquares: successes };
}

/** Moments of unsampled values. */
function moments(values: number[]): MomentAggregate {
  return {
    rows: values.length,
    weight: values.length,
    weightSquares: values.length,
    sum: values.reduce((a, b) => a + b, 0),
    sumSquares: values.reduce((a, b) => a + b * b, 0),
  };
}

function cohort(key: string[], rows: number, metrics: (MomentAggregate | HistogramAggregate)[]): CohortAggregate {
  return { key, rows, weight: rows, weightSquares: rows, metrics };
}

const errorRate = parseMetric('RATE(error = true)');
const avgDuration = parseMetric('AVG(duration_ms)');

describe('metric parsing', () => {
  it('reads every metric form with its direction and scale', () => {
    expect(parseMetric('COUNT')).toMatchObject({ kind: 'count', direction: 'higher-is-better' });
    expect(parseMetric('SUM(revenue)')).toMatchObject({ kind: 'sum', column: 'revenue', scale: 'relative' });
    expect(parseMetric('AVG(duration_ms)')).toMatchObject({ kind: 'avg', direction: 'lower-is-better', scale: 'relative' });
    expect(parseMetric('P999(duration_ms)')).toMatchObject({ kind: 'percentile', quantile: 0.999, name: 'P999(duration_ms)' });
    expect(parseMetric('RATE(status_code >= 500)')).toMatchObject({
      kind: 'rate',
      scale: 'absolute',
      filters: [{ column: 'status_code', op: '>=', value: 500 }],
    });
    expect(parseMetric('incomplete')).toMatchObject({ kind: 'incomplete', name: 'INCOMPLETE', scale: 'absolute' });
    expect(parseMetric('RATE(purchased = true):higher')).toMatchObject({ kind: 'rate', direction: 'higher-is-better' });
    expect(metricFromInput({ op: 'P95', column: 'duration_ms' }, 'metrics[0]')).toMatchObject({ kind: 'percentile', quantile: 0.95 });
  });

  it('rejects what cannot be compared, with a hint', () => {
    expect(() => parseMetric('MAX(duration_ms)')).toThrow(/cannot be compared/);
    expect(() => parseMetric('HEATMAP(duration_ms)')).toThrow(/cannot be compared/);
    expect(() => parseMetric('')).toThrow();
    expect(() => metricFromInput(42, 'metrics[0]')).toThrow(/metrics\[0\]/);
  });

  it('defaults to the error rate and P95 latency when the columns exist', () => {
    const schema = {
      dataset: 'd',
      hasSampling: false,
      columns: [
        { name: 'error', type: 'boolean' as const },
        { name: 'duration_ms', type: 'float' as const },
      ],
    };
    expect(defaultMetrics(schema).map((m) => m.name)).toEqual(['RATE(error = true)', 'P95(duration_ms)']);
    expect(defaultMetrics({ dataset: 'd', hasSampling: false, columns: [{ name: 'x', type: 'string' }] }).map((m) => m.name)).toEqual([
      'COUNT',
    ]);
  });
});

describe('assembleCompareReport', () => {
  const off = cohort(['off'], 10_000, [rate(10_000, 200), moments(Array.from({ length: 100 }, (_, i) => 100 + (i % 10)))]);
  const on = cohort(['on'], 9_800, [rate(9_800, 300), moments(Array.from({ length: 100 }, (_, i) => 101 + (i % 10)))]);
  const report = assembleCompareReport({
    dataset: 'shop',
    columns: [{ flag: 'checkout', column: 'flag.checkout', expected: { on: 50, off: 50 }, expectedSource: 'flag' }],
    metrics: [errorRate, avgDuration],
    cohorts: [on, off],
    startTime: 1000,
    endTime: 2000,
  });

  it('puts the control cohort first and reports its value without a test', () => {
    expect(report.control).toEqual({ checkout: 'off' });
    expect(report.cohorts.map((c) => [c.label, c.control])).toEqual([
      ['off', true],
      ['on', false],
    ]);
    const control = report.results.find((r) => r.metric === errorRate.name && r.cohort === 'off')!;
    expect(control).toMatchObject({
      control: true,
      value: 0.02,
      count: 10_000,
      difference: null,
      pValue: null,
      qValue: null,
      verdict: null,
    });
  });

  it('tests a rate with the two-proportion confidence sequence, in percentage points', () => {
    const row = report.results.find((r) => r.metric === errorRate.name && r.cohort === 'on')!;
    const expected = twoProportionTest({ n: 10_000, successes: 200 }, { n: 9_800, successes: 300 });
    expect(row.value).toBeCloseTo(300 / 9_800, 12);
    expect(row.difference).toBeCloseTo(expected.effect, 12);
    expect(row.ci![0]).toBeCloseTo(expected.ci[0], 12);
    expect(row.pValue).toBeCloseTo(expected.pValue, 12);
    expect(row.scale).toBe('absolute');
  });

  it('tests an average relative to control with the sequential test', () => {
    const row = report.results.find((r) => r.metric === avgDuration.name && r.cohort === 'on')!;
    const expected = sequentialTest(
      summaryFromWeighted(off.metrics[1] as MomentAggregate),
      summaryFromWeighted(on.metrics[1] as MomentAggregate),
      { relative: true },
    );
    expect(row.difference).toBeCloseTo(expected.effect, 12);
    expect(row.pValue).toBeCloseTo(expected.pValue, 12);
    expect(row.scale).toBe('relative');
  });

  it('adjusts every p-value of the report together (Benjamini–Hochberg) and gives verdicts from q', () => {
    const tested = report.results.filter((r) => r.pValue !== null);
    const q = adjustPValues(
      tested.map((r) => r.pValue!),
      'bh',
    );
    tested.forEach((r, i) => expect(r.qValue).toBeCloseTo(q[i]!, 12));
    const errors = tested.find((r) => r.metric === errorRate.name)!;
    expect(errors.qValue!).toBeLessThan(0.05);
    expect(errors.verdict).toBe('worse');
  });

  it('tests the observed split against the configured one', () => {
    const [line] = report.sampleRatio;
    const expected = srmTest([10_000, 9_800], [50, 50]);
    expect(line).toMatchObject({ flag: 'checkout', source: 'flag', observed: { off: 10_000, on: 9_800 }, expected: { off: 0.5, on: 0.5 } });
    expect(line!.pValue).toBeCloseTo(expected.pValue, 12);
    expect(line!.mismatch).toBe(expected.pValue < SRM_ALPHA);
  });

  it('calls events in a variant the split gives no weight a mismatch', () => {
    const skewed = assembleCompareReport({
      dataset: 'shop',
      columns: [{ flag: 'checkout', column: 'flag.checkout', expected: { off: 100 } }],
      metrics: [errorRate],
      cohorts: [cohort(['off'], 1000, [rate(1000, 10)]), cohort(['on'], 5, [rate(5, 0)])],
      startTime: 0,
      endTime: 1,
    });
    expect(skewed.sampleRatio[0]).toMatchObject({ mismatch: true, unexpectedVariants: ['on'] });
  });

  it('counts distinct units for the sample ratio when the cohorts carry them', () => {
    const byUsers = assembleCompareReport({
      dataset: 'shop',
      columns: [
        { flag: 'a', column: 'flag.a', expected: { on: 50, off: 50 } },
        { flag: 'b', column: 'flag.b' },
      ],
      metrics: [errorRate],
      cohorts: [
        { ...cohort(['off', 'off'], 900, [rate(900, 9)]), units: 100 },
        { ...cohort(['off', 'on'], 100, [rate(100, 1)]), units: 100 },
        { ...cohort(['on', 'off'], 300, [rate(300, 3)]), units: 110 },
        { ...cohort(['on', 'on'], 200, [rate(200, 2)]), units: 90 },
      ],
      startTime: 0,
      endTime: 1,
      unitColumn: 'user.id',
    });
    // 1,000 events against 500 on the variant 'off' of flag a, but 200 users against 200: no mismatch.
    expect(byUsers.sampleRatio[0]).toMatchObject({ unit: 'user.id', observed: { off: 200, on: 200 }, mismatch: false });
    expect(byUsers.sampleRatio[0]!.pValue).toBeCloseTo(1, 12);
    expect(byUsers.sampleRatio[1]).toMatchObject({ unit: 'user.id', observed: { off: 210, on: 190 } });
  });

  it('tests per unit as a ratio metric with the delta-method variance when cohorts carry per-unit moments', () => {
    const momentsOf = (users: [number, number][]): UnitMoments => ({
      units: users.length,
      sumX: users.reduce((s, [x]) => s + x, 0),
      sumXSquares: users.reduce((s, [x]) => s + x * x, 0),
      sumY: users.reduce((s, [, y]) => s + y, 0),
      sumYSquares: users.reduce((s, [, y]) => s + y * y, 0),
      sumXY: users.reduce((s, [x, y]) => s + x * y, 0),
    });
    // (errors, events) per user.
    const controlUsers: [number, number][] = Array.from({ length: 300 }, (_, i) => [i % 10 === 0 ? 3 : 0, 5 + (i % 7)]);
    const treatmentUsers: [number, number][] = Array.from({ length: 300 }, (_, i) => [i % 5 === 0 ? 3 : 0, 5 + (i % 7)]);
    const a = momentsOf(controlUsers);
    const b = momentsOf(treatmentUsers);
    // The delta method by hand: Var(R) ≈ Σ(x − R·y)² / ((n − 1)·n·ȳ²).
    const byHand = (users: [number, number][]) => {
      const r = users.reduce((s, [x]) => s + x, 0) / users.reduce((s, [, y]) => s + y, 0);
      const meanY = users.reduce((s, [, y]) => s + y, 0) / users.length;
      const residuals = users.reduce((s, [x, y]) => s + (x - r * y) ** 2, 0) / (users.length - 1);
      return { r, variance: residuals / (users.length * meanY * meanY) };
    };
    expect(unitRatio(a)!.ratio).toBeCloseTo(byHand(controlUsers).r, 12);
    expect(unitRatio(a)!.variance).toBeCloseTo(byHand(controlUsers).variance, 12);
    const eventsOf = (_users: [number, number][], m: UnitMoments): MomentAggregate => ({ ...rate(m.sumY, m.sumX), perUnit: m });
    const report = assembleCompareReport({
      dataset: 'shop',
      columns: [{ flag: 'f', column: 'flag.f' }],
      metrics: [errorRate],
      cohorts: [
        { ...cohort(['off'], a.sumY, [eventsOf(controlUsers, a)]), units: 300 },
        { ...cohort(['on'], b.sumY, [eventsOf(treatmentUsers, b)]), units: 300 },
      ],
      startTime: 0,
      endTime: 1,
      unitColumn: 'user.id',
    });
    const row = report.results.find((r) => r.cohort === 'on')!;
    const expected = alwaysValidInterval(
      byHand(treatmentUsers).r - byHand(controlUsers).r,
      Math.sqrt(byHand(treatmentUsers).variance + byHand(controlUsers).variance),
      600,
    );
    expect(row.difference).toBeCloseTo(expected.effect, 12);
    expect(row.ci![1]).toBeCloseTo(expected.ci[1], 12);
    expect(row.pValue).toBeCloseTo(expected.pValue, 12);
    // Wider than treating the ~2,400 events of each cohort as independent.
    const eventLevel = twoProportionTest({ n: a.sumY, successes: a.sumX }, { n: b.sumY, successes: b.sumX });
    expect(row.ci![1] - row.ci![0]).toBeGreaterThan(eventLevel.ci[1] - eventLevel.ci[0]);
  });

  it('gives "not enough data" below the minimum sample', () => {
    const small = assembleCompareReport({
      dataset: 'shop',
      columns: [{ flag: 'checkout', column: 'flag.checkout' }],
      metrics: [errorRate],
      cohorts: [cohort(['off'], 50, [rate(50, 1)]), cohort(['on'], 40, [rate(40, 30)])],
      startTime: 0,
      endTime: 1,
    });
    expect(small.results.find((r) => r.cohort === 'on')!.verdict).toBe('not enough data');
    expect(small.sampleRatio[0]!.source).toBeNull();
  });

  it('weights sample rates: values by Σw, tests by the effective sample size', () => {
    // 1,000 stored rows each standing for 10 events vs 10,000 unsampled ones: the same rate, the same information per row.
    const sampled: MomentAggregate = { rows: 1000, weight: 10_000, weightSquares: 100_000, sum: 2000, sumSquares: 2000 };
    const plain = rate(10_000, 200);
    const weighted = assembleCompareReport({
      dataset: 'shop',
      columns: [{ flag: 'f', column: 'flag.f', control: 'a' }],
      metrics: [errorRate],
      cohorts: [
        { key: ['a'], rows: 10_000, weight: 10_000, weightSquares: 10_000, metrics: [plain] },
        { key: ['b'], rows: 1000, weight: 10_000, weightSquares: 100_000, metrics: [sampled] },
      ],
      startTime: 0,
      endTime: 1,
    });
    const row = weighted.results.find((r) => r.cohort === 'b')!;
    expect(row.count).toBe(10_000);
    expect(row.value).toBeCloseTo(0.2, 12);
    const expected = twoProportionTest({ n: 10_000, successes: 200 }, { n: 1000, successes: 200 });
    expect(row.pValue).toBeCloseTo(expected.pValue, 12);
    // The sample-ratio line counts rows at the mean sample rate, not weighted events.
    expect(weighted.sampleRatio[0]!.observed.b! / weighted.sampleRatio[0]!.observed.a!).toBeCloseTo(1, 12);
  });

  it('compares percentiles from log-bucket histograms', () => {
    const histogram = (shift: number): HistogramAggregate => ({
      rows: 1000,
      weight: 1000,
      weightSquares: 1000,
      zeroWeight: 0,
      buckets: Array.from({ length: 50 }, (_, i) => ({ index: 400 + i + shift, count: 20 })),
    });
    const p95 = parseMetric('P95(duration_ms)');
    const result = assembleCompareReport({
      dataset: 'shop',
      columns: [{ flag: 'f', column: 'flag.f' }],
      metrics: [p95],
      cohorts: [cohort(['off'], 1000, [histogram(0)]), cohort(['on'], 1000, [histogram(10)])],
      startTime: 0,
      endTime: 1,
    });
    const row = result.results.find((r) => r.cohort === 'on')!;
    const a = histogramFromLogBuckets(histogram(0).buckets, { effectiveCount: 1000 });
    const b = histogramFromLogBuckets(histogram(10).buckets, { effectiveCount: 1000 });
    const expected = percentileTest(a, b, 0.95, { relative: true });
    expect(row.difference).toBeCloseTo(expected.effect, 12);
    // Ten buckets of γ = 1.01/0.99 higher: about 22% higher.
    expect(row.difference!).toBeCloseTo((1.01 / 0.99) ** 10 - 1, 2);
    expect(row.verdict).toBe('worse');
  });

  it('reports the interaction of two flags from the four pooled cells', () => {
    const cells = { offoff: rate(5000, 100), offon: rate(5000, 100), onoff: rate(5000, 100), onon: rate(5000, 400) };
    const combined = assembleCompareReport({
      dataset: 'shop',
      columns: [
        { flag: 'a', column: 'flag.a' },
        { flag: 'b', column: 'flag.b' },
      ],
      metrics: [errorRate],
      cohorts: [
        cohort(['off', 'off'], 5000, [cells.offoff]),
        cohort(['off', 'on'], 5000, [cells.offon]),
        cohort(['on', 'off'], 5000, [cells.onoff]),
        cohort(['on', 'on'], 5000, [cells.onon]),
      ],
      startTime: 0,
      endTime: 1,
    });
    expect(combined.cohorts[0]!.label).toBe('a=off b=off');
    const [interaction] = combined.interactions;
    const expected = sequentialInteractionTest({
      neither: summaryFromWeighted(cells.offoff),
      firstOnly: summaryFromWeighted(cells.onoff),
      secondOnly: summaryFromWeighted(cells.offon),
      both: summaryFromWeighted(cells.onon),
    });
    expect(interaction).toMatchObject({ flags: ['a', 'b'], variants: ['on', 'on'], verdict: 'worse' });
    expect(interaction!.effect).toBeCloseTo(expected.effect, 12);
    expect(interaction!.effect).toBeCloseTo(0.06, 12);
    // q-values run over the cohort results and the interaction together.
    const ps = [...combined.results.filter((r) => r.pValue !== null).map((r) => r.pValue!), interaction!.pValue!];
    expect(interaction!.qValue).toBeCloseTo(adjustPValues(ps, 'bh')[ps.length - 1]!, 12);
  });

  it('measures interactions on percentiles as a ratio of ratios of the quantiles', () => {
    const histogram = (shift: number): HistogramAggregate => ({
      rows: 2000,
      weight: 2000,
      weightSquares: 2000,
      zeroWeight: 0,
      buckets: Array.from({ length: 40 }, (_, k) => ({ index: 300 + k + shift, count: 50 })),
    });
    const p50 = parseMetric('P50(duration_ms)');
    const run = (shifts: [number, number, number, number]) =>
      assembleCompareReport({
        dataset: 'shop',
        columns: [
          { flag: 'a', column: 'flag.a' },
          { flag: 'b', column: 'flag.b' },
        ],
        metrics: [p50],
        cohorts: [
          cohort(['off', 'off'], 2000, [histogram(shifts[0])]),
          cohort(['on', 'off'], 2000, [histogram(shifts[1])]),
          cohort(['off', 'on'], 2000, [histogram(shifts[2])]),
          cohort(['on', 'on'], 2000, [histogram(shifts[3])]),
        ],
        startTime: 0,
        endTime: 1,
      });
    const gamma = 1.01 / 0.99;
    // Each flag alone +5 buckets, together +30: the combination is γ^20 ≈ 49% slower than the two effects multiplied.
    const bad = run([0, 5, 5, 30]).interactions[0]!;
    expect(bad.scale).toBe('relative');
    expect(bad.effect!).toBeCloseTo(gamma ** 20 - 1, 1);
    expect(bad.verdict).toBe('worse');
    // Together +10 = 5 + 5: no interaction.
    const none = run([0, 5, 5, 10]).interactions[0]!;
    expect(Math.abs(none.effect!)).toBeLessThan(0.01);
    expect(none.verdict).toBe('no detectable difference');
  });

  it('rejects a control variant that has no events, naming the variants seen', () => {
    expect(() =>
      assembleCompareReport({
        dataset: 'shop',
        columns: [{ flag: 'f', column: 'flag.f', control: 'ctrl' }],
        metrics: [errorRate],
        cohorts: [cohort(['on'], 10, [rate(10, 1)])],
        startTime: 0,
        endTime: 1,
      }),
    ).toThrow(/"ctrl".*no events/);
  });
});

describe('control, expected split and request parsing', () => {
  it('picks the control: given, the default variant, a conventional name, else the largest cohort', () => {
    const seen = new Map([
      ['treatment', 10],
      ['control', 5],
      ['beta', 50],
    ]);
    expect(chooseControl({ flag: 'f', column: 'c', control: 'beta' }, seen)).toBe('beta');
    expect(chooseControl({ flag: 'f', column: 'c', defaultVariant: 'treatment' }, seen)).toBe('treatment');
    expect(chooseControl({ flag: 'f', column: 'c' }, seen)).toBe('control');
    expect(
      chooseControl(
        { flag: 'f', column: 'c' },
        new Map([
          ['x', 1],
          ['y', 3],
        ]),
      ),
    ).toBe('y');
  });

  it('parses --expect', () => {
    expect(parseExpectedSplit('on=50,off=50')).toEqual({ on: 50, off: 50 });
    expect(parseExpectedSplit('a=33.3%, b=66.7%')).toEqual({ a: 33.3, b: 66.7 });
    expect(() => parseExpectedSplit('on=50')).toThrow(/at least two/);
    expect(() => parseExpectedSplit('on=fifty,off=1')).toThrow(/invalid expected split/);
  });

  it("takes the expected split and control from the flag's configuration", () => {
    expect(
      configuredSplit({
        defaultVariant: 'off',
        rollout: {
          weights: [
            { variant: 'on', weight: 10 },
            { variant: 'off', weight: 90 },
          ],
        },
      }),
    ).toEqual({ on: 10, off: 90 });
    expect(configuredSplit({ defaultVariant: 'off' })).toEqual({ off: 1 });
    expect(configuredSplit({ defaultVariant: 'off', targeting: { if: [] } })).toBeUndefined();
    const request = withFlagConfiguration(parseCompareRequest({ flags: ['a', { flag: 'b', expect: { x: 1, y: 1 } }] }), (key) =>
      key === 'a' || key === 'b'
        ? {
            defaultVariant: 'off',
            rollout: {
              weights: [
                { variant: 'on', weight: 50 },
                { variant: 'off', weight: 50 },
              ],
            },
          }
        : undefined,
    );
    expect(request.flags[0]).toMatchObject({ flag: 'a', defaultVariant: 'off', expect: { on: 50, off: 50 }, expectSource: 'flag' });
    expect(request.flags[1]).toMatchObject({ flag: 'b', expect: { x: 1, y: 1 } });
    expect(request.flags[1]!.expectSource).toBeUndefined();
  });

  it('rejects malformed requests with the field named', () => {
    expect(() => parseCompareRequest({})).toThrow(/"flags"/);
    expect(() => parseCompareRequest({ flags: ['a'], nope: 1 })).toThrow(/unknown field "nope"/);
    expect(() => parseCompareRequest({ flags: [{ flag: 'a', expect: { on: -1 } }] })).toThrow(/flags\[0\]\.expect/);
    expect(() => parseCompareRequest({ flags: ['a', 'a'] })).toThrow(/twice/);
    expect(() => parseCompareRequest({ flags: ['a'], alpha: 2 })).toThrow(/alpha/);
  });
});
