/**
 * The canary state machine: where a canary is (pending, running at step i,
 * waiting for approval, paused, rolled back, completed, aborted), what the flag
 * serves, and the clocks of the current step. Every transition is a pure
 * function of the state, the plan and the time; a transition the state does not
 * allow is refused with a `conflict` error saying why and what to do.
 *
 * Clocks are absolute times (ms) kept in the state, so a server that restarts
 * (cleanly or not) and reloads the state counts a step's hold time neither
 * twice nor short: the hold is `heldMs` plus the running stretch since
 * `runningSince`; a pause stops it, a resume restarts the stretch.
 */
import { FlagscopeError, invalidInput } from '../errors.js';
import { type CanaryPlan, stepPercent } from './plan.js';

export type CanaryStatus = 'pending' | 'running' | 'waiting-approval' | 'paused' | 'rolled-back' | 'completed' | 'aborted';

/** Why a canary is paused. */
export type PauseCause = 'manual' | 'guard' | 'no-traffic' | 'kill-switch';

export interface CanaryPause {
  cause: PauseCause;
  reason: string;
  at: number;
  /** The status to return to on resume. */
  from: 'running' | 'waiting-approval';
}

export interface CanaryState {
  status: CanaryStatus;
  /** Index into the plan's steps; -1 while pending. */
  stepIndex: number;
  /** Percentage of traffic the flag serves the canary variant now (0 before the start and after a rollback or abort). */
  percent: number;
  createdAt: number;
  /** When the canary started: the start of the window its guards measure. */
  startedAt: number | null;
  /** When the current percentage began to be served: the window of the step's sample and sample-ratio test. */
  stepStartedAt: number | null;
  /** Hold time counted in this step before the current running stretch. */
  heldMs: number;
  /** Start of the current running stretch (null unless running). */
  runningSince: number | null;
  /** Start of the no-traffic clock: the step's start, or the last resume. */
  waitStartedAt: number | null;
  pause: CanaryPause | null;
  /** ln e-value of the sample-ratio test over the completed steps (e-values of steps multiply). */
  srmLogE: number;
  endedAt: number | null;
  /** Why the last transition happened. */
  reason: string | null;
  /** Incremented by every transition. */
  revision: number;
}

export const TERMINAL_STATUSES: readonly CanaryStatus[] = ['rolled-back', 'completed', 'aborted'];

