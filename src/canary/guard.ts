/**
 * Guards of a canary: `METRIC <= TOLERANCE` (lower is better: the canary may be
 * worse than control by at most TOLERANCE) or `METRIC >= TOLERANCE` (higher is
 * better), optionally followed by `then pause` or `then rollback` (the action
 * on a regression; default rollback). Metrics are those of `flagscope compare`
 * (src/compare/metrics.ts), so a guard measures exactly what compare shows.
 * Pure: text in, a definition out, or an `invalid_input` error.
 */
import { invalidInput, isFlagscopeError } from '../errors.js';
import { type MetricDefinition, metricFromInput, parseMetric } from '../compare/metrics.js';
import { hasIncompleteColumn } from '../query/incomplete.js';
import type { DatasetSchema } from '../query/schema.js';
import type { MetricDirection } from '../stats/verdict.js';

/** What the controller does when a guard shows harm beyond its tolerance. */
export type GuardAction = 'rollback' | 'pause';

/** A parsed guard. */
export interface GuardDefinition {
  /** The guard in canonical form, e.g. `RATE(status_code >= 500) <= +0.5pp`. */
  text: string;
  metric: MetricDefinition;
  /** `<=`: lower is better; `>=`: higher is better. */
  direction: MetricDirection;
  /**
   * The tolerated difference from control, in the unit the tolerance was written in:
   * a fraction for `pp` (0.005 for `+0.5pp`) and `%` (0.1 for `+10%`), the metric's
   * own unit otherwise (`+50` ms).
   */
  tolerance: number;
  /** `pp` for rates, `%` relative to control, `unit` absolute in the metric's unit. */
  toleranceUnit: 'pp' | '%' | 'unit';
  /** The tolerance as written back, e.g. `+0.5pp`. */
  toleranceText: string;
  action: GuardAction;
}

/** A guard as the API accepts it besides its text. */
export interface GuardObjectInput {
  metric: string | Record<string, unknown>;
  /** `<=` (default) or `>=`. */
  op?: '<=' | '>=';
  /** Tolerance text, e.g. `+0.5pp`, `+10%`, `+50`. */
  tolerance: string;
  action?: GuardAction;
}

export const GUARD_HINT =
  "write a guard as METRIC <= TOLERANCE or METRIC >= TOLERANCE, e.g. 'RATE(status_code >= 500) <= +0.5pp', 'P95(duration_ms) <= +10%', 'INCOMPLETE <= +0.5pp then pause'";

/** The error-rate tolerance of the default guards, in percentage points. */
export const DEFAULT_RATE_TOLERANCE_PP = 0.5;
/** The latency tolerance of the default guard, relative to control. */
export const DEFAULT_LATENCY_TOLERANCE_PCT = 10;

const isRateMetric = (metric: MetricDefinition): boolean => metric.kind === 'rate' || metric.kind === 'incomplete';

/** The position of the last `<=` or `>=` outside parentheses and quotes, or -1. */
function comparatorAt(text: string): number {
  let depth = 0;
  let quote: string | undefined;
  let found = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && (c === '<' || c === '>') && text[i + 1] === '=') found = i;
  }
  return found;
}

/** Parses `+0.5pp`, `+10%`, `-2%`, `+50`, `0` into a value and unit. */
function parseTolerance(text: string, guardText: string): { value: number; unit: GuardDefinition['toleranceUnit'] } {
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(pp|%)?$/i.exec(text.trim());
  if (match === null) {
    throw invalidInput(
      `invalid guard ${JSON.stringify(guardText)}: tolerance ${JSON.stringify(text.trim())} is not a number with an optional unit`,
      'write the tolerance as +0.5pp (percentage points, for rates), +10% (relative to control) or +50 (in the metric’s unit)',
    );
  }
  const number = Number(match[1]);
  const unit = (match[2]?.toLowerCase() ?? 'unit') as GuardDefinition['toleranceUnit'];
  return { value: unit === 'unit' ? number : number / 100, unit };
}

