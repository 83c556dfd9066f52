/**
 * Machine formats: pretty JSON, NDJSON and CSV (RFC 4180). Numbers are written
 * without float noise (`cleanNumber`: non-integers to 15 significant digits).
 */
import { cleanNumber } from './values.js';

/** JSON.stringify's replacer that rounds away float noise. */
function withoutFloatNoise(_key: string, value: unknown): unknown {
  return typeof value === 'number' ? cleanNumber(value) : value;
}

/** Pretty JSON (2-space indent) ending with a newline. */
export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, withoutFloatNoise, 2)}\n`;
}

/** One compact JSON document per line. */
export function renderNdjson(records: unknown[]): string {
  return records.map((r) => `${JSON.stringify(r, withoutFloatNoise)}\n`).join('');
}

/**
 * CSV as RFC 4180 defines it: a header record, CRLF line breaks, and fields
 * that contain a comma, a double quote, CR or LF enclosed in double quotes with
 * inner quotes doubled.
 */
export function renderCsv(header: string[], rows: CsvCell[][]): string {
  return [header, ...rows].map((row) => `${row.map(csvField).join(',')}\r\n`).join('');
}

export type CsvCell = string | number | boolean | null | undefined | object;

/** Quotes one CSV field when needed. Objects are written as JSON; null and undefined as an empty field. */
export function csvField(value: CsvCell): string {
  if (value === null || value === undefined) return '';
  const text =
    typeof value === 'object'
      ? JSON.stringify(value, withoutFloatNoise)
      : typeof value === 'number'
        ? String(cleanNumber(value))
        : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
