/**
 * The pure mapper from a stored canary to the API's view: ISO times, the timeline's from/to and
 * `by`, the hold left and when the controller decides next in each state, and the dry run's
 * schedule.
 */
import { describe, expect, it } from 'vitest';
import { type CanaryTransition, checkPlanAgainstFlag, createCanaryState, parseCanaryPlan, transition } from '../../../src/canary/index.js';
import type { CanaryRecord } from '../../../src/server/canaries/canary-repository.js';
import { CONTROLLER } from '../../../src/server/canaries/canary-service.js';
import { canaryButtonView, canaryDryRunView, canaryView } from '../../../src/server/canaries/canary-view.js';

const T0 = Date.UTC(2026, 11, 5, 9, 0, 0);
const flag = { key: 'checkout_v2', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' };
const plan = checkPlanAgainstFlag(
  parseCanaryPlan({
    flag: 'checkout_v2',
    dataset: 'checkout',
    steps: [10, 50, 100],
    interval: '1m',
    approveAt: [50],
    guards: ['RATE(status_code >= 500) <= +0.5pp', 'P95(duration_ms) <= +10% then pause'],
  }),
  flag,
);

/** A record taken through `steps`, each at its time, by its author. */
function record(steps: Array<[CanaryTransition, number, string]>): CanaryRecord {
  let state = createCanaryState(T0);
  const timeline: CanaryRecord['timeline'] = [];
  for (const [action, at, by] of steps) {
    state = transition(state, plan, action, { now: at, reason: `${action.type} at ${at - T0}` });
    timeline.push({ at, kind: action.type, by, reason: state.reason ?? '', status: state.status, percent: state.percent });
  }
  return { plan, state, timeline, lastDecision: null, createdBy: 'ana' };
}

const context = (now: number) => ({ service: 'checkout', now, tickMs: 1000 });

describe('canaryView', () => {
  it('shows a running canary with its hold left and the end of the hold as the next decision', () => {
    const view = canaryView(record([[{ type: 'start' }, T0, 'ana']]), context(T0 + 20_000));
    expect(view).toMatchObject({
      id: `checkout_v2@${T0}`,
      flag: 'checkout_v2',
      service: 'checkout',
      status: 'running',
      stepIndex: 0,
      percent: 10,
      holdRemainingMs: 40_000,
      nextDecisionAt: new Date(T0 + 60_000).toISOString(),
      createdAt: new Date(T0).toISOString(),
      startedAt: new Date(T0).toISOString(),
      endedAt: null,
      revision: 1,
      evidence: null,
      pause: null,
    });
    expect(view.plan).toMatchObject({ baseline: 'off', column: 'flag.checkout_v2', intervalMs: 60_000, approveAt: [50], unit: null });
    expect(view.plan.guards).toEqual([
      { guard: 'RATE(status_code >= 500) <= +0.5pp', metric: 'RATE(status_code >= 500)', tolerance: '+0.5pp', action: 'rollback' },
      { guard: 'P95(duration_ms) <= +10% then pause', metric: 'P95(duration_ms)', tolerance: '+10%', action: 'pause' },
    ]);
  });

  it('decides at the next tick once the hold is over', () => {
    const base = record([[{ type: 'start' }, T0, 'ana']]);
    const view = canaryView(
      { ...base, lastDecision: { kind: 'wait', reason: 'waiting', at: T0 + 90_000, evidence: null } },
      context(T0 + 90_500),
    );
    expect(view.holdRemainingMs).toBe(0);
    expect(view.nextDecisionAt).toBe(new Date(T0 + 91_000).toISOString());
  });

  it('gives the timeline from/to percentages and names the controller `controller`', () => {
    const view = canaryView(
      record([
        [{ type: 'start' }, T0, 'ana'],
        [{ type: 'advance' }, T0 + 60_000, CONTROLLER],
        [{ type: 'pause', cause: 'manual' }, T0 + 70_000, 'bob'],
        [{ type: 'abort' }, T0 + 80_000, 'oncall'],
      ]),
      context(T0 + 90_000),
    );
    expect(view.timeline.map((e) => [e.kind, e.from, e.to, e.by, e.at])).toEqual([
      ['start', 0, 10, 'ana', new Date(T0).toISOString()],
      ['advance', 10, 50, 'canary-controller', new Date(T0 + 60_000).toISOString()],
      ['pause', 50, 50, 'bob', new Date(T0 + 70_000).toISOString()],
      ['abort', 50, 0, 'oncall', new Date(T0 + 80_000).toISOString()],
    ]);
    expect(view).toMatchObject({
      status: 'aborted',
      percent: 0,
      nextDecisionAt: null,
      holdRemainingMs: null,
      endedAt: new Date(T0 + 80_000).toISOString(),
    });
    expect(view.timeline.every((e) => e.evidence === null)).toBe(true);
  });

  it('waits for a person when paused by hand or waiting for approval, but not when paused by a kill switch', () => {
    const manual = canaryView(
      record([
        [{ type: 'start' }, T0, 'ana'],
        [{ type: 'pause', cause: 'manual' }, T0 + 5000, 'bob'],
      ]),
      context(T0 + 9000),
    );
    expect(manual).toMatchObject({ status: 'paused', nextDecisionAt: null, holdRemainingMs: null });
    expect(manual.pause).toEqual({ cause: 'manual', reason: 'pause at 5000', at: new Date(T0 + 5000).toISOString() });
    const switched = canaryView(
      record([
        [{ type: 'start' }, T0, 'ana'],
        [{ type: 'pause', cause: 'kill-switch' }, T0 + 5000, CONTROLLER],
      ]),
      context(T0 + 9000),
    );
    expect(switched.nextDecisionAt).toBe(new Date(T0 + 10_000).toISOString());
    const approval = canaryView(
      record([
        [{ type: 'start' }, T0, 'ana'],
        [{ type: 'advance' }, T0 + 60_000, CONTROLLER],
        [{ type: 'await-approval' }, T0 + 120_000, CONTROLLER],
      ]),
      context(T0 + 130_000),
    );
    expect(approval).toMatchObject({ status: 'waiting-approval', nextDecisionAt: null, holdRemainingMs: null });
  });

  it('lists a canary as an abort button', () => {
    expect(canaryButtonView(record([[{ type: 'start' }, T0, 'ana']]))).toEqual({
      flag: 'checkout_v2',
      status: 'running',
      percent: 10,
      stepIndex: 0,
      steps: [10, 50, 100],
    });
  });
});

describe('canaryDryRunView', () => {
  it('schedules each step one interval after the one before, the last when the step before it passes', () => {
    const dry = canaryDryRunView(plan, T0);
    expect(dry.dryRun).toBe(true);
    expect(dry.schedule).toEqual([
      { step: 0, percent: 10, earliestAt: new Date(T0 + 60_000).toISOString(), approval: false },
      { step: 1, percent: 50, earliestAt: new Date(T0 + 120_000).toISOString(), approval: true },
      { step: 2, percent: 100, earliestAt: new Date(T0 + 120_000).toISOString(), approval: false },
    ]);
  });
});
