import { describe, expect, it } from 'vitest';
import { type CanaryState, createCanaryState, heldMs, parseCanaryPlan, transition, waitedMs } from '../../../src/canary/index.js';
import { FlagscopeError } from '../../../src/errors.js';

const plan = parseCanaryPlan({ flag: 'checkout_v2', dataset: 'checkout', steps: [1, 5, 50, 100], interval: '10m', approveAt: [50] });
const at = (now: number, reason = 'test') => ({ now, reason });
const started = (): CanaryState => transition(createCanaryState(0), plan, { type: 'start' }, at(1000));

function refusal(run: () => unknown): FlagscopeError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FlagscopeError);
    return error as FlagscopeError;
  }
  throw new Error('expected a refusal');
}

describe('canary state machine', () => {
  it('starts pending, serving nothing, then runs the first step', () => {
    const pending = createCanaryState(0);
    expect(pending).toMatchObject({ status: 'pending', stepIndex: -1, percent: 0, revision: 0 });
    const running = started();
    expect(running).toMatchObject({
      status: 'running',
      stepIndex: 0,
      percent: 1,
      startedAt: 1000,
      stepStartedAt: 1000,
      revision: 1,
      reason: 'test',
    });
  });

  it('counts hold time only while running, across a pause, a resume and a reload of the stored state', () => {
    let state = started();
    expect(heldMs(state, 61_000)).toBe(60_000);
    state = transition(state, plan, { type: 'pause', cause: 'manual' }, at(61_000, 'looking into it'));
    expect(state.pause).toMatchObject({ cause: 'manual', reason: 'looking into it', from: 'running' });
    expect(heldMs(state, 500_000)).toBe(60_000);
    state = transition(state, plan, { type: 'resume' }, at(500_000));
    // What a restarted server reads back from the store.
    const reloaded = JSON.parse(JSON.stringify(state)) as CanaryState;
    expect(heldMs(reloaded, 530_000)).toBe(90_000);
    expect(waitedMs(reloaded, 530_000)).toBe(30_000);
  });

  it('advances step by step with fresh step clocks, folding the finished step into the sample-ratio evidence', () => {
    let state = started();
    state = transition(state, plan, { type: 'advance' }, { now: 700_000, reason: 'passed', srmStepLogE: -1.5 });
    expect(state).toMatchObject({ stepIndex: 1, percent: 5, stepStartedAt: 700_000, heldMs: 0, srmLogE: -1.5 });
    state = transition(state, plan, { type: 'advance' }, { now: 1_400_000, reason: 'passed', srmStepLogE: 0.5 });
    expect(state).toMatchObject({ stepIndex: 2, percent: 50, srmLogE: -1 });
    state = transition(state, plan, { type: 'await-approval' }, at(2_000_000));
    expect(state.status).toBe('waiting-approval');
    state = transition(state, plan, { type: 'promote' }, at(2_100_000, 'approved by ana'));
    expect(state).toMatchObject({ status: 'completed', percent: 100, endedAt: 2_100_000, reason: 'approved by ana' });
  });

  it('rolls back and aborts to 0% at once, from any live status', () => {
    expect(transition(started(), plan, { type: 'rollback' }, at(5000))).toMatchObject({ status: 'rolled-back', percent: 0, endedAt: 5000 });
    const paused = transition(started(), plan, { type: 'pause', cause: 'manual' }, at(5000));
    expect(transition(paused, plan, { type: 'rollback' }, at(6000)).status).toBe('rolled-back');
    expect(transition(createCanaryState(0), plan, { type: 'abort' }, at(1, 'wrong flag'))).toMatchObject({ status: 'aborted', percent: 0 });
  });

  it('ramps to a step of the plan, and refuses a jump while a guard fails unless forced with a reason', () => {
    const state = started();
    expect(transition(state, plan, { type: 'ramp', to: 50 }, at(2000))).toMatchObject({ stepIndex: 2, percent: 50 });
    expect(transition(state, plan, { type: 'ramp', to: 100 }, at(2000))).toMatchObject({ status: 'completed', percent: 100 });
    expect(refusal(() => transition(state, plan, { type: 'ramp', to: 30 }, at(2000))).message).toMatch(/30% is not a step/);
    const failing = { now: 2000, reason: '', guardsFailing: true };
    const refused = refusal(() => transition(state, plan, { type: 'ramp', to: 50 }, failing));
    expect(refused.code).toBe('conflict');
    expect(refused.hint).toMatch(/--force --reason/);
    expect(refusal(() => transition(state, plan, { type: 'ramp', to: 50, force: true }, failing)).message).toMatch(/needs a reason/);
    expect(transition(state, plan, { type: 'ramp', to: 50, force: true }, { ...failing, reason: 'known flaky guard' }).percent).toBe(50);
  });

  it.each([
    ['resume a running canary', started, { type: 'resume' }, /is running: it cannot be resumed/, /not paused/],
    [
      'pause a paused canary',
      () => transition(started(), plan, { type: 'pause', cause: 'manual' }, at(2)),
      { type: 'pause', cause: 'manual' },
      /is paused \(manual\)/,
      /resume it first/,
    ],
    [
      'promote a paused canary',
      () => transition(started(), plan, { type: 'pause', cause: 'guard' }, at(2)),
      { type: 'promote' },
      /cannot be promoted/,
      /canary resume checkout_v2/,
    ],
    [
      'abort a completed canary',
      () => transition(started(), plan, { type: 'complete' }, at(2)),
      { type: 'abort' },
      /is completed/,
      /start a new canary/,
    ],
    ['advance a pending canary', () => createCanaryState(0), { type: 'advance' }, /is pending/, /has not started/],
  ] as const)('refuses to %s with a conflict that says why and what to do', (_name, make, action, message, hint) => {
    const error = refusal(() => transition(make(), plan, action, at(3, 'why')));
    expect(error.code).toBe('conflict');
    expect(error.message).toMatch(message);
    expect(error.hint).toMatch(hint);
  });

  it('refuses an abort without a reason', () => {
    const error = refusal(() => transition(started(), plan, { type: 'abort' }, at(3, ' ')));
    expect(error.code).toBe('invalid_input');
    expect(error.hint).toMatch(/--reason/);
  });
});
