/**
 * The aggregation of `src` rows grouped by keys: the `base` GROUP BY, the
 * weighted percentiles (weighted-percentiles.ts), the HEATMAP buckets, and the
 * `agg` CTE that puts every calculation's output columns beside the keys.
 */
import type { SqlDialect } from '../dialect.js';
import type { CalcPlan, CalculationPlans } from './calculations.js';
import { type GroupedSource, type GroupingSql, groupingSql } from './grouping.js';
import { PERCENTILE_BINS, weightedPercentileCtes } from './weighted-percentiles.js';

/** Number of equal-width buckets of a HEATMAP between the query-wide min and max. */
export const HEATMAP_BUCKETS = 30;

/**
 * Appends to `ctes` the CTEs of the aggregation of `grouped` and returns the name of the last one, which holds
 * the keys and every calculation's output columns.
 */
export function aggregate(grouped: GroupedSource, calculations: CalculationPlans, ctes: string[], dialect: SqlDialect): string {
  const { source, keys, suffix } = grouped;
  const grouping = groupingSql(keys, dialect);
  const baseName = `base_${suffix}`;
  ctes.push(
    `${baseName} AS (SELECT ${[...keys, ...calculations.baseAggs, ...rangeAggregates(calculations), 'count(*) AS n_rows'].join(', ')} FROM ${source}${grouping.groupBy})`,
  );
  // Query-wide value ranges, from the per-group minima and maxima of the results' groups
  // (every selected event is in one of them), so they cost no extra scan.
  if (suffix === 'r') ctes.push(...valueRangeCtes(calculations, baseName));
  const joins: string[] = [];
  for (const [v, qs] of calculations.weightedQuantiles) {
    const percentiles = weightedPercentileCtes(grouped, grouping, v, qs, dialect);
    ctes.push(...percentiles.ctes);
    joins.push(`LEFT JOIN ${percentiles.result} ON ${grouping.joinOn(baseName, percentiles.result)}`);
  }
  for (const v of calculations.heatmapColumns) {
    const heatmap = heatmapCtes(grouped, grouping, v, dialect);
    ctes.push(...heatmap);
    joins.push(`CROSS JOIN hb_${v}`);
    joins.push(`LEFT JOIN hr_${suffix}_${v} ON ${grouping.joinOn(baseName, `hr_${suffix}_${v}`)}`);
  }
  const selects = [
    ...keys.map((k) => `${baseName}.${k} AS ${k}`),
    ...calculations.plans.flatMap((plan, i) => outputSelects(plan, i, baseName, suffix, calculations, dialect)),
  ];
  const aggName = `agg_${suffix}`;
  ctes.push(`${aggName} AS (SELECT ${selects.join(', ')} FROM ${baseName} ${joins.join(' ')})`);
  return aggName;
}

/** Output columns of one calculation plan, in decode order. */
export function outputColumns(plan: CalcPlan, i: number): string[] {
  return plan.kind === 'heatmap' ? [`c${i}_lo`, `c${i}_w`, `c${i}_h`] : [`c${i}`];
}

/** Per-group minimum and maximum of every value column with a heatmap or weighted percentiles. */
function rangeAggregates(calculations: CalculationPlans): string[] {
  return [...new Set([...calculations.heatmapColumns, ...calculations.weightedQuantiles.keys()])].flatMap((v) => [
    `CAST(min(${v}) AS DOUBLE) AS mn_${v}`,
    `CAST(max(${v}) AS DOUBLE) AS mx_${v}`,
  ]);
}

/** `hb_v` (heatmap buckets) and `pg_v` (percentile bins): the query-wide low end and bucket width of a value column. */
function valueRangeCtes(calculations: CalculationPlans, baseName: string): string[] {
  const range = (name: string, v: string, buckets: number): string =>
    `${name} AS (SELECT lo, CASE WHEN hi > lo THEN (hi - lo) / ${buckets} ELSE 1 END AS width FROM (SELECT min(mn_${v}) AS lo, max(mx_${v}) AS hi FROM ${baseName}))`;
  return [
    ...[...calculations.heatmapColumns].map((v) => range(`hb_${v}`, v, HEATMAP_BUCKETS)),
    ...[...calculations.weightedQuantiles.keys()].map((v) => range(`pg_${v}`, v, PERCENTILE_BINS)),
  ];
}

/** `hh`: weighted counts per bucket index and group; `hr`: those counts as `index:count,…` text per group. */
function heatmapCtes(grouped: GroupedSource, grouping: GroupingSql, v: string, dialect: SqlDialect): string[] {
  const { source, keys, suffix } = grouped;
  const hb = `hb_${v}`;
  const hh = `hh_${suffix}_${v}`;
  // Clamped before the cast, so an infinite value (stored before infinity was refused) or a NaN width is no cast error.
  const index = `CAST(least(greatest(floor((${v} - ${hb}.lo) / ${hb}.width), 0), ${HEATMAP_BUCKETS - 1}) AS BIGINT)`;
  const sourceKeys = keys.map((k) => `${source}.${k}`);
  return [
    `${hh} AS (SELECT ${[...sourceKeys, `${index} AS idx`, 'sum(w) AS n'].join(', ')} FROM ${source} CROSS JOIN ${hb} WHERE ${v} IS NOT NULL GROUP BY ${[...sourceKeys, 'idx'].join(', ')})`,
    `hr_${suffix}_${v} AS (SELECT ${[...keys, `${dialect.stringAgg(`CAST(idx AS VARCHAR) || ':' || CAST(n AS VARCHAR)`, ',')} AS h`].join(', ')} FROM ${hh}${grouping.groupBy})`,
  ];
}

/** The select terms of `agg` that give plan `i` its output columns. */
function outputSelects(
  plan: CalcPlan,
  i: number,
  baseName: string,
  suffix: string,
  calculations: CalculationPlans,
  dialect: SqlDialect,
): string[] {
  switch (plan.kind) {
    case 'scalar':
      return [`${baseName}.a${i} AS c${i}`];
    case 'listed-quantile': {
      const listed = [...calculations.listedQuantiles.values()].find((l) => l.alias === plan.listAlias);
      const expr =
        listed && (listed.qs.length > 1 || listed.weighted === true)
          ? dialect.listItem(`${baseName}.${plan.listAlias}`, plan.index)
          : `${baseName}.${plan.listAlias}`;
      return [`CAST(${expr} AS DOUBLE) AS c${i}`];
    }
    case 'weighted-quantile': {
      const pr = `pr_${suffix}_${plan.valueAlias}`;
      const h = `((${pr}.tot - 1) * ${dialect.doubleLiteral(plan.q)})`;
      return [`${pr}.lo${plan.slot} + (${h} - floor(${h})) * (${pr}.hi${plan.slot} - ${pr}.lo${plan.slot}) AS c${i}`];
    }
    case 'heatmap': {
      const hr = `hr_${suffix}_${plan.valueAlias}`;
      return [`hb_${plan.valueAlias}.lo AS c${i}_lo`, `hb_${plan.valueAlias}.width AS c${i}_w`, `${hr}.h AS c${i}_h`];
    }
  }
}
