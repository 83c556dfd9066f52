/**
 * Bound parameters of a compiled statement, and the compiler's error for a
 * query that validation should have refused.
 */
import { FlagscopeError } from '../../errors.js';
import type { SqlDialect, SqlParam } from '../dialect.js';

/** The parameters of one statement, in placeholder order. */
export class ParamList {
  readonly values: SqlParam[] = [];
  constructor(private readonly dialect: SqlDialect) {}

  /** A placeholder cast to `sqlType`, so the bound value's JS type never decides the SQL type. */
  bind(value: SqlParam, sqlType: string): string {
    // Drivers bind whole JS numbers as 64-bit integers; beyond 2^53 pass the text and let the CAST read it.
    this.values.push(typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value) ? String(value) : value);
    return `CAST(${this.dialect.placeholder(this.values.length)} AS ${sqlType})`;
  }
}

/** A query that reached the compiler in a shape validation refuses: a bug, not bad input. */
export function compilerBug(message: string): FlagscopeError {
  return new FlagscopeError('internal', message, 'this is a bug in flagscope: please report it');
}
