/**
 * The raw-event request of `flagscope events list|tail` options: `--where`, `--any` and the time
 * range read exactly as `flagscope query` reads them (`buildQuerySpec`), then `--columns` and
 * `--limit`. Pure: the clock is passed in.
 */
import type { EventsRequest } from '../../api/events.js';
import { FlagscopeError } from '../../errors.js';
import { buildQuerySpec } from '../query/build-spec.js';

/** The options of `events list` and `events tail` as commander parses them. */
export interface EventsFlags {
  where?: string[];
  any?: boolean;
  since?: string;
  start?: string;
  end?: string;
  columns?: string[];
  limit?: string;
  last?: string;
}

/** `--columns a,b --columns c` → `["a", "b", "c"]`; undefined when not given. */
export function parseColumns(values: string[] | undefined): string[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const names = values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
  if (names.length === 0)
    throw new FlagscopeError(
      'usage',
      '`--columns` names no column',
      'pass column names separated by commas, e.g. `--columns service.name,duration_ms`',
    );
  return names;
}

/** A whole number of events from `--limit`/`--last`. */
export function parseCount(text: string, option: string, min: number): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new FlagscopeError(
      'usage',
      `\`${option} ${text}\` is not a whole number${min > 0 ? ` of at least ${min}` : ''}`,
      `pass a number of events, e.g. \`${option} 20\``,
    );
  }
  return n;
}

/** The filters and columns both verbs send; the time range only for a list. */
export function buildEventsRequest(flags: EventsFlags, now: number, options: { timeRange: boolean }): EventsRequest {
  if (!options.timeRange && (flags.since !== undefined || flags.start !== undefined || flags.end !== undefined)) {
    throw new FlagscopeError(
      'usage',
      'a followed stream has no time range',
      'drop `--since`/`--start`/`--end`; `--last N` shows the newest N events first',
    );
  }
  const spec = buildQuerySpec({}, { where: flags.where, any: flags.any, since: flags.since, start: flags.start, end: flags.end }, now);
  const request: EventsRequest = {};
  if (spec.filters !== undefined) request.filters = spec.filters;
  if (spec.filter_combination !== undefined) request.filter_combination = spec.filter_combination;
  if (spec.time_range !== undefined) request.time_range = spec.time_range;
  if (spec.start_time !== undefined) request.start_time = spec.start_time;
  if (spec.end_time !== undefined) request.end_time = spec.end_time;
  const columns = parseColumns(flags.columns);
  if (columns !== undefined) request.columns = columns;
  if (flags.limit !== undefined) request.limit = parseCount(flags.limit, '--limit', 1);
  return request;
}
