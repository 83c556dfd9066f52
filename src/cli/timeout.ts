import { parseDurationMs } from '../api/duration.js';

/** Parses `--timeout` (a duration such as `10s`, `2m`, or bare seconds) into milliseconds. */
export function parseTimeoutFlag(text: string): number {
  return parseDurationMs(text);
}
