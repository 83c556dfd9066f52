#!/usr/bin/env node
/**
 * In-process flag evaluation: flagscope's `evaluateFlag` against the reference JavaScript
 * evaluator `@openfeature/flagd-core`, on the same flags (flagscope's flagd export loaded into
 * flagd-core) and the same contexts, for three flags: one without targeting, one with
 * `if`/`in`/`fractional` targeting, one with a 20-rule `if` chain. Both sides are checked to
 * give the same variant and reason on every context before anything is timed; both take the
 * evaluation time from the clock on every call (flagd-core does so itself for
 * `$flagd.timestamp`). Rounds alternate the two sides; the report gives the median ns per
 * evaluation of each side and their ratio.
 *
 * Target: flagscope / flagd-core <= 1.0 on each flag.
 *
 * Run: npm run build && node bench/evaluate.mjs
 * Env: BENCH_ROUNDS (default 15), BENCH_ITERATIONS (per round, default 200000),
 *      BENCH_DIST (built code, default dist).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FlagdCore } from '@openfeature/flagd-core';
import { median } from './lib/measure.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200_000);
const DIST = resolve(process.env.BENCH_DIST ?? 'dist');

const { evaluateFlag, toFlagdDocument, validateFlagDefinition } = await import(pathToFileURL(`${DIST}/flags/index.js`).href);

const countries = ['DE', 'FR', 'NL', 'US', 'GB', 'JP'];
const plans = ['free', 'pro', 'team', 'enterprise'];

const twentyRules = [];
for (let i = 0; i < 20; i++) {
  const condition = [
    { in: [{ var: 'country' }, [`X${i}`, `Y${i}`]] },
    { '==': [{ var: 'plan' }, `plan-${i}`] },
    { starts_with: [{ var: 'email' }, `admin${i}@`] },
    { sem_ver: [{ var: 'appVersion' }, '>=', `${20 + i}.0.0`] },
  ][i % 4];
  twentyRules.push(condition, i % 2 === 0 ? 'on' : 'off');
}
twentyRules.push(null);

const flags = [
  { key: 'static-flag', label: 'no targeting' },
  {
    key: 'if-in-fractional',
    label: 'if / in / fractional',
    targeting: {
      if: [
        { in: [{ var: 'country' }, ['DE', 'FR', 'NL']] },
        {
          fractional: [
            ['on', 50],
            ['off', 50],
          ],
        },
        'off',
      ],
    },
  },
  { key: 'twenty-rules', label: '20-rule if chain', targeting: { if: twentyRules } },
].map(({ key, label, targeting }) => ({
  label,
  flag: validateFlagDefinition({
    key,
    service: 'bench',
    kind: 'release',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    ...(targeting === undefined ? {} : { targeting }),
  }),
}));

const contexts = Array.from({ length: 64 }, (_, i) => ({
  targetingKey: `user-${i * 7919}`,
  country: countries[i % countries.length],
  plan: plans[i % plans.length],
  email: `user${i}@example.com`,
  appVersion: `${1 + (i % 5)}.${i % 10}.0`,
}));

const core = new FlagdCore();
core.setConfigurations(JSON.stringify(toFlagdDocument(flags.map((f) => f.flag))));

function ours(flag, context) {
  return evaluateFlag(flag, context, 'boolean', { timestamp: Math.floor(Date.now() / 1000), hashing: 'utf16-code-units' });
}
function theirs(flag, context) {
  return core.resolveBooleanEvaluation(flag.key, false, context);
}

for (const { flag } of flags) {
  for (const context of contexts) {
    const a = ours(flag, context);
    const b = theirs(flag, context);
    if (a.variant !== b.variant || a.reason !== b.reason || a.value !== b.value) {
      throw new Error(`${flag.key} disagrees on ${JSON.stringify(context)}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  }
}

let sink = 0;
function round(evaluate, flag) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) {
    if (evaluate(flag, contexts[i & 63]).value === true) sink++;
  }
  return Number(process.hrtime.bigint() - start) / ITERATIONS;
}

console.log(`in-process evaluation, ${ROUNDS} rounds × ${ITERATIONS} evaluations, 64 contexts, answers checked equal first`);
const results = [];
for (const { label, flag } of flags) {
  round(ours, flag);
  round(theirs, flag);
  const oursNs = [];
  const theirsNs = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      oursNs.push(round(ours, flag));
      theirsNs.push(round(theirs, flag));
    } else {
      theirsNs.push(round(theirs, flag));
      oursNs.push(round(ours, flag));
    }
  }
  const ratio = median(oursNs) / median(theirsNs);
  results.push(ratio);
  console.log(
    `${label.padEnd(22)} flagscope ${median(oursNs).toFixed(0).padStart(6)} ns  flagd-core ${median(theirsNs).toFixed(0).padStart(6)} ns  ratio ${ratio.toFixed(2)} (target <= 1.0)`,
  );
}
console.log(`worst ratio ${Math.max(...results).toFixed(2)} (target <= 1.0)${sink < 0 ? '' : ''}`);
