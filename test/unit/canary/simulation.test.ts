import { describe, expect, it } from 'vitest';
import { simulateCanary } from './simulate.js';

const healthy = { errorRate: 0.01, medianMs: 200 };

describe('canaries simulated tick by tick (seeded)', () => {
  it('rolls back at most 5% of 200 healthy canaries on the hardest null (tolerance 0), the controller looking at every tick', () => {
    // Both cohorts alike and guards that tolerate no difference at all: every tick is a chance for a false alarm,
    // and a fixed-horizon test looked at 60 times would raise one in about a third of these canaries.
    let rolledBack = 0;
    const reasons: string[] = [];
    for (let seed = 1; seed <= 200; seed++) {
      const result = simulateCanary({
        seed,
        eventsPerTick: 200,
        control: healthy,
        canary: healthy,
        plan: { steps: [10, 25, 50, 100], maxWait: '60s', guards: ['RATE(error = true) <= +0pp', 'P95(duration_ms) <= +0%'] },
      });
      expect(result.ticks).toBeGreaterThanOrEqual(result.state.status === 'rolled-back' ? 1 : 60);
      if (result.state.status === 'rolled-back') {
        rolledBack++;
        reasons.push(result.decisions.at(-1)!.reason);
      }
    }
    expect(rolledBack / 200, reasons.join('\n')).toBeLessThanOrEqual(0.05);
  });

  it('ramps healthy canaries with the default tolerances to 100%, never rolling one back', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const result = simulateCanary({ seed, eventsPerTick: 1000, control: healthy, canary: healthy, plan: { steps: [10, 25, 50, 100] } });
      expect(result.state.status, result.decisions.at(-1)!.reason).toBe('completed');
      expect(result.state.percent).toBe(100);
      expect(result.decisions.filter((d) => d.kind === 'advance').length).toBe(2);
    }
  });

  it('rolls back an error-rate regression (1% → 3%) at the first step, before anyone else gets it', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const result = simulateCanary({ seed, eventsPerTick: 1000, control: healthy, canary: { ...healthy, errorRate: 0.03 } });
      expect(result.state.status).toBe('rolled-back');
      expect(result.state.stepIndex).toBe(0);
      expect(result.state.percent).toBe(0);
      expect(result.decisions.at(-1)!.reason).toMatch(/^rolled back to 0%: RATE\(error = true\) <= \+0\.5pp: canary \d/);
    }
  });

  it('rolls back a P95-only regression (latency +40%)', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = simulateCanary({ seed, eventsPerTick: 1000, control: healthy, canary: { ...healthy, medianMs: 280 } });
      expect(result.state.status).toBe('rolled-back');
      expect(result.decisions.at(-1)!.reason).toMatch(/^rolled back to 0%: P95\(duration_ms\) <= \+10%: canary/);
    }
  });

  it('rolls back a canary cohort that goes quiet (a third of its events lost): a sample ratio mismatch', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = simulateCanary({ seed, eventsPerTick: 1000, control: healthy, canary: { ...healthy, lost: 0.33 } });
      expect(result.state.status).toBe('rolled-back');
      expect(result.decisions.at(-1)!.reason).toMatch(/sample ratio mismatch: the canary cohort has 0\.\d+% of the events/);
    }
  });

  it('pauses as inconclusive when too little traffic arrives before max wait, never ramping on silence', () => {
    const result = simulateCanary({
      seed: 9,
      eventsPerTick: 5,
      control: healthy,
      canary: healthy,
      plan: { interval: '10s', maxWait: '60s', minSample: 200 },
    });
    expect(result.state.status).toBe('paused');
    expect(result.state.pause?.cause).toBe('no-traffic');
    expect(result.state.percent).toBe(1);
    expect(result.ticks).toBe(60);
    expect(result.decisions.at(-1)!.reason).toMatch(/inconclusive after waiting 60s .*units at 1%, 200 needed in each/);
  });
});
