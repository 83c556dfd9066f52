/**
 * A canary plan: which flag and variant ramp, over which steps, held how long,
 * judged by which guards on which dataset. `parseCanaryPlan` checks the body of
 * a start request (or the CLI's options gathered into one) and fills in the
 * defaults of docs/canary.md; `checkPlanAgainstFlag` checks it against the flag
 * it ramps. Every error says what is wrong, why, and what to write instead.
 * Pure: no clock, no I/O.
 */
import { parseDurationMs } from '../api/duration.js';
import { invalidInput, isFlagscopeError } from '../errors.js';
import { type GuardDefinition, guardFromInput } from './guard.js';

/** Default steps, in percent of traffic on the canary variant. */
export const DEFAULT_STEPS: readonly number[] = [1, 5, 25, 50, 100];
/** Default hold time per step. */
export const DEFAULT_INTERVAL_MS = 10 * 60_000;
/** Shortest hold time per step (for tests and demos). */
export const MIN_INTERVAL_MS = 1000;
/** Longest hold time per step. */
export const MAX_INTERVAL_MS = 7 * 86_400_000;
/** Default units (events, or users with a unit column) each cohort needs in a step before the step may pass. */
export const DEFAULT_MIN_SAMPLE = 1000;
/** The shortest default no-traffic deadline; the default is max(this, 3 × interval). */
export const DEFAULT_MAX_WAIT_FLOOR_MS = 3_600_000;
/** Most steps a plan may have. */
export const MAX_STEPS = 20;
/** Most guards a plan may have. */
export const MAX_GUARDS = 10;
/** Significance level of the guards (false discovery rate across them) by default. */
export const DEFAULT_CANARY_ALPHA = 0.05;

/** A checked canary plan with its defaults filled in. */
export interface CanaryPlan {
  /** The release flag that ramps. */
  flag: string;
  /** The variant rolled out (the canary cohort). */
  variant: string;
  /** The variant the canary is compared with (control); undefined: the flag's default variant. */
  baseline?: string;
  /** The dataset whose events measure the canary. */
  dataset: string;
  /** The column holding the flag's variant in those events; default `flag.<flag>`. */
  column: string;
  /** Percentages of traffic on the variant, ascending, the last 100. */
  steps: number[];
  /** Hold time per step, in ms. */
  intervalMs: number;
  /** Steps (percentages) after which the controller waits for `canary promote`. */
  approveAt: number[];
  /** Units each cohort needs in a step before it may pass. */
  minSample: number;
  /** Time a step may go on without its minimum sample before the canary pauses as inconclusive, in ms. */
  maxWaitMs: number;
  /** Guards; empty means the dataset's defaults, chosen when the canary starts. */
  guards: GuardDefinition[];
  /** Significance level (false discovery rate over the guards). */
  alpha: number;
  /** Column of the randomised unit (e.g. `user.id`); undefined: compare's default; null: count events. */
  unit?: string | null;
}

const PLAN_KEYS = [
  'flag',
  'variant',
  'baseline',
  'dataset',
  'column',
  'steps',
  'interval',
  'approveAt',
  'minSample',
  'maxWait',
  'guards',
  'alpha',
  'unit',
] as const;
const PLAN_HINT = 'see docs/canary.md, "The plan"';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requiredName(value: unknown, field: string, example: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalidInput(`canary plan: "${field}" is required and must be a non-empty string`, `e.g. "${field}": "${example}"`);
  }
  if (!NAME.test(value)) {
    throw invalidInput(
      `canary plan: "${field}" ${JSON.stringify(value.slice(0, 80))} is not a valid name`,
      'names start with a letter or digit and use letters, digits and . _ : / - (at most 128 characters)',
    );
  }
  return value;
}

function optionalName(value: unknown, field: string, example: string): string | undefined {
  return value === undefined ? undefined : requiredName(value, field, example);
}

/** A duration given as text (`10m`, `1s`) or as a number of seconds. */
function durationMs(value: unknown, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) {
      throw invalidInput(`canary plan: "${field}" must be a positive number of seconds, got ${String(value)}`, 'e.g. 600 or "10m"');
    }
    return Math.round(value * 1000);
  }
  if (typeof value !== 'string') throw invalidInput(`canary plan: "${field}" must be a duration such as "10m"`, 'e.g. "30s", "10m", "1h"');
  try {
    return parseDurationMs(value);
  } catch (error) {
    if (isFlagscopeError(error)) throw invalidInput(`canary plan: "${field}": ${error.message}`, error.hint);
    throw error;
  }
}

function percentOf(value: unknown, path: string): number {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value.trim().replace(/%$/, '')) : value;
  if (typeof number !== 'number' || !Number.isFinite(number) || number <= 0 || number > 100) {
    throw invalidInput(
      `canary plan: ${path} must be a percentage above 0 and at most 100, got ${JSON.stringify(value)}`,
      'steps are percentages of traffic, e.g. 1, 5, 25, 50, 100 (fractions such as 0.5 allowed)',
    );
  }
  if (Math.abs(number * 1000 - Math.round(number * 1000)) > 1e-6) {
    throw invalidInput(
      `canary plan: ${path} ${number} has more than three decimals`,
      'rollouts are bucketed in thousandths of a percent: use e.g. 0.125',
    );
  }
  return Math.round(number * 1000) / 1000;
}

