/**
 * How the event store reads JSON values: the logical type of a value, its
 * text in a string column, and which events it refuses outright. Shared by
 * the store and the batch scanner, so both paths decide alike (docs/storage.md).
 */
import type { ColumnType } from '../query/schema.js';
import type { IncomingEvent } from './event.js';

export const MAX_INT64 = 9223372036854775807n;
export const MIN_INT64 = -9223372036854775808n;
/** Integers at or above this magnitude do not fit a BIGINT and are stored as floats. */
export const INT64_LIMIT_AS_NUMBER = 2 ** 63;

/** The logical type of a JSON value as the store keeps it, or undefined for null. */
export function typeOfValue(value: unknown): ColumnType | undefined {
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return Number.isInteger(value) && Math.abs(value as number) < INT64_LIMIT_AS_NUMBER ? 'integer' : 'float';
    case 'bigint':
      return (value as bigint) <= MAX_INT64 && (value as bigint) >= MIN_INT64 ? 'integer' : 'string';
    case 'object':
      return value === null ? undefined : 'string';
    default:
      return undefined;
  }
}

/** The text of a value stored in a string column: strings as they are, nested values as JSON. */
export function textOf(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      return JSON.stringify(value);
  }
}

/** Why the store refuses the event whatever the dataset's columns, or undefined. */
export function eventProblem(event: IncomingEvent): string | undefined {
  if (typeof event.time !== 'number' || !Number.isFinite(event.time)) return 'event time is not a finite number';
  if (Math.abs(event.time) > 8.64e15) return 'event time is out of range';
  if (!Number.isSafeInteger(event.samplerate) || event.samplerate < 1) return 'samplerate must be an integer >= 1';
  if (event.data === null || typeof event.data !== 'object' || Array.isArray(event.data)) return 'event data must be a JSON object';
  return undefined;
}

/**
 * The column a value that does not fit its column's type is kept in, whole, as JSON text
 * `{"<column>": <value as sent>, ...}` (docs/storage.md, "Types"). A user field of this name is
 * stored as `data.meta.mistyped`, as `_time` is stored as `data._time`.
 */
export const MISTYPED_COLUMN = 'meta.mistyped';

/**
 * The type a column of type `current` has after storing `value`: `current` when the value fits
 * (a string column takes anything, as its text; a float column takes integers), `float` when an
 * integer column gets a number that is not a 64-bit integer (widening loses nothing), and
 * undefined when the value does not fit: then the column keeps its type, the value is stored
 * NULL there and kept in {@link MISTYPED_COLUMN}. `null` fits everything.
 */
export function columnTypeAfter(current: ColumnType, value: unknown): ColumnType | undefined {
  const type = typeOfValue(value);
  if (type === undefined || type === current || current === 'string') return current;
  if (current === 'float' && type === 'integer') return 'float';
  if (current === 'integer' && type === 'float' && typeof value === 'number') return 'float';
  return undefined;
}

/** A value's kind in words, for a warning: `the string "fast"`, `true`, `the object {…}`. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  return `the ${typeof value === 'boolean' ? 'boolean' : 'number'} ${String(value)}`;
}

/** The warning of an event whose values did not fit their columns (`columns`: column → type). */
export function mistypedWarning(mistyped: ReadonlyArray<readonly [column: string, type: ColumnType, value: unknown]>): string {
  const parts = mistyped.map(([column, type, value]) => `${JSON.stringify(column)} is ${type}, got ${describeValue(value)}`);
  return `stored with ${mistyped.length === 1 ? 'a value' : `${mistyped.length} values`} that did not fit the column type (${parts.join('; ')}): stored NULL there and kept whole in "${MISTYPED_COLUMN}"; see \`flagscope columns\`, or change the type with \`flagscope columns DATASET --set-type COLUMN=TYPE\``;
}
