/**
 * Canary views as the API answers them (`src/api/canaries.ts`), for the
 * renderers and the gate: a running canary at step 2 of 5 with a rate guard and
 * a latency guard, and builders for the other states.
 */
import type { CanaryEvidenceView, CanaryGuardEvidenceView, CanaryPlanView, CanaryView } from '../../../src/api/canaries.js';

export const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
export const iso = (ms: number): string => new Date(ms).toISOString();

export const plan: CanaryPlanView = {
  flag: 'checkout-v2',
  variant: 'on',
  baseline: 'off',
  dataset: 'shop',
  column: 'flag.checkout-v2',
  steps: [1, 5, 25, 50, 100],
  intervalMs: 600_000,
  approveAt: [50],
  minSample: 1000,
  maxWaitMs: 3_600_000,
  guards: [
    { guard: 'RATE(status_code >= 500) <= +0.5pp', metric: 'RATE(status_code >= 500)', tolerance: '+0.5pp', action: 'rollback' },
    { guard: 'P95(duration_ms) <= +10%', metric: 'P95(duration_ms)', tolerance: '+10%', action: 'pause' },
  ],
  alpha: 0.05,
  unit: null,
};

export function rateGuard(overrides: Partial<CanaryGuardEvidenceView> = {}): CanaryGuardEvidenceView {
  return {
    guard: 'RATE(status_code >= 500) <= +0.5pp',
    metric: 'RATE(status_code >= 500)',
    action: 'rollback',
    scale: 'absolute',
    control: 0.0052,
    canary: 0.0061,
    difference: 0.0009,
    interval: [-0.003, 0.0048],
    tolerance: 0.005,
    toleranceText: '+0.5pp',
    pValue: 0.31,
    qValue: 0.31,
    verdict: 'pass',
    units: { control: 12_345, canary: 640 },
    ...overrides,
  };
}

export function latencyGuard(overrides: Partial<CanaryGuardEvidenceView> = {}): CanaryGuardEvidenceView {
  return {
    guard: 'P95(duration_ms) <= +10%',
    metric: 'P95(duration_ms)',
    action: 'pause',
    scale: 'relative',
    control: 120,
    canary: 126,
    difference: 0.05,
    interval: [-0.031, 0.132],
    tolerance: 0.1,
    toleranceText: '+10%',
    pValue: 0.2,
    qValue: 0.31,
    verdict: 'inconclusive',
    units: { control: 12_345, canary: 640 },
    ...overrides,
  };
}

export function evidence(overrides: Partial<CanaryEvidenceView> = {}): CanaryEvidenceView {
  return {
    at: iso(T0 + 800_000),
    window: { start: iso(T0), end: iso(T0 + 800_000) },
    stepWindow: { start: iso(T0 + 600_000), end: iso(T0 + 800_000) },
    guards: [rateGuard(), latencyGuard()],
    sample: { control: 12_345, canary: 640, minimum: 1000, reached: false },
    sampleRatio: {
      unit: null,
      control: 12_345,
      canary: 640,
      expectedShare: 0.05,
      observedShare: 0.0493,
      pValue: 0.412,
      alpha: 0.001,
      mismatch: false,
    },
    ...overrides,
  };
}

/** A canary running at step 2 (5%), 200 s into the step. */
export function view(overrides: Partial<CanaryView> = {}): CanaryView {
  return {
    id: 'cn_7f3a',
    flag: 'checkout-v2',
    service: 'checkout',
    status: 'running',
    stepIndex: 1,
    percent: 5,
    plan,
    nextDecisionAt: iso(T0 + 810_000),
    holdRemainingMs: 400_000,
    pause: null,
    createdAt: iso(T0),
    startedAt: iso(T0),
    endedAt: null,
    reason: 'hold 10m passed, sample reached, no guard shows harm',
    revision: 3,
    evidence: evidence(),
    timeline: [
      { at: iso(T0), kind: 'start', from: 0, to: 1, by: 'alice', reason: 'release 4.2', evidence: null },
      {
        at: iso(T0 + 600_000),
        kind: 'advance',
        from: 1,
        to: 5,
        by: 'canary-controller',
        reason: 'hold 10m passed, sample reached, no guard shows harm',
        evidence: null,
      },
    ],
    ...overrides,
  };
}

/** The canary rolled back at 5% because the error rate rose. */
export function rolledBack(): CanaryView {
  const failing = evidence({
    guards: [
      rateGuard({ canary: 0.025, difference: 0.0198, interval: [0.011, 0.0286], pValue: 0.0004, qValue: 0.0008, verdict: 'fail' }),
      latencyGuard({ verdict: 'pass' }),
    ],
  });
  const base = view();
  return {
    ...base,
    status: 'rolled-back',
    percent: 0,
    nextDecisionAt: null,
    holdRemainingMs: null,
    endedAt: iso(T0 + 700_000),
    reason: 'RATE(status_code >= 500) <= +0.5pp shows harm: +1.98pp [+1.10pp, +2.86pp] beyond +0.50pp',
    evidence: failing,
    timeline: [
      ...base.timeline,
      { at: iso(T0 + 700_000), kind: 'rollback', from: 5, to: 0, by: 'canary-controller', reason: 'error rate rose', evidence: failing },
    ],
  };
}
