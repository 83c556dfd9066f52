/**
 * ClickHouse result values to {@link SqlValue}s, by the column types of the `JSONCompact` result:
 * 64-bit and wider integers (quoted text, `output_format_json_quote_64bit_integers`) as bigint,
 * smaller integers and floats as numbers, `Bool` as boolean, `DateTime64` text as a Date, arrays
 * and tuples element by element, `Nullable(T)` as T or null.
 */
import type { SqlRow, SqlValue } from '../types.js';

/** A result as ClickHouse's `JSONCompact` format gives it: column types and rows of JSON values. */
export interface CompactResult {
  meta: ReadonlyArray<{ name: string; type: string }>;
  data: ReadonlyArray<readonly unknown[]>;
}

type Decoder = (value: unknown) => SqlValue;

export function decodeRows(result: CompactResult): SqlRow[] {
  const decoders = result.meta.map((column) => decoderOf(column.type));
  return result.data.map((row) => row.map((value, i) => (decoders[i] ?? plain)(value)));
}

const plain: Decoder = (value) => (value === undefined ? null : (value as SqlValue));

/** The decoder of one ClickHouse type name. */
export function decoderOf(type: string): Decoder {
  const wrapped = /^(Nullable|LowCardinality)\((.*)\)$/s.exec(type);
  if (wrapped !== null) {
    const inner = decoderOf(wrapped[2] as string);
    return (value) => (value === null || value === undefined ? null : inner(value));
  }
  const array = /^Array\((.*)\)$/s.exec(type);
  if (array !== null) {
    const element = decoderOf(array[1] as string);
    return (value) => (Array.isArray(value) ? value.map(element) : null);
  }
  const tuple = /^Tuple\((.*)\)$/s.exec(type);
  if (tuple !== null) {
    const fields = splitTypes(tuple[1] as string).map((field) => {
      const named = /^([A-Za-z_][A-Za-z0-9_]*|`(?:[^`\\]|\\.)*`) (.+)$/s.exec(field);
      return named === null
        ? { name: undefined, decode: decoderOf(field) }
        : { name: unquote(named[1] as string), decode: decoderOf(named[2] as string) };
    });
    return (value) => {
      if (Array.isArray(value)) return value.map((v, i) => (fields[i]?.decode ?? plain)(v));
      if (value !== null && typeof value === 'object') {
        const out: Record<string, SqlValue> = {};
        for (const [key, v] of Object.entries(value)) out[key] = (fields.find((f) => f.name === key)?.decode ?? plain)(v);
        return out;
      }
      return null;
    };
  }
  if (/^U?Int(64|128|256)$/.test(type)) return (value) => (value === null ? null : BigInt(value as string | number));
  if (/^(U?Int(8|16|32)|Float(32|64)|BFloat16|Decimal.*)$/.test(type)) return (value) => (value === null ? null : Number(value));
  if (type === 'Bool') return (value) => (value === null ? null : value === true || value === 1 || value === 'true');
  if (/^DateTime64/.test(type) || /^DateTime(\(|$)/.test(type)) {
    return (value) => (typeof value === 'string' ? new Date(`${value.replace(' ', 'T')}Z`) : null);
  }
  return plain;
}

/** The comma-separated types of a `Tuple(…)`, split at top level. */
function splitTypes(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let quoted = false;
  for (let i = 0; i < list.length; i++) {
    const ch = list[i];
    if (ch === '`') quoted = !quoted;
    else if (quoted) continue;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(list.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(list.slice(start).trim());
  return parts.filter((p) => p !== '');
}

function unquote(name: string): string {
  return name.startsWith('`') ? name.slice(1, -1).replace(/\\(.)/g, '$1') : name;
}
