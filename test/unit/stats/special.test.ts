import { describe, expect, it } from 'vitest';
import {
  chiSquareSf,
  logGamma,
  normalCdf,
  normalQuantile,
  normalSf,
  regularizedBeta,
  studentTCdf,
  studentTQuantile,
} from '../../../src/stats/index.js';
import { expectPublished, expectSignificant } from './helpers.js';

describe('special functions', () => {
  it('normal CDF and tail match Abramowitz & Stegun, table 26.1 (15 decimals)', () => {
    // A&S 26.1: P(1.0) = 0.841344746068543, P(2.0) = 0.977249868051821, P(3.0) = 0.998650101968370
    expectPublished(normalCdf(1), 0.841344746068543, 15);
    expectPublished(normalCdf(2), 0.977249868051821, 15);
    expectPublished(normalCdf(3), 0.99865010196837, 14);
    expectPublished(normalCdf(-2), 1 - 0.977249868051821, 15);
    // far tail: Q(10) = 7.6198530241605e-24 (A&S 26.2.12 asymptotic; also R pnorm(10, lower=FALSE))
    expectSignificant(normalSf(10), 7.6198530241605e-24, 10);
  });

  it('normal quantile (AS241) matches published percentage points and inverts the CDF', () => {
    // A&S 26.2 / Wichura (1988): x such that Q(x) = 0.025 is 1.959963984540054; Q(x) = 1e-10 at 6.361340902404056
    expectSignificant(normalQuantile(0.975), 1.959963984540054, 14);
    expectSignificant(normalQuantile(1e-10), -6.361340902404056, 14);
    for (const p of [1e-300, 1e-20, 1e-5, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-12]) {
      const roundTrip = p < 0.5 ? normalCdf(normalQuantile(p)) : normalSf(normalQuantile(p));
      expect(Math.abs(roundTrip / (p < 0.5 ? p : 1 - p) - 1)).toBeLessThan(1e-10);
    }
    expect(normalQuantile(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(normalQuantile(1)).toBe(Number.POSITIVE_INFINITY);
  });

  it('Student t matches published critical values', () => {
    // t tables (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2): t(0.975, 10) = 2.228, t(0.975, 1) = 12.706,
    // t(0.995, 30) = 2.750; scipy t.ppf(0.975, 10) = 2.2281388519649385
    expectPublished(studentTQuantile(0.975, 10), 2.228, 3);
    expectSignificant(studentTQuantile(0.975, 10), 2.2281388519649385, 10);
    expectPublished(studentTQuantile(0.975, 1), 12.706, 3);
    expectPublished(studentTQuantile(0.995, 30), 2.75, 3);
    expectPublished(studentTCdf(2.228, 10), 0.975, 4);
    expect(studentTQuantile(0.025, 7.5)).toBeCloseTo(-studentTQuantile(0.975, 7.5), 12);
    expect(studentTCdf(studentTQuantile(0.9, 3.7), 3.7)).toBeCloseTo(0.9, 12);
  });

  it('Student t stays accurate for very large degrees of freedom (Welch on millions of events)', () => {
    // F_ν(t) → Φ(t) with the first correction φ(t)(t³ + t)/(4ν) (A&S 26.7.5)
    for (const df of [1e6, 1e9, 1e12]) {
      const expected = normalSf(1.96) + ((Math.exp(-0.5 * 1.96 ** 2) / Math.sqrt(2 * Math.PI)) * (1.96 ** 3 + 1.96)) / (4 * df);
      expect(Math.abs(studentTCdf(-1.96, df) / expected - 1)).toBeLessThan(1e-9);
    }
    expect(Math.abs(studentTCdf(-1.96, 999_999) / studentTCdf(-1.96, 1e6) - 1)).toBeLessThan(1e-8);
    expect(studentTQuantile(0.975, 1e12)).toBeCloseTo(1.959963984540054, 10);
  });

  it('chi-square tail matches published critical values', () => {
    // NIST/SEMATECH chi-square table: upper 5% points 3.841 (df 1), 11.070 (df 5), 18.307 (df 10)
    expectPublished(chiSquareSf(3.841458820694124, 1), 0.05, 12);
    expectPublished(chiSquareSf(11.070497693516351, 5), 0.05, 12);
    expectPublished(chiSquareSf(18.307038053275146, 10), 0.05, 12);
  });

  it('log-gamma and the incomplete beta agree with closed forms', () => {
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    // I_x(1, b) = 1 − (1 − x)^b and I_x(a, 1) = x^a
    expect(regularizedBeta(0.3, 1, 4)).toBeCloseTo(1 - 0.7 ** 4, 13);
    expect(regularizedBeta(0.3, 3, 1)).toBeCloseTo(0.3 ** 3, 13);
  });
});
