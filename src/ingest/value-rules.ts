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