export function isTerminal(status: CanaryStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** The state of a canary that has been created but does not serve the variant yet. */
export function createCanaryState(now: number): CanaryState {
  return {
    status: 'pending',
    stepIndex: -1,
    percent: 0,
    createdAt: now,
    startedAt: null,
    stepStartedAt: null,
    heldMs: 0,
    runningSince: null,
    waitStartedAt: null,
    pause: null,
    srmLogE: 0,
    endedAt: null,
    reason: null,
    revision: 0,
  };
}

/** Hold time of the current step so far. */
export function heldMs(state: CanaryState, now: number): number {
  return state.heldMs + (state.runningSince === null ? 0 : Math.max(0, now - state.runningSince));
}

/** Time the current step has waited for its minimum sample. */
export function waitedMs(state: CanaryState, now: number): number {
  return state.waitStartedAt === null ? 0 : Math.max(0, now - state.waitStartedAt);
}

/** A transition of the state machine. */
export type CanaryTransition =
  | { type: 'start' }
  | { type: 'advance' }
  | { type: 'await-approval' }
  | { type: 'complete' }
  | { type: 'promote' }
  | { type: 'ramp'; to: number; force?: boolean }
  | { type: 'pause'; cause: PauseCause }
  | { type: 'resume' }
  | { type: 'rollback' }
  | { type: 'abort' };

/** What a transition is given besides the state and the plan. */
export interface TransitionContext {
  now: number;
  /** Why, for the timeline (required for abort and a forced ramp). */
  reason: string;
  /** ln e-value of the sample-ratio test over the current step so far, folded in when the percentage changes. */
  srmStepLogE?: number;
  /** True when the latest evidence has a failing guard (a ramp then needs `force`). */
  guardsFailing?: boolean;
}

const ALLOWED: Record<CanaryTransition['type'], readonly CanaryStatus[]> = {
  start: ['pending'],
  advance: ['running'],
  'await-approval': ['running'],
  complete: ['running', 'waiting-approval'],
  promote: ['running', 'waiting-approval'],
  ramp: ['running', 'waiting-approval'],
  pause: ['running', 'waiting-approval'],
  resume: ['paused'],
  rollback: ['running', 'waiting-approval', 'paused'],
  abort: ['pending', 'running', 'waiting-approval', 'paused'],
};

const VERB: Record<CanaryTransition['type'], string> = {
  start: 'started',
  advance: 'advanced',
  'await-approval': 'put to wait for approval',
  complete: 'completed',
  promote: 'promoted',
  ramp: 'ramped',
  pause: 'paused',
  resume: 'resumed',
  rollback: 'rolled back',
  abort: 'aborted',
};

function refusal(plan: CanaryPlan, state: CanaryState, type: CanaryTransition['type']): FlagscopeError {
  const what = `the canary of ${plan.flag} is ${state.status}${state.status === 'paused' && state.pause !== null ? ` (${state.pause.cause})` : ''}`;
  let hint: string;
  if (isTerminal(state.status)) hint = 'it has ended; start a new canary to ramp the flag again';
  else if (state.status === 'paused') hint = `resume it first: \`flagscope canary resume ${plan.flag}\``;
  else if (state.status === 'pending') hint = 'it has not started yet';
  else if (type === 'resume') hint = 'it is not paused';
  else hint = `see \`flagscope canary status ${plan.flag}\``;
  return new FlagscopeError('conflict', `${what}: it cannot be ${VERB[type]}`, hint);
}

/** The state at step `index` (its percentage served from `now`, fresh step clocks). */
function atStep(state: CanaryState, plan: CanaryPlan, index: number, context: TransitionContext): CanaryState {
  const changed = state.stepIndex !== index;
  return {
    ...state,
    status: 'running',
    stepIndex: index,
    percent: stepPercent(plan, index),
    stepStartedAt: context.now,
    heldMs: 0,
    runningSince: context.now,
    waitStartedAt: context.now,
    pause: null,
    srmLogE: state.srmLogE + (changed && state.stepIndex >= 0 ? (context.srmStepLogE ?? 0) : 0),
  };
}

function ended(state: CanaryState, status: CanaryStatus, percent: number, context: TransitionContext): CanaryState {
  return {
    ...state,
    status,
    percent,
    heldMs: heldMs(state, context.now),
    runningSince: null,
    waitStartedAt: null,
    pause: null,
    endedAt: context.now,
  };
}

/**
 * Applies a transition, or throws: `conflict` when the canary's status does not
 * allow it, `invalid_input` for a bad argument (a ramp to a percentage that is
 * not a step, a forced ramp without a reason, an abort without a reason).
 */
export function transition(state: CanaryState, plan: CanaryPlan, action: CanaryTransition, context: TransitionContext): CanaryState {
  if (!ALLOWED[action.type].includes(state.status)) throw refusal(plan, state, action.type);
  const next = applyAllowed(state, plan, action, context);
  return { ...next, reason: context.reason, revision: state.revision + 1 };
}

function applyAllowed(state: CanaryState, plan: CanaryPlan, action: CanaryTransition, context: TransitionContext): CanaryState {
  const { now } = context;
  const last = plan.steps.length - 1;
  switch (action.type) {
    case 'start':
      return { ...atStep(state, plan, 0, context), startedAt: now };
    case 'advance':
    case 'promote': {
      const next = state.stepIndex + 1;
      if (next >= last) return ended(state, 'completed', 100, context);
      return atStep(state, plan, next, context);
    }
    case 'await-approval':
      return { ...state, status: 'waiting-approval', heldMs: heldMs(state, now), runningSince: null, waitStartedAt: null };
    case 'complete':
      return ended(state, 'completed', 100, context);
    case 'ramp':
      return ramp(state, plan, action, context);
    case 'pause':
      return {
        ...state,
        status: 'paused',
        heldMs: heldMs(state, now),
        runningSince: null,
        waitStartedAt: null,
        pause: {
          cause: action.cause,
          reason: context.reason,
          at: now,
          from: state.status === 'waiting-approval' ? 'waiting-approval' : 'running',
        },
      };
    case 'resume': {
      const from = state.pause?.from ?? 'running';
      return {
        ...state,
        status: from,
        runningSince: from === 'running' ? now : null,
        waitStartedAt: from === 'running' ? now : null,
        pause: null,
      };
    }
    case 'rollback':
      return ended(state, 'rolled-back', 0, context);
    case 'abort':
      if (context.reason.trim() === '')
        throw invalidInput('an abort needs a reason', 'pass --reason TEXT: it goes to the timeline and the flag history');
      return ended(state, 'aborted', 0, context);
  }
}

function ramp(state: CanaryState, plan: CanaryPlan, action: { to: number; force?: boolean }, context: TransitionContext): CanaryState {
  const index = plan.steps.indexOf(action.to);
  if (index < 0) {
    throw invalidInput(
      `${action.to}% is not a step of the canary of ${plan.flag}`,
      `its steps are ${plan.steps.join(', ')}; ramp to one of them`,
    );
  }
  if (context.guardsFailing === true) {
    if (action.force !== true) {
      throw new FlagscopeError(
        'conflict',
        `a guard of the canary of ${plan.flag} is failing: ramping to ${action.to}% would expose more users to it`,
        `see \`flagscope canary status ${plan.flag}\`; to ramp anyway pass --force --reason TEXT`,
      );
    }
    if (context.reason.trim() === '') throw invalidInput('a forced ramp needs a reason', 'pass --reason TEXT with --force');
  }
  if (index === plan.steps.length - 1) return ended(state, 'completed', 100, context);
  return atStep(state, plan, index, context);
}
