/**
 * The body of `POST /api/v1/compare/{dataset}`: parsing, defaults, and
 * validation against the dataset's schema (every column checked, filter values
 * coerced) by the query validator. Pure: the clock comes in as an argument.
 */
import { invalidInput, notFound } from '../errors.js';
import { closestName, shortName } from '../query/suggest.js';
import type { Calculation, Filter, QuerySpec } from '../query/spec.js';
import { resolveTimes, validateQuery } from '../query/validate.js';
import type { DatasetSchema } from '../query/schema.js';
import { hasIncompleteColumn, incompleteColumnType } from '../query/incomplete.js';
import { defaultMetricsWithNotes, metricCalculation, metricFromInput, withValidatedCalculation, type MetricDefinition } from './metrics.js';
import type { CohortColumn, CompareSettings } from './report.js';

/** A flag of a comparison as the API accepts it. */
export interface CompareFlagInput {
  /** Flag key; the variant column is `flag.<key>` unless `column` says otherwise. */
  flag: string;
  column?: string;
  control?: string;
  /** The flag's default variant (from the flag API), used as control when `control` is absent. */
  defaultVariant?: string;
  /** Expected split, variant → weight. */
  expect?: Record<string, number>;
  /** Where `expect` comes from: the flag's configured rollout, or the caller. Default `expect`. */
  expectSource?: 'flag' | 'expect';
}

/** `POST /api/v1/compare/{dataset}` body. */
export interface CompareRequest {
  /** The flag under study first, then the flags it is combined with (`--with`). */
  flags: CompareFlagInput[];
  /** Metric texts (`P95(duration_ms)`) or calculation objects; defaults when absent. */
  metrics?: unknown[];
  filters?: Filter[];
  filter_combination?: 'AND' | 'OR';
  time_range?: number;
  start_time?: number;
  end_time?: number;
  alpha?: number;
  tuning?: number;
  minimum_sample?: number;
  /** Column of the randomised unit for the sample-ratio test; default `user.id` when the dataset has it; null counts events. */
  unit?: string | null;
}

/** A comparison request checked against a dataset. */
export interface ValidatedCompare {
  columns: CohortColumn[];
  metrics: MetricDefinition[];
  filters: Filter[];
  filterCombination: 'AND' | 'OR';
  startTime: number;
  endTime: number;
  settings: CompareSettings;
  /** Column whose distinct values are counted for the sample-ratio test, if any. */
  unitColumn?: string;
  /** What the report must say about the request: metrics left out, and why. */
  notes: string[];
}

const REQUEST_KEYS = [
  'flags',
  'metrics',
  'filters',
  'filter_combination',
  'time_range',
  'start_time',
  'end_time',
  'alpha',
  'tuning',
  'minimum_sample',
  'unit',
];
/** The unit column used for the sample-ratio test when the request names none and the dataset has it. */
export const DEFAULT_UNIT_COLUMN = 'user.id';
const FLAG_KEYS = ['flag', 'column', 'control', 'defaultVariant', 'expect', 'expectSource'];
const HINT = 'see docs/api.md, "Compare cohorts"';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw invalidInput(`${path} must be a non-empty string`, HINT);
  return value;
}

function optionalNumber(value: unknown, path: string, check: (n: number) => boolean, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) throw invalidInput(`${path} must be ${what}`, HINT);
  return value;
}

function parseFlag(input: unknown, path: string): CompareFlagInput {
  if (typeof input === 'string') return { flag: input };
  if (!isRecord(input)) throw invalidInput(`${path} must be a flag key or an object like {"flag": "checkout_v2"}`, HINT);
  for (const key of Object.keys(input))
    if (!FLAG_KEYS.includes(key))
      throw invalidInput(`${path}: unknown field ${JSON.stringify(key)}`, `the fields are ${FLAG_KEYS.join(', ')}`);
  const flag = optionalString(input.flag, `${path}.flag`);
  if (flag === undefined) throw invalidInput(`${path}.flag is required`, HINT);
  const out: CompareFlagInput = { flag };
  const column = optionalString(input.column, `${path}.column`);
  if (column !== undefined) out.column = column;
  const control = optionalString(input.control, `${path}.control`);
  if (control !== undefined) out.control = control;
  const defaultVariant = optionalString(input.defaultVariant, `${path}.defaultVariant`);
  if (defaultVariant !== undefined) out.defaultVariant = defaultVariant;
  if (input.expect !== undefined) {
    if (!isRecord(input.expect) || !Object.values(input.expect).every((w) => typeof w === 'number' && Number.isFinite(w) && w >= 0)) {
      throw invalidInput(`${path}.expect must map variants to non-negative weights, e.g. {"on": 50, "off": 50}`, HINT);
    }
    out.expect = input.expect as Record<string, number>;
  }
  if (input.expectSource !== undefined) {
    if (input.expectSource !== 'flag' && input.expectSource !== 'expect')
      throw invalidInput(`${path}.expectSource must be "flag" or "expect"`, HINT);
    out.expectSource = input.expectSource;
  }
  return out;
}

