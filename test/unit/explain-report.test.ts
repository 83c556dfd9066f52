import { describe, expect, it } from 'vitest';
import { type ExplainGroup, MISSING_VALUE } from '../../src/compare/explain/groups.js';
import { choosePairColumns } from '../../src/compare/explain/pairs.js';
import { type ExplainPlan, planExplainColumns } from '../../src/compare/explain/plan.js';
import { assembleExplainReport } from '../../src/compare/explain/report.js';
import { parseExplainRequest, validateExplain } from '../../src/compare/explain/request.js';
import { explainRecords, renderExplainReport, shareBar } from '../../src/cli/explain/render-explain.js';
import { compareRecords, renderCompareReport } from '../../src/cli/compare/render-compare.js';
import { assembleCompareReport } from '../../src/compare/report.js';
import { parseMetric } from '../../src/compare/metrics.js';
import { plainStyler } from '../../src/output/style.js';
import { adjustPValues } from '../../src/stats/adjust.js';
import { contingencyTest, histogramRankTest } from '../../src/stats/distribution.js';
import type { DatasetSchema } from '../../src/query/schema.js';

const schema: DatasetSchema = {
  dataset: 'shop',
  hasSampling: false,
  columns: [
    { name: 'error', type: 'boolean' },
    { name: 'browser', type: 'string' },
    { name: 'flag.a', type: 'string' },
    { name: 'flag.b', type: 'string' },
    { name: 'error.type', type: 'string' },
    { name: 'duration_ms', type: 'float' },
    { name: 'trace.id', type: 'string' },
  ],
};
const validated = validateExplain(
  parseExplainRequest({ selection: [{ column: 'error', op: '=', value: true }], start_time: 0, end_time: 100 }),
  schema,
  0,
);

function group(
  columns: string[],
  values: string[],
  selected: number,
  rest: number,
  mode: 'category' | 'number' = 'category',
): ExplainGroup {
  return { columns, values, mode, selected: { rows: selected, weight: selected }, rest: { rows: rest, weight: rest } };
}

// 1,000 selected events, 9,000 others.
const groups: ExplainGroup[] = [
  group(['browser'], ['Safari'], 600, 1800),
  group(['browser'], ['Chrome'], 400, 7200),
  group(['flag.a'], ['on'], 700, 4300),
  group(['flag.a'], ['off'], 300, 4700),
  group(['flag.b'], ['on'], 650, 4350),
  group(['flag.b'], ['off'], 350, 4650),
  group(['error.type'], ['timeout'], 900, 0),
  group(['error.type'], [MISSING_VALUE], 100, 9000),
  ...[0, 1, 2, 3].map((b) => group(['duration_ms'], [String(b)], [100, 200, 300, 400][b]!, [3000, 3000, 2000, 1000][b]!, 'number')),
];
const plan: ExplainPlan = {
  columns: [
    { name: 'browser', type: 'string', mode: 'category' },
    { name: 'flag.a', type: 'string', mode: 'category' },
    { name: 'flag.b', type: 'string', mode: 'category' },
    { name: 'error.type', type: 'string', mode: 'category' },
    { name: 'duration_ms', type: 'float', mode: 'number', edges: [10, 20, 30] },
  ],
  skipped: [{ column: 'trace.id', reason: 'about 9000 distinct values in a sample (an identifier)' }],
  restModulus: 1,
};

