/**
 * A time × value heatmap in the terminal: one column per time bucket, one row
 * per value band (high values on top), each cell shaded by its weighted count.
 */
import type { HeatmapValue } from '../query/spec.js';
import type { Styler } from './style.js';
import { pad, plainStyler } from './style.js';
import { axisLine, formatAxisEnds } from './time-axis.js';
import { formatNumberShort } from './values.js';

/** Shades from empty to fullest. */
const HEATMAP_SHADES = [' ', '░', '▒', '▓', '█'] as const;

export interface HeatmapColumn {
  /** Start of the time bucket, Unix milliseconds. */
  time: number;
  /** The histogram of this bucket; null when the bucket has no events. */
  histogram: HeatmapValue | null;
}

export interface HeatmapOptions {
  /** Bucket size in seconds (time label format). */
  stepSeconds: number;
  /** Value bands. Default 10. */
  rows?: number;
  /** Maximum number of time columns; more buckets are merged. Default 60. */
  maxColumns?: number;
  styler?: Styler;
}

/** The counts re-binned onto a common grid: `cells[row][column]`, row 0 the lowest values. */
export interface HeatmapGrid {
  lower: number;
  upper: number;
  rows: number;
  cells: number[][];
  times: number[];
}

/**
 * Puts every histogram on one value axis from the smallest lower bound to the
 * largest upper bound, splitting it into `rows` equal bands; each bucket's
 * count goes to the band holding the bucket's midpoint. Adjacent time columns
 * are summed when there are more than `maxColumns`.
 */
export function buildHeatmapGrid(columns: HeatmapColumn[], rows: number, maxColumns: number): HeatmapGrid | undefined {
  let lower = Infinity;
  let upper = -Infinity;
  for (const c of columns) {
    const h = c.histogram;
    if (h === null || h.buckets.length === 0) continue;
    lower = Math.min(lower, h.lower);
    upper = Math.max(upper, h.lower + h.width * h.buckets.length);
  }
  if (!Number.isFinite(lower) || !Number.isFinite(upper)) return undefined;
  if (upper <= lower) upper = lower + 1;
  const band = (upper - lower) / rows;
  const merge = Math.max(1, Math.ceil(columns.length / maxColumns));
  const width = Math.ceil(columns.length / merge);
  const cells = Array.from({ length: rows }, () => new Array<number>(width).fill(0));
  const times: number[] = [];
  columns.forEach((c, index) => {
    const x = Math.floor(index / merge);
    if (index % merge === 0) times.push(c.time);
    const h = c.histogram;
    if (h === null) return;
    h.buckets.forEach((count, i) => {
      if (count <= 0) return;
      const mid = h.lower + (i + 0.5) * h.width;
      const y = Math.min(rows - 1, Math.max(0, Math.floor((mid - lower) / band)));
      const row = cells[y];
      if (row !== undefined) row[x] = (row[x] ?? 0) + count;
    });
  });
  return { lower, upper, rows, cells, times };
}

/** Shade level 0–4 of a count, linear in the share of the largest cell. */
export function shadeLevel(count: number, max: number): number {
  if (count <= 0 || max <= 0) return 0;
  return Math.min(4, Math.max(1, Math.ceil((count / max) * 4)));
}

/** Renders the heatmap with value labels on the left, a time axis (UTC) and a legend of counts per shade. */
export function renderHeatmap(title: string, columns: HeatmapColumn[], options: HeatmapOptions): string {
  const styler = options.styler ?? plainStyler;
  const grid = buildHeatmapGrid(columns, options.rows ?? 10, options.maxColumns ?? 60);
  if (grid === undefined) return `${styler.bold(title)}\n${styler.dim('no data in this time range')}\n`;
  const band = (grid.upper - grid.lower) / grid.rows;
  const labels = grid.cells.map((_, y) => formatNumberShort(grid.lower + y * band));
  const labelWidth = Math.max(formatNumberShort(grid.upper).length, ...labels.map((l) => l.length));
  const max = Math.max(...grid.cells.flat());
  const out: string[] = [styler.bold(title)];
  out.push(`${pad(formatNumberShort(grid.upper), labelWidth, 'right')} ┐`);
  for (let y = grid.rows - 1; y >= 0; y--) {
    const row = grid.cells[y] ?? [];
    const shades = row.map((c) => HEATMAP_SHADES[shadeLevel(c, max)]).join('');
    out.push(`${pad(labels[y] ?? '', labelWidth, 'right')} ┤${shades}`.trimEnd());
  }
  const columnsWide = grid.cells[0]?.length ?? 0;
  out.push(`${' '.repeat(labelWidth)} └${'─'.repeat(columnsWide)}`);
  const first = grid.times[0];
  const last = grid.times[grid.times.length - 1];
  if (first !== undefined && last !== undefined) {
    out.push(styler.dim(`${' '.repeat(labelWidth + 2)}${axisLine(...formatAxisEnds(first, last, options.stepSeconds), columnsWide)} UTC`));
  }
  const legend = [1, 2, 3, 4].map((level) => {
    const low = (max * (level - 1)) / 4;
    const high = (max * level) / 4;
    return `${HEATMAP_SHADES[level]} ${level === 1 ? '>0' : `>${formatNumberShort(low)}`}–${formatNumberShort(high)}`;
  });
  out.push(styler.dim(`${' '.repeat(labelWidth + 2)}events per cell: ${legend.join('  ')}`));
  return out.map((l) => `${l}\n`).join('');
}
