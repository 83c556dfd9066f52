import { parseDurationMs } from '../api/duration.js';
import { FlagscopeError } from '../errors.js';

const DECIMAL_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses `--timeout` into milliseconds: a duration such as `10s`, `2m`, `1m30s`, `500ms`, a
 * decimal with one unit (`1.5s`, `0.5m`), or bare (possibly decimal) seconds (`30`, `2.5`).
 */
export function parseTimeoutFlag(text: string): number {
  const decimal = /^(\d+)\.(\d+)(ms|s|m|h)?$/.exec(text.trim().toLowerCase());
  if (decimal === null) return parseDurationMs(text, { milliseconds: true });
  const ms = Math.round(Number(`${decimal[1]}.${decimal[2]}`) * (DECIMAL_UNIT_MS[decimal[3] ?? 's'] ?? 1000));
  if (!Number.isSafeInteger(ms) || ms < 1) {
    throw new FlagscopeError('usage', `invalid duration ${JSON.stringify(text)}: must be at least 1ms`, 'e.g. 500ms, 1.5s, 10s, 2m');
  }
  return ms;
}
