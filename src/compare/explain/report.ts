/** The explain report: every group tested, Benjamini–Hochberg over all tests, findings ranked by effect size. Pure. */
import { formatFilters } from '../../query/format.js';
import { adjustPValues } from '../../stats/adjust.js';
import { contingencyTest, histogramRankTest } from '../../stats/distribution.js';
import { type ExplainGroup, MISSING_VALUE, type SideTotals, shareDifference, sideTotals } from './groups.js';
import type { ExplainPlan } from './plan.js';
import type { ValidatedExplain } from './request.js';

/** One ranked difference between the selection and the rest. */
export interface ExplainFinding {
  /** `value`: a value (or combination of values) over- or under-represented; `distribution`: a numeric column shifted. */
  kind: 'value' | 'distribution';
  columns: string[];
  /** Values of `columns` (kind value). */
  values: string[];
  /** Share of the selection (weighted) with this value; for distributions, null. */
  selectedShare: number | null;
  restShare: number | null;
  /** Effect size: selectedShare − restShare for values; 2·(P(selected > rest) − ½) for distributions (positive: the selection is higher). */
  effect: number;
  pValue: number;
  qValue: number;
  significant: boolean;
  /** Distributions: share of each side per bucket, and the bucket edges. */
  buckets?: { edges: number[]; selected: number[]; rest: number[] };
  /** Distributions: approximate medians of each side (bucket midpoints). */
  selectedMedian?: number | null;
  restMedian?: number | null;
  /**
   * Combinations: the largest Holm-adjusted p-value of the tests that each of the values adds to
   * what the others explain (below alpha, or the combination is not reported).
   */
  elementPValue?: number;
}

export interface ExplainReport {
  dataset: string;
  selection: string;
  start_time: number;
  end_time: number;
  alpha: number;
  selected: { rows: number; weight: number };
  rest: { rows: number; weight: number };
  /** Tests behind the q-values (every value, bucket distribution and combination). */
  tests: number;
  /** Share of the unselected events the rest is measured on (1: all; the selection is always whole). */
  restSampleFraction: number;
  findings: ExplainFinding[];
  columns: { analysed: number; skipped: { column: string; reason: string }[] };
  /** Combinations of values tested, and how many were left out because one of their values added nothing to the others. */
  combinations: { tested: number; dropped: number };
}

export interface ExplainReportInput {
  dataset: string;
  validated: ValidatedExplain;
  plan: ExplainPlan;
  groups: ExplainGroup[];
  /** Text of the selection for the report (default: the filters as given). */
  selectionText?: string;
}

function medianOf(edges: number[], shares: number[]): number | null {
  let cumulative = 0;
  for (let i = 0; i < shares.length; i++) {
    cumulative += shares[i]!;
    if (cumulative >= 0.5) {
      const lower = i === 0 ? edges[0]! : edges[i - 1]!;
      const upper = i >= edges.length ? edges[edges.length - 1]! : edges[i]!;
      return (lower + upper) / 2;
    }
  }
  return null;
}

/** A finding before Benjamini–Hochberg gives it a q-value. */
type TestedFinding = Omit<ExplainFinding, 'qValue' | 'significant'>;

/** Weights of each side scaled to stored rows, the units the tests count. */
interface SideScale {
  selected: number;
  rest: number;
}

