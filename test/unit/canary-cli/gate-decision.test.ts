/**
 * The gate's decision, every state against every position of the target step
 * and both sides of the deadline; the target step; the poll cadence; and the
 * loop that polls through an injected sleep on a virtual clock (no real waits).
 */
import { describe, expect, it } from 'vitest';
import type { CanaryStatusName, CanaryView } from '../../../src/api/canaries.js';
import type { PauseCause } from '../../../src/canary/index.js';
import { decideGate, gateExitCode, gateTargetIndex, nextPollDelay } from '../../../src/cli/canary/gate-decision.js';
import { waitForGate } from '../../../src/cli/canary/gate-verb.js';
import { FlagscopeError } from '../../../src/errors.js';
import { evidence, iso, rolledBack, T0, view } from './fixtures.js';

type Expected = 'keep-waiting' | 'pass' | 'regression' | 'inconclusive';
type State = [label: string, status: CanaryStatusName, cause: PauseCause | null];

const STATES: State[] = [
  ['pending', 'pending', null],
  ['running', 'running', null],
  ['waiting-approval', 'waiting-approval', null],
  ['paused (manual)', 'paused', 'manual'],
  ['paused (kill-switch)', 'paused', 'kill-switch'],
  ['paused (guard)', 'paused', 'guard'],
  ['paused (no-traffic)', 'paused', 'no-traffic'],
  ['rolled-back', 'rolled-back', null],
  ['aborted', 'aborted', null],
  ['completed', 'completed', null],
];

/**
 * Expected verdicts by state, in the order: target not passed before the
 * deadline, not passed at the deadline, passed before the deadline, passed at
 * the deadline.
 */
const MATRIX: Record<string, [Expected, Expected, Expected, Expected]> = {
  pending: ['keep-waiting', 'inconclusive', 'pass', 'pass'],
  running: ['keep-waiting', 'inconclusive', 'pass', 'pass'],
  'waiting-approval': ['keep-waiting', 'inconclusive', 'pass', 'pass'],
  'paused (manual)': ['keep-waiting', 'inconclusive', 'pass', 'pass'],
  'paused (kill-switch)': ['keep-waiting', 'inconclusive', 'pass', 'pass'],
  'paused (guard)': ['regression', 'regression', 'regression', 'regression'],
  'paused (no-traffic)': ['inconclusive', 'inconclusive', 'inconclusive', 'inconclusive'],
  'rolled-back': ['regression', 'regression', 'regression', 'regression'],
  aborted: ['inconclusive', 'inconclusive', 'inconclusive', 'inconclusive'],
  completed: ['pass', 'pass', 'pass', 'pass'],
};

const DEADLINE = T0 + 1_800_000;

function inState([, status, cause]: State, stepIndex: number): CanaryView {
  return view({
    status,
    stepIndex,
    pause: cause === null ? null : { cause, reason: `paused: ${cause}`, at: iso(T0) },
    endedAt: ['rolled-back', 'aborted', 'completed'].includes(status) ? iso(T0 + 1000) : null,
  });
}

describe('decideGate', () => {
  const cases = STATES.flatMap((state) =>
    [
      { passed: false, late: false },
      { passed: false, late: true },
      { passed: true, late: false },
      { passed: true, late: true },
    ].map((c, i) => ({ state, ...c, expected: MATRIX[state[0]]?.[i] })),
  );

  it.each(cases)('$state.0, target passed $passed, deadline passed $late → $expected', ({ state, passed, late, expected }) => {
    const target = 1;
    const outcome = decideGate(inState(state, passed ? 2 : 1), target, late ? DEADLINE : DEADLINE - 1, DEADLINE);
    expect(outcome.result).toBe(expected);
    expect(outcome.reason.length).toBeGreaterThan(10);
  });

  it('covers every state in the matrix', () => {
    expect(Object.keys(MATRIX).sort()).toEqual(STATES.map((s) => s[0]).sort());
  });

  it('passes the target step and no other: a step before the target keeps waiting', () => {
    expect(decideGate(view({ stepIndex: 1 }), 2, T0, DEADLINE).result).toBe('keep-waiting');
    expect(decideGate(view({ stepIndex: 3 }), 2, T0, DEADLINE).result).toBe('pass');
    expect(decideGate(view({ stepIndex: 3 }), 4, T0, DEADLINE).result).toBe('keep-waiting');
  });

  it('says why, with the numbers', () => {
    expect(decideGate(rolledBack(), 1, T0, DEADLINE).reason).toBe(
      'the controller rolled the canary back to 0%: RATE(status_code >= 500) <= +0.5pp shows harm: +1.98pp [+1.10pp, +2.86pp] beyond +0.50pp (failing: RATE(status_code >= 500) <= +0.5pp)',
    );
    const aborted = decideGate(view({ status: 'aborted', reason: 'error budget spent' }), 1, T0, DEADLINE);
    expect(aborted.reason).toBe('the canary was aborted by a person (error budget spent); an abort is not a measured regression');
    const late = decideGate(view(), 1, DEADLINE, DEADLINE);
    expect(late.reason).toBe(
      'the deadline passed before step 2 (5%) was decided: sample 12345 control / 640 canary of 1000 needed per cohort; inconclusive: P95(duration_ms) <= +10%; hold time left 400s',
    );
    expect(decideGate(view({ evidence: null }), 1, DEADLINE, DEADLINE).reason).toContain('no tick has measured it yet');
    expect(decideGate(view({ status: 'waiting-approval' }), 1, DEADLINE, DEADLINE).reason).toContain('waiting for `canary promote`');
    expect(decideGate(view({ status: 'completed' }), 1, T0, DEADLINE).reason).toBe('the canary completed: everyone is on on');
  });

  it('maps results to the exit codes 0, 10, 11', () => {
    expect([gateExitCode('pass'), gateExitCode('regression'), gateExitCode('inconclusive')]).toEqual([0, 10, 11]);
  });
});

