/**
 * Sparklines and small per-group line charts of a time series, drawn with the
 * eight Unicode block elements.
 */
import type { Styler } from './style.js';
import { pad, plainStyler, truncate } from './style.js';
import { axisLine, formatAxisEnds } from './time-axis.js';
import { formatNumberShort } from './values.js';

const SPARK_BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

/**
 * One block per value, scaled between `range.min` (lowest block) and
 * `range.max` (full block); a missing value is a space. When every value is
 * equal the line is drawn at mid height.
 */
export function renderSparkline(values: (number | null)[], range?: { min: number; max: number }): string {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const min = range?.min ?? Math.min(...present);
  const max = range?.max ?? Math.max(...present);
  const top = SPARK_BLOCKS.length - 1;
  return values
    .map((v) => {
      if (v === null || !Number.isFinite(v)) return ' ';
      if (max <= min) return SPARK_BLOCKS[3];
      const level = Math.round(((v - min) / (max - min)) * top);
      return SPARK_BLOCKS[Math.min(top, Math.max(0, level))];
    })
    .join('');
}

/**
 * Shrinks a series to at most `width` points by averaging neighbours
 * (missing values are skipped; a point with no values stays missing).
 */
export function downsample(values: (number | null)[], width: number): (number | null)[] {
  if (values.length <= width || width <= 0) return values;
  const out: (number | null)[] = [];
  for (let i = 0; i < width; i++) {
    const from = Math.floor((i * values.length) / width);
    const to = Math.floor(((i + 1) * values.length) / width);
    const slice = values.slice(from, to).filter((v): v is number => v !== null);
    out.push(slice.length === 0 ? null : slice.reduce((a, b) => a + b, 0) / slice.length);
  }
  return out;
}

export interface ChartLine {
  /** Group label (breakdown values), empty when the query has no breakdown. */
  label: string;
  /** One value per time bucket, aligned with `ChartOptions.times`. */
  values: (number | null)[];
}

export interface ChartOptions {
  /** Start of each bucket, Unix milliseconds. */
  times: number[];
  /** Bucket size in seconds (chooses the time label format). */
  stepSeconds: number;
  styler?: Styler;
  /** Total width in terminal cells. Default 80. */
  width?: number;
}

/**
 * A small chart of one calculation: a title line, one sparkline per group with
 * its own min and max labels, and a time axis (UTC) underneath.
 */
export function renderSeriesChart(title: string, lines: ChartLine[], options: ChartOptions): string {
  const styler = options.styler ?? plainStyler;
  const width = options.width ?? 80;
  const labelWidth = Math.min(24, Math.max(0, ...lines.map((l) => [...l.label].length)));
  const stats = lines.map((l) => {
    const present = l.values.filter((v): v is number => v !== null && Number.isFinite(v));
    return present.length === 0 ? undefined : { min: Math.min(...present), max: Math.max(...present) };
  });
  const rangeTexts = stats.map((s) => (s === undefined ? 'no data' : `min ${formatNumberShort(s.min)}  max ${formatNumberShort(s.max)}`));
  const rangeWidth = Math.max(0, ...rangeTexts.map((t) => t.length));
  const prefixWidth = labelWidth > 0 ? labelWidth + 2 : 0;
  const sparkWidth = Math.max(1, Math.min(options.times.length, Math.max(8, width - prefixWidth - rangeWidth - 2)));
  const out: string[] = [styler.bold(title)];
  lines.forEach((line, i) => {
    const values = downsample(line.values, sparkWidth);
    const stat = stats[i];
    const spark = stat === undefined ? ' '.repeat(values.length) : renderSparkline(values, stat);
    const label = labelWidth > 0 ? `${pad(truncate(line.label, labelWidth), labelWidth)}  ` : '';
    out.push(`${label}${styler.cyan(pad(spark, sparkWidth))}  ${styler.dim(rangeTexts[i] ?? '')}`.replace(/\s+$/, ''));
  });
  const first = options.times[0];
  const last = options.times[options.times.length - 1];
  if (first !== undefined && last !== undefined) {
    const axis = axisLine(...formatAxisEnds(first, last, options.stepSeconds), Math.min(sparkWidth, options.times.length));
    out.push(styler.dim(`${' '.repeat(prefixWidth) + axis} UTC`));
  }
  return out.map((l) => `${l}\n`).join('');
}
