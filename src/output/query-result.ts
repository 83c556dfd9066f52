/**
 * Turns a `QueryResult` into table rows, machine records and terminal charts.
 * Table columns: breakdown columns, then calculations, in spec order.
 */
import type { HeatmapValue, QueryResult } from '../query/spec.js';
import type { HeatmapColumn } from './heatmap.js';
import { renderHeatmap } from './heatmap.js';
import type { ChartLine } from './sparkline.js';
import { renderSeriesChart, renderSparkline } from './sparkline.js';
import type { Styler } from './style.js';
import { plainStyler } from './style.js';
import type { TableColumn } from './table.js';
import { renderTable } from './table.js';
import { formatNumberHuman, formatRawNumber, toMillis } from './values.js';

type Cell = QueryResult['data']['results'][number]['data'][string];

/** True for a `HEATMAP` calculation value. */
function isHeatmapValue(value: unknown): value is HeatmapValue {
  return typeof value === 'object' && value !== null && Array.isArray((value as HeatmapValue).buckets);
}

/** Formats one result cell for a human table (`tty`) or for tab-separated output. */
export function formatResultCell(value: Cell | undefined, tty: boolean): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return tty ? formatNumberHuman(value) : formatRawNumber(value);
  if (typeof value === 'boolean') return String(value);
  if (isHeatmapValue(value)) return tty ? renderSparkline(value.buckets) : JSON.stringify(value);
  return value;
}

/** The result as a table: one row per group over the whole time range. */
export function renderQueryTable(result: QueryResult, options: { tty: boolean; styler?: Styler; width?: number }): string {
  const { breakdowns, calculations } = result.meta;
  const columns: TableColumn[] = [
    ...breakdowns.map((b) => ({ header: options.tty ? b.toUpperCase() : b })),
    ...calculations.map((c) => ({ header: c, align: 'right' as const })),
  ];
  const rows = result.data.results.map((row) =>
    [...breakdowns, ...calculations].map((name) => formatResultCell(row.data[name], options.tty)),
  );
  const tableOptions: Parameters<typeof renderTable>[2] = { tty: options.tty, styler: options.styler ?? plainStyler };
  if (options.width !== undefined) tableOptions.maxWidth = options.width;
  return renderTable(columns, rows, tableOptions);
}

/**
 * Flat records for CSV, NDJSON and tab-separated output: with a time series,
 * one record per bucket and group with `time` first; otherwise one per group.
 */
export function queryRecords(result: QueryResult): { header: string[]; records: Record<string, Cell>[] } {
  const names = [...result.meta.breakdowns, ...result.meta.calculations];
  if (result.data.series !== undefined) {
    const header = ['time', ...names];
    const records = result.data.series.map((row) => {
      const record: Record<string, Cell> = { time: row.time };
      for (const n of names) record[n] = row.data[n] ?? null;
      return record;
    });
    return { header, records };
  }
  const records = result.data.results.map((row) => {
    const record: Record<string, Cell> = {};
    for (const n of names) record[n] = row.data[n] ?? null;
    return record;
  });
  return { header: names, records };
}

/** The label of a group: its breakdown values joined by `, `. */
export function groupLabel(data: Record<string, unknown>, breakdowns: string[]): string {
  return breakdowns.map((b) => (data[b] === null || data[b] === undefined ? '(none)' : String(data[b]))).join(', ');
}

interface GroupedSeries {
  times: number[];
  groups: { label: string; byTime: Map<number, Record<string, Cell>> }[];
}

/** Groups series rows by breakdown values, in the order of `data.results`; series rows of groups outside `data.results` are left out. */
function groupSeries(result: QueryResult): GroupedSeries {
  const { breakdowns } = result.meta;
  const times = new Set<number>();
  const groups = new Map<string, Map<number, Record<string, Cell>>>();
  for (const row of result.data.results) groups.set(groupLabel(row.data, breakdowns), new Map());
  for (const row of result.data.series ?? []) {
    const t = toMillis(row.time);
    if (t === undefined) continue;
    times.add(t);
    const label = groupLabel(row.data, breakdowns);
    let byTime = groups.get(label);
    if (byTime === undefined) {
      // Chart only the groups the table shows (ordered and limited), unless there is no table.
      if (result.data.results.length > 0) continue;
      byTime = new Map();
      groups.set(label, byTime);
    }
    byTime.set(t, row.data);
  }
  const sortedTimes = [...times].sort((a, b) => a - b);
  const step = (result.query.granularity ?? 0) * 1000;
  const first = sortedTimes[0];
  const last = sortedTimes[sortedTimes.length - 1];
  const list = [...groups].map(([label, byTime]) => ({ label, byTime }));
  // Fill empty buckets between the first and last so gaps show as gaps.
  if (
    step > 0 &&
    first !== undefined &&
    last !== undefined &&
    (last - first) / step < 10_000 &&
    sortedTimes.every((t) => (t - first) % step === 0)
  ) {
    const filled: number[] = [];
    for (let t = first; t <= last; t += step) filled.push(t);
    return { times: filled, groups: list };
  }
  return { times: sortedTimes, groups: list };
}

/**
 * Charts of a time series result: a sparkline chart per numeric calculation
 * (one line per group) and a heatmap per `HEATMAP` calculation and group
 * (at most `maxHeatmaps`).
 */
export function renderQueryCharts(result: QueryResult, options: { styler?: Styler; width?: number; maxHeatmaps?: number } = {}): string {
  if (result.data.series === undefined) return '';
  const styler = options.styler ?? plainStyler;
  const step = result.query.granularity ?? 60;
  const { times, groups } = groupSeries(result);
  const parts: string[] = [];
  for (const calc of result.meta.calculations) {
    const heatmap = groups.some((g) => [...g.byTime.values()].some((d) => isHeatmapValue(d[calc])));
    if (heatmap) {
      for (const group of groups.slice(0, options.maxHeatmaps ?? 4)) {
        const columns: HeatmapColumn[] = times.map((t) => {
          const v = group.byTime.get(t)?.[calc];
          return { time: t, histogram: isHeatmapValue(v) ? v : null };
        });
        const title = group.label.length > 0 ? `${calc}  ${group.label}` : calc;
        const heatmapOptions: Parameters<typeof renderHeatmap>[2] = { stepSeconds: step, styler };
        if (options.width !== undefined) heatmapOptions.maxColumns = Math.max(10, options.width - 12);
        parts.push(renderHeatmap(title, columns, heatmapOptions));
      }
      continue;
    }
    const lines: ChartLine[] = groups.map((g) => ({
      label: g.label,
      values: times.map((t) => {
        const v = g.byTime.get(t)?.[calc];
        return typeof v === 'number' ? v : null;
      }),
    }));
    const chartOptions: Parameters<typeof renderSeriesChart>[2] = { times, stepSeconds: step, styler };
    if (options.width !== undefined) chartOptions.width = options.width;
    parts.push(renderSeriesChart(calc, lines, chartOptions));
  }
  return parts.join('\n');
}
