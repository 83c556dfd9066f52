import { describe, expect, it } from 'vitest';
import { srmTest } from '../../../src/stats/index.js';
import { expectPublished, expectSignificant } from './helpers.js';

describe('srmTest', () => {
  it('matches scipy chisquare with uniform expected frequencies', () => {
    // scipy.stats.chisquare docstring: chisquare([16, 18, 16, 14, 12, 12]) ->
    // statistic=2.0, pvalue=0.84914503608460956
    const result = srmTest([16, 18, 16, 14, 12, 12], [1, 1, 1, 1, 1, 1]);
    expectSignificant(result.chiSquare, 2.0, 10);
    expect(result.df).toBe(5);
    expectSignificant(result.pValue, 0.84914503608460956, 10);
  });

  it('matches scipy chisquare with given expected frequencies', () => {
    // scipy.stats.chisquare docstring: chisquare([16, 18, 16, 14, 12, 12], f_exp=[16, 16, 16, 16, 16, 8])
    // -> statistic=3.5, pvalue=0.62338762774958223 (weights are normalised, so expected counts work as weights)
    const result = srmTest([16, 18, 16, 14, 12, 12], [16, 16, 16, 16, 16, 8]);
    expectSignificant(result.chiSquare, 3.5, 10);
    expectSignificant(result.pValue, 0.62338762774958223, 10);
  });

  it('matches scipy chisquare over twelve categories (axis=None example)', () => {
    // scipy.stats.chisquare docstring: chisquare(obs, axis=None) for obs = [[16,18,16,14,12,12],[32,24,16,28,20,24]].T
    // -> (23.31034482758621, 0.015975692534127565)
    const obs = [16, 32, 18, 24, 16, 16, 14, 28, 12, 20, 12, 24];
    const result = srmTest(
      obs,
      obs.map(() => 1),
    );
    expectSignificant(result.chiSquare, 23.31034482758621, 10);
    expect(result.df).toBe(11);
    expectSignificant(result.pValue, 0.015975692534127565, 8);
  });

  it("matches GrowthBook's check_srm test (gbstats tests/test_gbstats.py::test_srm)", () => {
    // check_srm([1000, 1200], [0.5, 0.5]) rounded to 9 decimals == 0.000020079 (5 significant digits published)
    expectPublished(srmTest([1000, 1200], [0.5, 0.5]).pValue, 0.000020079, 9);
  });

  it('accepts percentages as weights and skips arms with weight 0', () => {
    const withPercentages = srmTest([16, 18, 16, 14, 12, 12, 5], [10, 10, 10, 10, 10, 5, 0]);
    const withCounts = srmTest([16, 18, 16, 14, 12, 12], [16, 16, 16, 16, 16, 8]);
    expect(withPercentages.chiSquare).toBeCloseTo(withCounts.chiSquare, 12);
    expect(withPercentages.df).toBe(5);
    expect(withPercentages.pValue).toBeCloseTo(withCounts.pValue, 12);
  });

  it('detects a real mismatch: a 50/50 flag that sees 50,000 vs 48,500 units', () => {
    const result = srmTest([50_000, 48_500], [50, 50]);
    expect(result.pValue).toBeLessThan(1e-5);
  });

  it('returns p = 1 with fewer than two arms or no units', () => {
    expect(srmTest([100], [1]).pValue).toBe(1);
    expect(srmTest([100, 50], [1, 0]).pValue).toBe(1);
    expect(srmTest([0, 0, 0], [1, 1, 1])).toEqual({ chiSquare: 0, df: 2, pValue: 1 });
  });

  it('rejects mismatched lengths and negative counts', () => {
    expect(() => srmTest([1, 2], [1])).toThrow(/same length/);
    expect(() => srmTest([1, -2], [1, 1])).toThrow(/negative/);
  });
});