/** Tests every group, adjusts over all tests and ranks the findings. */
export function assembleExplainReport(input: ExplainReportInput): ExplainReport {
  const { validated, plan } = input;
  const totals = sideTotals(input.groups.filter((g) => g.columns.length === 1));
  // Only the planned columns are findings (with none planned, the statement groups by a stand-in column for the totals).
  const planned = new Set(plan.columns.map((c) => c.name));
  const groups = input.groups.filter((g) => g.columns.length > 1 || planned.has(g.columns[0]!));
  const scale: SideScale = {
    selected: totals.selected.weight > 0 ? totals.selected.rows / totals.selected.weight : 0,
    rest: totals.rest.weight > 0 ? totals.rest.rows / totals.rest.weight : 0,
  };
  const findings = [
    ...distributionFindings(
      groups.filter((g) => g.columns.length === 1),
      plan,
      scale,
    ),
    ...valueFindings(groups, totals, scale),
  ];
  const qValues =
    findings.length > 0
      ? adjustPValues(
          findings.map((f) => f.pValue),
          'bh',
        )
      : [];
  const elements = elementTests(findings, groups, totals, scale, validated.alpha);
  const ranked: ExplainFinding[] = [];
  findings.forEach((f, i) => {
    if (f.columns.length < 2) {
      ranked.push({ ...f, qValue: qValues[i]!, significant: qValues[i]! < validated.alpha });
      return;
    }
    const elementPValue = elements.get(f);
    if (elementPValue !== undefined) ranked.push({ ...f, qValue: qValues[i]!, significant: qValues[i]! < validated.alpha, elementPValue });
  });
  const combinationsTested = findings.filter((f) => f.columns.length > 1).length;
  const combinationsShown = ranked.filter((f) => f.columns.length > 1).length;
  const score = (f: ExplainFinding): number => (f.kind === 'distribution' ? Math.abs(f.effect) : f.effect);
  // Ties are ordered by name, so the same data gives the same report whatever order the store answered in.
  const name = (f: ExplainFinding): string => `${f.columns.join('\u0000')}\u0001${(f.values ?? []).map(String).join('\u0000')}`;
  ranked.sort((x, y) => score(y) - score(x) || x.pValue - y.pValue || (name(x) < name(y) ? -1 : name(x) > name(y) ? 1 : 0));
  const selectionText = input.selectionText ?? formatFilters(validated.selection, validated.selectionCombination);
  return {
    dataset: input.dataset,
    selection: selectionText,
    start_time: validated.startTime,
    end_time: validated.endTime,
    alpha: validated.alpha,
    selected: totals.selected,
    rest: totals.rest,
    tests: findings.length,
    restSampleFraction: 1 / plan.restModulus,
    findings: ranked.slice(0, validated.limit),
    columns: { analysed: plan.columns.length, skipped: plan.skipped },
    combinations: { tested: combinationsTested, dropped: combinationsTested - combinationsShown },
  };
}

