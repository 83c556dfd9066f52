/**
 * What `flagscope canary gate` concludes from one look at a canary: pass,
 * regression, inconclusive, or keep waiting. Pure: the canary's view, the
 * target step, the clock and the deadline in; the verdict and why out. The
 * polling around it is in `gate-verb.ts`; the rules are in docs/cli.md
 * ("canary gate").
 *
 * The order matters and is the safe one: a canary that has been rolled back
 * (or paused by a guard) is a regression even when it passed the target step
 * before, because CI asks "may this deploy go on", not "was it healthy once".
 */
import type { CanaryView } from '../../api/canaries.js';
import { ExitCode } from '../../errors.js';
import { invalidInput } from '../../errors.js';

export type GateResult = 'pass' | 'regression' | 'inconclusive';

export interface GateOutcome {
  result: GateResult | 'keep-waiting';
  /** Why, in one sentence with the numbers a person needs. */
  reason: string;
}

/** The exit code of a gate result: 0 pass, 10 regression, 11 inconclusive. */
export function gateExitCode(result: GateResult): number {
  if (result === 'pass') return ExitCode.ok;
  if (result === 'regression') return ExitCode.gateRegression;
  return ExitCode.gateInconclusive;
}

/**
 * The index of the step the gate waits for: the step with percentage
 * `stepPercent` (`--step N`), else the step current when the gate starts (the
 * first step while the canary is pending). A percentage that is not a step is
 * invalid input (exit 2).
 */
export function gateTargetIndex(view: Pick<CanaryView, 'flag' | 'stepIndex' | 'plan'>, stepPercent?: number): number {
  if (stepPercent === undefined) return Math.max(0, view.stepIndex);
  const index = view.plan.steps.indexOf(stepPercent);
  if (index < 0) {
    throw invalidInput(
      `--step ${stepPercent} is not a step of the canary of ${view.flag}`,
      `its steps are ${view.plan.steps.join(', ')}; pass one of them, or leave --step out to gate on the current step`,
    );
  }
  return index;
}

function percentText(percent: number): string {
  return `${Number(percent.toFixed(3))}%`;
}

function failingGuards(view: CanaryView): string {
  const failing = view.evidence?.guards.filter((g) => g.verdict === 'fail').map((g) => g.guard) ?? [];
  return failing.length === 0 ? '' : ` (failing: ${failing.join('; ')})`;
}

/** What is still missing at a step, for an inconclusive verdict. */
function missing(view: CanaryView): string {
  const e = view.evidence;
  if (e === null) return 'no tick has measured it yet';
  const parts: string[] = [];
  if (!e.sample.reached)
    parts.push(`sample ${e.sample.control} control / ${e.sample.canary} canary of ${e.sample.minimum} needed per cohort`);
  const unsure = e.guards.filter((g) => g.verdict === 'inconclusive').map((g) => g.guard);
  if (unsure.length > 0) parts.push(`inconclusive: ${unsure.join('; ')}`);
  if (view.holdRemainingMs !== null && view.holdRemainingMs > 0) parts.push(`hold time left ${Math.ceil(view.holdRemainingMs / 1000)}s`);
  return parts.length === 0 ? 'waiting for the next decision' : parts.join('; ');
}

/**
 * One look: `view` as the server answers it now, the target step index, the
 * clock and the deadline (Unix ms). `keep-waiting` means: look again before
 * the deadline.
 */
export function decideGate(view: CanaryView, targetIndex: number, now: number, deadline: number): GateOutcome {
  const target = percentText(view.plan.steps[targetIndex] ?? 100);
  switch (view.status) {
    case 'rolled-back':
      return {
        result: 'regression',
        reason: `the controller rolled the canary back to 0%: ${view.reason ?? 'a guard showed harm'}${failingGuards(view)}`,
      };
    case 'aborted':
      return {
        result: 'inconclusive',
        reason: `the canary was aborted by a person (${view.reason ?? 'no reason recorded'}); an abort is not a measured regression`,
      };
    case 'completed':
      return { result: 'pass', reason: `the canary completed: everyone is on ${view.plan.variant}` };
    case 'paused':
      if (view.pause?.cause === 'guard') {
        return {
          result: 'regression',
          reason: `a guard paused the canary at ${percentText(view.percent)}: ${view.pause.reason}${failingGuards(view)}`,
        };
      }
      if (view.pause?.cause === 'no-traffic') {
        return { result: 'inconclusive', reason: `the canary paused for lack of traffic: ${view.pause.reason}` };
      }
      break;
    default:
      break;
  }
  if (view.stepIndex > targetIndex) {
    return { result: 'pass', reason: `step ${targetIndex + 1} (${target}) passed: the canary is at ${percentText(view.percent)} now` };
  }
  if (now >= deadline) {
    let where: string;
    if (view.status === 'paused') where = `paused (${view.pause?.cause ?? 'manual'}: ${view.pause?.reason ?? ''})`;
    else if (view.status === 'waiting-approval') where = 'waiting for `canary promote`';
    else if (view.status === 'pending') where = 'not started';
    else where = missing(view);
    return { result: 'inconclusive', reason: `the deadline passed before step ${targetIndex + 1} (${target}) was decided: ${where}` };
  }
  return { result: 'keep-waiting', reason: `waiting for step ${targetIndex + 1} (${target}): ${view.status}` };
}

/**
 * How long to wait before the next look: until just after the controller's
 * next decision when it is near, at most `maxPollMs`, never past the deadline,
 * at least `minPollMs` (unless the deadline is nearer).
 */
export function nextPollDelay(
  view: Pick<CanaryView, 'nextDecisionAt'>,
  now: number,
  deadline: number,
  maxPollMs = 5000,
  minPollMs = 500,
): number {
  let delay = maxPollMs;
  if (view.nextDecisionAt !== null) {
    const untilDecision = Date.parse(view.nextDecisionAt) - now + 250;
    if (Number.isFinite(untilDecision)) delay = Math.min(delay, Math.max(minPollMs, untilDecision));
  }
  return Math.max(0, Math.min(delay, deadline - now));
}
