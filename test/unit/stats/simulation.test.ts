import { describe, expect, it } from 'vitest';
import { type Summary, sequentialTest, welchTTest } from '../../../src/stats/index.js';
import { seededRandom } from './helpers.js';

type Random = ReturnType<typeof seededRandom>;

/** Adds `count` normal(mean, sd) observations to a summary in place. */
function addNormals(summary: Summary, random: Random, count: number, mean: number, sd: number): void {
  for (let i = 0; i < count; i++) {
    const x = mean + sd * random.normal();
    summary.sum += x;
    summary.sumSquares += x * x;
  }
  summary.n += count;
}

/**
 * Adds `count` Bernoulli(p) observations, drawing only the gaps between successes
 * (geometric waiting times), which is exact and needs ~p·count draws.
 */
function addBernoullis(summary: Summary, random: Random, count: number, p: number, carry: { gap: number }): void {
  let remaining = count;
  let successes = 0;
  const logFailure = Math.log1p(-p);
  for (;;) {
    if (carry.gap < 0) carry.gap = Math.floor(Math.log(1 - random.uniform()) / logFailure);
    if (carry.gap >= remaining) {
      carry.gap -= remaining;
      break;
    }
    remaining -= carry.gap + 1;
    successes++;
    carry.gap = -1;
  }
  summary.n += count;
  summary.sum += successes;
  summary.sumSquares += successes;
}

interface PeekingOutcome {
  sequentialAnyPeek: number;
  welchAnyPeek: number;
  sequentialFinal: number;
}

/**
 * Runs `runs` experiments, each looked at `peeks` times as `batch` units per arm
 * arrive, and counts the share in which a test declared a difference (p < 0.05)
 * at any look. Summaries grow incrementally; nothing is re-scanned.
 */
function simulatePeeking(
  runs: number,
  peeks: number,
  addBatch: (control: Summary, treatment: Summary, random: Random, state: { a: { gap: number }; b: { gap: number } }) => void,
  seed: number,
  relative = false,
  tuning?: number,
): PeekingOutcome {
  const random = seededRandom(seed);
  let sequentialAnyPeek = 0;
  let welchAnyPeek = 0;
  let sequentialFinal = 0;
  for (let run = 0; run < runs; run++) {
    const control = { n: 0, sum: 0, sumSquares: 0 };
    const treatment = { n: 0, sum: 0, sumSquares: 0 };
    const state = { a: { gap: -1 }, b: { gap: -1 } };
    let sequentialRejected = false;
    let welchRejected = false;
    for (let peek = 1; peek <= peeks; peek++) {
      addBatch(control, treatment, random, state);
      const sequential = sequentialTest(control, treatment, tuning === undefined ? { relative } : { relative, tuning });
      if (sequential.pValue < 0.05) sequentialRejected = true;
      if (peek === peeks && sequential.pValue < 0.05) sequentialFinal++;
      if (!welchRejected && welchTTest(control, treatment, { relative }).pValue < 0.05) welchRejected = true;
    }
    if (sequentialRejected) sequentialAnyPeek++;
    if (welchRejected) welchAnyPeek++;
  }
  return { sequentialAnyPeek: sequentialAnyPeek / runs, welchAnyPeek: welchAnyPeek / runs, sequentialFinal: sequentialFinal / runs };
}

const RUNS = 1000;
const PEEKS = 50;
const monteCarloBound = 0.05 + 2 * Math.sqrt((0.05 * 0.95) / RUNS); // 5% + 2·SE = 6.38%

describe('peeking simulation (A/A, 1,000 experiments × 50 looks)', () => {
  it('continuous metric: the sequential test stays within 5% + Monte-Carlo error, a peeked Welch test does not', () => {
    // latency-like metric, 100 units per arm between looks → 5,000 per arm at the last look
    const outcome = simulatePeeking(
      RUNS,
      PEEKS,
      (a, b, random) => {
        addNormals(a, random, 100, 250, 60);
        addNormals(b, random, 100, 250, 60);
      },
      20251123,
    );
    expect(outcome.sequentialAnyPeek).toBeLessThanOrEqual(monteCarloBound);
    expect(outcome.welchAnyPeek).toBeGreaterThan(0.15);
    expect(outcome.welchAnyPeek).toBeGreaterThan(3 * outcome.sequentialAnyPeek);
  });

  it('error rate (2%, relative effect): the sequential test stays within 5% + Monte-Carlo error, a peeked Welch test does not', () => {
    // 1,000 requests per arm between looks → 50,000 per arm at the last look
    const outcome = simulatePeeking(
      RUNS,
      PEEKS,
      (a, b, random, state) => {
        addBernoullis(a, random, 1000, 0.02, state.a);
        addBernoullis(b, random, 1000, 0.02, state.b);
      },
      777,
      true,
    );
    expect(outcome.sequentialAnyPeek).toBeLessThanOrEqual(monteCarloBound);
    expect(outcome.welchAnyPeek).toBeGreaterThan(0.15);
  });
});

describe('power simulation', () => {
  it('detects a real 20% relative increase in a 2% error rate at ~50k events per arm in most runs', () => {
    const runs = 300;
    const outcome = simulatePeeking(
      runs,
      PEEKS,
      (a, b, random, state) => {
        addBernoullis(a, random, 1000, 0.02, state.a);
        addBernoullis(b, random, 1000, 0.024, state.b);
      },
      4242,
      true,
    );
    // measured: see docs/stats.md ("Measured properties")
    expect(outcome.sequentialAnyPeek).toBeGreaterThanOrEqual(0.75);
    expect(outcome.sequentialFinal).toBeGreaterThanOrEqual(0.7);
  });
});

if (process.env.STATS_SIMULATION_REPORT) {
  it('reports the measured rates', () => {
    const aaNormal = simulatePeeking(
      RUNS,
      PEEKS,
      (a, b, r) => {
        addNormals(a, r, 100, 250, 60);
        addNormals(b, r, 100, 250, 60);
      },
      20251123,
    );
    const aaRate = simulatePeeking(
      RUNS,
      PEEKS,
      (a, b, r, s) => {
        addBernoullis(a, r, 1000, 0.02, s.a);
        addBernoullis(b, r, 1000, 0.02, s.b);
      },
      777,
      true,
    );
    const power = simulatePeeking(
      300,
      PEEKS,
      (a, b, r, s) => {
        addBernoullis(a, r, 1000, 0.02, s.a);
        addBernoullis(b, r, 1000, 0.024, s.b);
      },
      4242,
      true,
    );
    const powerTuned = simulatePeeking(
      300,
      PEEKS,
      (a, b, r, s) => {
        addBernoullis(a, r, 1000, 0.02, s.a);
        addBernoullis(b, r, 1000, 0.024, s.b);
      },
      4242,
      true,
      100_000,
    );
    const aaRateTuned = simulatePeeking(
      RUNS,
      PEEKS,
      (a, b, r, s) => {
        addBernoullis(a, r, 1000, 0.02, s.a);
        addBernoullis(b, r, 1000, 0.02, s.b);
      },
      777,
      true,
      100_000,
    );
    console.log(JSON.stringify({ aaNormal, aaRate, power, powerTuned, aaRateTuned }, null, 2));
    expect(aaNormal.sequentialAnyPeek).toBeGreaterThanOrEqual(0);
  });
}
