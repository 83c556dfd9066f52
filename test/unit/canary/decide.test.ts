import { describe, expect, it } from 'vitest';
import {
  type CanaryEvidence,
  type CanaryState,
  type DecisionKind,
  type GuardEvidence,
  applyDecision,
  createCanaryState,
  decideTick,
  parseCanaryPlan,
  transition,
} from '../../../src/canary/index.js';

const plan = {
  ...parseCanaryPlan({
    flag: 'checkout_v2',
    dataset: 'checkout',
    steps: [1, 5, 50, 100],
    interval: '10m',
    maxWait: '1h',
    approveAt: [5],
    guards: ['RATE(status_code >= 500) <= +0.5pp', 'P95(duration_ms) <= +10% then pause'],
  }),
  baseline: 'off',
};
const MINUTE = 60_000;
const start = (): CanaryState => transition(createCanaryState(0), plan, { type: 'start' }, { now: 0, reason: 'start' });
const atStep = (index: number): CanaryState => {
  let state = start();
  for (let i = 0; i < index; i++) state = transition(state, plan, { type: 'promote' }, { now: 0, reason: 'promote' });
  return state;
};

function guard(text: string, verdict: GuardEvidence['verdict'], action: GuardEvidence['action'] = 'rollback'): GuardEvidence {
  const rate = text.startsWith('RATE');
  return {
    guard: text,
    metric: text.split(' ')[0]!,
    direction: 'lower-is-better',
    action,
    control: rate ? 0.005 : 210,
    canary: rate ? (verdict === 'fail' ? 0.025 : 0.006) : verdict === 'fail' ? 290 : 212,
    difference: rate ? (verdict === 'fail' ? 0.02 : 0.001) : verdict === 'fail' ? 0.38 : 0.0095,
    scale: rate ? 'absolute' : 'relative',
    interval: rate
      ? verdict === 'fail'
        ? [0.012, 0.028]
        : verdict === 'pass'
          ? [-0.002, 0.004]
          : [-0.002, 0.007]
      : verdict === 'fail'
        ? [0.2, 0.55]
        : verdict === 'pass'
          ? [-0.05, 0.07]
          : [-0.05, 0.15],
    tolerance: rate ? 0.005 : 0.1,
    toleranceText: rate ? '+0.5pp' : '+10%',
    pValue: verdict === 'fail' ? 0.001 : 1,
    qValue: verdict === 'fail' ? 0.002 : 1,
    verdict,
    units: { control: 50_000, canary: 2000 },
  };
}

function evidence(
  verdicts: [GuardEvidence['verdict'], GuardEvidence['verdict']],
  options: { sample?: boolean; srm?: boolean; now?: number } = {},
): CanaryEvidence {
  return {
    at: options.now ?? 0,
    window: { start: 0, end: 1 },
    stepWindow: { start: 0, end: 1 },
    guards: [guard('RATE(status_code >= 500) <= +0.5pp', verdicts[0]), guard('P95(duration_ms) <= +10% then pause', verdicts[1], 'pause')],
    sample: { control: 50_000, canary: options.sample === false ? 120 : 2000, minimum: 1000, reached: options.sample !== false },
    sampleRatio: {
      unit: 'user.id',
      control: 50_000,
      canary: options.srm === true ? 300 : 505,
      expectedShare: 0.01,
      observedShare: options.srm === true ? 0.006 : 0.01,
      stepLogE: options.srm === true ? 9 : -2,
      logE: options.srm === true ? 9 : -2,
      pValue: options.srm === true ? 0.0001 : 1,
      alpha: 0.001,
      mismatch: options.srm === true,
    },
  };
}

const paused = (cause: 'manual' | 'kill-switch' | 'guard'): CanaryState =>
  transition(start(), plan, { type: 'pause', cause }, { now: 0, reason: 'paused' });
const waiting = (): CanaryState => transition(atStep(1), plan, { type: 'await-approval' }, { now: 0, reason: 'passed' });