/** Steps as an array of percentages or a comma-separated text (`1,5,25,50,100`). */
function parseSteps(value: unknown): number[] {
  if (value === undefined) return [...DEFAULT_STEPS];
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
  if (!Array.isArray(items) || items.length === 0) {
    throw invalidInput('canary plan: "steps" must be a list of percentages', 'e.g. [1, 5, 25, 50, 100] or "1,5,25,50,100"');
  }
  if (items.length > MAX_STEPS) {
    throw invalidInput(`canary plan: at most ${MAX_STEPS} steps, got ${items.length}`, 'ramp in fewer, larger steps');
  }
  const steps = items.map((item, i) => percentOf(item, `steps[${i}]`));
  for (let i = 1; i < steps.length; i++) {
    if (steps[i]! <= steps[i - 1]!) {
      throw invalidInput(
        `canary plan: steps must ascend, but ${steps[i]} follows ${steps[i - 1]}`,
        'list each percentage once, from the smallest to 100',
      );
    }
  }
  if (steps[steps.length - 1] !== 100) {
    throw invalidInput(
      `canary plan: the last step must be 100, got ${steps[steps.length - 1]}`,
      'a canary ends with everyone on the variant; add 100 as the last step (abort the canary to stop it earlier)',
    );
  }
  if (steps.length < 2) {
    throw invalidInput(
      'canary plan: at least one step below 100 is needed',
      'the canary is judged against control while part of the traffic stays on it, e.g. steps 1,5,25,50,100',
    );
  }
  return steps;
}

function parseApproveAt(value: unknown, steps: number[]): number[] {
  if (value === undefined) return [];
  const items = typeof value === 'string' || typeof value === 'number' ? String(value).split(',') : value;
  if (!Array.isArray(items)) throw invalidInput('canary plan: "approveAt" must be a list of steps', 'e.g. [50]');
  const approveAt = items.map((item, i) => percentOf(item, `approveAt[${i}]`));
  for (const percent of approveAt) {
    if (percent === 100) {
      throw invalidInput(
        'canary plan: approveAt cannot be 100',
        `the controller waits for approval after a step passes, before the next; to approve before everyone gets the variant, use the step before 100 (${steps[steps.length - 2]})`,
      );
    }
    if (!steps.includes(percent)) {
      throw invalidInput(
        `canary plan: approveAt ${percent} is not one of the steps`,
        `the steps are ${steps.join(', ')}; approve at one of them`,
      );
    }
  }
  return [...new Set(approveAt)].sort((a, b) => a - b);
}

function parseMinSample(value: unknown): number {
  if (value === undefined) return DEFAULT_MIN_SAMPLE;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1e9) {
    throw invalidInput(
      `canary plan: "minSample" must be a whole number of units from 1 to 1,000,000,000, got ${JSON.stringify(value)}`,
      `it is the events (or users) each cohort needs in a step before the step may pass; default ${DEFAULT_MIN_SAMPLE}`,
    );
  }
  return value;
}

function parseGuards(value: unknown): GuardDefinition[] {
  if (value === undefined) return [];
  if (!Array.isArray(value))
    throw invalidInput('canary plan: "guards" must be a list of guards', 'e.g. ["RATE(status_code >= 500) <= +0.5pp"]');
  if (value.length > MAX_GUARDS)
    throw invalidInput(`canary plan: at most ${MAX_GUARDS} guards, got ${value.length}`, 'keep the guards users feel');
  const guards = value.map((g, i) => guardFromInput(g, `guards[${i}]`));
  const seen = new Set<string>();
  for (const guard of guards) {
    const key = `${guard.metric.name} ${guard.direction}`;
    if (seen.has(key)) throw invalidInput(`canary plan: ${guard.metric.name} is guarded twice the same way`, 'give each metric one guard');
    seen.add(key);
  }
  return guards;
}

/**
 * Checks a canary plan (the body of a start request) and fills in its defaults:
 * steps 1,5,25,50,100, interval 10m, minimum sample 1,000 per cohort, max wait
 * max(1 h, 3 × interval), variant `on`, column `flag.<flag>`, alpha 0.05. Guards
 * left out are chosen from the dataset when the canary starts ({@link defaultGuards}).
 */
