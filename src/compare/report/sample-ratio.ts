/** The sample-ratio line of each flag: observed split against the expected one, chi-square tested. Pure. */
import { srmTest } from '../../stats/srm.js';
import type { CohortAggregate } from '../plan.js';
import { type CohortColumn, SRM_ALPHA, type SampleRatioLine } from './types.js';

/**
 * One line per column. Observed counts are distinct units when every cohort counts them (`unitColumn`),
 * else events in units of stored rows (weighted count divided by the mean sample rate).
 */
export function sampleRatioLines(
  columns: CohortColumn[],
  cohorts: CohortAggregate[],
  seen: Map<string, number>[],
  unitColumn: string | undefined,
): SampleRatioLine[] {
  const totalRows = cohorts.reduce((s, c) => s + c.rows, 0);
  const totalWeight = cohorts.reduce((s, c) => s + c.weight, 0);
  const meanRate = totalRows > 0 ? totalWeight / totalRows : 1;
  const byUnits = unitColumn !== undefined && cohorts.length > 0 && cohorts.every((c) => c.units !== undefined);
  return columns.map((column, i) => {
    const observed: Record<string, number> = {};
    for (const [variant, weight] of [...seen[i]!].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      // Each unit is bucketed into one variant of each flag, so the cohorts' distinct units add up per variant.
      observed[variant] = byUnits ? cohorts.filter((c) => c.key[i] === variant).reduce((s, c) => s + (c.units ?? 0), 0) : weight / meanRate;
    }
    const line: SampleRatioLine = {
      flag: column.flag,
      column: column.column,
      source: null,
      unit: byUnits ? unitColumn! : null,
      observed,
      expected: null,
      chiSquare: null,
      df: null,
      pValue: null,
      unexpectedVariants: [],
      mismatch: false,
    };
    testSplit(line, column);
    return line;
  });
}

/** Fills in the test of `line` when the column has an expected split with a positive total. */
function testSplit(line: SampleRatioLine, column: CohortColumn): void {
  if (column.expected === undefined) return;
  const expectedTotal = Object.values(column.expected).reduce((s, w) => s + Math.max(0, w), 0);
  if (!(expectedTotal > 0)) return;
  const { observed } = line;
  const variants = [...new Set([...Object.keys(column.expected), ...Object.keys(observed)])].sort();
  const weights = variants.map((v) => Math.max(0, column.expected![v] ?? 0));
  const counts = variants.map((v) => observed[v] ?? 0);
  const test = srmTest(counts, weights);
  line.source = column.expectedSource ?? 'expect';
  line.expected = Object.fromEntries(variants.map((v, k) => [v, weights[k]! / expectedTotal]));
  line.chiSquare = test.chiSquare;
  line.df = test.df;
  line.pValue = test.pValue;
  line.unexpectedVariants = variants.filter((v, k) => weights[k] === 0 && (observed[v] ?? 0) > 0);
  line.mismatch = test.pValue < SRM_ALPHA || line.unexpectedVariants.length > 0;
}
