#!/usr/bin/env node
/**
 * Start-up cost of the CLI: median wall time of `flagscope --help` against
 * `node -e 0`, measured in the same run with the two commands interleaved so
 * both see the same machine load. Needs a build (`npm run build`).
 *
 *   node bench/startup.mjs [--runs 30]
 *
 * Target: ratio at most 1.5.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'flagscope');
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 30;

if (!existsSync(join(root, 'dist', 'main.js'))) {
  console.error('error: dist/main.js is missing\nhint: run `npm run build` first');
  process.exit(2);
}

function wallMs(args) {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${result.status}`);
  return ms;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const baseline = [];
const help = [];
// Warm the file system cache once for each.
wallMs(['-e', '0']);
wallMs([bin, '--help']);
for (let i = 0; i < runs; i++) {
  baseline.push(wallMs(['-e', '0']));
  help.push(wallMs([bin, '--help']));
}

const baseMedian = median(baseline);
const helpMedian = median(help);
const ratio = helpMedian / baseMedian;
const fastest = (values) => Math.min(...values);
console.log(`runs: ${runs} each, interleaved; node ${process.version}`);
console.log(`node -e 0            median ${baseMedian.toFixed(1)} ms  (fastest ${fastest(baseline).toFixed(1)} ms)`);
console.log(`flagscope --help     median ${helpMedian.toFixed(1)} ms  (fastest ${fastest(help).toFixed(1)} ms)`);
// The ratio of the fastest runs is less sensitive to other load on the machine; the target is on the medians.
console.log(`ratio of fastest runs ${(fastest(help) / fastest(baseline)).toFixed(2)}`);
console.log(`ratio ${ratio.toFixed(2)} (target ≤ 1.5) ${ratio <= 1.5 ? 'PASS' : 'FAIL'}`);
