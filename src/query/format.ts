/**
 * Canonical text of filters and calculations: the names calculations carry in
 * query results (`P99(duration_ms)`, `RATE(status_code >= 500)`) and the text
 * the CLI shorthand parsers read back (`parseWhere(formatFilter(f))` gives `f`).
 */
import type { Calculation, Filter, FilterValue } from './spec.js';

const BARE_COLUMN = /^[A-Za-z0-9._\-/:]+$/;

/** A column as shorthand text: bare when it is made only of letters, digits and `. _ - / :`, else backquoted with `\` escapes. */
export function formatColumn(column: string): string {
  if (BARE_COLUMN.test(column) && !column.startsWith('-')) return column;
  return `\`${column.replace(/[\\`]/g, (c) => `\\${c}`)}\``;
}

/** A filter value as shorthand text: strings are always double-quoted, so `"500"` stays a string and `500` a number. */
export function formatValue(value: FilterValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** One filter as shorthand text, e.g. `status_code >= 500`, `region in ("eu", "us")`, `error exists`. */
export function formatFilter(filter: Filter): string {
  const column = formatColumn(filter.column);
  if (filter.op === 'exists' || filter.op === 'does-not-exist') return `${column} ${filter.op}`;
  if (filter.op === 'in' || filter.op === 'not-in') {
    const values = Array.isArray(filter.value) ? filter.value : [filter.value ?? null];
    return `${column} ${filter.op} (${values.map(formatValue).join(', ')})`;
  }
  const value = Array.isArray(filter.value) ? null : (filter.value ?? null);
  return `${column} ${filter.op} ${formatValue(value)}`;
}

/** Filters joined by their combination, e.g. `a = 1 AND b exists`. */
export function formatFilters(filters: Filter[], combination: 'AND' | 'OR' = 'AND'): string {
  return filters.map(formatFilter).join(` ${combination} `);
}

/**
 * The name of a calculation as it appears in results and `meta.calculations`:
 * `COUNT`, `P99(duration_ms)`, `COUNT_DISTINCT(user.id)`, `RATE(status_code >= 500)`, `INCOMPLETE`.
 */
export function calculationName(calc: Calculation): string {
  if (calc.op === 'COUNT' || calc.op === 'INCOMPLETE') return calc.op;
  if (calc.op === 'RATE') return `RATE(${formatFilters(calc.filters ?? [], calc.filter_combination ?? 'AND')})`;
  return `${calc.op}(${formatColumn(calc.column ?? '')})`;
}
