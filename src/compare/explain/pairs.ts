/** Which combinations of columns an explanation looks at, from how telling each column was alone. Pure. */
import { type ExplainGroup, shareDifference, sideTotals } from './groups.js';
import type { ExplainPlan } from './plan.js';
import type { ValidatedExplain } from './request.js';

/** Flag columns combined pairwise, and each with the most telling other columns. */
export const PAIR_FLAG_COLUMNS = 5;
/** Other (non-flag) columns paired with each of the {@link PAIR_FLAG_COLUMNS} flags: one flag × one attribute. */
export const PAIR_OTHER_COLUMNS = 6;
/** Flag pairs extended with the most telling other columns (triples). */
export const TRIPLE_FLAG_PAIRS = 3;
export const TRIPLE_OTHER_COLUMNS = 4;
/** A value this many times more common in the selection than in the rest marks its column as a consequence of the selection. */
export const CONSEQUENCE_LIFT = 50;

/**
 * Combinations worth a look, all of flag columns: pairs of the most telling flag columns, each of
 * them with the most telling other category columns (one flag × one attribute), and the best flag
 * pairs with the best other columns (triples). Every pair inside a triple is itself among the
 * combinations, so a triple can be checked against each of its pairs (report.ts keeps a
 * combination only when each of its values adds to what the others explain).
 */
export function choosePairColumns(plan: ExplainPlan, single: ExplainGroup[], validated: ValidatedExplain): string[][] {
  const totals = sideTotals(single);
  const scoreByColumn = new Map<string, number>();
  // Columns with a value (nearly) only ever seen in the selection are consequences of it
  // (an error type, a 5xx status), not causes: combining them tells nothing new. A column
  // (nearly) only ever missing in the selection is one too: the fields an incomplete execution
  // never sent (its status, its duration), or that errors never carry.
  const consequences = new Set<string>();
  for (const group of single) {
    if (group.mode !== 'category') continue;
    const score = shareDifference(group, totals);
    const column = group.columns[0]!;
    if (score > (scoreByColumn.get(column) ?? 0)) scoreByColumn.set(column, score);
    const selectedShare = totals.selected.weight > 0 ? group.selected.weight / totals.selected.weight : 0;
    const restShare = totals.rest.weight > 0 ? group.rest.weight / totals.rest.weight : 0;
    if (selectedShare > 0.05 && restShare < selectedShare / CONSEQUENCE_LIFT) consequences.add(column);
  }
  void validated;
  const known = new Set(plan.columns.filter((c) => c.mode === 'category').map((c) => c.name));
  const ranked = [...scoreByColumn]
    .filter(([c, s]) => s > 0 && !consequences.has(c) && known.has(c))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const flags = ranked
    .filter(([c]) => c.startsWith('flag.'))
    .slice(0, PAIR_FLAG_COLUMNS)
    .map(([c]) => c);
  const others = ranked
    .filter(([c]) => !c.startsWith('flag.'))
    .slice(0, Math.max(PAIR_OTHER_COLUMNS, TRIPLE_OTHER_COLUMNS))
    .map(([c]) => c);
  const combos: string[][] = [];
  for (let i = 0; i < flags.length; i++) for (let j = i + 1; j < flags.length; j++) combos.push([flags[i]!, flags[j]!]);
  for (const flag of flags) for (const other of others.slice(0, PAIR_OTHER_COLUMNS)) combos.push([flag, other]);
  const top = flags.slice(0, TRIPLE_FLAG_PAIRS);
  for (let i = 0; i < top.length; i++) {
    for (let j = i + 1; j < top.length; j++)
      for (const other of others.slice(0, TRIPLE_OTHER_COLUMNS)) combos.push([top[i]!, top[j]!, other]);
  }
  return combos;
}
