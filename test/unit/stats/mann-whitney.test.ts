import { describe, expect, it } from 'vitest';
import { mannWhitneyExactDistribution, mannWhitneyU } from '../../../src/stats/index.js';
import { expectPublished, expectSignificant } from './helpers.js';

// scipy.stats.mannwhitneyu docstring (scipy/stats/_mannwhitneyu.py), after Shier (2004):
const males = [19, 22, 16, 29, 24];
const females = [20, 11, 17, 12];

// scipy/stats/tests/test_mannwhitneyu.py, TestMannWhitneyU "test against R" (gh-4933), values from R's wilcox.test:
const rX = [210.05211, 110.19063, 307.918612];
const rY = [
  436.08811482466416, 416.37397329768191, 179.96975939463582, 197.8118754228619, 34.038757281225756, 138.54220550921517, 128.7769351470246,
  265.92721427951852, 275.6617533155341, 592.34083395416258, 448.73177590617018, 300.61495185038905, 187.97508449019588,
];

describe('mannWhitneyU', () => {
  it('matches the scipy docstring example, exact', () => {
    // mannwhitneyu(males, females, method="exact") -> U1 = 17.0, p = 0.1111111111111111
    const result = mannWhitneyU(males, females, { method: 'exact' });
    expect(result.u).toBe(17);
    expectSignificant(result.pValue, 0.1111111111111111, 12);
  });

  it("uses the exact method under 'auto' for small samples without ties, as scipy", () => {
    expectSignificant(mannWhitneyU(males, females).pValue, 0.1111111111111111, 12);
  });

  it('matches the scipy docstring example, asymptotic with and without continuity correction', () => {
    // method="asymptotic" -> 0.11134688653314041; use_continuity=False -> 0.0864107329737
    expectSignificant(mannWhitneyU(males, females, { method: 'asymptotic' }).pValue, 0.11134688653314041, 12);
    expectSignificant(mannWhitneyU(males, females, { method: 'asymptotic', continuity: false }).pValue, 0.0864107329737, 12);
  });

  it('matches the scipy docstring one-sided example', () => {
    // mannwhitneyu(females, males, alternative="less", method="exact") -> statistic=3.0, pvalue=0.05555555555555555
    const result = mannWhitneyU(females, males, { alternative: 'less', method: 'exact' });
    expect(result.u).toBe(3);
    expectSignificant(result.pValue, 0.05555555555555555, 12);
  });

  it.each([
    ['two-sided', 'asymptotic', 0.6865041817876],
    ['less', 'asymptotic', 0.3432520908938],
    ['greater', 'asymptotic', 0.7047591913255],
    ['two-sided', 'exact', 0.7035714285714],
    ['less', 'exact', 0.3517857142857],
    ['greater', 'exact', 0.6946428571429],
  ] as const)('matches R wilcox.test (scipy test_basic): %s, %s', (alternative, method, expected) => {
    const result = mannWhitneyU(rX, rY, { alternative, method });
    expect(result.u).toBe(16);
    expectPublished(result.pValue, expected, 13);
  });

  it.each([
    ['two-sided', true, 0.6865041817876],
    ['less', true, 0.7047591913255],
    ['greater', true, 0.3432520908938],
    ['two-sided', false, 0.6377328900502],
    ['less', false, 0.6811335549749],
    ['greater', false, 0.3188664450251],
  ] as const)(
    'applies the continuity correction in the right direction (scipy test_continuity): %s, %s',
    (alternative, continuity, expected) => {
      const result = mannWhitneyU(rY, rX, { alternative, continuity, method: 'asymptotic' });
      expect(result.u).toBe(23);
      expectPublished(result.pValue, expected, 13);
    },
  );

  it('corrects the variance for ties as R does (scipy test_tie_correct)', () => {
    // x = 1..4, y = 1..5 shifted so that 0..5 values tie; R: wilcox.test(x, y, exact = FALSE)
    const x = [1, 2, 3, 4];
    const y0 = [1, 2, 3, 4, 5];
    const dy = [0, 1, 0, 1, 0].map((v) => v * 0.01);
    const dy2 = [0, 0, 1, 0, 0].map((v) => v * 0.01);
    const ys = [
      y0.map((v) => v - 0.01),
      y0.map((v, i) => v - dy[i]!),
      y0.map((v, i) => v - dy2[i]!),
      y0,
      y0.map((v, i) => v + dy2[i]!),
      y0.map((v, i) => v + dy[i]!),
      y0.map((v) => v + 0.01),
    ];
    const expectedU = [10, 9, 8.5, 8, 7.5, 7, 6];
    const expectedP = [1, 0.9017048037317, 0.804080657472, 0.7086240584439, 0.6197963884941, 0.5368784563079, 0.3912672792826];
    ys.forEach((y, i) => {
      const result = mannWhitneyU(x, y, { method: 'asymptotic' });
      expect(result.u).toBe(expectedU[i]);
      expectSignificant(result.pValue, expectedP[i]!, 10);
    });
  });

  it("switches 'auto' to the tie-corrected normal approximation when there are ties, as scipy", () => {
    const x = [1, 2, 3, 4];
    const y = [1, 2, 3, 4, 5];
    expect(mannWhitneyU(x, y).pValue).toBe(mannWhitneyU(x, y, { method: 'asymptotic' }).pValue);
  });

  it('matches R wilcox.test on gh-9184 data (scipy test_gh_9184)', () => {
    const x = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
    const y = [1.15, 0.88, 0.9, 0.74, 1.21];
    const cases = [
      [true, 'less', 'asymptotic', 0.900775348204],
      [true, 'greater', 'asymptotic', 0.1223118025635],
      [true, 'two-sided', 'asymptotic', 0.244623605127],
      [false, 'less', 'asymptotic', 0.8896643190401],
      [false, 'greater', 'asymptotic', 0.1103356809599],
      [false, 'two-sided', 'asymptotic', 0.2206713619198],
      [true, 'less', 'exact', 0.8967698967699],
      [true, 'greater', 'exact', 0.1272061272061],
      [true, 'two-sided', 'exact', 0.2544122544123],
    ] as const;
    for (const [continuity, alternative, method, expected] of cases) {
      expectSignificant(mannWhitneyU(x, y, { continuity, alternative, method }).pValue, expected, 10);
    }
  });

  it("matches Mann & Whitney's (1947) table of the exact CDF (as tabulated in scipy's tests)", () => {
    // pg. 52 of Mann & Whitney: P(U <= u) for n = 4, m = 3 and n = 6, m = 5, printed with 3 decimals and
    // sometimes truncated rather than rounded (0.0286 is printed 0.028), so, as scipy does, within 1e-3
    const n4m3 = [0.028, 0.057, 0.114, 0.2, 0.314, 0.429, 0.571];
    const n6m5 = [0.002, 0.004, 0.009, 0.015, 0.026, 0.041, 0.063, 0.089, 0.123, 0.165, 0.214, 0.268, 0.331, 0.396, 0.465, 0.535];
    for (const [m, n, table] of [
      [3, 4, n4m3],
      [5, 6, n6m5],
    ] as const) {
      const pmf = mannWhitneyExactDistribution(m, n);
      let cdf = 0;
      table.forEach((expected, u) => {
        cdf += pmf[u]!;
        expect(Math.abs(cdf - expected)).toBeLessThanOrEqual(1e-3);
      });
      expect(pmf.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
  });

  it('agrees with an independent probability recursion and is symmetric', () => {
    // P_{i,j}(k) = i/(i+j)·P_{i−1,j}(k−j) + j/(i+j)·P_{i,j−1}(k): the largest value is from x with probability i/(i+j)
    const recursion = (m: number, n: number): Float64Array => {
      let previous = Array.from({ length: m + 1 }, () => Float64Array.of(1));
      for (let j = 1; j <= n; j++) {
        const current = [Float64Array.of(1)];
        for (let i = 1; i <= m; i++) {
          const next = new Float64Array(i * j + 1);
          previous[i]!.forEach((p, k) => (next[k] = (j / (i + j)) * p));
          current[i - 1]!.forEach((p, k) => (next[k + j] = next[k + j]! + (i / (i + j)) * p));
          current.push(next);
        }
        previous = current;
      }
      return previous[m]!;
    };
    const exact = mannWhitneyExactDistribution(20, 30);
    const reference = recursion(20, 30);
    exact.forEach((p, k) => {
      expect(Math.abs(p - reference[k]!)).toBeLessThan(1e-15);
      expect(Math.abs(p - exact[exact.length - 1 - k]!)).toBeLessThan(1e-15);
    });
    expect(mannWhitneyExactDistribution(30, 20)).toEqual(exact);
  });

  it('exact and asymptotic p-values agree for 40 + 40 values (scipy test_asymptotic_behavior)', () => {
    const x = Array.from({ length: 40 }, (_, i) => Math.sin(i + 1) * 10);
    const y = Array.from({ length: 40 }, (_, i) => Math.cos(1.3 * i) * 10 + 1);
    const exact = mannWhitneyU(x, y, { method: 'exact' });
    const asymptotic = mannWhitneyU(x, y, { method: 'asymptotic' });
    expect(exact.u).toBe(asymptotic.u);
    expect(Math.abs(exact.pValue - asymptotic.pValue)).toBeLessThan(5e-3);
  });

  it('returns p = 1 at U = mn/2 with the exact method and when all values tie', () => {
    expect(mannWhitneyU([1, 2, 3], [1.5, 2.5], { method: 'exact' })).toEqual({ u: 3, pValue: 1 });
    expect(mannWhitneyU([1], [1], { method: 'asymptotic' })).toEqual({ u: 0.5, pValue: 1 });
  });

  it('rejects empty samples and NaN', () => {
    expect(() => mannWhitneyU([], [1])).toThrow(/non-empty/);
    expect(() => mannWhitneyU([Number.NaN], [1])).toThrow(/NaN/);
  });
});