describe('explain', () => {
  it('tests every value and distribution, adjusts over all of them and ranks by effect size', () => {
    const report = assembleExplainReport({ dataset: 'shop', validated, plan, groups });
    expect(report.selected).toEqual({ rows: 1000, weight: 1000 });
    expect(report.rest).toEqual({ rows: 9000, weight: 9000 });
    expect(report.tests).toBe(9);
    const safari = report.findings.find((f) => f.values[0] === 'Safari')!;
    expect(safari.selectedShare).toBeCloseTo(0.6, 12);
    expect(safari.restShare).toBeCloseTo(0.2, 12);
    expect(safari.effect).toBeCloseTo(0.4, 12);
    expect(safari.pValue).toBeCloseTo(
      contingencyTest([
        [600, 400],
        [1800, 7200],
      ]).pValue,
      12,
    );
    const duration = report.findings.find((f) => f.kind === 'distribution')!;
    const rank = histogramRankTest([100, 200, 300, 400], [3000, 3000, 2000, 1000]);
    expect(duration.effect).toBeCloseTo(2 * (rank.probabilityOfSuperiority - 0.5), 12);
    expect(duration.effect).toBeGreaterThan(0);
    const ps = report.findings.map((f) => f.pValue);
    // q-values are BH over every test (all 9 are in the report here).
    const sorted = [...report.findings];
    const q = adjustPValues(
      sorted.map((f) => f.pValue),
      'bh',
    );
    sorted.forEach((f, i) => expect(f.qValue).toBeCloseTo(q[i]!, 12));
    expect(ps.length).toBe(9);
    // Ranked: categories by over-representation, distributions by |effect|.
    const score = (f: (typeof report.findings)[number]): number => (f.kind === 'distribution' ? Math.abs(f.effect) : f.effect);
    for (let i = 1; i < report.findings.length; i++)
      expect(score(report.findings[i - 1]!)).toBeGreaterThanOrEqual(score(report.findings[i]!));
    expect(report.findings[0]!.columns).toEqual(['error.type']);
    expect(report.columns.skipped).toHaveLength(1);
  });

  it('combines the most telling flag columns, with the best other columns but never with consequences of the selection', () => {
    const combos = choosePairColumns(plan, groups, validated);
    expect(combos).toContainEqual(['flag.a', 'flag.b']);
    expect(combos).toContainEqual(['flag.a', 'flag.b', 'browser']);
    expect(combos.some((c) => c.includes('error.type'))).toBe(false);
  });

  it('treats a column only ever missing in the selection as a consequence too: never combined', () => {
    // Incomplete executions never sent their end: status_code is missing on all of them and on none of the rest.
    const withEndField = [
      ...groups.filter((g) => g.columns[0] !== 'error.type'),
      group(['status_code'], [MISSING_VALUE], 1000, 0),
      group(['status_code'], ['200'], 0, 9000),
    ];
    const endPlan: ExplainPlan = {
      ...plan,
      columns: [...plan.columns.filter((c) => c.name !== 'error.type'), { name: 'status_code', type: 'string', mode: 'category' }],
    };
    const combos = choosePairColumns(endPlan, withEndField, validated);
    expect(combos).toContainEqual(['flag.a', 'browser']);
    expect(combos.some((c) => c.includes('status_code'))).toBe(false);
  });

  it('selects the incomplete executions with "incomplete": true, in the type of the column, and refuses what cannot be', () => {
    const beacons: DatasetSchema = { ...schema, columns: [...schema.columns, { name: 'meta.incomplete', type: 'boolean' }] };
    const incomplete = validateExplain(parseExplainRequest({ incomplete: true, start_time: 0, end_time: 100 }), beacons, 0);
    expect(incomplete.selection).toEqual([{ column: 'meta.incomplete', op: '=', value: true }]);
    const asText: DatasetSchema = { ...schema, columns: [...schema.columns, { name: 'meta.incomplete', type: 'string' }] };
    expect(validateExplain(parseExplainRequest({ incomplete: true, start_time: 0, end_time: 100 }), asText, 0).selection).toEqual([
      { column: 'meta.incomplete', op: '=', value: 'true' },
    ]);
    // The same selection as writing the filter, so `--incomplete` and `--where 'meta.incomplete = true'` explain alike.
    const written = validateExplain(
      parseExplainRequest({ selection: [{ column: 'meta.incomplete', op: '=', value: true }], start_time: 0, end_time: 100 }),
      beacons,
      0,
    );
    expect(incomplete).toEqual(written);
    expect(() => validateExplain(parseExplainRequest({ incomplete: true, start_time: 0, end_time: 100 }), schema, 0)).toThrow(
      'incomplete: dataset "shop" has no meta.incomplete column, so it has no incomplete executions to count',
    );
    expect(() => parseExplainRequest({ incomplete: true, selection: [{ column: 'error', op: '=', value: true }] })).toThrow(
      'give "selection" or "incomplete": true, not both',
    );
    expect(() => parseExplainRequest({ incomplete: 'yes' })).toThrow('"incomplete" must be true or false');
    expect(() => parseExplainRequest({ incomplete: false })).toThrow('"selection" must be a non-empty array of filters');
  });

  it('plans columns from the profile: identifiers skipped, few-valued numbers as categories, the rest sampled', () => {
    const planned = planExplainColumns(schema, validated, {
      rows: 1_000_000,
      selectedRows: 20_000,
      columns: [
        { name: 'browser', distinct: 5 },
        { name: 'flag.a', distinct: 2 },
        { name: 'flag.b', distinct: 2 },
        { name: 'error.type', distinct: 3 },
        { name: 'duration_ms', distinct: 5000, edges: [1, 2, 3] },
        { name: 'trace.id', distinct: 19_000 },
      ],
    });
    expect(planned.columns.map((c) => [c.name, c.mode])).toEqual([
      ['browser', 'category'],
      ['flag.a', 'category'],
      ['flag.b', 'category'],
      ['error.type', 'category'],
      ['duration_ms', 'number'],
    ]);
    expect(planned.skipped.map((s) => s.column)).toEqual(['trace.id']);
    // 980,000 unselected events read as a sample of about 100,000: every 9th.
    expect(planned.restModulus).toBe(9);
  });

  it('renders bars on a terminal and tab-separated rows when piped', () => {
    const report = assembleExplainReport({ dataset: 'shop', validated, plan, groups });
    const text = renderExplainReport(report, { styler: plainStyler, width: 120 });
    expect(text).toContain('what sets error = true apart in shop');
    expect(text).toMatch(/browser=Safari\s+██████\s+60\.0%\s+██\s+20\.0%\s+\+40\.0pp\s+<0\.001/);
    expect(text).toContain('only in the selection: error.type=timeout (90.0%)');
    const records = explainRecords(report);
    expect(records[0]!.slice(0, 4)).toEqual(['1', 'value', 'error.type', 'timeout']);
    expect(shareBar(0.5)).toBe('█████');
    expect(shareBar(0.0625)).toBe('▋');
    expect(shareBar(1)).toBe('██████████');
  });

  it('narrows the bars before it cuts the name of a finding on a narrow terminal', () => {
    const report = assembleExplainReport({ dataset: 'shop', validated, plan, groups });
    const long = {
      ...report,
      findings: report.findings.map((f) => (f.values[0] === 'Safari' ? { ...f, values: ['Safari Technology Preview'] } : f)),
    };
    const lines = renderExplainReport(long, { styler: plainStyler, width: 80 }).split('\n');
    const safari = lines.find((l) => l.includes('browser=Safari'));
    expect(safari).toMatch(/browser=Safari Technology Preview\s+██▍\s+60\.0%\s+▊\s+20\.0%\s+\+40\.0pp/);
    const rows = lines.filter((l) => /^\d+ {2}/.test(l));
    expect(rows).toHaveLength(4);
    for (const line of rows) expect(line.length).toBeLessThanOrEqual(80);
  });
});