/** The key of a combination of values, whatever the order of its columns. */
function combinationKey(columns: readonly string[], values: readonly string[]): string {
  return JSON.stringify(columns.map((c, i) => [c, values[i]!] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/**
 * Whether each value of a combination adds to what the others explain. For every over-represented
 * combination and each of its values, against the other values without it (the pair a triple
 * comes from, the single value a pair comes from):
 *
 * - the combination explains more: its effect (difference in share) is larger than theirs, that
 *   is, the other values' events without this value are not over-represented in the selection
 *   (a value unrelated to the selection keeps only its share of their effect, so it always fails);
 * - significantly: within the other values' events, those with this value are more often
 *   selected, by a one-sided 2×2 test, Holm over every such test of the report.
 *
 * Returns, for the combinations whose every value passes both at level alpha, the largest adjusted
 * p-value of their values; a combination whose parts were not counted is not kept.
 */
function elementTests(
  findings: TestedFinding[],
  groups: ExplainGroup[],
  totals: SideTotals,
  scale: SideScale,
  alpha: number,
): Map<TestedFinding, number> {
  const byKey = new Map<string, ExplainGroup>();
  for (const g of groups) if (g.mode === 'category') byKey.set(combinationKey(g.columns, g.values), g);
  const tests: { finding: TestedFinding; pValue: number }[] = [];
  const unjustified = new Set<TestedFinding>();
  for (const f of findings) {
    if (f.kind !== 'value' || f.columns.length < 2) continue;
    const whole = byKey.get(combinationKey(f.columns, f.values));
    if (whole === undefined || !(f.effect > 0)) {
      unjustified.add(f);
      continue;
    }
    for (let i = 0; i < f.columns.length; i++) {
      const others = f.columns.filter((_, j) => j !== i);
      const sub = byKey.get(
        combinationKey(
          others,
          f.values.filter((_, j) => j !== i),
        ),
      );
      if (sub === undefined || !(f.effect > shareDifference(sub, totals))) {
        unjustified.add(f);
        continue;
      }
      // Within the sub-combination: with this value (a) against without it (b), selected and rest, in stored rows.
      const aSelected = whole.selected.weight * scale.selected;
      const aRest = whole.rest.weight * scale.rest;
      const bSelected = Math.max(0, sub.selected.weight - whole.selected.weight) * scale.selected;
      const bRest = Math.max(0, sub.rest.weight - whole.rest.weight) * scale.rest;
      const raises = aSelected * bRest > bSelected * aRest;
      const p = raises
        ? contingencyTest([
            [aSelected, aRest],
            [bSelected, bRest],
          ]).pValue / 2
        : 1;
      tests.push({ finding: f, pValue: Number.isNaN(p) ? 1 : p });
    }
  }
  const adjusted =
    tests.length > 0
      ? adjustPValues(
          tests.map((t) => t.pValue),
          'holm',
        )
      : [];
  const worst = new Map<TestedFinding, number>();
  tests.forEach((t, k) => worst.set(t.finding, Math.max(worst.get(t.finding) ?? 0, adjusted[k]!)));
  const kept = new Map<TestedFinding, number>();
  for (const [finding, p] of worst) if (!unjustified.has(finding) && p < alpha) kept.set(finding, p);
  return kept;
}

/** Numeric columns: one rank test per column over its buckets. */
function distributionFindings(singles: ExplainGroup[], plan: ExplainPlan, scale: SideScale): TestedFinding[] {
  const planByName = new Map(plan.columns.map((c) => [c.name, c]));
  const numericGroups = new Map<string, ExplainGroup[]>();
  for (const g of singles) {
    if (g.mode !== 'number') continue;
    const list = numericGroups.get(g.columns[0]!) ?? [];
    list.push(g);
    numericGroups.set(g.columns[0]!, list);
  }
  const findings: TestedFinding[] = [];
  for (const [column, groups] of numericGroups) {
    const edges = planByName.get(column)?.edges ?? [];
    const bucketCount = edges.length + 1;
    const selected = new Array<number>(bucketCount).fill(0);
    const rest = new Array<number>(bucketCount).fill(0);
    for (const g of groups) {
      if (g.values[0] === MISSING_VALUE) continue;
      const index = Number(g.values[0]);
      if (!(index >= 0 && index < bucketCount)) continue;
      selected[index]! += g.selected.weight * scale.selected;
      rest[index]! += g.rest.weight * scale.rest;
    }
    const test = histogramRankTest(selected, rest);
    if (Number.isNaN(test.probabilityOfSuperiority)) continue;
    const sumS = selected.reduce((a, b) => a + b, 0);
    const sumR = rest.reduce((a, b) => a + b, 0);
    const sharesS = selected.map((v) => (sumS > 0 ? v / sumS : 0));
    const sharesR = rest.map((v) => (sumR > 0 ? v / sumR : 0));
    findings.push({
      kind: 'distribution',
      columns: [column],
      values: [],
      selectedShare: null,
      restShare: null,
      effect: 2 * (test.probabilityOfSuperiority - 0.5),
      pValue: test.pValue,
      buckets: { edges, selected: sharesS, rest: sharesR },
      selectedMedian: medianOf(edges, sharesS),
      restMedian: medianOf(edges, sharesR),
    });
  }
  return findings;
}

/** Values and combinations: a 2×2 chi-square each (combinations with a missing value are left out). */
function valueFindings(groups: ExplainGroup[], totals: SideTotals, scale: SideScale): TestedFinding[] {
  const findings: TestedFinding[] = [];
  for (const g of groups) {
    if (g.mode !== 'category') continue;
    const a = g.selected.weight * scale.selected;
    const b = g.rest.weight * scale.rest;
    const selectedShare = totals.selected.weight > 0 ? g.selected.weight / totals.selected.weight : 0;
    const restShare = totals.rest.weight > 0 ? g.rest.weight / totals.rest.weight : 0;
    if (g.columns.length > 1 && g.values.includes(MISSING_VALUE)) continue;
    const test = contingencyTest([
      [a, Math.max(0, totals.selected.rows - a)],
      [b, Math.max(0, totals.rest.rows - b)],
    ]);
    findings.push({
      kind: 'value',
      columns: g.columns,
      values: g.values,
      selectedShare,
      restShare,
      effect: selectedShare - restShare,
      pValue: test.pValue,
    });
  }
  return findings;
}
