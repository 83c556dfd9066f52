/**
 * The one duration parser (src/api/duration.ts) behind `--since`,
 * `--granularity`, `--timeout`, `--interval` and `--watch-timeout`.
 */
import { describe, expect, it } from 'vitest';
import { parseDuration, parseDurationMs } from '../../src/api/duration.js';
import { FlagscopeError } from '../../src/errors.js';
import { parseTimeoutFlag } from '../../src/cli/timeout.js';

function failure(fn: () => unknown): FlagscopeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FlagscopeError);
    return e as FlagscopeError;
  }
  throw new Error('expected a failure');
}

describe('parseDurationMs', () => {
  it.each([
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['45', 45_000],
    ['1W', 604_800_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it('reads ms only when asked, and tells 1m from 1ms', () => {
    expect(parseDurationMs('500ms', { milliseconds: true })).toBe(500);
    expect(parseDurationMs('1m', { milliseconds: true })).toBe(60_000);
    expect(parseDurationMs('1s250ms', { milliseconds: true })).toBe(1250);
    expect(failure(() => parseDurationMs('500ms')).message).toBe('invalid duration "500ms": expected a number and a unit');
  });

  it('refuses zero unless asked', () => {
    expect(failure(() => parseDurationMs('0s')).message).toContain('must be more than zero');
    expect(parseDurationMs('0s', { zero: true })).toBe(0);
  });

  it('is a usage error (exit 2) with examples in the hint', () => {
    const e = failure(() => parseDurationMs('soon'));
    expect([e.code, e.exitCode]).toEqual(['usage', 2]);
    expect(e.hint).toContain('1h30m');
  });

  it('gives whole seconds through parseDuration and milliseconds through --timeout', () => {
    expect(parseDuration('2m')).toBe(120);
    expect(parseTimeoutFlag('10s')).toBe(10_000);
    expect(parseTimeoutFlag('2m')).toBe(120_000);
  });
});

describe('--timeout', () => {
  it('takes milliseconds and decimals (issue 11, defect 7)', () => {
    expect(parseTimeoutFlag('500ms')).toBe(500);
    expect(parseTimeoutFlag('1.5s')).toBe(1500);
    expect(parseTimeoutFlag('1s500ms')).toBe(1500);
    expect(parseTimeoutFlag('0.5m')).toBe(30_000);
    expect(parseTimeoutFlag('2.5')).toBe(2500);
    expect(parseTimeoutFlag('30')).toBe(30_000);
  });

  it('refuses zero, nonsense and sub-millisecond values with exit 2', () => {
    for (const text of ['0s', '0.0001s', 'soon', '1.5x', '-1s']) {
      const e = failure(() => parseTimeoutFlag(text));
      expect([e.code, e.exitCode], text).toEqual(['usage', 2]);
    }
  });
});
