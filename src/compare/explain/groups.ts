/** What the explain statements return, a group's counts on each side of the selection, and the side totals. Pure. */

/** How a missing value is shown. */
export const MISSING_VALUE = '(missing)';

/** Weighted and stored counts of one group (a value, bucket or combination) on each side of the selection. */
export interface ExplainGroup {
  /** Columns of the group (one, or two or three for combinations). */
  columns: string[];
  /** Values as text (MISSING_VALUE for null); numbers: the bucket index as text. */
  values: string[];
  mode: 'category' | 'number';
  selected: { rows: number; weight: number };
  rest: { rows: number; weight: number };
}

/** Weighted and stored counts of each side. */
export interface SideTotals {
  selected: { rows: number; weight: number };
  rest: { rows: number; weight: number };
}

/** Totals of each side, from the groups of any one column (every set covers every row). */
export function sideTotals(groups: ExplainGroup[]): SideTotals {
  const first = groups.find((g) => g.columns.length === 1)?.columns[0];
  const totals: SideTotals = { selected: { rows: 0, weight: 0 }, rest: { rows: 0, weight: 0 } };
  for (const g of groups) {
    if (g.columns.length !== 1 || g.columns[0] !== first) continue;
    totals.selected.rows += g.selected.rows;
    totals.selected.weight += g.selected.weight;
    totals.rest.rows += g.rest.rows;
    totals.rest.weight += g.rest.weight;
  }
  return totals;
}

/** Share of the selection minus share of the rest (weighted) of one group. */
export function shareDifference(group: ExplainGroup, totals: SideTotals): number {
  const s = totals.selected.weight > 0 ? group.selected.weight / totals.selected.weight : 0;
  const r = totals.rest.weight > 0 ? group.rest.weight / totals.rest.weight : 0;
  return s - r;
}
