/**
 * Tabular output, the way GitHub CLI prints it: on a terminal an aligned
 * table with a header; when piped, tab-separated rows without a header, so
 * `cut -f2` and `sort` work.
 */
import type { Styler } from './style.js';
import { pad, plainStyler, truncate, visibleWidth } from './style.js';

export interface TableColumn {
  header: string;
  align?: 'left' | 'right';
}

export interface TableOptions {
  /** Aligned table with a header (terminal) or tab-separated without one (pipe). */
  tty: boolean;
  styler?: Styler;
  /** Terminal width; the widest column is cut to fit. */
  maxWidth?: number;
}

/** Renders rows of already formatted cells. Cells may carry colour sequences on a TTY. */
export function renderTable(columns: TableColumn[], rows: string[][], options: TableOptions): string {
  if (!options.tty) {
    return rows.map((row) => `${row.map(escapeTsv).join('\t')}\n`).join('');
  }
  const styler = options.styler ?? plainStyler;
  const widths = columns.map((c, i) => Math.max(visibleWidth(c.header), ...rows.map((r) => visibleWidth(r[i] ?? ''))));
  const gap = 2;
  const total = widths.reduce((a, b) => a + b, 0) + gap * Math.max(0, columns.length - 1);
  const cutCells = new Set<number>();
  if (options.maxWidth !== undefined && total > options.maxWidth && widths.length > 0) {
    const widest = widths.indexOf(Math.max(...widths));
    const newWidth = Math.max(8, (widths[widest] ?? 0) - (total - options.maxWidth));
    widths[widest] = newWidth;
    cutCells.add(widest);
  }
  const renderRow = (cells: string[], header: boolean): string => {
    const parts = columns.map((col, i) => {
      let cell = cells[i] ?? '';
      const width = widths[i] ?? 0;
      if (cutCells.has(i) && visibleWidth(cell) > width) cell = truncate(cell.replace(/\u001b\[[0-9;]*m/g, ''), width);
      const last = i === columns.length - 1;
      const align = col.align ?? 'left';
      if (last && align === 'left') return cell;
      return pad(cell, width, align);
    });
    const line = parts.join(' '.repeat(gap)).replace(/\s+$/, '');
    return header ? styler.bold(line) : line;
  };
  const lines = [
    renderRow(
      columns.map((c) => c.header),
      true,
    ),
    ...rows.map((r) => renderRow(r, false)),
  ];
  return lines.map((l) => `${l}\n`).join('');
}

function escapeTsv(cell: string): string {
  return cell.replace(/[\t\n\r]/g, ' ');
}