describe('decideTick: the decision table', () => {
  const rows: [string, () => CanaryState, CanaryEvidence | null, number, { pressed?: boolean; deleted?: boolean }, DecisionKind, RegExp][] =
    [
      [
        'ended canary',
        () => transition(start(), plan, { type: 'rollback' }, { now: 0, reason: 'x' }),
        evidence(['fail', 'fail']),
        0,
        {},
        'none',
        /has ended \(rolled-back\)/,
      ],
      ['pending canary', () => createCanaryState(0), null, 0, {}, 'none', /not started/],
      [
        'kill switch pressed',
        start,
        evidence(['fail', 'pass']),
        MINUTE,
        { pressed: true },
        'pause',
        /kill switch payments_off by ana \(provider down\) of the flag's service is pressed/,
      ],
      [
        'kill switch still pressed',
        () => paused('kill-switch'),
        evidence(['pass', 'pass']),
        MINUTE,
        { pressed: true },
        'none',
        /while kill switch/,
      ],
      ['kill switch released', () => paused('kill-switch'), evidence(['pass', 'pass']), MINUTE, {}, 'resume', /released/],
      [
        'rollback guard fails',
        start,
        evidence(['fail', 'pass']),
        MINUTE,
        {},
        'rollback',
        /^rolled back to 0%: RATE\(status_code >= 500\) <= \+0\.5pp: canary 2\.5% vs control 0\.5% \(\+2pp, interval \+1\.2pp to \+2\.8pp\), p = 0\.001/,
      ],
      [
        'rollback guard fails while paused by hand',
        () => paused('manual'),
        evidence(['fail', 'pass']),
        MINUTE,
        {},
        'rollback',
        /rolled back/,
      ],
      ['rollback guard fails while waiting for approval', waiting, evidence(['fail', 'pass']), MINUTE, {}, 'rollback', /rolled back/],
      [
        'sample ratio mismatch',
        start,
        evidence(['pass', 'pass'], { srm: true }),
        MINUTE,
        {},
        'rollback',
        /sample ratio mismatch: the canary cohort has 0\.6% of the user\.id \(300 canary, 50000 control\) where the rollout gives it 1%/,
      ],
      [
        'pause guard fails',
        start,
        evidence(['pass', 'fail']),
        MINUTE,
        {},
        'pause',
        /^paused: P95\(duration_ms\) <= \+10% then pause: canary 290 vs control 210 \(\+38%/,
      ],
      ['paused by hand, all fine', () => paused('manual'), evidence(['pass', 'pass']), MINUTE, {}, 'none', /paused \(manual\)/],
      [
        'waiting for approval',
        waiting,
        evidence(['pass', 'pass']),
        20 * MINUTE,
        {},
        'none',
        /step 5% passed; waiting for `flagscope canary promote checkout_v2`/,
      ],
      [
        'below the minimum sample',
        start,
        evidence(['pass', 'pass'], { sample: false }),
        20 * MINUTE,
        {},
        'wait',
        /waiting for data: 120 canary and 50000 control units at 1%, 1000 needed in each/,
      ],
      [
        'below the minimum sample past max wait',
        start,
        evidence(['pass', 'pass'], { sample: false }),
        61 * MINUTE,
        {},
        'pause',
        /paused as inconclusive after waiting 61m \(max wait 60m\)/,
      ],
      [
        'inconclusive guard',
        start,
        evidence(['inconclusive', 'pass']),
        20 * MINUTE,
        {},
        'wait',
        /not yet shown within tolerance: RATE\(status_code >= 500\) <= \+0\.5pp: upper bound \+0\.7pp is beyond \+0\.5pp/,
      ],
      [
        'inconclusive guard past max wait',
        start,
        evidence(['pass', 'inconclusive']),
        60 * MINUTE,
        {},
        'pause',
        /inconclusive after waiting 60m/,
      ],
      ['hold time not elapsed', start, evidence(['pass', 'pass']), 4 * MINUTE, {}, 'hold', /holding at 1% for 6m more/],
      [
        'step passed',
        start,
        evidence(['pass', 'pass']),
        10 * MINUTE,
        {},
        'advance',
        /^step 1% passed after 10m with 2000 canary and 50000 control units; .*; advancing to 5%$/,
      ],
      [
        'approval step passed',
        () => atStep(1),
        evidence(['pass', 'pass']),
        10 * MINUTE,
        {},
        'await-approval',
        /step 5% passed .*waiting for approval/,
      ],
      [
        'step before 100% passed',
        () => atStep(2),
        evidence(['pass', 'pass']),
        10 * MINUTE,
        {},
        'complete',
        /step 50% passed .*ramped to 100%, completed/,
      ],
      ['nothing measured', start, null, MINUTE, {}, 'wait', /nothing could be measured/],
      [
        'dataset deleted while running',
        start,
        null,
        MINUTE,
        { deleted: true },
        'rollback',
        /^rolled back to 0%: its dataset "checkout" no longer exists \(it was deleted\)/,
      ],
      ['dataset deleted while waiting for approval', waiting, null, MINUTE, { deleted: true }, 'rollback', /"checkout" no longer exists/],
      ['dataset deleted while paused by hand', () => paused('manual'), null, MINUTE, { deleted: true }, 'rollback', /no longer exists/],
      [
        'dataset deleted while a kill switch is pressed',
        () => paused('kill-switch'),
        null,
        MINUTE,
        { pressed: true, deleted: true },
        'rollback',
        /no longer exists/,
      ],
      [
        'dataset deleted after the canary ended',
        () => transition(start(), plan, { type: 'abort' }, { now: 0, reason: 'x' }),
        null,
        MINUTE,
        { deleted: true },
        'none',
        /has ended \(aborted\)/,
      ],
    ];

  it.each(rows)('%s', (_name, make, tickEvidence, now, options, kind, reason) => {
    const state = make();
    const decided = decideTick({
      plan,
      state,
      evidence: tickEvidence,
      now,
      pressedSwitches: options.pressed === true ? [{ key: 'payments_off', by: 'ana', reason: 'provider down' }] : [],
      ...(options.deleted === true ? { datasetDeleted: true } : {}),
    });
    expect(decided.kind).toBe(kind);
    expect(decided.reason).toMatch(reason);
    expect(decided.evidence).toBe(tickEvidence);
    // Every decision applies cleanly to the state it was made for.
    const next = applyDecision(state, plan, decided);
    if (kind === 'rollback') expect(next).toMatchObject({ status: 'rolled-back', percent: 0 });
    if (kind === 'pause') expect(next.status).toBe('paused');
    if (kind === 'none' || kind === 'wait' || kind === 'hold') expect(next).toBe(state);
  });

  it('records the pause cause a decision gives', () => {
    const decided = decideTick({ plan, state: start(), evidence: evidence(['pass', 'pass'], { sample: false }), now: 61 * MINUTE });
    expect(applyDecision(start(), plan, decided).pause).toMatchObject({ cause: 'no-traffic', from: 'running' });
  });
});
