import { invalidInput } from '../errors.js';

/** Throws `invalid_input` unless `value` is a finite number. */
export function requireFinite(value: number, name: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalidInput(`${name} must be a finite number, got ${String(value)}`, 'pass aggregates computed over real values');
  }
}

/** Throws `invalid_input` unless `value` is a finite number ≥ 0. */
export function requireNonNegative(value: number, name: string): void {
  requireFinite(value, name);
  if (value < 0) throw invalidInput(`${name} must not be negative, got ${value}`, 'counts and weights are never negative');
}

/** Throws `invalid_input` unless `alpha` lies strictly between 0 and 1. */
export function requireAlpha(alpha: number): void {
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1)) {
    throw invalidInput(`alpha must be between 0 and 1 (exclusive), got ${String(alpha)}`, 'use e.g. 0.05 for 95% confidence');
  }
}