function formatTolerance(value: number, unit: GuardDefinition['toleranceUnit']): string {
  const shown = unit === 'unit' ? value : Number((value * 100).toPrecision(12));
  const sign = shown >= 0 ? '+' : '';
  return `${sign}${shown}${unit === 'unit' ? '' : unit}`;
}

function metricOf(input: string | Record<string, unknown>, guardText: string): MetricDefinition {
  try {
    return typeof input === 'string' ? parseMetric(input) : metricFromInput(input, 'guard.metric');
  } catch (error) {
    if (isFlagscopeError(error))
      throw invalidInput(`invalid guard ${JSON.stringify(guardText)}: ${error.message}`, error.hint ?? GUARD_HINT);
    throw error;
  }
}

/** Checks that a metric and tolerance make a guard that can be judged, and assembles it. */
function assemble(
  metric: MetricDefinition,
  op: '<=' | '>=',
  tolerance: { value: number; unit: GuardDefinition['toleranceUnit'] },
  action: GuardAction,
  guardText: string,
): GuardDefinition {
  if (metric.kind === 'count') {
    throw invalidInput(
      `invalid guard ${JSON.stringify(guardText)}: COUNT cannot be a guard`,
      'the share of events each cohort gets is checked by the sample-ratio test of every canary; guard a rate, a percentile or an average instead',
    );
  }
  if (metric.kind === 'sum') {
    throw invalidInput(
      `invalid guard ${JSON.stringify(guardText)}: SUM grows with the cohort's size, so a small canary cohort always looks better`,
      'guard AVG(column) or a rate instead',
    );
  }
  if (isRateMetric(metric) && tolerance.unit !== 'pp') {
    throw invalidInput(
      `invalid guard ${JSON.stringify(guardText)}: the tolerance of a rate is in percentage points`,
      `write it with pp, e.g. '${metric.name} ${op} +0.5pp'`,
    );
  }
  if (!isRateMetric(metric) && tolerance.unit === 'pp') {
    throw invalidInput(
      `invalid guard ${JSON.stringify(guardText)}: pp (percentage points) applies to rates only`,
      `write a relative tolerance such as '${metric.name} ${op} +10%', or one in the metric's unit such as '${metric.name} ${op} +50'`,
    );
  }
  if (!Number.isFinite(tolerance.value) || Math.abs(tolerance.value) > 1e12) {
    throw invalidInput(`invalid guard ${JSON.stringify(guardText)}: the tolerance is out of range`, GUARD_HINT);
  }
  const direction: MetricDirection = op === '<=' ? 'lower-is-better' : 'higher-is-better';
  const toleranceText = formatTolerance(tolerance.value, tolerance.unit);
  const text = `${metric.name} ${op} ${toleranceText}${action === 'pause' ? ' then pause' : ''}`;
  return {
    text,
    metric: { ...metric, direction },
    direction,
    tolerance: tolerance.value,
    toleranceUnit: tolerance.unit,
    toleranceText,
    action,
  };
}

/**
 * Parses one guard text, e.g. `RATE(status_code >= 500) <= +0.5pp`,
 * `P95(duration_ms) <= +10%`, `AVG(duration_ms) <= +50 then pause`,
 * `RATE(converted = true) >= -1pp`.
 */
export function parseGuard(text: string): GuardDefinition {
  if (typeof text !== 'string' || text.trim() === '') throw invalidInput('empty guard', GUARD_HINT);
  let body = text.trim();
  let action: GuardAction = 'rollback';
  const suffix = /\s+then\s+(pause|rollback)\s*$/i.exec(body);
  if (suffix !== null) {
    action = suffix[1]!.toLowerCase() as GuardAction;
    body = body.slice(0, suffix.index);
  }
  const at = comparatorAt(body);
  if (at < 0) throw invalidInput(`invalid guard ${JSON.stringify(text)}: no <= or >= between the metric and its tolerance`, GUARD_HINT);
  const metricText = body.slice(0, at).trim();
  if (metricText === '') throw invalidInput(`invalid guard ${JSON.stringify(text)}: the metric is missing`, GUARD_HINT);
  const op = body.slice(at, at + 2) as '<=' | '>=';
  return assemble(metricOf(metricText, text), op, parseTolerance(body.slice(at + 2), text), action, text);
}