/** Checks the shape of a compare request body. */
export function parseCompareRequest(body: unknown): CompareRequest {
  if (!isRecord(body)) throw invalidInput('compare request must be a JSON object like {"flags": ["checkout_v2"]}', HINT);
  for (const key of Object.keys(body))
    if (!REQUEST_KEYS.includes(key))
      throw invalidInput(`unknown field ${JSON.stringify(key)} in the compare request`, `the fields are ${REQUEST_KEYS.join(', ')}`);
  if (!Array.isArray(body.flags) || body.flags.length === 0) throw invalidInput('"flags" must be a non-empty array of flag keys', HINT);
  if (body.flags.length > 4) throw invalidInput(`at most 4 flags can be combined, got ${body.flags.length}`, 'compare fewer flags at once');
  const request: CompareRequest = { flags: body.flags.map((f, i) => parseFlag(f, `flags[${i}]`)) };
  const columns = request.flags.map((f) => f.column ?? `flag.${f.flag}`);
  if (new Set(columns).size !== columns.length) throw invalidInput('the same flag column appears twice', 'give each flag once');
  if (body.metrics !== undefined) {
    if (!Array.isArray(body.metrics)) throw invalidInput('"metrics" must be an array', HINT);
    if (body.metrics.length > 20)
      throw invalidInput(`at most 20 metrics per comparison, got ${body.metrics.length}`, 'split the comparison');
    request.metrics = body.metrics;
  }
  if (body.filters !== undefined) request.filters = body.filters as Filter[];
  if (body.filter_combination !== undefined) request.filter_combination = body.filter_combination as 'AND' | 'OR';
  for (const key of ['time_range', 'start_time', 'end_time'] as const) if (body[key] !== undefined) request[key] = body[key] as number;
  const alpha = optionalNumber(body.alpha, 'alpha', (n) => n > 0 && n < 1, 'between 0 and 1');
  if (alpha !== undefined) request.alpha = alpha;
  const tuning = optionalNumber(body.tuning, 'tuning', (n) => n > 0, 'a positive number');
  if (tuning !== undefined) request.tuning = tuning;
  const minimum = optionalNumber(body.minimum_sample, 'minimum_sample', (n) => n >= 0, 'a non-negative number');
  if (minimum !== undefined) request.minimum_sample = minimum;
  if (body.unit !== undefined) {
    if (body.unit !== null && (typeof body.unit !== 'string' || body.unit.length === 0))
      throw invalidInput('"unit" must be a column name or null', HINT);
    request.unit = body.unit;
  }
  return request;
}

/**
 * Validates a comparison against a dataset's schema: the flag columns, the
 * metrics' columns and filters, the population filters and the time range,
 * through `validateQuery`. Adds INCOMPLETE when the dataset has
 * `meta.incomplete` and it is not already asked for.
 */
export function validateCompare(request: CompareRequest, schema: DatasetSchema, now: number): ValidatedCompare {
  const defaults = request.metrics === undefined || request.metrics.length === 0 ? defaultMetricsWithNotes(schema) : undefined;
  let metrics = defaults?.metrics ?? (request.metrics ?? []).map((m, i) => metricFromInput(m, `metrics[${i}]`));
  if (metrics.some((m) => m.kind === 'incomplete')) incompleteColumnType(schema, 'metric INCOMPLETE');
  else if (hasIncompleteColumn(schema)) metrics = [...metrics, metricFromInput('INCOMPLETE', 'metrics')];
  const names = new Set<string>();
  metrics = metrics.filter((m) => {
    if (names.has(m.name)) return false;
    names.add(m.name);
    return true;
  });
  const cohortColumns = request.flags.map((f) => f.column ?? `flag.${f.flag}`);
  // A bad window is a 400 whatever the flags: the request is wrong before any flag is looked up.
  resolveTimes({ time_range: request.time_range, start_time: request.start_time, end_time: request.end_time }, now);
  request.flags.forEach((f, i) => checkFlagColumn(f, cohortColumns[i]!, schema));
  const unitColumn =
    request.unit === null
      ? undefined
      : (request.unit ?? (schema.columns.some((c) => c.name === DEFAULT_UNIT_COLUMN) ? DEFAULT_UNIT_COLUMN : undefined));
  const spec: QuerySpec = {
    calculations: metrics.map(metricCalculation),
    breakdowns: unitColumn === undefined || cohortColumns.includes(unitColumn) ? cohortColumns : [...cohortColumns, unitColumn],
  };
  if (request.filters !== undefined) spec.filters = request.filters;
  if (request.filter_combination !== undefined) spec.filter_combination = request.filter_combination;
  if (request.time_range !== undefined) spec.time_range = request.time_range;
  if (request.start_time !== undefined) spec.start_time = request.start_time;
  if (request.end_time !== undefined) spec.end_time = request.end_time;
  const normalized = validateQuery(spec, schema, now);
  const validatedMetrics = metrics.map((m, i) => withValidatedCalculation(m, normalized.calculations[i] as Calculation, schema));
  const columns: CohortColumn[] = request.flags.map((f, i) => {
    const column: CohortColumn = { flag: f.flag, column: cohortColumns[i]! };
    if (f.control !== undefined) column.control = f.control;
    if (f.defaultVariant !== undefined) column.defaultVariant = f.defaultVariant;
    if (f.expect !== undefined) {
      column.expected = f.expect;
      column.expectedSource = f.expectSource ?? 'expect';
    }
    return column;
  });
  const settings: CompareSettings = {};
  if (request.alpha !== undefined) settings.alpha = request.alpha;
  if (request.tuning !== undefined) settings.tuning = request.tuning;
  if (request.minimum_sample !== undefined) settings.minimumSample = request.minimum_sample;
  return {
    ...(unitColumn === undefined ? {} : { unitColumn }),
    columns,
    metrics: validatedMetrics,
    filters: normalized.filters,
    filterCombination: normalized.filter_combination,
    startTime: normalized.start_time,
    endTime: normalized.end_time,
    settings,
    notes: defaults?.notes ?? [],
  };
}

