/**
 * A seeded canary simulator for the tests: traffic split by the rollout, errors
 * and log-normal latencies per cohort, and the controller's core (evidence,
 * decision, transition) run at every tick exactly as the server runs it, on
 * aggregates shaped like the compare statement's. Deterministic for a seed.
 */
import {
  type CanaryDecision,
  type CanaryPlan,
  type CanaryState,
  type GuardDefinition,
  applyDecision,
  assembleEvidence,
  createCanaryState,
  decideTick,
  isTerminal,
  parseCanaryPlan,
  transition,
} from '../../../src/canary/index.js';
import type { CohortAggregate, HistogramAggregate, MomentAggregate } from '../../../src/compare/plan.js';
import { logBucketGamma } from '../../../src/stats/index.js';
import { seededRandom } from '../stats/helpers.js';

type Random = ReturnType<typeof seededRandom>;

/** One cohort's behaviour. */
export interface CohortBehaviour {
  errorRate: number;
  /** Median latency (ms) of a log-normal with σ = 0.5. */
  medianMs: number;
  /** Share of this cohort's events that never arrive (a cohort going quiet). */
  lost?: number;
}

export interface SimulationOptions {
  seed: number;
  /** Events per tick (one tick = one second), both cohorts together. */
  eventsPerTick: number;
  control: CohortBehaviour;
  canary: CohortBehaviour;
  /** Plan fields over the simulation's defaults (steps 1,5,25,50,100, interval 10s, min sample 200, error-rate and P95 guards). */
  plan?: Record<string, unknown>;
  maxTicks?: number;
}

export interface SimulationResult {
  state: CanaryState;
  plan: CanaryPlan;
  decisions: CanaryDecision[];
  ticks: number;
  /** Canary events seen until the canary ended. */
  canaryEvents: number;
}

interface Arm {
  rows: number;
  errors: number;
  buckets: Map<number, number>;
}

const LN_GAMMA = Math.log(logBucketGamma());

const emptyArm = (): Arm => ({ rows: 0, errors: 0, buckets: new Map() });

/** Binomial(n, p) drawn exactly by geometric gaps between successes (cost ∝ the smaller of the two counts). */
export function binomial(random: Random, n: number, p: number): number {
  if (p <= 0 || n === 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomial(random, n, 1 - p);
  const logFailure = Math.log1p(-p);
  let successes = 0;
  let position = 0;
  for (;;) {
    position += Math.floor(Math.log(1 - random.uniform()) / logFailure) + 1;
    if (position > n) return successes;
    successes++;
  }
}

function addEvents(arms: Arm[], random: Random, count: number, behaviour: CohortBehaviour, latencies: boolean): void {
  const errors = binomial(random, count, behaviour.errorRate);
  for (const arm of arms) {
    arm.rows += count;
    arm.errors += errors;
  }
  if (!latencies) return;
  // The log-bucket index of median·exp(0.5·z) computed in log space: ⌊(ln median + 0.5·z) / ln γ⌋.
  const logMedian = Math.log(behaviour.medianMs);
  for (let i = 0; i < count; i++) {
    const bucket = Math.floor((logMedian + 0.5 * random.normal()) / LN_GAMMA);
    for (const arm of arms) arm.buckets.set(bucket, (arm.buckets.get(bucket) ?? 0) + 1);
  }
}

function moments(arm: Arm): MomentAggregate {
  return { rows: arm.rows, weight: arm.rows, weightSquares: arm.rows, sum: arm.errors, sumSquares: arm.errors };
}

function histogram(arm: Arm): HistogramAggregate {
  const buckets = [...arm.buckets].map(([index, count]) => ({ index, count }));
  return { rows: arm.rows, weight: arm.rows, weightSquares: arm.rows, zeroWeight: 0, buckets };
}

function cohort(variant: string, arm: Arm, guards: GuardDefinition[]): CohortAggregate | undefined {
  if (arm.rows === 0) return undefined;
  const metrics = guards.map((g) => (g.metric.kind === 'percentile' ? histogram(arm) : moments(arm)));
  return { key: [variant], rows: arm.rows, weight: arm.rows, weightSquares: arm.rows, metrics };
}

/** Runs one canary until it ends or pauses (or `maxTicks`), deciding at every tick. */
export function simulateCanary(options: SimulationOptions): SimulationResult {
  const random = seededRandom(options.seed);
  const plan = parseCanaryPlan({
    flag: 'checkout_v2',
    dataset: 'checkout',
    baseline: 'off',
    steps: [1, 5, 25, 50, 100],
    interval: '10s',
    minSample: 200,
    guards: ['RATE(error = true) <= +0.5pp', 'P95(duration_ms) <= +10%'],
    ...options.plan,
  });
  const planWithBaseline = { ...plan, baseline: plan.baseline ?? 'off' };
  const { guards } = plan;
  const latencies = guards.some((g) => g.metric.kind === 'percentile');
  let state = transition(createCanaryState(0), plan, { type: 'start' }, { now: 0, reason: 'simulation' });
  const total = { control: emptyArm(), canary: emptyArm() };
  let step = { control: emptyArm(), canary: emptyArm() };
  const decisions: CanaryDecision[] = [];
  const maxTicks = options.maxTicks ?? 5000;
  let tick = 0;
  while (!isTerminal(state.status) && state.status !== 'paused' && tick < maxTicks) {
    tick++;
    // Events of the second before this tick, split by the rollout in force.
    const canaryEvents = binomial(random, options.eventsPerTick, state.percent / 100);
    const arrived = (count: number, lost: number | undefined): number =>
      lost === undefined ? count : count - binomial(random, count, lost);
    addEvents([total.canary, step.canary], random, arrived(canaryEvents, options.canary.lost), options.canary, latencies);
    addEvents(
      [total.control, step.control],
      random,
      arrived(options.eventsPerTick - canaryEvents, options.control.lost),
      options.control,
      latencies,
    );
    const now = tick * 1000;
    const evidence = assembleEvidence({
      plan,
      guards,
      percent: state.percent,
      srmLogE: state.srmLogE,
      now,
      measurement: {
        window: { start: 0, end: tick },
        stepWindow: { start: 0, end: tick },
        metrics: guards.map((g) => g.metric),
        cumulative: { control: cohort('off', total.control, guards), canary: cohort('on', total.canary, guards) },
        step: { control: cohort('off', step.control, guards), canary: cohort('on', step.canary, guards) },
      },
    });
    const decided = decideTick({ plan: planWithBaseline, state, evidence, now });
    decisions.push(decided);
    const before = state.stepIndex;
    state = applyDecision(state, plan, decided);
    if (state.stepIndex !== before) step = { control: emptyArm(), canary: emptyArm() };
  }
  return { state, plan, decisions, ticks: tick, canaryEvents: total.canary.rows };
}
