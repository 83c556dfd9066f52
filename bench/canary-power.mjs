#!/usr/bin/env node
/**
 * Canary power benchmark (issue 10): how many canary events the controller's
 * always-valid test needs to roll back a real regression, as a ratio to the
 * sample a fixed-horizon test with the same α and 80% power needs (Kayenta's
 * design: equal baseline and canary groups, one test at a fixed size), both
 * measured in the same run.
 *
 * Scenario: 1,000 events/s, the canary at its first step (1%, so ~10 canary
 * events/s), error rate 0.5% in control and 2.5% in the canary, guard
 * `RATE(error = true) <= +0.5pp` (alpha 0.05), the controller deciding every
 * second with the real core (dist/canary: evidence, sample-ratio test,
 * decision, transition). Traffic is drawn (seeded) at the aggregate level:
 * exact binomial draws per second.
 *
 * The fixed-horizon size is found by simulation in the same run: the smallest
 * n per group (on a grid of 5%) at which a one-sided z-test of the same
 * hypothesis (difference ≤ tolerance) at the same α rejects in ≥ 80% of
 * seeded runs; the closed form is printed beside it. A second line does the
 * same for the hypothesis without tolerance (difference ≤ 0), Kayenta's plain
 * "is the canary worse" question.
 *
 * The same run also measures the price side: false alarms on the hardest null,
 * the canary's error rate exactly at the tolerance (0.5% → 1.0%), looked at
 * every second for BENCH_NULL_SECONDS (default 900, ~9,000 canary events).
 *
 * Run: npm run build && node bench/canary-power.mjs
 * Env: BENCH_RUNS (canaries per scenario, default 400), BENCH_FIXED_RUNS (runs per
 *      fixed-horizon size, default 2000), BENCH_NULL_SECONDS (900), BENCH_SEED (default 20261205).
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 400);
const FIXED_RUNS = Number(process.env.BENCH_FIXED_RUNS ?? 2000);
const SEED = Number(process.env.BENCH_SEED ?? 20261205);
const EVENTS_PER_SECOND = 1000;
const CONTROL_RATE = 0.005;
const CANARY_RATE = 0.025;
const TOLERANCE = 0.005;
const ALPHA = 0.05;
const MAX_SECONDS = 3600;
const NULL_SECONDS = Number(process.env.BENCH_NULL_SECONDS ?? 900);

const canary = await import('../dist/canary/index.js');
const { normalQuantile } = await import('../dist/stats/index.js');

/** mulberry32, with exact binomial draws by geometric gaps. */
function seededRandom(seed) {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const binomial = (n, p) => {
    if (p <= 0 || n === 0) return 0;
    if (p > 0.5) return n - binomial(n, 1 - p);
    const logFailure = Math.log1p(-p);
    let successes = 0;
    let position = 0;
    for (;;) {
      position += Math.floor(Math.log(1 - uniform()) / logFailure) + 1;
      if (position > n) return successes;
      successes++;
    }
  };
  return { uniform, binomial };
}

const moments = (rows, errors) => ({ rows, weight: rows, weightSquares: rows, sum: errors, sumSquares: errors });
const cohort = (variant, arm) =>
  arm.rows === 0
    ? undefined
    : { key: [variant], rows: arm.rows, weight: arm.rows, weightSquares: arm.rows, metrics: [moments(arm.rows, arm.errors)] };

/** One canary, decided every second; returns the canary events seen when it was rolled back (or undefined). */
function sequentialCanary(seed, plan, canaryRate = CANARY_RATE, maxSeconds = MAX_SECONDS) {
  const random = seededRandom(seed);
  let state = canary.transition(canary.createCanaryState(0), plan, { type: 'start' }, { now: 0, reason: 'bench' });
  const total = { control: { rows: 0, errors: 0 }, canary: { rows: 0, errors: 0 } };
  const step = { control: { rows: 0, errors: 0 }, canary: { rows: 0, errors: 0 } };
  for (let second = 1; second <= maxSeconds; second++) {
    const canaryEvents = random.binomial(EVENTS_PER_SECOND, state.percent / 100);
    const controlEvents = EVENTS_PER_SECOND - canaryEvents;
    const canaryErrors = random.binomial(canaryEvents, canaryRate);
    const controlErrors = random.binomial(controlEvents, CONTROL_RATE);
    for (const arm of [total, step]) {
      arm.canary.rows += canaryEvents;
      arm.canary.errors += canaryErrors;
      arm.control.rows += controlEvents;
      arm.control.errors += controlErrors;
    }
    const now = second * 1000;
    const evidence = canary.assembleEvidence({
      plan,
      guards: plan.guards,
      percent: state.percent,
      srmLogE: state.srmLogE,
      now,
      measurement: {
        window: { start: 0, end: second },
        stepWindow: { start: 0, end: second },
        metrics: plan.guards.map((g) => g.metric),
        cumulative: { control: cohort('off', total.control), canary: cohort('on', total.canary) },
        step: { control: cohort('off', step.control), canary: cohort('on', step.canary) },
      },
    });
    const decided = canary.decideTick({ plan, state, evidence, now });
    state = canary.applyDecision(state, plan, decided);
    if (state.status === 'rolled-back') return total.canary.rows;
    if (state.status !== 'running') return undefined;
  }
  return undefined;
}