export function parseCanaryPlan(input: unknown): CanaryPlan {
  if (!isRecord(input)) {
    throw invalidInput('canary plan must be a JSON object like {"flag": "checkout_v2", "dataset": "checkout"}', PLAN_HINT);
  }
  for (const key of Object.keys(input)) {
    if (!(PLAN_KEYS as readonly string[]).includes(key)) {
      throw invalidInput(`canary plan: unknown field ${JSON.stringify(key)}`, `the fields are ${PLAN_KEYS.join(', ')}`);
    }
  }
  const flag = requiredName(input.flag, 'flag', 'checkout_v2');
  const dataset = requiredName(input.dataset, 'dataset', 'checkout');
  const variant = optionalName(input.variant, 'variant', 'on') ?? 'on';
  const baseline = optionalName(input.baseline, 'baseline', 'off');
  if (baseline !== undefined && baseline === variant) {
    throw invalidInput(
      `canary plan: the variant and the baseline are both ${JSON.stringify(variant)}`,
      'the canary variant is compared with another variant of the flag (the baseline); name two different variants',
    );
  }
  const column = input.column === undefined ? `flag.${flag}` : requiredName(input.column, 'column', `flag.${flag}`);
  const steps = parseSteps(input.steps);
  const intervalMs = input.interval === undefined ? DEFAULT_INTERVAL_MS : durationMs(input.interval, 'interval');
  if (intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_INTERVAL_MS) {
    throw invalidInput(
      `canary plan: "interval" must be from 1s to 7d, got ${intervalMs / 1000}s`,
      'it is the hold time of each step, e.g. "10m"',
    );
  }
  const maxWaitMs =
    input.maxWait === undefined ? Math.max(DEFAULT_MAX_WAIT_FLOOR_MS, 3 * intervalMs) : durationMs(input.maxWait, 'maxWait');
  if (maxWaitMs < intervalMs) {
    throw invalidInput(
      `canary plan: "maxWait" (${maxWaitMs / 1000}s) is shorter than the interval (${intervalMs / 1000}s)`,
      'a step cannot pass before its hold time; give maxWait at least the interval (default max(1h, 3 × interval))',
    );
  }
  let alpha = DEFAULT_CANARY_ALPHA;
  if (input.alpha !== undefined) {
    if (typeof input.alpha !== 'number' || !(input.alpha > 0 && input.alpha <= 0.2)) {
      throw invalidInput(
        `canary plan: "alpha" must be above 0 and at most 0.2, got ${JSON.stringify(input.alpha)}`,
        'it is the false-alarm rate of the guards; default 0.05',
      );
    }
    alpha = input.alpha;
  }
  const plan: CanaryPlan = {
    flag,
    variant,
    dataset,
    column,
    steps,
    intervalMs,
    approveAt: parseApproveAt(input.approveAt, steps),
    minSample: parseMinSample(input.minSample),
    maxWaitMs,
    guards: parseGuards(input.guards),
    alpha,
  };
  if (baseline !== undefined) plan.baseline = baseline;
  if (input.unit !== undefined) {
    if (input.unit !== null && (typeof input.unit !== 'string' || input.unit.length === 0)) {
      throw invalidInput('canary plan: "unit" must be a column name or null', 'e.g. "user.id"; null counts events');
    }
    plan.unit = input.unit;
  }
  return plan;
}

/** The parts of a flag a plan is checked against. */
export interface PlanFlag {
  key: string;
  kind: string;
  variants: Record<string, unknown>;
  defaultVariant?: string;
}

/**
 * Checks a plan against the flag it ramps: a release flag, whose variants
 * include the canary variant and the baseline (the flag's default variant when
 * the plan names none). Returns the plan with its baseline filled in.
 */
export function checkPlanAgainstFlag(plan: CanaryPlan, flag: PlanFlag): CanaryPlan & { baseline: string } {
  if (flag.kind !== 'release') {
    throw invalidInput(
      `flag ${plan.flag} is a ${flag.kind} flag, not a release flag`,
      'canaries ramp release flags; create one with `flagscope flags create KEY --kind release`',
    );
  }
  const variants = Object.keys(flag.variants);
  const baseline = plan.baseline ?? flag.defaultVariant;
  if (baseline === undefined) {
    throw invalidInput(
      `flag ${plan.flag} has no default variant, so the canary has no baseline`,
      'pass --baseline with the variant users have today',
    );
  }
  for (const [role, name] of [
    ['variant', plan.variant],
    ['baseline', baseline],
  ] as const) {
    if (!variants.includes(name)) {
      throw invalidInput(
        `flag ${plan.flag} has no variant ${JSON.stringify(name)} (the canary's ${role})`,
        `its variants are ${variants.map((v) => JSON.stringify(v)).join(', ')}; pass --${role} with one of them`,
      );
    }
  }
  if (baseline === plan.variant) {
    throw invalidInput(
      `the canary variant ${JSON.stringify(plan.variant)} is the flag's default variant, so there is no control to compare it with`,
      'pass --baseline with the variant users have today',
    );
  }
  return { ...plan, baseline };
}

/** The percentage of step `index`. */
export function stepPercent(plan: Pick<CanaryPlan, 'steps'>, index: number): number {
  const percent = plan.steps[index];
  if (percent === undefined) throw invalidInput(`the plan has no step ${index + 1}`, `it has ${plan.steps.length} steps`);
  return percent;
}
