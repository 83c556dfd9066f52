/**
 * Retention periods as users write them (`flagscope datasets retention NAME 30d`,
 * `flagscope serve --retention 30d`, `PUT /api/v1/datasets/{dataset}/retention`): a duration, or
 * `forever`; a dataset's own setting may also be `default` (follow the server's). Pure.
 */
import { parseDurationMs } from './duration.js';
import { FlagscopeError } from '../errors.js';

/** The shortest retention: an hour (the job deletes whole hours). */
export const MIN_RETENTION_MS = 3_600_000;
/** The longest retention: 100 years. Longer is `forever`. */
export const MAX_RETENTION_MS = 36_500 * 86_400_000;

const HINT = 'give a duration such as 30d, 12w or 36h (at least 1h, at most 36500d), or `forever`';

/**
 * Parses a retention: a duration in milliseconds, 0 for `forever`, null for `default` (only when
 * `allowDefault`). Throws `invalid_input` otherwise.
 */
export function parseRetention(text: string, options: { allowDefault?: boolean } = {}): number | null {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'forever' || trimmed === 'none' || trimmed === 'off') return 0;
  if (trimmed === 'default' && options.allowDefault === true) return null;
  let ms: number;
  try {
    ms = parseDurationMs(trimmed);
  } catch {
    const shown = text.length <= 40 ? text : `${text.slice(0, 40)}…`;
    throw new FlagscopeError(
      'invalid_input',
      `invalid retention ${JSON.stringify(shown)}: expected a duration${options.allowDefault === true ? ', `forever` or `default`' : ' or `forever`'}`,
      HINT,
    );
  }
  if (ms < MIN_RETENTION_MS || ms > MAX_RETENTION_MS) {
    throw new FlagscopeError('invalid_input', `invalid retention ${JSON.stringify(text)}: must be from 1h to 36500d`, HINT);
  }
  return ms;
}

/** A retention for people: `30d`, `36h`, `2w`, `forever` (0 or null). */
export function formatRetention(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms === 0) return 'forever';
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  for (const [unit, size] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.round(ms / 1000)}s`;
}

/** The start of the hour at or before `ms`: the retention job deletes whole hours. */
export function retentionCutoff(nowMs: number, retentionMs: number): number {
  return Math.floor((nowMs - retentionMs) / MIN_RETENTION_MS) * MIN_RETENTION_MS;
}
