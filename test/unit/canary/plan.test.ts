import { describe, expect, it } from 'vitest';
import { checkPlanAgainstFlag, parseCanaryPlan } from '../../../src/canary/index.js';
import { FlagscopeError } from '../../../src/errors.js';

function rejection(body: unknown): FlagscopeError {
  try {
    parseCanaryPlan(body);
  } catch (error) {
    expect(error).toBeInstanceOf(FlagscopeError);
    return error as FlagscopeError;
  }
  throw new Error(`expected ${JSON.stringify(body)} to be refused`);
}

describe('parseCanaryPlan', () => {
  it('fills in the documented defaults', () => {
    const plan = parseCanaryPlan({ flag: 'checkout_v2', dataset: 'checkout' });
    expect(plan).toEqual({
      flag: 'checkout_v2',
      variant: 'on',
      dataset: 'checkout',
      column: 'flag.checkout_v2',
      steps: [1, 5, 25, 50, 100],
      intervalMs: 600_000,
      approveAt: [],
      minSample: 1000,
      maxWaitMs: 3_600_000,
      guards: [],
      alpha: 0.05,
    });
  });

  it('takes steps as text or numbers, fractions included, and durations as text or seconds', () => {
    const plan = parseCanaryPlan({
      flag: 'f',
      dataset: 'd',
      steps: '0.5, 5,50,100',
      interval: '30m',
      maxWait: 7200,
      approveAt: [50],
      minSample: 200,
      variant: 'new',
      baseline: 'old',
      unit: null,
      guards: ['RATE(status_code >= 500) <= +0.5pp', { metric: 'P95(duration_ms)', tolerance: '+10%', action: 'pause' }],
    });
    expect(plan.steps).toEqual([0.5, 5, 50, 100]);
    expect(plan.intervalMs).toBe(1_800_000);
    expect(plan.maxWaitMs).toBe(7_200_000);
    expect(plan.approveAt).toEqual([50]);
    expect(plan.baseline).toBe('old');
    expect(plan.unit).toBeNull();
    expect(plan.guards.map((g) => g.text)).toEqual(['RATE(status_code >= 500) <= +0.5pp', 'P95(duration_ms) <= +10% then pause']);
  });

  it('defaults max wait to max(1h, 3 × interval)', () => {
    expect(parseCanaryPlan({ flag: 'f', dataset: 'd', interval: '1s' }).maxWaitMs).toBe(3_600_000);
    expect(parseCanaryPlan({ flag: 'f', dataset: 'd', interval: '30m' }).maxWaitMs).toBe(5_400_000);
  });

  it.each([
    [null, /must be a JSON object/],
    [{ dataset: 'd' }, /"flag" is required/],
    [{ flag: 'f' }, /"dataset" is required/],
    [{ flag: 'f', dataset: 'd', colour: 'red' }, /unknown field "colour"/],
    [{ flag: 'f', dataset: 'd', steps: [5, 1, 100] }, /steps must ascend/],
    [{ flag: 'f', dataset: 'd', steps: [1, 5, 50] }, /last step must be 100/],
    [{ flag: 'f', dataset: 'd', steps: [100] }, /at least one step below 100/],
    [{ flag: 'f', dataset: 'd', steps: [0, 100] }, /percentage above 0/],
    [{ flag: 'f', dataset: 'd', steps: [1, 101] }, /at most 100/],
    [{ flag: 'f', dataset: 'd', steps: [0.0001, 100] }, /more than three decimals/],
    [{ flag: 'f', dataset: 'd', interval: '0s' }, /interval/],
    [{ flag: 'f', dataset: 'd', interval: 'soon' }, /interval/],
    [{ flag: 'f', dataset: 'd', interval: '10m', maxWait: '5m' }, /shorter than the interval/],
    [{ flag: 'f', dataset: 'd', approveAt: [100] }, /approveAt cannot be 100/],
    [{ flag: 'f', dataset: 'd', approveAt: [30] }, /not one of the steps/],
    [{ flag: 'f', dataset: 'd', minSample: 0 }, /minSample/],
    [{ flag: 'f', dataset: 'd', minSample: 2.5 }, /minSample/],
    [{ flag: 'f', dataset: 'd', alpha: 0.5 }, /alpha/],
    [{ flag: 'f', dataset: 'd', variant: 'on', baseline: 'on' }, /both "on"/],
    [{ flag: 'f', dataset: 'd', guards: 'P95(duration_ms) <= +10%' }, /"guards" must be a list/],
    [{ flag: 'f', dataset: 'd', guards: ['P95(duration_ms) <= +10%', 'P95(duration_ms) <= +20%'] }, /guarded twice/],
    [{ flag: 'bad key!', dataset: 'd' }, /not a valid name/],
  ])('refuses %j with a clear error', (body, message) => {
    const error = rejection(body);
    expect(error.code).toBe('invalid_input');
    expect(error.message).toMatch(message);
    expect(error.hint, 'every refusal says what to do').toBeTruthy();
  });
});

describe('checkPlanAgainstFlag', () => {
  const plan = parseCanaryPlan({ flag: 'checkout_v2', dataset: 'checkout' });
  const flag = { key: 'checkout_v2', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' };

  it("takes the flag's default variant as the baseline", () => {
    expect(checkPlanAgainstFlag(plan, flag).baseline).toBe('off');
  });

  it('refuses a flag that is not a release flag, and variants the flag lacks', () => {
    expect(() => checkPlanAgainstFlag(plan, { ...flag, kind: 'kill-switch' })).toThrow(/not a release flag/);
    expect(() => checkPlanAgainstFlag({ ...plan, variant: 'v2' }, flag)).toThrow(/no variant "v2"/);
    expect(() => checkPlanAgainstFlag(plan, { ...flag, defaultVariant: 'on' })).toThrow(/no control/);
  });
});