describe('gateTargetIndex', () => {
  it('is the current step, the first while pending, or the step named by its percentage', () => {
    expect(gateTargetIndex(view({ stepIndex: 2 }))).toBe(2);
    expect(gateTargetIndex(view({ stepIndex: -1 }))).toBe(0);
    expect(gateTargetIndex(view(), 25)).toBe(2);
    expect(gateTargetIndex(view(), 100)).toBe(4);
  });

  it('refuses a percentage that is not a step, listing the steps (exit 2)', () => {
    let error: unknown;
    try {
      gateTargetIndex(view(), 30);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FlagscopeError);
    expect((error as FlagscopeError).exitCode).toBe(2);
    expect((error as FlagscopeError).message).toBe('--step 30 is not a step of the canary of checkout-v2');
    expect((error as FlagscopeError).hint).toContain('1, 5, 25, 50, 100');
  });
});

describe('nextPollDelay', () => {
  it('looks just after the next decision, at most every 5 s, at least every 0.5 s, never past the deadline', () => {
    expect(nextPollDelay({ nextDecisionAt: iso(T0 + 2000) }, T0, DEADLINE)).toBe(2250);
    expect(nextPollDelay({ nextDecisionAt: iso(T0 + 60_000) }, T0, DEADLINE)).toBe(5000);
    expect(nextPollDelay({ nextDecisionAt: iso(T0 - 10_000) }, T0, DEADLINE)).toBe(500);
    expect(nextPollDelay({ nextDecisionAt: null }, T0, DEADLINE)).toBe(5000);
    expect(nextPollDelay({ nextDecisionAt: null }, DEADLINE - 1200, DEADLINE)).toBe(1200);
    expect(nextPollDelay({ nextDecisionAt: null }, DEADLINE + 5, DEADLINE)).toBe(0);
  });
});

/** A virtual clock whose sleep moves time forward at once, and a canary scripted over that time. */
function virtual(script: (now: number) => CanaryView) {
  let now = T0;
  const sleeps: number[] = [];
  let polls = 0;
  return {
    loop: {
      now: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
      poll: async () => {
        polls++;
        return script(now);
      },
    },
    sleeps,
    polls: () => polls,
  };
}

describe('waitForGate', () => {
  it('waits through the hold time and passes when the canary moves beyond the step', async () => {
    const v = virtual((now) =>
      now < T0 + 600_000
        ? view({ stepIndex: 1, nextDecisionAt: iso(T0 + 600_000) })
        : view({ stepIndex: 2, percent: 25, nextDecisionAt: iso(T0 + 1_200_000) }),
    );
    const notes: string[] = [];
    const { outcome, target, view: last } = await waitForGate({ ...v.loop, waitMs: 1_800_000, note: (l) => notes.push(l) });
    expect(outcome.result).toBe('pass');
    expect(target).toBe(1);
    expect(last.percent).toBe(25);
    expect(v.sleeps.every((ms) => ms > 0 && ms <= 5000)).toBe(true);
    expect(notes).toEqual(['waiting for step 2 (5%): running (deadline in 1800s)']);
  });

  it('ends as a regression as soon as the canary is rolled back', async () => {
    const v = virtual((now) => (now < T0 + 30_000 ? view() : rolledBack()));
    const { outcome } = await waitForGate({ ...v.loop, waitMs: 1_800_000 });
    expect(outcome.result).toBe('regression');
    expect(v.polls()).toBeLessThanOrEqual(8);
  });

  it('ends inconclusive at the deadline, after one last look', async () => {
    const v = virtual(() => view({ nextDecisionAt: null, evidence: evidence({ guards: [] }) }));
    const { outcome } = await waitForGate({ ...v.loop, waitMs: 12_000 });
    expect(outcome.result).toBe('inconclusive');
    expect(v.sleeps).toEqual([5000, 5000, 2000]);
    expect(v.polls()).toBe(4);
  });

  it('looks once with --wait 0', async () => {
    const v = virtual(() => view());
    const { outcome } = await waitForGate({ ...v.loop, waitMs: 0 });
    expect(outcome.result).toBe('inconclusive');
    expect(v.polls()).toBe(1);
  });
});
