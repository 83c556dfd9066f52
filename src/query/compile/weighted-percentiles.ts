/**
 * Exact weighted percentiles without sorting every row. A histogram of the
 * weights over {@link PERCENTILE_BINS} equal-width value bins finds, per group,
 * the bins holding the positions floor(h) and ceil(h), h = (W − 1)·q; only the
 * rows of those bins are sorted, their running weight starting at the weight
 * below them; the percentile interpolates between the values at floor(h) and
 * ceil(h).
 *
 * CTEs per value column `v` (suffix `r` for results, `s` for the series):
 *   pb  the rows' bins and weights        ph  per-bin weight, running and total
 *   pt  per quantile slot: target bins, their value bounds and the weight below
 *   pk  the candidate rows of the target bins
 *   pc  their running weight in value order
 *   pr  per group: tot and, per slot, the values lo{slot} and hi{slot}
 */
import type { SqlDialect } from '../dialect.js';
import type { GroupedSource, GroupingSql } from './grouping.js';

/** Value bins of the histogram that narrows weighted percentiles down to the rows worth sorting. */
export const PERCENTILE_BINS = 1024;

/** The CTEs of the weighted percentiles of one value column, and the name of the one to join (`pr`). */
export function weightedPercentileCtes(
  grouped: GroupedSource,
  grouping: GroupingSql,
  v: string,
  qs: number[],
  dialect: SqlDialect,
): { ctes: string[]; result: string } {
  const { source, keys, suffix } = grouped;
  const names = {
    bins: `pb_${suffix}_${v}`,
    histogram: `ph_${suffix}_${v}`,
    targets: `pt_${suffix}_${v}`,
    candidates: `pk_${suffix}_${v}`,
    running: `pc_${suffix}_${v}`,
    result: `pr_${suffix}_${v}`,
    range: `pg_${v}`,
  };
  const binOf = (value: string): string =>
    // Clamped before the cast, so an infinite value (stored before infinity was refused) or a NaN width is no cast error.
    `CAST(least(greatest(floor((${value} - ${names.range}.lo) / ${names.range}.width), 0), ${PERCENTILE_BINS - 1}) AS BIGINT)`;
  const partition = keys.length > 0 ? `PARTITION BY ${grouping.keyList} ` : '';
  const ctes = [
    `${names.bins} AS (SELECT ${[...keys, 'CAST(w AS DOUBLE) AS wt', `${binOf(v)} AS bin`].join(', ')} FROM ${source} CROSS JOIN ${names.range} WHERE ${v} IS NOT NULL)`,
    `${names.histogram} AS (SELECT ${[...keys, 'bin', 'wt', `sum(wt) OVER (${partition}ORDER BY bin ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum`, `sum(wt) OVER (${partition.trimEnd()}) AS tot`].join(', ')}` +
      ` FROM (SELECT ${[...keys, 'bin', 'sum(wt) AS wt'].join(', ')} FROM ${names.bins} GROUP BY ${[...keys, 'bin'].join(', ')}))`,
    targetsCte(names, keys, grouping, qs, dialect),
    candidatesCte(names, grouped, v, qs, binOf, dialect),
    runningWeightCte(names, keys),
    `${names.result} AS (SELECT ${[...keys, 'max(tot) AS tot', ...qs.flatMap((_, slot) => slotBounds(slot))].join(', ')} FROM ${names.running}${grouping.groupBy})`,
  ];
  return { ctes, result: names.result };
}

type CteNames = Record<'bins' | 'histogram' | 'targets' | 'candidates' | 'running' | 'result' | 'range', string>;

/**
 * `pt`: per group and slot, the bins `blo`/`bhi` holding positions floor(h) and ceil(h), the weight below `blo`,
 * and value bounds one bin wider on each side against rounding. The bounds let the second scan drop most rows
 * in the join itself: a range condition per group, not scalar subqueries, which cost the scan a fifth of the
 * query's time.
 */
function targetsCte(names: CteNames, keys: string[], grouping: GroupingSql, qs: number[], dialect: SqlDialect): string {
  const perSlot = qs.map((quantile, slot) => {
    const h = `((tot - 1) * ${dialect.doubleLiteral(quantile)})`;
    const hAll = `((max(tot) - 1) * ${dialect.doubleLiteral(quantile)})`;
    return `SELECT ${[
      ...keys,
      `${slot} AS slot`,
      'max(tot) AS tot',
      `floor(${hAll}) AS klo`,
      `ceil(${hAll}) AS khi`,
      `min(bin) FILTER (WHERE cum > floor(${h})) AS blo`,
      `min(bin) FILTER (WHERE cum > ceil(${h})) AS bhi`,
      `min(cum - wt) FILTER (WHERE cum > floor(${h})) AS below`,
    ].join(', ')} FROM ${names.histogram}${grouping.groupBy}`;
  });
  const { range, targets } = names;
  return (
    `${targets} AS (SELECT t.*, ${range}.lo + (t.blo - 1) * ${range}.width AS vlo, ${range}.lo + (t.bhi + 2) * ${range}.width AS vhi` +
    ` FROM (${perSlot.join(' UNION ALL ')}) AS t CROSS JOIN ${range})`
  );
}

/** `pk`: the rows of the candidate source in their group's target bins, with the target's figures. */
function candidatesCte(
  names: CteNames,
  grouped: GroupedSource,
  v: string,
  qs: number[],
  binOf: (value: string) => string,
  dialect: SqlDialect,
): string {
  const { keys, candidateSource: scan } = grouped;
  const { targets, range } = names;
  const targetOn = [
    `${scan}.${v} BETWEEN ${targets}.vlo AND ${targets}.vhi`,
    ...keys.map((k) => dialect.nullSafeEquals(`${scan}.${k}`, `${targets}.${k}`)),
    `${binOf(`${scan}.${v}`)} BETWEEN ${targets}.blo AND ${targets}.bhi`,
  ].join(' AND ');
  const columns = [
    ...keys.map((k) => `${scan}.${k}`),
    `${targets}.slot`,
    `CAST(${scan}.${v} AS DOUBLE) AS v`,
    `CAST(${scan}.w AS DOUBLE) AS wt`,
    `${targets}.below`,
    `${targets}.klo`,
    `${targets}.khi`,
    `${targets}.tot`,
  ].join(', ');
  const perSlot = qs.map(
    (_, slot) => `SELECT ${columns} FROM ${scan} CROSS JOIN ${range} JOIN ${targets} ON ${targetOn} AND ${targets}.slot = ${slot}`,
  );
  return `${names.candidates} AS (${perSlot.join(' UNION ALL ')})`;
}

/** `pc`: (group, value) pairs with their summed weight, then the running weight in value order. */
function runningWeightCte(names: CteNames, keys: string[]): string {
  const pairKeys = [...keys, 'slot', 'v', 'below', 'klo', 'khi', 'tot'];
  return (
    `${names.running} AS (SELECT ${[...keys, 'slot', 'v', 'klo', 'khi', 'tot', `below + sum(wt) OVER (PARTITION BY ${[...keys, 'slot'].join(', ')} ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum`].join(', ')}` +
    ` FROM (SELECT ${[...pairKeys, 'sum(wt) AS wt'].join(', ')} FROM ${names.candidates} GROUP BY ${pairKeys.join(', ')}))`
  );
}

/** The values at positions floor(h) and ceil(h) of one slot. */
function slotBounds(slot: number): string[] {
  return [
    `min(v) FILTER (WHERE slot = ${slot} AND cum > klo) AS lo${slot}`,
    `min(v) FILTER (WHERE slot = ${slot} AND cum > khi) AS hi${slot}`,
  ];
}
