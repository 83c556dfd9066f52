/** The compiled statement's rows back to `QueryResult.data`: breakdown values by column type, calculations by plan. */
import type { ColumnType } from '../schema.js';
import type { HeatmapValue, ResultRow, SeriesRow } from '../spec.js';
import { HEATMAP_BUCKETS } from './aggregate.js';
import type { CalcPlan } from './calculations.js';

/** The decoded rows of one statement. */
export interface DecodedRows {
  results: ResultRow[];
  series?: SeriesRow[];
}

/**
 * The decoder of a statement whose rows are `[g0.., calculation columns..]`, or, with `granularity` (seconds),
 * `[kind (0 result, 1 series), rank, bucket, g0.., calculation columns..]`.
 */
export function rowDecoder(
  breakdowns: string[],
  breakdownTypes: ColumnType[],
  plans: CalcPlan[],
  granularity: number | undefined,
): (rows: readonly (readonly unknown[])[]) => DecodedRows {
  const decodeRow = (row: readonly unknown[], offset: number): ResultRow['data'] => {
    const data: ResultRow['data'] = {};
    breakdowns.forEach((b, i) => {
      data[b] = decodeBreakdown(row[offset + i], breakdownTypes[i] ?? 'string');
    });
    let column = offset + breakdowns.length;
    for (const plan of plans) {
      if (plan.kind === 'heatmap') {
        data[plan.name] = decodeHeatmap(row[column], row[column + 1], row[column + 2]);
        column += 3;
      } else {
        const raw = row[column];
        data[plan.name] =
          plan.kind === 'scalar' && !plan.numeric ? (raw === null || raw === undefined ? null : String(raw)) : toNumber(raw);
        column += 1;
      }
    }
    return data;
  };
  return (rows) => {
    if (granularity === undefined) return { results: rows.map((row) => ({ data: decodeRow(row, 0) })) };
    const results: ResultRow[] = [];
    const series: SeriesRow[] = [];
    for (const row of rows) {
      if (toNumber(row[0]) === 0) {
        results.push({ data: decodeRow(row, 3) });
      } else {
        const bucket = toNumber(row[2]) ?? 0;
        series.push({ time: new Date(bucket * granularity * 1000).toISOString(), data: decodeRow(row, 3) });
      }
    }
    return { results, series };
  };
}

function toNumber(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return Number(String(value));
}

function decodeBreakdown(value: unknown, type: ColumnType): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'integer':
    case 'float':
      return toNumber(value);
    case 'boolean':
      return typeof value === 'boolean' ? value : String(value) === 'true';
    case 'string':
      return String(value);
  }
}

function decodeHeatmap(lower: unknown, width: unknown, encoded: unknown): HeatmapValue | null {
  if (encoded === null || encoded === undefined) return null;
  const buckets = new Array<number>(HEATMAP_BUCKETS).fill(0);
  for (const part of String(encoded).split(',')) {
    const [index, count] = part.split(':');
    const i = Number(index);
    if (i >= 0 && i < HEATMAP_BUCKETS) buckets[i] = (buckets[i] ?? 0) + Number(count);
  }
  return { lower: toNumber(lower) ?? 0, width: toNumber(width) ?? 1, buckets };
}
