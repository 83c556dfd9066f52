/**
 * The controller's decision at one tick, from the plan, the state, the tick's
 * evidence and the kill switches pressed on the flag's service, in this order:
 *
 * 1. an ended or pending canary: nothing to do;
 * 1b. the canary's dataset no longer exists (deleted): roll back to 0% at once,
 *    whatever the state (nothing is left to measure it with, so no step could
 *    pass and no harm could be seen: serving the variant on would be blind);
 * 2. a kill switch of the service pressed: pause (the canary does not fight the
 *    on-call engineer); released again: resume a canary it paused;
 * 3. a guard with action `rollback` fails, or the sample ratio mismatches (a
 *    cohort that goes quiet is failing, not healthy): roll back to 0% at once,
 *    whether running, waiting for approval or paused by hand;
 * 4. a guard with action `pause` fails: pause;
 * 5. paused or waiting for approval: nothing more;
 * 6. the step's minimum sample not reached, or a guard not yet shown within
 *    its tolerance (inconclusive): wait, and pause as inconclusive once the
 *    step has waited `maxWait` (silence never counts as health);
 * 7. hold time not yet elapsed: hold;
 * 8. otherwise the step passed: wait for approval at an approval step, complete
 *    after the step before 100%, or advance.
 *
 * Every decision carries a reason a person can read, with the numbers. Pure.
 */
import { type CanaryEvidence, type GuardEvidence, MIN_UNITS_FOR_VERDICT } from './evidence.js';
import type { CanaryPlan } from './plan.js';
import { type CanaryState, type CanaryTransition, type PauseCause, heldMs, isTerminal, transition, waitedMs } from './state.js';

export type DecisionKind = 'none' | 'wait' | 'hold' | 'advance' | 'await-approval' | 'complete' | 'rollback' | 'pause' | 'resume';

/** A kill switch pressed on the canary flag's service. */
export interface PressedSwitch {
  key: string;
  by?: string;
  reason?: string;
}

/** One tick's decision. */
export interface CanaryDecision {
  kind: DecisionKind;
  /** What was decided and why, with the numbers. */
  reason: string;
  at: number;
  /** For a pause: why. */
  pauseCause?: PauseCause;
  evidence: CanaryEvidence | null;
}

/** Input of {@link decideTick}. */
export interface DecideInput {
  plan: CanaryPlan;
  state: CanaryState;
  /** The tick's evidence; null when nothing could be measured. */
  evidence: CanaryEvidence | null;
  /** Kill switches of the flag's service that are pressed now. */
  pressedSwitches?: PressedSwitch[];
  /** True when the canary's dataset no longer exists (it was deleted while the canary ran). */
  datasetDeleted?: boolean;
  now: number;
}

const percentText = (value: number): string => `${Number((value * 100).toPrecision(4))}%`;

/** A number as a person reads it: rates in %, relative differences in %, others as they are. */
function valueText(value: number | null, guard: GuardEvidence): string {
  if (value === null) return 'no value';
  if (guard.scale === 'absolute') return percentText(value);
  return String(Number(value.toPrecision(4)));
}

function differenceText(value: number, guard: GuardEvidence): string {
  const sign = value >= 0 ? '+' : '';
  if (guard.scale === 'absolute') return `${sign}${Number((value * 100).toPrecision(3))}pp`;
  return `${sign}${Number((value * 100).toPrecision(3))}%`;
}

function durationText(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  return `${Math.round((minutes / 60) * 10) / 10}h`;
}

/** "RATE(status_code >= 500) <= +0.5pp: canary 2.4% vs control 0.5% (+1.9pp, interval +1.2pp to +2.6pp), p = 0.0004" */
export function guardSummary(guard: GuardEvidence): string {
  const parts = [`${guard.guard}: canary ${valueText(guard.canary, guard)} vs control ${valueText(guard.control, guard)}`];
  if (guard.difference !== null) {
    const interval =
      guard.interval === null
        ? ''
        : `, interval ${differenceText(guard.interval[0], guard)} to ${differenceText(guard.interval[1], guard)}`;
    parts.push(` (${differenceText(guard.difference, guard)}${interval})`);
  }
  parts.push(`, p = ${Number(guard.pValue.toPrecision(2))}, q = ${Number(guard.qValue.toPrecision(2))}`);
  return parts.join('');
}

/** Why a guard is still inconclusive: "P95(duration_ms) <= +10%: upper bound +14% is beyond +10%". */
function pendingSummary(guard: GuardEvidence): string {
  if (guard.interval === null || guard.tolerance === null || guard.difference === null) return `${guard.guard}: no comparison yet`;
  const lowerIsBetter = guard.direction === 'lower-is-better';
  const bound = lowerIsBetter ? guard.interval[1] : guard.interval[0];
  if (lowerIsBetter ? bound <= guard.tolerance : bound >= guard.tolerance) {
    return `${guard.guard}: too few units (${Math.min(guard.units.control, guard.units.canary)} of ${MIN_UNITS_FOR_VERDICT})`;
  }
  return `${guard.guard}: ${lowerIsBetter ? 'upper' : 'lower'} bound ${differenceText(bound, guard)} is beyond ${differenceText(guard.tolerance, guard)}`;
}

function srmSummary(evidence: CanaryEvidence): string {
  const s = evidence.sampleRatio;
  const unit = s.unit === null ? 'events' : s.unit;
  const observed = s.observedShare === null ? 'none' : percentText(s.observedShare);
  return `sample ratio mismatch: the canary cohort has ${observed} of the ${unit} (${s.canary} canary, ${s.control} control) where the rollout gives it ${percentText(s.expectedShare)}, p = ${Number(s.pValue.toPrecision(2))} < ${s.alpha}`;
}