/** The flag prefix of variant columns. */
const FLAG_PREFIX = 'flag.';

/**
 * A flag whose variant column the dataset does not have: no event has carried it, so there is
 * nothing to compare. `not_found` (exit 3, HTTP 404) about the flag, with the nearest flag that
 * has events (or the column, with `column`) as a suggestion.
 */
function checkFlagColumn(flag: CompareFlagInput, column: string, schema: DatasetSchema): void {
  if (schema.columns.some((c) => c.name === column)) return;
  const dataset = shortName(schema.dataset);
  if (flag.column !== undefined) {
    const suggestion = closestName(
      column,
      schema.columns.map((c) => c.name),
    );
    throw notFound(
      `dataset "${dataset}" has no column ${JSON.stringify(shortName(column))} (the variant column given for flag ${JSON.stringify(shortName(flag.flag))})`,
      suggestion !== undefined
        ? `did you mean ${JSON.stringify(suggestion)}? \`flagscope columns ${dataset}\` lists the columns`
        : `\`flagscope columns ${dataset}\` lists the columns`,
    );
  }
  const flags = schema.columns.filter((c) => c.name.startsWith(FLAG_PREFIX)).map((c) => c.name.slice(FLAG_PREFIX.length));
  const suggestion = closestName(flag.flag, flags);
  const known =
    flags.length === 0
      ? `no event of "${dataset}" carries a flag column (flag.<key>); pass --column if the variants are in another column`
      : `flags with events in "${dataset}": ${flags.slice(0, 10).join(', ')}${flags.length > 10 ? ', …' : ''}`;
  throw notFound(
    `flag ${JSON.stringify(shortName(flag.flag))} has no events in dataset "${dataset}" (no column ${shortName(column)})`,
    suggestion !== undefined ? `did you mean "${suggestion}"? ${known}` : known,
  );
}

/** The parts of a stored flag a comparison uses. */
export interface FlagSplitSource {
  defaultVariant?: string;
  targeting?: unknown;
  rollout?: { weights: { variant: string; weight: number }[] };
}

/**
 * The split a flag is configured to produce: its rollout weights, or
 * everything on the default variant when it has neither rollout nor
 * targeting. Undefined when targeting rules decide (the split depends on who
 * arrives, so there is nothing to test against).
 */
export function configuredSplit(flag: FlagSplitSource): Record<string, number> | undefined {
  if (flag.targeting !== undefined && flag.targeting !== null) return undefined;
  if (flag.rollout !== undefined) {
    const split: Record<string, number> = {};
    for (const { variant, weight } of flag.rollout.weights) split[variant] = (split[variant] ?? 0) + weight;
    return split;
  }
  return flag.defaultVariant === undefined ? undefined : { [flag.defaultVariant]: 1 };
}

/**
 * Fills in, for every flag of the request that has no `expect` or no
 * `defaultVariant`, what the flag's configuration says (`lookup` returns
 * undefined for an unknown flag).
 */
export function withFlagConfiguration(request: CompareRequest, lookup: (key: string) => FlagSplitSource | undefined): CompareRequest {
  return {
    ...request,
    flags: request.flags.map((input) => {
      const flag = lookup(input.flag);
      if (flag === undefined) return input;
      const out: CompareFlagInput = { ...input };
      if (out.defaultVariant === undefined && flag.defaultVariant !== undefined) out.defaultVariant = flag.defaultVariant;
      if (out.expect === undefined) {
        const split = configuredSplit(flag);
        if (split !== undefined) {
          out.expect = split;
          out.expectSource = 'flag';
        }
      }
      return out;
    }),
  };
}
