/**
 * Prints a list of records in the chosen format: an aligned table (TTY),
 * tab-separated rows (pipe), CSV, NDJSON (one record per line) or JSON (the
 * given document, which wraps the records in the API's own shape).
 */
import { renderCsv, renderJson, renderNdjson } from '../output/serialize.js';
import type { CsvCell } from '../output/serialize.js';
import { renderTable } from '../output/table.js';
import { formatRawNumber } from '../output/values.js';
import type { CommandEnv } from './command-env.js';

export interface RecordColumn<R> {
  /** Field name in CSV headers. */
  key: string;
  /** Header on a TTY table. */
  header: string;
  align?: 'left' | 'right';
  /** Raw value for CSV and tab-separated output. */
  value(record: R): CsvCell;
  /** Text in a TTY table (may be coloured); defaults to the raw value. */
  human?(record: R): string;
}

/** Writes `records` to stdout as `env.format` says; `jsonDocument` is what `--json` prints. */
export function printRecords<R>(env: CommandEnv, records: R[], columns: RecordColumn<R>[], jsonDocument: unknown): void {
  switch (env.format) {
    case 'json':
      env.out(renderJson(jsonDocument));
      return;
    case 'ndjson':
      env.out(renderNdjson(records));
      return;
    case 'csv':
      env.out(
        renderCsv(
          columns.map((c) => c.key),
          records.map((r) => columns.map((c) => c.value(r))),
        ),
      );
      return;
    case 'table': {
      const tty = env.stdoutIsTTY;
      const rows = records.map((r) => columns.map((c) => (tty && c.human !== undefined ? c.human(r) : machineText(c.value(r)))));
      env.out(
        renderTable(
          columns.map((c) => ({ header: c.header, align: c.align ?? 'left' })),
          rows,
          { tty, styler: env.styler, maxWidth: env.width },
        ),
      );
    }
  }
}

function machineText(value: CsvCell): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return formatRawNumber(value);
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
