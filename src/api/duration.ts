/**
 * The one duration parser, for the CLI's `--since`, `--granularity`,
 * `--timeout`, `--interval` and `--watch-timeout` and for any server option
 * given as a duration. Pure: text in, a number out, or a usage error.
 */
import { FlagscopeError } from '../errors.js';

const UNIT_MS: Record<string, number> = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const DURATION_HINT = 'e.g. 90s, 30m, 2h, 1d, 1w, 1h30m';

/** What a duration may be besides whole positive seconds. */
export interface DurationOptions {
  /** Accept the `ms` unit (`500ms`, `1s500ms`). Default false: whole seconds only. */
  milliseconds?: boolean;
  /** Accept zero (`0s`). Default false. */
  zero?: boolean;
}

function invalidDuration(text: string, reason: string, hint: string): FlagscopeError {
  const shown = text.length <= 80 ? text : `${text.slice(0, 80)}…`;
  return new FlagscopeError('usage', `invalid duration ${JSON.stringify(shown)}: ${reason}`, hint);
}

/**
 * Parses a duration into milliseconds: a sequence of `<integer><unit>` with
 * units w d h m s (and ms when `options.milliseconds`), e.g. `1h30m`, or a
 * bare integer of seconds. Case and surrounding blanks are ignored.
 */
export function parseDurationMs(text: string, options: DurationOptions = {}): number {
  const trimmed = text.trim().toLowerCase();
  const hint = options.milliseconds === true ? `${DURATION_HINT}, 500ms` : DURATION_HINT;
  const units = options.milliseconds === true ? 'ms|[wdhms]' : '[wdhms]';
  let ms = 0;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else if (new RegExp(`^(\\d+(${units}))+$`).test(trimmed)) {
    for (const part of trimmed.matchAll(new RegExp(`(\\d+)(${units})`, 'g'))) ms += Number(part[1]) * (UNIT_MS[part[2] ?? 's'] ?? 1000);
  } else {
    throw invalidDuration(text, 'expected a number and a unit', hint);
  }
  if (!Number.isSafeInteger(ms) || ms < 0 || (ms === 0 && options.zero !== true)) {
    throw invalidDuration(text, 'must be more than zero', hint);
  }
  return ms;
}

/** Parses a duration into whole seconds (`2h` → 7200); see `parseDurationMs`. */
export function parseDuration(text: string): number {
  return parseDurationMs(text) / 1000;
}
