/**
 * The options of the canary commands turned into API requests, checked before
 * anything is sent: a bad plan is refused with exit 2 and a message naming the
 * option, by the same plan parser the server runs (`src/canary/plan.ts`). Pure.
 */
import { parseDurationMs } from '../../api/duration.js';
import type { CanaryRampRequest, CanaryStartRequest } from '../../api/canaries.js';
import { parseCanaryPlan } from '../../canary/index.js';
import { FlagscopeError, invalidInput } from '../../errors.js';

/** The options of `canary start` as commander parses them. */
export interface StartOptions {
  dataset?: string;
  variant?: string;
  baseline?: string;
  column?: string;
  steps?: string;
  interval?: string;
  minSample?: string;
  guard?: string[];
  approveAt?: string[];
  maxWait?: string;
  reason?: string;
}

/** Field names of the plan as options, for the messages of the shared plan parser. */
const OPTION_OF_FIELD: [RegExp, string][] = [
  [/"?approveAt"?(\[\d+\])?/g, '--approve-at'],
  [/"?minSample"?/g, '--min-sample'],
  [/"?maxWait"?/g, '--max-wait'],
  [/"interval"/g, '--interval'],
  [/"guards"|guards\[\d+\]/g, '--guard'],
  [/steps\[\d+\]|"steps"/g, '--steps'],
  [/"variant"/g, '--variant'],
  [/"baseline"/g, '--baseline'],
  [/"column"/g, '--column'],
  [/"dataset"/g, '--dataset'],
  [/"flag"/g, 'FLAG'],
];

function asOptionError(error: unknown): unknown {
  if (!(error instanceof FlagscopeError)) return error;
  let message = error.message.replace(/^canary plan: /, '');
  for (const [pattern, option] of OPTION_OF_FIELD) message = message.replace(pattern, option);
  return new FlagscopeError(error.code, message, error.hint, { details: error.details });
}

/** A whole number option (`--min-sample`). */
function wholeNumber(text: string, option: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw invalidInput(`${option} must be a whole number, got ${JSON.stringify(text)}`, `e.g. ${option} 1000`);
  return Number(text);
}

/** A percentage of traffic (`--to`, `--step`): above 0, at most 100. */
export function percentOption(text: string, option: string): number {
  const value = Number(text.trim().replace(/%$/, ''));
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0 || value > 100) {
    throw invalidInput(`${option} must be a percentage above 0 and at most 100, got ${JSON.stringify(text)}`, `e.g. ${option} 25`);
  }
  return value;
}

/**
 * The start request of `canary start FLAG …` (without `dryRun`). Throws an
 * `invalid_input` error (exit 2) for a plan the server would refuse for its
 * own sake (steps, durations, guards, approval steps, minimum sample); what
 * needs the flag or the dataset (a variant it lacks, an unknown column) is
 * the server's to say.
 */
export function buildStartRequest(flag: string, options: StartOptions): Omit<CanaryStartRequest, 'dryRun'> {
  if (options.dataset === undefined || options.dataset.trim() === '') {
    throw invalidInput('`canary start` needs the dataset whose events measure the canary', 'add `--dataset NAME`');
  }
  const request: Omit<CanaryStartRequest, 'dryRun'> = { flag, dataset: options.dataset };
  const check: Record<string, unknown> = { flag, dataset: options.dataset };
  if (options.variant !== undefined) {
    request.variant = options.variant;
    check.variant = options.variant;
    if (options.baseline !== undefined) check.baseline = options.baseline;
  }
  if (options.baseline !== undefined) request.baseline = options.baseline;
  if (options.column !== undefined) request.column = check.column = options.column;
  if (options.steps !== undefined) check.steps = options.steps.split(',').map((s) => s.trim());
  if (options.interval !== undefined) request.interval = check.interval = options.interval;
  if (options.maxWait !== undefined) request.maxWait = check.maxWait = options.maxWait;
  if (options.minSample !== undefined) request.minSample = check.minSample = wholeNumber(options.minSample, '--min-sample');
  if (options.approveAt !== undefined) check.approveAt = options.approveAt.flatMap((a) => a.split(',').map((s) => s.trim()));
  if (options.guard !== undefined) request.guards = check.guards = options.guard;
  if (options.reason !== undefined) {
    if (options.reason.trim() === '') throw invalidInput('--reason is empty', 'say why you start the canary, or leave --reason out');
    request.reason = options.reason;
  }
  let plan: ReturnType<typeof parseCanaryPlan>;
  try {
    plan = parseCanaryPlan(check);
  } catch (error) {
    throw asOptionError(error);
  }
  if (options.steps !== undefined) request.steps = plan.steps;
  if (options.approveAt !== undefined) request.approveAt = plan.approveAt;
  return request;
}

/** The body of `canary ramp FLAG --to N [--force --reason TEXT]`. */
export function buildRampRequest(options: { to?: string; force?: boolean; reason?: string }): CanaryRampRequest {
  if (options.to === undefined) throw invalidInput('`canary ramp` needs the percentage to ramp to', 'add `--to N`, one of the steps');
  const request: CanaryRampRequest = { to: percentOption(options.to, '--to') };
  const reason = options.reason?.trim();
  if (options.force === true) {
    if (reason === undefined || reason === '') {
      throw invalidInput('`--force` needs `--reason TEXT`', 'a forced ramp goes past a failing guard: say why, it is recorded');
    }
    request.force = true;
  }
  if (reason !== undefined) {
    if (reason === '') throw invalidInput('--reason is empty', 'say why, or leave --reason out');
    request.reason = reason;
  }
  return request;
}

/** `--reason` that must be present and not blank (`canary abort`). */
export function requiredReason(reason: unknown, what: string): string {
  const text = typeof reason === 'string' ? reason.trim() : '';
  if (text === '') throw invalidInput(`${what} needs a reason`, 'add `--reason TEXT`: it goes to the timeline and the flag history');
  return text;
}

/** A duration option: `--wait` (zero allowed: look once), `--interval` of `--watch`. */
export function durationOption(text: string, option: string, options: { zero?: boolean } = {}): number {
  try {
    return parseDurationMs(text, { milliseconds: true, zero: options.zero === true });
  } catch (error) {
    if (error instanceof FlagscopeError) throw new FlagscopeError('usage', `${option}: ${error.message}`, error.hint);
    throw error;
  }
}
