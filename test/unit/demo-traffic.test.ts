import { describe, expect, it } from 'vitest';
import { createTrafficGenerator, lognormalSigma, type TrafficProfile } from '../../src/demo/traffic.js';

const START = Date.UTC(2026, 0, 1);

const profile: TrafficProfile = {
  flag: 'checkout.new-flow',
  ratePerSecond: 200,
  baseline: { errorRate: 0.005, medianMs: 120, p95Ms: 300 },
  variants: { on: { errorRate: 0.025, p95Ms: 390 } },
};

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** `k` standard errors of a share `p` estimated from `n` draws. */
function binomialBound(p: number, n: number, k = 4): number {
  return k * Math.sqrt((p * (1 - p)) / n);
}

describe('traffic generator', () => {
  it('is deterministic for a seed, and slices compose into the same arrivals', () => {
    const a = createTrafficGenerator(profile, { seed: 7, startMs: START });
    const b = createTrafficGenerator(profile, { seed: 7, startMs: START });
    const whole = a.arrivals(START + 20_000);
    const sliced = [...b.arrivals(START + 5_000), ...b.arrivals(START + 12_345), ...b.arrivals(START + 20_000)];
    expect(sliced).toEqual(whole);
    expect(b.cursor).toBe(START + 20_000);
    expect(whole.map((x) => a.outcome(x, 'on'))).toEqual(sliced.map((x) => b.outcome(x, 'on')));
    expect(whole.every((x, i) => x.seq === i && x.time >= START && x.time < START + 20_000)).toBe(true);
    expect(whole.every((x, i) => i === 0 || x.time >= (whole[i - 1] as { time: number }).time)).toBe(true);

    const other = createTrafficGenerator(profile, { seed: 8, startMs: START }).arrivals(START + 20_000);
    expect(other.map((x) => x.time)).not.toEqual(whole.map((x) => x.time));
  });

  it('gives users stable ids and attributes, and events the outcome and context columns', () => {
    const g = createTrafficGenerator({ ...profile, users: 50, userPrefix: 'shopper', service: 'cart' }, { seed: 1, startMs: START });
    expect(g.users).toHaveLength(50);
    const again = createTrafficGenerator(profile, { seed: 1, startMs: START }).users[3]!;
    expect(g.users[3]).toEqual({ ...again, id: 'shopper-3' });
    expect(again.id).toBe('user-3');
    const [first] = g.arrivals(START + 1000);
    const event = g.outcome(first!, 'off')!;
    expect(event).toMatchObject({
      'service.name': 'cart',
      'flag.checkout.new-flow': 'off',
      'user.id': first!.user.id,
      'user.country': first!.user.country,
      'user.plan': first!.user.plan,
      browser: first!.user.browser,
      endpoint: first!.endpoint,
      'http.method': first!.method,
    });
    expect(typeof event.status_code).toBe('number');
    expect(typeof event.duration_ms).toBe('number');
    expect(event.error).toBe((event.status_code as number) >= 500);
    expect('meta.incomplete' in event).toBe(false);
    const noError = createTrafficGenerator({ ...profile, errorColumn: false }, { seed: 1, startMs: START });
    expect('error' in noError.outcome(noError.arrivals(START + 1000)[0]!, 'on')!).toBe(false);
  });

  it('arrives at the set rate', () => {
    const g = createTrafficGenerator(profile, { seed: 3, startMs: START });
    const n = g.arrivals(START + 100_000).length;
    // Poisson with mean 20,000: four standard deviations either side.
    expect(Math.abs(n - 20_000)).toBeLessThan(4 * Math.sqrt(20_000));
  });

  it('gives each variant the error rate and latency of the profile, within sampling error over 20k events', () => {
    const g = createTrafficGenerator(profile, { seed: 11, startMs: START });
    const arrivals = g.arrivals(START + 100_000);
    expect(arrivals.length).toBeGreaterThan(19_000);
    for (const [variant, errorRate, p95] of [
      ['off', 0.005, 300],
      ['on', 0.025, 390],
    ] as const) {
      const events = arrivals.map((a) => g.outcome(a, variant)!);
      const errors = events.filter((e) => (e.status_code as number) >= 500).length / events.length;
      expect(Math.abs(errors - errorRate)).toBeLessThan(binomialBound(errorRate, events.length));
      expect(events.filter((e) => e.error === true).length / events.length).toBe(errors);
      const durations = events.map((e) => e.duration_ms as number);
      // The sample median and P95 of 20k lognormal draws are within ~1% (one standard error) of the truth.
      expect(quantile(durations, 0.5) / 120).toBeCloseTo(1, 1);
      expect(Math.abs(quantile(durations, 0.95) / p95 - 1)).toBeLessThan(0.05);
    }
    // A tail-only regression: same median, P95 +30%.
    const on = arrivals.map((a) => g.outcome(a, 'on')!.duration_ms as number);
    const off = arrivals.map((a) => g.outcome(a, 'off')!.duration_ms as number);
    expect(Math.abs(quantile(on, 0.5) / quantile(off, 0.5) - 1)).toBeLessThan(0.01);
    expect(Math.abs(quantile(on, 0.95) / quantile(off, 0.95) - 1.3)).toBeLessThan(0.03);
    expect(g.cohort('on')).toEqual({ errorRate: 0.025, medianMs: 120, p95Ms: 390 });
    expect(g.cohort('anything')).toEqual(profile.baseline);
  });

  it('draws the same numbers for every variant: a variant without differences has the baseline outcome', () => {
    const g = createTrafficGenerator({ ...profile, variants: { same: {} } }, { seed: 5, startMs: START });
    for (const a of g.arrivals(START + 5_000)) {
      const { 'flag.checkout.new-flow': _a, ...base } = g.outcome(a, 'off')!;
      const { 'flag.checkout.new-flow': _b, ...same } = g.outcome(a, 'same')!;
      expect(same).toEqual(base);
    }
  });

  it('drops the under-reported share of a cohort: whole users by default, single events when asked', () => {
    const share = 0.3;
    const byUser = createTrafficGenerator({ ...profile, variants: { on: { underReport: share } } }, { seed: 21, startMs: START });
    const arrivals = byUser.arrivals(START + 100_000);
    const lostUsers = new Set<string>();
    const keptUsers = new Set<string>();
    let lost = 0;
    for (const a of arrivals) {
      if (byUser.outcome(a, 'on') === undefined) {
        lost++;
        lostUsers.add(a.user.id);
      } else keptUsers.add(a.user.id);
      expect(byUser.outcome(a, 'off')).toBeDefined();
    }
    // A lost user is lost entirely; the share of users is binomial over 2,000 users.
    expect([...lostUsers].some((u) => keptUsers.has(u))).toBe(false);
    expect(Math.abs(lostUsers.size / 2000 - share)).toBeLessThan(binomialBound(share, 2000));
    expect(Math.abs(lost / arrivals.length - share)).toBeLessThan(0.05);

    const byEvent = createTrafficGenerator(
      { ...profile, underReportBy: 'event', variants: { on: { underReport: share } } },
      { seed: 21, startMs: START },
    );
    const events = byEvent.arrivals(START + 100_000);
    const dropped = events.filter((a) => byEvent.outcome(a, 'on') === undefined).length;
    expect(Math.abs(dropped / events.length - share)).toBeLessThan(binomialBound(share, events.length));
  });

  it('marks incomplete executions when a cohort has an incomplete rate', () => {
    const g = createTrafficGenerator(
      { ...profile, baseline: { ...profile.baseline, incompleteRate: 0.01 }, variants: { on: { incompleteRate: 0.05 } } },
      { seed: 2, startMs: START },
    );
    const arrivals = g.arrivals(START + 100_000);
    for (const [variant, rate] of [
      ['off', 0.01],
      ['on', 0.05],
    ] as const) {
      const events = arrivals.map((a) => g.outcome(a, variant)!);
      const incomplete = events.filter((e) => e['meta.incomplete'] === true);
      expect(Math.abs(incomplete.length / events.length - rate)).toBeLessThan(binomialBound(rate, events.length));
      expect(incomplete.every((e) => !('status_code' in e) && !('duration_ms' in e))).toBe(true);
      expect(events.every((e) => typeof e['meta.incomplete'] === 'boolean')).toBe(true);
    }
  });

  it('refuses an impossible profile with a clear error', () => {
    const bad: Array<[Partial<TrafficProfile>, RegExp]> = [
      [{ ratePerSecond: 0 }, /rate must be a positive number/],
      [{ users: 0 }, /users must be a positive integer/],
      [{ flag: '' }, /needs a flag key/],
      [{ variants: { on: { errorRate: 1.5 } } }, /variant on: errorRate must be a share/],
      [{ variants: { on: { p95Ms: 100 } } }, /variant on: p95Ms must be above medianMs \(120\)/],
      [{ baseline: { errorRate: 0, medianMs: -1, p95Ms: 10 } }, /baseline: medianMs must be positive/],
      [{ variants: { on: { underReport: 1 } } }, /underReport must be a share in \[0, 0.999\]/],
    ];
    for (const [change, message] of bad) {
      expect(() => createTrafficGenerator({ ...profile, ...change }, { seed: 1, startMs: START }), String(message)).toThrow(message);
    }
    expect(lognormalSigma(100, 100 * Math.exp(1.6448536269514722))).toBeCloseTo(1, 10);
  });
});
