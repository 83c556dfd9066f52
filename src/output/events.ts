/**
 * Raw events for the terminal (`flagscope events list|tail`): which columns a table shows when
 * none were chosen (the telling ones first, as many as fit the width), the cells, and the one-line
 * form a followed event takes. Pure: the events and the width come in.
 */
import type { RawEvent } from '../api/events.js';
import type { Styler } from './style.js';
import { plainStyler, truncate, visibleWidth } from './style.js';

/** Columns a reader of wide events looks at first, when the dataset has them. */
const TELLING_COLUMNS = [
  'service.name',
  'service',
  'name',
  'status_code',
  'http.status_code',
  'duration_ms',
  'error',
  'http.route',
  'route',
  'http.method',
  'user.id',
  'trace.trace_id',
  'http.target',
];
/** The side column of values that did not fit their column's type: shown only when asked for. */
const SIDE_COLUMN = 'meta.mistyped';
/** Widest cell of a table column before it is cut with `…`. */
export const MAX_CELL_WIDTH = 40;
const GAP = 2;

/** Every field the events have, in the order first seen (the server sends them in schema order). */
export function presentColumns(events: readonly RawEvent[]): string[] {
  const seen = new Set<string>();
  for (const event of events) for (const name of Object.keys(event.data)) seen.add(name);
  return [...seen];
}

/**
 * The columns a terminal table shows when none were chosen: the telling ones present, then the
 * rest by how many of the events have them, as many as fit `width` beside the time column.
 */
export function chooseColumns(events: readonly RawEvent[], width: number): { columns: string[]; available: number } {
  const present = presentColumns(events).filter((name) => name !== SIDE_COLUMN);
  const counts = new Map<string, number>();
  for (const event of events) for (const name of Object.keys(event.data)) counts.set(name, (counts.get(name) ?? 0) + 1);
  const telling = TELLING_COLUMNS.filter((name) => counts.has(name));
  const rest = present
    .filter((name) => !telling.includes(name))
    .map((name, index) => ({ name, index, count: counts.get(name) ?? 0 }))
    .sort((a, b) => b.count - a.count || a.index - b.index)
    .map((c) => c.name);
  const chosen: string[] = [];
  let used = timeCell(events[0]?.time ?? '2026-01-01T00:00:00.000000Z').length;
  for (const name of [...telling, ...rest]) {
    const cells = events.map((event) => Math.min(MAX_CELL_WIDTH, visibleWidth(cellText(event.data[name]))));
    const columnWidth = Math.max(Math.min(MAX_CELL_WIDTH, visibleWidth(name)), ...cells);
    if (used + GAP + columnWidth > width) {
      // One column at least, cut to the width by the table.
      if (chosen.length === 0) {
        chosen.push(name);
        used = width;
      }
      continue;
    }
    chosen.push(name);
    used += GAP + columnWidth;
  }
  return { columns: chosen, available: present.length };
}

/** The event time as a table shows it: `2026-01-01 12:00:00.123` (UTC, milliseconds). */
export function timeCell(time: string): string {
  return `${time.slice(0, 10)} ${time.slice(11, 23)}`;
}

/** A value as text in a cell: strings as they are, the rest as JSON; absent as empty. */
export function cellText(value: RawEvent['data'][string] | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The cells of one event for `columns`, cut to {@link MAX_CELL_WIDTH} when `cut`; control characters as spaces. */
export function eventCells(event: RawEvent, columns: readonly string[], cut: boolean): string[] {
  return columns.map((name) => {
    const text = cellText(event.data[name]).replace(/[\t\n\r]/g, ' ');
    return cut ? truncate(text, MAX_CELL_WIDTH) : text;
  });
}

/**
 * One followed event as one line: the time, then `field=value` for `columns` (or every field),
 * values with spaces or quotes in JSON quotes; cut to `width` when given.
 */
export function eventLine(event: RawEvent, options: { columns?: readonly string[]; width?: number; styler?: Styler } = {}): string {
  const styler = options.styler ?? plainStyler;
  const names = options.columns ?? orderedFields(event);
  const pairs = names
    .filter((name) => event.data[name] !== undefined)
    .map((name) => `${styler.dim(`${name}=`)}${lineValue(event.data[name])}`);
  const plain = [timeCell(event.time), ...pairs].join(' ');
  if (options.width === undefined || visibleWidth(plain) <= options.width) return plain;
  // Cut without splitting a colour sequence: rebuild from uncoloured text.
  const uncoloured = [
    timeCell(event.time),
    ...names.filter((n) => event.data[n] !== undefined).map((n) => `${n}=${lineValue(event.data[n])}`),
  ].join(' ');
  return truncate(uncoloured, options.width);
}

function orderedFields(event: RawEvent): string[] {
  const names = Object.keys(event.data).filter((name) => name !== SIDE_COLUMN);
  const telling = TELLING_COLUMNS.filter((name) => event.data[name] !== undefined);
  return [...telling, ...names.filter((name) => !telling.includes(name))];
}

function lineValue(value: RawEvent['data'][string] | undefined): string {
  if (typeof value !== 'string') return JSON.stringify(value);
  return /^[^\s"=\u0000-\u001f\u007f]+$/.test(value) ? value : JSON.stringify(value);
}