function decision(kind: DecisionKind, reason: string, input: DecideInput, pauseCause?: PauseCause): CanaryDecision {
  const out: CanaryDecision = { kind, reason, at: input.now, evidence: input.evidence };
  if (pauseCause !== undefined) out.pauseCause = pauseCause;
  return out;
}

/** Decides what one tick does (see the module comment for the order of the rules). */
export function decideTick(input: DecideInput): CanaryDecision {
  const { plan, state, evidence, now } = input;
  if (isTerminal(state.status)) return decision('none', `the canary has ended (${state.status})`, input);
  if (state.status === 'pending') return decision('none', 'the canary has not started', input);
  if (input.datasetDeleted === true) {
    return decision(
      'rollback',
      `rolled back to 0%: its dataset "${plan.dataset}" no longer exists (it was deleted), so nothing is left to measure the canary with; start a new canary once events arrive again`,
      input,
    );
  }
  const pressed = input.pressedSwitches ?? [];
  if (pressed.length > 0) {
    const names = pressed.map((s) => `${s.key}${s.by === undefined ? '' : ` by ${s.by}`}${s.reason === undefined ? '' : ` (${s.reason})`}`);
    if (state.status === 'paused') return decision('none', `paused while kill switch ${names.join(', ')} is pressed`, input);
    return decision(
      'pause',
      `kill switch ${names.join(', ')} of the flag's service is pressed: the canary pauses until it is released`,
      input,
      'kill-switch',
    );
  }
  if (state.status === 'paused' && state.pause?.cause === 'kill-switch') {
    return decision('resume', 'the kill switches of the service are released: the canary resumes', input);
  }
  if (evidence === null) return decision(state.status === 'running' ? 'wait' : 'none', 'nothing could be measured at this tick', input);

  const failing = evidence.guards.filter((g) => g.verdict === 'fail');
  const rollbackGuards = failing.filter((g) => g.action === 'rollback');
  if (rollbackGuards.length > 0) {
    return decision('rollback', `rolled back to 0%: ${rollbackGuards.map(guardSummary).join('; ')}, beyond the tolerance`, input);
  }
  if (evidence.sampleRatio.mismatch) return decision('rollback', `rolled back to 0%: ${srmSummary(evidence)}`, input);
  if (failing.length > 0 && state.status !== 'paused') {
    return decision('pause', `paused: ${failing.map(guardSummary).join('; ')}, beyond the tolerance`, input, 'guard');
  }
  if (state.status === 'paused')
    return decision('none', `paused (${state.pause?.cause ?? 'manual'}): ${state.pause?.reason ?? ''}`.trim(), input);
  if (state.status === 'waiting-approval') {
    return decision('none', `step ${plan.steps[state.stepIndex]}% passed; waiting for \`flagscope canary promote ${plan.flag}\``, input);
  }

  const percent = plan.steps[state.stepIndex]!;
  const inconclusive = evidence.guards.filter((g) => g.verdict === 'inconclusive');
  if (!evidence.sample.reached || inconclusive.length > 0) {
    const missing = !evidence.sample.reached
      ? `${evidence.sample.canary} canary and ${evidence.sample.control} control units at ${percent}%, ${evidence.sample.minimum} needed in each`
      : `not yet shown within tolerance: ${inconclusive.map(pendingSummary).join('; ')}`;
    const waited = waitedMs(state, now);
    if (waited >= plan.maxWaitMs) {
      return decision(
        'pause',
        `paused as inconclusive after waiting ${durationText(waited)} (max wait ${durationText(plan.maxWaitMs)}): ${missing}; silence is not health`,
        input,
        'no-traffic',
      );
    }
    return decision('wait', `waiting for data: ${missing}`, input);
  }
  const held = heldMs(state, now);
  if (held < plan.intervalMs) {
    return decision('hold', `holding at ${percent}% for ${durationText(plan.intervalMs - held)} more; every guard passes so far`, input);
  }
  const passed = `step ${percent}% passed after ${durationText(held)} with ${evidence.sample.canary} canary and ${evidence.sample.control} control units; ${evidence.guards.map(guardSummary).join('; ')}`;
  if (plan.approveAt.includes(percent)) return decision('await-approval', `${passed}; waiting for approval`, input);
  if (state.stepIndex + 1 >= plan.steps.length - 1) return decision('complete', `${passed}; ramped to 100%, completed`, input);
  return decision('advance', `${passed}; advancing to ${plan.steps[state.stepIndex + 1]}%`, input);
}

/** The transition a decision makes, if any. */
export function transitionOf(decision: CanaryDecision): CanaryTransition | undefined {
  switch (decision.kind) {
    case 'advance':
      return { type: 'advance' };
    case 'await-approval':
      return { type: 'await-approval' };
    case 'complete':
      return { type: 'complete' };
    case 'rollback':
      return { type: 'rollback' };
    case 'pause':
      return { type: 'pause', cause: decision.pauseCause ?? 'manual' };
    case 'resume':
      return { type: 'resume' };
    default:
      return undefined;
  }
}

/** Applies a tick's decision to the state (unchanged for none, wait and hold). */
export function applyDecision(state: CanaryState, plan: CanaryPlan, decided: CanaryDecision): CanaryState {
  const action = transitionOf(decided);
  if (action === undefined) return state;
  return transition(state, plan, action, {
    now: decided.at,
    reason: decided.reason,
    ...(decided.evidence === null ? {} : { srmStepLogE: decided.evidence.sampleRatio.stepLogE }),
  });
}
