/**
 * compare says what it could not compute and why (issue 11, item 6), refuses a flag without
 * events as not found with a suggestion, and gives machine records for CSV and NDJSON. Pure.
 */
import { describe, expect, it } from 'vitest';
import { defaultMetricsWithNotes, parseMetric } from '../../src/compare/metrics.js';
import type { CohortAggregate, MomentAggregate } from '../../src/compare/plan.js';
import { assembleCompareReport } from '../../src/compare/report.js';
import { parseCompareRequest, validateCompare } from '../../src/compare/request.js';
import { COMPARE_CSV_HEADER, compareCsvRow, compareRecordList, compareRecords } from '../../src/cli/compare/render-compare.js';
import type { FlagscopeError } from '../../src/errors.js';
import type { DatasetSchema } from '../../src/query/schema.js';

const schema = (durationType: 'string' | 'float'): DatasetSchema => ({
  dataset: 'shop',
  hasSampling: false,
  columns: [
    { name: 'flag.checkout_v2', type: 'string' },
    { name: 'flag.dark_mode', type: 'string' },
    { name: 'error', type: 'boolean' },
    { name: 'duration_ms', type: durationType },
  ],
});

function rate(rows: number, successes: number): MomentAggregate {
  return { rows, weight: rows, weightSquares: rows, sum: successes, sumSquares: successes };
}

describe('compare notes', () => {
  it('says which default metric it left out and why', () => {
    const { metrics, notes } = defaultMetricsWithNotes(schema('string'));
    expect(metrics.map((m) => m.name)).toEqual(['RATE(error = true)']);
    expect(notes).toEqual([
      "P95(duration_ms) not computed: duration_ms is a string column and a percentile needs numbers; pass --metric with a numeric column, e.g. --metric 'P95(latency_ms)'",
    ]);
    expect(defaultMetricsWithNotes(schema('float')).notes).toEqual([]);
    const validated = validateCompare(
      parseCompareRequest({ flags: ['checkout_v2'], time_range: 3600 }),
      schema('string'),
      1_700_000_000_000,
    );
    expect(validated.notes).toHaveLength(1);
    expect(validated.notes[0]).toMatch(/^P95\(duration_ms\) not computed: duration_ms is a string column/);
  });

  it('puts those notes in the report, with one for a metric no cohort has a value of', () => {
    const empty: MomentAggregate = { rows: 0, weight: 0, weightSquares: 0, sum: 0, sumSquares: 0 };
    const cohorts: CohortAggregate[] = [
      { key: ['off'], rows: 1000, weight: 1000, weightSquares: 1000, metrics: [rate(1000, 20), empty] },
      { key: ['on'], rows: 1000, weight: 1000, weightSquares: 1000, metrics: [rate(1000, 40), empty] },
    ];
    const report = assembleCompareReport({
      dataset: 'shop',
      columns: [{ flag: 'checkout_v2', column: 'flag.checkout_v2' }],
      metrics: [parseMetric('RATE(error = true)'), parseMetric('AVG(amount)')],
      cohorts,
      startTime: 0,
      endTime: 3600,
      notes: ['P95(duration_ms) not computed: because'],
    });
    expect(report.notes).toEqual([
      'P95(duration_ms) not computed: because',
      'AVG(amount) not computed: no cohort has a value of amount in the time range',
    ]);
  });

  it('refuses a flag without events as not found, suggesting the nearest flag that has events', () => {
    const attempt = (flags: unknown[]): FlagscopeError => {
      try {
        validateCompare(parseCompareRequest({ flags, time_range: 3600 }), schema('float'), 1_700_000_000_000);
      } catch (e) {
        return e as FlagscopeError;
      }
      throw new Error('accepted');
    };
    const misspelt = attempt(['checkout_v3']);
    expect(misspelt.code).toBe('not_found');
    expect(misspelt.message).toBe('flag "checkout_v3" has no events in dataset "shop" (no column flag.checkout_v3)');
    expect(misspelt.hint).toBe('did you mean "checkout_v2"? flags with events in "shop": checkout_v2, dark_mode');
    const unknown = attempt(['nosuchflag']);
    expect(unknown.code).toBe('not_found');
    expect(unknown.hint).toBe('flags with events in "shop": checkout_v2, dark_mode');
    const second = attempt(['checkout_v2', 'dark_mod']);
    expect(second.hint).toMatch(/^did you mean "dark_mode"\?/);
    const column = attempt([{ flag: 'checkout_v2', column: 'flag.checkout_v' }]);
    expect(column.code).toBe('not_found');
    expect(column.hint).toContain('did you mean "flag.checkout_v2"?');
  });
});

describe('compare machine records', () => {
  it('gives one record per metric and cohort, control first, with clean numbers in text', () => {
    const report = assembleCompareReport({
      dataset: 'shop',
      columns: [{ flag: 'checkout_v2', column: 'flag.checkout_v2' }],
      metrics: [parseMetric('RATE(error = true)')],
      cohorts: [
        { key: ['off'], rows: 3000, weight: 3000, weightSquares: 3000, metrics: [rate(3000, 60)] },
        { key: ['on'], rows: 3000, weight: 3000, weightSquares: 3000, metrics: [rate(3000, 150)] },
      ],
      startTime: 0,
      endTime: 3600,
    });
    const records = compareRecordList(report);
    expect(records.map((r) => [r.kind, r.cohort, r.verdict])).toEqual([
      ['result', 'off', 'control'],
      ['result', 'on', 'worse'],
    ]);
    expect(compareCsvRow(records[0]!)).toHaveLength(COMPARE_CSV_HEADER.length);
    expect(records[1]!.difference).toBeCloseTo(0.03, 12);
    // 150/3000 − 60/3000 is 0.030000000000000002 in doubles; the text says 0.03.
    expect(compareRecords(report)[1]![4]).toBe('0.03');
  });
});