/** A guard given over the API: its text, or `{ metric, op, tolerance, action }`. */
export function guardFromInput(input: unknown, path: string): GuardDefinition {
  if (typeof input === 'string') return parseGuard(input);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidInput(`${path} must be a guard text or an object like {"metric": "P95(duration_ms)", "tolerance": "+10%"}`, GUARD_HINT);
  }
  const record = input as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!['metric', 'op', 'tolerance', 'action'].includes(key)) {
      throw invalidInput(`${path}: unknown field ${JSON.stringify(key)}`, 'the fields are metric, op, tolerance, action');
    }
  }
  const shown = JSON.stringify(record);
  if (typeof record.metric !== 'string' && (typeof record.metric !== 'object' || record.metric === null)) {
    throw invalidInput(`${path}.metric must be a metric text like "P95(duration_ms)"`, GUARD_HINT);
  }
  const op = record.op ?? '<=';
  if (op !== '<=' && op !== '>=') throw invalidInput(`${path}.op must be "<=" or ">="`, GUARD_HINT);
  if (typeof record.tolerance !== 'string' && typeof record.tolerance !== 'number') {
    throw invalidInput(`${path}.tolerance must be a text like "+0.5pp" or "+10%"`, GUARD_HINT);
  }
  const action = record.action ?? 'rollback';
  if (action !== 'rollback' && action !== 'pause') throw invalidInput(`${path}.action must be "rollback" or "pause"`, GUARD_HINT);
  const metric = metricOf(record.metric as string | Record<string, unknown>, shown);
  return assemble(metric, op, parseTolerance(String(record.tolerance), shown), action, shown);
}

/**
 * The default guards of a dataset (docs/canary.md): `RATE(error = true) <= +0.5pp`
 * where an `error` column exists, else `RATE(status_code >= 500) <= +0.5pp` where a
 * numeric `status_code` exists; `P95(duration_ms) <= +10%` where `duration_ms` is
 * numeric; `INCOMPLETE <= +0.5pp` where beacons are stitched (a boolean `meta.incomplete`).
 */
export function defaultGuards(schema: DatasetSchema): GuardDefinition[] {
  const types = new Map(schema.columns.map((c) => [c.name, c.type]));
  const numeric = (name: string): boolean => types.get(name) === 'integer' || types.get(name) === 'float';
  const rate = `+${DEFAULT_RATE_TOLERANCE_PP}pp`;
  const guards: GuardDefinition[] = [];
  if (types.has('error')) {
    const value = types.get('error') === 'boolean' ? 'true' : types.get('error') === 'string' ? '"true"' : '1';
    guards.push(parseGuard(`RATE(error = ${value}) <= ${rate}`));
  } else if (numeric('status_code')) {
    guards.push(parseGuard(`RATE(status_code >= 500) <= ${rate}`));
  }
  if (numeric('duration_ms')) guards.push(parseGuard(`P95(duration_ms) <= +${DEFAULT_LATENCY_TOLERANCE_PCT}%`));
  if (hasIncompleteColumn(schema)) guards.push(parseGuard(`INCOMPLETE <= ${rate}`));
  return guards;
}

/**
 * The guard's tolerance on the scale of compare's difference for its metric:
 * rates absolute (a fraction), everything else relative to control. A tolerance
 * in the metric's own unit (`+50` ms) is divided by the control value, which is
 * why it needs one; undefined when there is none yet.
 */
export function toleranceOnDifferenceScale(guard: GuardDefinition, controlValue: number | null): number | undefined {
  if (guard.toleranceUnit !== 'unit') return guard.tolerance;
  if (controlValue === null || !Number.isFinite(controlValue) || controlValue === 0) return undefined;
  return guard.tolerance / Math.abs(controlValue);
}
