import { describe, expect, it } from 'vitest';
import { adjustPValues, normalSf } from '../../../src/stats/index.js';
import { expectSignificant, seededRandom } from './helpers.js';

// scipy.stats.false_discovery_control docstring (scipy >= 1.11), p-values of Neuhaus et al. via
// Benjamini & Hochberg (1995):
const neuhaus = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.324, 0.4262, 0.5719, 0.6528, 0.759, 1.0];
const neuhausBh = [
  0.0015, 0.003, 0.0095, 0.035625, 0.0603, 0.06385714, 0.06385714, 0.0645, 0.0765, 0.486, 0.58118182, 0.714875, 0.75323077, 0.81321429, 1.0,
];

// statsmodels/stats/tests/test_multi.py, res_multtest1 (values from R package multtest, mt.rawp2adjp),
// columns rawp, Holm (index 2) and BH (index 6), sorted by raw p.
const multtestRaw = [
  5.23656777208e-5, 2.8140506198e-4, 1.49877310796e-2, 2.02732688798e-2, 1.77096952723e-1, 6.42193923795e-1, 6.80845947633e-1,
  7.1626938238e-1, 8.38541367553e-1, 9.67833824309e-1,
];
const multtestHolm = [5.2365677720800005e-4, 2.5326455578199999e-3, 1.1990184863680001e-1, 1.4191288215860001e-1, 1, 1, 1, 1, 1, 1];
const multtestBh = [
  5.2365677720800005e-4, 1.4070253098999999e-3, 4.995910359866667e-2, 5.0683172199499998e-2, 3.5419390544599999e-1, 8.9533672797500008e-1,
  8.9533672797500008e-1, 8.9533672797500008e-1, 9.3171263061444454e-1, 9.67833824309e-1,
];

// statsmodels test_multi.py res_multtest3 (R multtest): raw p 0.001…0.005, 0.05…0.09; Holm and BH columns.
const multtest3Raw = [0.001, 0.002, 0.003, 0.004, 0.005, 0.05, 0.06, 0.07, 0.08, 0.09];
const multtest3Holm = [0.01, 0.018, 0.024, 0.028, 0.03, 0.25, 0.25, 0.25, 0.25, 0.25];
const multtest3Bh = [0.01, 0.01, 0.01, 0.01, 0.01, 0.08333333333333334, 0.0857142857142857, 0.0875, 0.0888888888888889, 0.09];

describe('adjustPValues', () => {
  it("matches scipy's false_discovery_control (BH) on the Neuhaus example", () => {
    const adjusted = adjustPValues(neuhaus, 'bh');
    adjusted.forEach((q, i) => expectSignificant(q, neuhausBh[i]!, 6));
  });

  it('matches R multtest BH and Holm (statsmodels reference table 1)', () => {
    const bh = adjustPValues(multtestRaw, 'bh');
    const holm = adjustPValues(multtestRaw, 'holm');
    bh.forEach((q, i) => expectSignificant(q, multtestBh[i]!, 10));
    holm.forEach((q, i) => expectSignificant(q, multtestHolm[i]!, 10));
  });

  it('matches R multtest BH and Holm (statsmodels reference table 3)', () => {
    adjustPValues(multtest3Raw, 'bh').forEach((q, i) => expectSignificant(q, multtest3Bh[i]!, 10));
    adjustPValues(multtest3Raw, 'holm').forEach((q, i) => expectSignificant(q, multtest3Holm[i]!, 10));
  });

  it('returns adjusted values in input order', () => {
    const shuffledIndex = [7, 2, 9, 0, 5, 1, 8, 3, 6, 4];
    const shuffled = shuffledIndex.map((i) => multtestRaw[i]!);
    const bh = adjustPValues(shuffled, 'bh');
    const holm = adjustPValues(shuffled, 'holm');
    shuffledIndex.forEach((original, position) => {
      expect(bh[position]).toBeCloseTo(multtestBh[original]!, 12);
      expect(holm[position]).toBeCloseTo(multtestHolm[original]!, 12);
    });
  });

  it('is capped at 1, never below the raw p-value, and monotone in it', () => {
    const raw = [0.9, 0.01, 0.5, 0.04, 0.04, 0.2, 0.7];
    for (const method of ['bh', 'holm'] as const) {
      const adjusted = adjustPValues(raw, method);
      adjusted.forEach((q, i) => {
        expect(q).toBeLessThanOrEqual(1);
        expect(q).toBeGreaterThanOrEqual(raw[i]!);
        raw.forEach((other, j) => {
          if (raw[i]! <= other) expect(q).toBeLessThanOrEqual(adjusted[j]!);
        });
      });
    }
  });

  it('handles empty input and rejects values outside [0, 1]', () => {
    expect(adjustPValues([], 'bh')).toEqual([]);
    expect(() => adjustPValues([0.5, 1.2], 'bh')).toThrow(/between 0 and 1/);
    expect(() => adjustPValues([0.5], 'bonferroni' as 'bh')).toThrow(/unknown adjustment method/);
  });
});

describe('false discovery rate in simulation', () => {
  it('BH keeps the share of false discoveries at or below 5% over 20 metrics × cohorts, 16 of them null', () => {
    const random = seededRandom(31);
    const reports = 2000;
    let falseDiscoveryProportionSum = 0;
    let trueDiscoveries = 0;
    for (let report = 0; report < reports; report++) {
      const isNull = Array.from({ length: 20 }, (_, i) => i >= 4);
      // two-sided z-test p-values; the four real effects sit 3 standard errors out
      const p = isNull.map((nullHypothesis) => 2 * normalSf(Math.abs(random.normal() + (nullHypothesis ? 0 : 3))));
      const q = adjustPValues(p, 'bh');
      const rejected = q.map((value) => value < 0.05);
      const discoveries = rejected.filter(Boolean).length;
      const falseOnes = rejected.filter((r, i) => r && isNull[i]).length;
      if (discoveries > 0) falseDiscoveryProportionSum += falseOnes / discoveries;
      trueDiscoveries += rejected.filter((r, i) => r && !isNull[i]).length;
    }
    // BH guarantees FDR ≤ (m0/m)·alpha = 0.8·0.05 = 4% for independent p-values
    expect(falseDiscoveryProportionSum / reports).toBeLessThanOrEqual(0.04 + 0.01);
    expect(trueDiscoveries / (4 * reports)).toBeGreaterThan(0.5);
  });
});
