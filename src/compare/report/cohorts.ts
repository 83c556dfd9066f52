/** The cohorts of a report: the variants seen per flag, the control of each flag, and the cohorts in report order. Pure. */
import { invalidInput } from '../../errors.js';
import type { CohortAggregate } from '../plan.js';
import type { CohortColumn, CohortInfo, CompareReportInput } from './types.js';

/** Variant names taken as the control when none is given and the flag's default is unknown. */
export const CONTROL_NAMES = ['off', 'control', 'false', 'disabled', 'baseline', 'none'];

/** The cohorts of a report, arranged. */
export interface CohortLayout {
  /** Per column, the variants seen (variant → weight). */
  seen: Map<string, number>[];
  /** Per column, its control variant (undefined when no variant was seen). */
  controls: (string | undefined)[];
  /** Flag → control variant, for the report. */
  control: Record<string, string>;
  /** The control cohort first, then the others by label. */
  cohorts: CohortAggregate[];
  /** The cohort where every flag is at its control, if it has events. */
  controlCohort: CohortAggregate | undefined;
  infos: CohortInfo[];
  /** `on` for one flag; `checkout_v2=on new_cart=off` for combinations. */
  labelOf(key: string[]): string;
  /** Why nothing can be compared, when that is so. */
  notes: string[];
}

/** Picks the control variant of a column among the variants seen. */
export function chooseControl(column: CohortColumn, seen: Map<string, number>): string | undefined {
  if (column.control !== undefined) return column.control;
  if (column.defaultVariant !== undefined && seen.has(column.defaultVariant)) return column.defaultVariant;
  for (const name of CONTROL_NAMES) if (seen.has(name)) return name;
  let best: string | undefined;
  let bestWeight = -1;
  for (const [variant, weight] of [...seen].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (weight > bestWeight) {
      best = variant;
      bestWeight = weight;
    }
  }
  return best;
}

/**
 * Finds each flag's control and orders the cohorts. Throws `invalid_input` when a control given by the caller
 * has no events while other variants do.
 */
export function arrangeCohorts(input: CompareReportInput): CohortLayout {
  const { columns } = input;
  const seen = columns.map(() => new Map<string, number>());
  for (const cohort of input.cohorts) {
    cohort.key.forEach((variant, i) => seen[i]!.set(variant, (seen[i]!.get(variant) ?? 0) + cohort.weight));
  }
  const controls = columns.map((column, i) => chooseControl(column, seen[i]!));
  columns.forEach((column, i) => {
    if (column.control !== undefined && !seen[i]!.has(column.control) && seen[i]!.size > 0) {
      throw invalidInput(
        `control variant ${JSON.stringify(column.control)} of ${column.flag} has no events in this time range`,
        `the variants seen are ${[...seen[i]!.keys()].map((v) => JSON.stringify(v)).join(', ')}; pass one of them with --control`,
      );
    }
  });
  const control: Record<string, string> = {};
  columns.forEach((column, i) => {
    if (controls[i] !== undefined) control[column.flag] = controls[i]!;
  });

  const isControlKey = (key: string[]): boolean => key.every((v, i) => v === controls[i]);
  const labelOf = (key: string[]): string => (columns.length === 1 ? key[0]! : key.map((v, i) => `${columns[i]!.flag}=${v}`).join(' '));
  const cohorts = [...input.cohorts].sort((a, b) => {
    const ca = isControlKey(a.key) ? 0 : 1;
    const cb = isControlKey(b.key) ? 0 : 1;
    if (ca !== cb) return ca - cb;
    return labelOf(a.key) < labelOf(b.key) ? -1 : labelOf(a.key) > labelOf(b.key) ? 1 : 0;
  });
  const controlCohort = cohorts.find((c) => isControlKey(c.key));
  const notes: string[] = [];
  if (cohorts.length > 0 && controlCohort === undefined) {
    notes.push(
      `no events in the control cohort (${columns.map((c, i) => `${c.flag}=${controls[i] ?? '?'}`).join(' ')}): nothing to compare with`,
    );
  }
  if (cohorts.length === 0) notes.push('no events with these flags in the time range');
  const infos: CohortInfo[] = cohorts.map((c) => {
    const variants: Record<string, string> = {};
    c.key.forEach((v, i) => {
      variants[columns[i]!.flag] = v;
    });
    return { variants, label: labelOf(c.key), control: isControlKey(c.key), rows: c.rows, weight: c.weight };
  });
  return { seen, controls, control, cohorts, controlCohort, infos, labelOf, notes };
}
