import { describe, expect, it } from 'vitest';
import * as stats from '../../../src/stats/index.js';

describe('flagscope/stats entry point', () => {
  it('exports the functions named in the contract', () => {
    for (const name of ['srmTest', 'adjustPValues', 'mannWhitneyU', 'welchTTest', 'sequentialTest'] as const) {
      expect(typeof stats[name]).toBe('function');
    }
  });

  it('runs the example of its documentation', () => {
    const control = { n: 50_000, sum: 1_000, sumSquares: 1_000 };
    const canary = { n: 50_000, sum: 1_200, sumSquares: 1_200 };
    const result = stats.sequentialTest(control, canary, { relative: true });
    expect(result.effect).toBeCloseTo(0.2, 12);
    expect(result.pValue).toBeLessThan(0.05);
    const [q] = stats.adjustPValues([result.pValue], 'bh');
    expect(stats.verdict({ effect: result.effect, qValue: q!, direction: 'lower-is-better', sampleSize: 50_000 })).toBe('worse');
  });
});