describe('compare rendering', () => {
  it('prints a table with the sample-ratio line on a terminal and tab-separated rows when piped', () => {
    const rate = (rows: number, successes: number) => ({ rows, weight: rows, weightSquares: rows, sum: successes, sumSquares: successes });
    const report = assembleCompareReport({
      dataset: 'shop',
      columns: [{ flag: 'checkout', column: 'flag.checkout', expected: { on: 50, off: 50 }, expectedSource: 'expect' }],
      metrics: [parseMetric('RATE(error = true)')],
      cohorts: [
        { key: ['off'], rows: 10_000, weight: 10_000, weightSquares: 10_000, metrics: [rate(10_000, 200)] },
        { key: ['on'], rows: 10_000, weight: 10_000, weightSquares: 10_000, metrics: [rate(10_000, 400)] },
      ],
      startTime: 1_700_000_000,
      endTime: 1_700_003_600,
    });
    const text = renderCompareReport(report, { styler: plainStyler, width: 160 });
    expect(text).toMatch(/RATE\(error = true\)\s+off\s+10,000\s+2\.00%\s+control/);
    expect(text).toMatch(/on\s+10,000\s+4\.00%\s+\+2\.00pp\s+\[\+\d\.\d\dpp, \+\d\.\d\dpp\]\s+<0\.001\s+worse/);
    expect(text).toContain(
      'sample ratio checkout (events): off 50.0% · on 50.0% vs expected off 50.0% · on 50.0% (--expect) · p 1.000 · ok',
    );
    const records = compareRecords(report);
    expect(records[0]).toEqual(['RATE(error = true)', 'off', '10000', '0.02', '', '', '', '', '', 'control']);
    expect(records[1]![9]).toBe('worse');
    expect(Number(records[1]![4])).toBeCloseTo(0.02, 12);
  });
});
