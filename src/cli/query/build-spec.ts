/**
 * Builds a Honeycomb query spec from `flagscope query` options, on top of an
 * optional `--spec` file whose fields the options override. Pure: the clock
 * is passed in.
 */
import { FlagscopeError } from '../../errors.js';
import { parseDuration } from '../../api/duration.js';
import { mergeWhere, parseCalculation, parseHaving, parseOrder, parseTime, parseWhere } from '../../query/shorthand.js';
import type { QuerySpec } from '../../query/spec.js';

/** The query options as commander parses them. */
export interface QueryFlags {
  calc?: string[];
  where?: string[];
  any?: boolean;
  by?: string[];
  since?: string;
  start?: string;
  end?: string;
  granularity?: string;
  order?: string[];
  having?: string[];
  limit?: string;
  heatmap?: string;
}

/** Time ranges are 2 h unless told otherwise (the query API's default). */
export const DEFAULT_TIME_RANGE_SECONDS = 7200;
/** Buckets a `--heatmap` query aims for when no `--granularity` is given. */
export const HEATMAP_TARGET_BUCKETS = 60;
const NICE_GRANULARITIES = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800];

/** Merges the options into `base` (a copy is returned). */
export function buildQuerySpec(base: QuerySpec, flags: QueryFlags, now: number): QuerySpec {
  const spec: QuerySpec = { ...base };
  if (flags.calc !== undefined && flags.calc.length > 0) spec.calculations = flags.calc.map(parseCalculation);
  if (flags.where !== undefined && flags.where.length > 0) {
    const expressions = flags.where.map(parseWhere);
    if (flags.any === true) {
      const mixed = expressions.find((e) => e.filter_combination === 'AND' && e.filters.length > 1);
      if (mixed !== undefined) {
        throw new FlagscopeError(
          'usage',
          '`--any` cannot combine a --where expression that uses AND',
          'give each condition as its own --where, or write one expression with OR',
        );
      }
      spec.filters = expressions.flatMap((e) => e.filters);
      spec.filter_combination = 'OR';
    } else {
      const merged = mergeWhere(expressions);
      spec.filters = merged.filters;
      spec.filter_combination = merged.filter_combination;
    }
  } else if (flags.any === true) {
    spec.filter_combination = 'OR';
  }
  if (flags.by !== undefined && flags.by.length > 0) {
    spec.breakdowns = flags.by
      .flatMap((b) => b.split(','))
      .map((b) => b.trim())
      .filter((b) => b.length > 0);
  }
  if (flags.since !== undefined && flags.start !== undefined) {
    throw new FlagscopeError(
      'usage',
      '`--since` and `--start` both set the start of the time range',
      'pass `--since 2h`, or `--start T` with an optional `--end T`',
    );
  }
  if (flags.since !== undefined) {
    spec.time_range = parseDuration(flags.since);
    delete spec.start_time;
  }
  if (flags.start !== undefined) {
    spec.start_time = parseTime(flags.start, now);
    delete spec.time_range;
    if (flags.end === undefined && base.end_time === undefined) spec.end_time = Math.floor(now / 1000);
  }
  if (flags.end !== undefined) spec.end_time = parseTime(flags.end, now);
  if (spec.start_time !== undefined && spec.end_time !== undefined && spec.start_time >= spec.end_time) {
    throw new FlagscopeError('usage', 'the time range ends before it starts', 'make `--start` earlier than `--end`');
  }
  if (flags.granularity !== undefined) spec.granularity = parseDuration(flags.granularity);
  if (flags.order !== undefined && flags.order.length > 0) spec.orders = flags.order.map(parseOrder);
  if (flags.having !== undefined && flags.having.length > 0) spec.havings = flags.having.map(parseHaving);
  if (flags.limit !== undefined) {
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit <= 0) {
      throw new FlagscopeError(
        'usage',
        `\`--limit ${flags.limit}\` is not a positive integer`,
        'pass a whole number of groups, e.g. `--limit 10`',
      );
    }
    spec.limit = limit;
  }
  if (flags.heatmap !== undefined) {
    const column = flags.heatmap;
    const calculations = spec.calculations ?? [];
    if (!calculations.some((c) => c.op === 'HEATMAP' && c.column === column))
      spec.calculations = [...calculations, { op: 'HEATMAP', column }];
    spec.granularity ??= heatmapGranularity(rangeSeconds(spec));
  }
  if (spec.calculations === undefined || spec.calculations.length === 0) spec.calculations = [{ op: 'COUNT' }];
  return spec;
}

/** Length of the spec's time range in seconds. */
export function rangeSeconds(spec: QuerySpec): number {
  if (spec.start_time !== undefined && spec.end_time !== undefined) return spec.end_time - spec.start_time;
  return spec.time_range ?? DEFAULT_TIME_RANGE_SECONDS;
}

/** The smallest round bucket size giving at most ~60 buckets over `range` seconds. */
export function heatmapGranularity(range: number): number {
  const wanted = range / HEATMAP_TARGET_BUCKETS;
  return NICE_GRANULARITIES.find((g) => g >= wanted) ?? Math.ceil(wanted);
}

/** Parses the JSON of a `--spec` file; `source` names it in errors. */
export function parseSpecText(text: string, source: string): QuerySpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FlagscopeError(
      'invalid_input',
      `${source} is not valid JSON: ${(e as Error).message.replace(/\.$/, '')}`,
      'a query spec is a JSON object such as {"calculations": [{"op": "COUNT"}], "time_range": 7200}',
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FlagscopeError(
      'invalid_input',
      `${source} is not a JSON object`,
      'a query spec is a JSON object such as {"calculations": [{"op": "COUNT"}]}',
    );
  }
  return value as QuerySpec;
}
