import { describe, expect, it } from 'vitest';
import { harmTest, mixtureBoundary, oneSidedMixtureLogE, srmConcentration, srmEvidence } from '../../../src/canary/index.js';
import { normalQuantile } from '../../../src/stats/index.js';
import { seededRandom } from '../stats/helpers.js';

/** ∫₀^∞ exp(λS − λ²V/2) · 2φ(λ/τ)/τ dλ by the trapezoid rule, in the Gaussian form S = z·√V. */
function mixtureByQuadrature(z: number, v: number): number {
  const tau = 1;
  const V = v; // information with τ = 1
  const S = z * Math.sqrt(V);
  const upper = Math.max(20, (S / V) * 4 + 20 / Math.sqrt(V + 1));
  const steps = 200_000;
  const h = upper / steps;
  let total = 0;
  for (let i = 0; i <= steps; i++) {
    const lambda = i * h;
    const f =
      Math.exp(lambda * S - (lambda * lambda * V) / 2) *
      ((2 / (tau * Math.sqrt(2 * Math.PI))) * Math.exp(-(lambda * lambda) / (2 * tau * tau)));
    total += (i === 0 || i === steps ? 0.5 : 1) * f;
  }
  return total * h;
}

describe('the one-sided normal mixture', () => {
  it.each([
    [0, 1],
    [1.5, 4],
    [3, 0.25],
    [-1, 10],
    [2.2, 100],
  ])('equals the half-normal mixture integral at z = %d, v = %d', (z, v) => {
    expect(Math.exp(oneSidedMixtureLogE(z, v)) / mixtureByQuadrature(z, v)).toBeCloseTo(1, 6);
  });

  it('has its boundary where the e-value reaches 1/alpha, above the fixed one-sided z', () => {
    for (const v of [0.01, 1, 100, 10_000]) {
      const c = mixtureBoundary(v, 0.05);
      expect(oneSidedMixtureLogE(c, v)).toBeCloseTo(Math.log(20), 8);
      expect(c).toBeGreaterThan(normalQuantile(0.95));
    }
    expect(mixtureBoundary(10_000, 0.05)).toBeGreaterThan(mixtureBoundary(100, 0.05));
  });
});

describe('harmTest', () => {
  it('finds harm exactly when the bound on the harmful side is beyond the tolerance', () => {
    for (const effect of [0.001, 0.004, 0.008, 0.012, 0.02]) {
      const lower = harmTest({ effect, se: 0.002, tolerance: 0.005, direction: 'lower-is-better', mixingScale: 0.005 });
      expect(lower.pValue < 0.05).toBe(lower.interval[0] > 0.005);
      const higher = harmTest({ effect: -effect, se: 0.002, tolerance: -0.005, direction: 'higher-is-better', mixingScale: 0.005 });
      expect(higher.pValue).toBeCloseTo(lower.pValue, 12);
      expect(higher.interval[1]).toBeCloseTo(-lower.interval[0], 12);
    }
  });

  it('says nothing about an undefined estimate', () => {
    for (const [effect, se] of [
      [Number.NaN, 0.1],
      [0.3, 0],
      [0.3, Number.NaN],
    ] as const) {
      const result = harmTest({ effect, se, tolerance: 0.1, direction: 'lower-is-better', mixingScale: 0.1 });
      expect(result.pValue).toBe(1);
      expect(result.interval).toEqual([Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]);
    }
  });

  it('refuses a mixing scale that is not positive', () => {
    expect(() => harmTest({ effect: 0, se: 1, tolerance: 0, direction: 'lower-is-better', mixingScale: 0 })).toThrow(/mixing scale/);
  });

  it('keeps its level when looked at after every observation: a random walk exactly at the tolerance', () => {
    // 1,000 streams of 400 normal observations whose mean is the tolerance (the hardest null), tested after each one.
    const random = seededRandom(20261205);
    let alarms = 0;
    let fixedAlarms = 0;
    const runs = 1000;
    for (let run = 0; run < runs; run++) {
      let sum = 0;
      let alarmed = false;
      let fixedAlarmed = false;
      for (let n = 1; n <= 400; n++) {
        sum += 0.1 + random.normal();
        const se = 1 / Math.sqrt(n);
        const result = harmTest({ effect: sum / n, se, tolerance: 0.1, direction: 'lower-is-better', mixingScale: 0.2 });
        if (result.pValue < 0.05) alarmed = true;
        if ((sum / n - 0.1) / se > normalQuantile(0.95)) fixedAlarmed = true;
      }
      if (alarmed) alarms++;
      if (fixedAlarmed) fixedAlarms++;
    }
    expect(alarms / runs).toBeLessThanOrEqual(0.05);
    expect(fixedAlarms / runs, 'a fixed-horizon z-test peeked at the same way').toBeGreaterThan(0.2);
  });
});

describe('srmEvidence', () => {
  it('is 1 (ln 0) before any unit arrives and grows with a mismatch', () => {
    expect(srmEvidence({ canary: 0, control: 0, expectedShare: 0.05 }).logE).toBe(0);
    const quiet = srmEvidence({ canary: 20, control: 1980, expectedShare: 0.05 });
    expect(quiet.observedShare).toBeCloseTo(0.01, 12);
    expect(quiet.logE).toBeGreaterThan(Math.log(1000));
    const fine = srmEvidence({ canary: 100, control: 1900, expectedShare: 0.05 });
    expect(fine.logE).toBeLessThan(0);
  });

  it('is the beta-binomial likelihood ratio: a single canary unit has e = E[θ]/p = 1', () => {
    for (const p of [0.01, 0.25, 0.5]) {
      expect(srmEvidence({ canary: 1, control: 0, expectedShare: p }).logE).toBeCloseTo(0, 9);
      expect(srmEvidence({ canary: 0, control: 1, expectedShare: p }).logE).toBeCloseTo(0, 9);
    }
    expect(srmConcentration(0.5)).toBeCloseTo(24, 9);
  });

  it('keeps its level when looked at after every batch of units under the configured split', () => {
    const random = seededRandom(7);
    const runs = 1000;
    let alarms = 0;
    for (let run = 0; run < runs; run++) {
      let canary = 0;
      let control = 0;
      for (let look = 0; look < 100; look++) {
        for (let i = 0; i < 50; i++) {
          if (random.uniform() < 0.05) canary++;
          else control++;
        }
        if (srmEvidence({ canary, control, expectedShare: 0.05 }).logE >= Math.log(20)) {
          alarms++;
          break;
        }
      }
    }
    expect(alarms / runs).toBeLessThanOrEqual(0.05);
  });

  it('refuses impossible inputs', () => {
    expect(() => srmEvidence({ canary: 1, control: 1, expectedShare: 1 })).toThrow(/expected share/);
    expect(() => srmEvidence({ canary: -1, control: 1, expectedShare: 0.5 })).toThrow(/canary units/);
  });
});