/** Share of runs in which a one-sided fixed-horizon z-test at n per group rejects "difference ≤ margin". */
function fixedPower(n, margin, seed) {
  const random = seededRandom(seed);
  const critical = normalQuantile(1 - ALPHA);
  let rejected = 0;
  for (let run = 0; run < FIXED_RUNS; run++) {
    const a = random.binomial(n, CONTROL_RATE) / n;
    const b = random.binomial(n, CANARY_RATE) / n;
    const se = Math.sqrt((a * (1 - a)) / n + (b * (1 - b)) / n);
    if (se > 0 && (b - a - margin) / se > critical) rejected++;
  }
  return rejected / FIXED_RUNS;
}

/** The smallest n per group (5% grid) with simulated power ≥ 80%, and the closed form. */
function fixedHorizonSize(margin, seed) {
  const zAlpha = normalQuantile(1 - ALPHA);
  const zBeta = normalQuantile(0.8);
  const variance = CONTROL_RATE * (1 - CONTROL_RATE) + CANARY_RATE * (1 - CANARY_RATE);
  const closedForm = Math.ceil(((zAlpha + zBeta) ** 2 * variance) / (CANARY_RATE - CONTROL_RATE - margin) ** 2);
  let n = Math.max(20, Math.floor(closedForm * 0.5));
  while (fixedPower(n, margin, seed) < 0.8) n = Math.ceil(n * 1.05);
  return { simulated: n, closedForm, power: fixedPower(n, margin, seed + 1) };
}

const plan = {
  ...canary.parseCanaryPlan({
    flag: 'checkout_v2',
    dataset: 'checkout',
    baseline: 'off',
    interval: '10m',
    guards: [`RATE(error = true) <= +${TOLERANCE * 100}pp`],
    alpha: ALPHA,
  }),
  baseline: 'off',
};

const started = performance.now();
const detections = [];
let missed = 0;
for (let run = 0; run < RUNS; run++) {
  const events = sequentialCanary(SEED + run, plan);
  if (events === undefined) missed++;
  else detections.push(events);
}
detections.sort((a, b) => a - b);
const quantile = (q) => detections[Math.min(detections.length - 1, Math.floor(q * detections.length))];
const medianEvents = detections.length === 0 ? Number.NaN : quantile(0.5);
let falseAlarms = 0;
for (let run = 0; run < RUNS; run++) {
  if (sequentialCanary(SEED + 5_000_000 + run, plan, CONTROL_RATE + TOLERANCE, NULL_SECONDS) !== undefined) falseAlarms++;
}
const withTolerance = fixedHorizonSize(TOLERANCE, SEED + 1_000_000);
const withoutTolerance = fixedHorizonSize(0, SEED + 2_000_000);
const seconds = (performance.now() - started) / 1000;

console.log(
  `scenario: ${EVENTS_PER_SECOND} events/s, canary at 1%, error rate ${CONTROL_RATE * 100}% → ${CANARY_RATE * 100}%, guard ${plan.guards[0].text}, alpha ${ALPHA}`,
);
console.log(
  `sequential (controller every second): rolled back ${detections.length}/${RUNS}, canary events until rollback: p10 ${quantile(0.1)}, median ${medianEvents}, p90 ${quantile(0.9)}; ${missed} not rolled back within ${MAX_SECONDS} s`,
);
console.log(
  `fixed horizon, same hypothesis (difference ≤ +${TOLERANCE * 100}pp), 80% power: ${withTolerance.simulated} per group (simulated, power ${withTolerance.power.toFixed(3)}; closed form ${withTolerance.closedForm})`,
);
console.log(
  `fixed horizon, no tolerance (difference ≤ 0), 80% power: ${withoutTolerance.simulated} per group (simulated, power ${withoutTolerance.power.toFixed(3)}; closed form ${withoutTolerance.closedForm})`,
);
console.log(`ratio median sequential / fixed (same hypothesis) ${(medianEvents / withTolerance.simulated).toFixed(2)} (target ≤ 1.0)`);
console.log(`ratio median sequential / fixed (no tolerance) ${(medianEvents / withoutTolerance.simulated).toFixed(2)}`);
console.log(
  `false alarms at the tolerance boundary (canary ${((CONTROL_RATE + TOLERANCE) * 100).toFixed(1)}%, looked at every second for ${NULL_SECONDS} s): ${falseAlarms}/${RUNS} = ${((100 * falseAlarms) / RUNS).toFixed(1)}% (alpha ${ALPHA * 100}%)`,
);
console.log(`took ${seconds.toFixed(1)} s`);
