#!/usr/bin/env node
/**
 * Runs the benchmarks of bench/ one after another and prints one table at the
 * end: figure, measured value, target, status and the command that measures
 * it on its own. Each benchmark's own output streams through as it runs.
 *
 * A benchmark whose peer is missing (the build, autocannon, DuckDB, undici)
 * is reported as not run, with the reason; one that fails or runs past its
 * time limit is reported as such, and the others still run.
 *
 * Run: npm run build && npm run bench [-- NAME...]
 *   NAME: ingest, otlp, query, evaluate, ofrep, press, startup, compare, explain, overload, canary-power, canary-tick (default: all, in that order).
 * Env: BENCH_TIMEOUT (seconds per benchmark, default 900); every other BENCH_* variable
 *      reaches the benchmarks unchanged (their file headers list them), e.g.
 *      BENCH_EVENTS=20000 BENCH_REPEAT=3 npm run bench -- query compare
 * Exit code: 0 when every figure measured meets its target, 1 otherwise.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TIMEOUT_SECONDS = Number(process.env.BENCH_TIMEOUT ?? 900);

/** A figure a benchmark prints: the pattern of its line (first group: the value) and how the value meets the target. */
const atMost = (limit) => ({ text: `≤ ${limit}`, met: (value) => value <= limit });
const atLeast = (limit) => ({ text: `≥ ${limit}`, met: (value) => value >= limit });
const below = (limit, unit = '') => ({ text: `< ${limit}${unit}`, met: (value) => value < limit });
/** A figure reported for information: no target to meet. */
const information = () => ({ text: 'information', met: () => true });

/** The benchmarks, what each needs to run and the figures read from its output. */
const BENCHMARKS = [
  {
    name: 'ingest',
    needs: ['dist/server/index.js', 'dist/store/duckdb/event-store.js', '@duckdb/node-api', 'undici'],
    figures: [
      { figure: 'ingest: POST /1/batch / DuckDB bulk load', pattern: /^ratio\s+http\s+\/ baseline .*= ([0-9.]+)/m, target: atLeast(0.5) },
    ],
  },
  {
    name: 'otlp',
    needs: [
      'dist/server/index.js',
      'dist/ingest/otlp/flatten.js',
      '@opentelemetry/sdk-trace-base',
      '@opentelemetry/otlp-transformer',
      'undici',
    ],
    figures: [
      {
        figure: 'OTLP protobuf spans/s / POST /1/batch of the same events',
        pattern: /^ratio otlp \/ batch = ([0-9.]+)/m,
        target: atLeast(0.7),
      },
    ],
  },
  {
    name: 'query',
    needs: ['dist/server/index.js', '@duckdb/node-api', 'undici'],
    figures: [
      { figure: 'query P99 by service, sample rate 1: http / DuckDB', pattern: /^sample rate 1\s.*?ratio ([0-9.]+)/m, target: atMost(1.3) },
      {
        figure: 'query P99, 10% at sample rate 10: http / DuckDB',
        pattern: /^10% at sample rate 10\s.*?ratio ([0-9.]+)/m,
        target: atMost(3),
      },
    ],
  },
  {
    name: 'clickhouse-query',
    needs: ['dist/store/clickhouse/event-store.js', '@duckdb/node-api', 'chdb'],
    figures: [
      {
        figure: 'query P99 by service, sample rate 1: chDB / DuckDB',
        pattern: /^sample rate 1\s.*?ratio chdb\/duckdb ([0-9.]+)/m,
        target: information(),
      },
      {
        figure: 'query P99, 10% at sample rate 10: chDB / DuckDB',
        pattern: /^10% at sample rate 10\s.*?ratio chdb\/duckdb ([0-9.]+)/m,
        target: information(),
      },
    ],
  },
  {
    name: 'evaluate',
    needs: ['dist/flags/index.js', '@openfeature/flagd-core'],
    figures: [
      {
        figure: 'in-process evaluation, no targeting: flagscope / flagd-core',
        pattern: /^no targeting .*?ratio ([0-9.]+)/m,
        target: atMost(1),
      },
      {
        figure: 'in-process evaluation, if/in/fractional: flagscope / flagd-core',
        pattern: /^if \/ in \/ fractional .*?ratio ([0-9.]+)/m,
        target: atMost(1),
      },
      {
        figure: 'in-process evaluation, 20 rules: flagscope / flagd-core',
        pattern: /^20-rule if chain .*?ratio ([0-9.]+)/m,
        target: atMost(1),
      },
    ],
  },
  {
    name: 'ofrep',
    needs: ['dist/server/index.js', 'autocannon'],
    figures: [
      {
        figure: 'OFREP evaluation: flagscope / bare node:http',
        pattern: /^median: .*median of round ratios ([0-9.]+)/m,
        target: atLeast(0.7),
      },
      {
        figure: 'OFREP bulk of 50 flags / single-flag request (time per request)',
        pattern: /^bulk of \d+ flags .*median of round ratios ([0-9.]+)/m,
        target: atMost(50),
      },
    ],
  },
  {
    name: 'press',
    needs: ['dist/server/index.js', 'undici'],
    figures: [
      { figure: 'press → OFREP serves it, p99 (ms)', pattern: /^\(a\) .*?p99 ([0-9.]+) ms/m, target: below(20) },
      { figure: 'press → SSE subscriber, p99 (ms)', pattern: /^\(b\) .*?p99 ([0-9.]+) ms/m, target: below(20) },
    ],
  },
  {
    name: 'startup',
    needs: ['dist/main.js'],
    figures: [{ figure: 'flagscope --help / node -e 0', pattern: /^ratio ([0-9.]+) \(target/m, target: atMost(1.5) }],
  },
  {
    name: 'compare',
    needs: ['dist/server/index.js', '@duckdb/node-api', 'undici'],
    figures: [{ figure: 'compare: http / hand-written SQL', pattern: /http compare [0-9.]+ ms\s+ratio ([0-9.]+)/, target: atMost(1.5) }],
  },
  {
    name: 'explain',
    needs: ['dist/server/index.js', '@duckdb/node-api', 'undici'],
    figures: [{ figure: 'explain, 1M events × 100 columns (ms)', pattern: /explain http ([0-9.]+) ms/, target: below(3000) }],
  },
  {
    // bench/overload.mjs runs every module of bench/lib/overload/; each figure line reads `figure NAME = VALUE UNIT (target …)`.
    name: 'overload',
    needs: ['dist/server/index.js', '@duckdb/node-api', 'undici'],
    figures: [
      {
        figure: 'analysis load: press-to-answer p99 (ms)',
        pattern: /^figure analysis: press-to-answer p99 = ([0-9.]+) ms/m,
        target: below(100),
      },
      {
        figure: 'analysis load: single-event ingest p99 (ms)',
        pattern: /^figure analysis: single-event ingest p99 = ([0-9.]+) ms/m,
        target: below(200),
      },
      {
        figure: 'analysis load: disconnect to query stopped (ms)',
        pattern: /^figure analysis: disconnect to query stopped = ([0-9.]+) ms/m,
        target: below(1000),
      },
    ],
  },
  {
    name: 'canary-power',
    needs: ['dist/canary/index.js'],
    figures: [
      {
        figure: 'canary: events to roll back 0.5% → 2.5% / fixed horizon',
        pattern: /^ratio median sequential \/ fixed \(same hypothesis\) ([0-9.]+)/m,
        target: atMost(1.0),
      },
      {
        figure: 'canary: false alarms at the tolerance, every second (%)',
        pattern: /^false alarms at the tolerance boundary .*= ([0-9.]+)%/m,
        target: atMost(5),
      },
    ],
  },
  {
    name: 'canary-tick',
    needs: ['dist/server/index.js', 'dist/server/canaries/index.js', '@duckdb/node-api', 'undici'],
    figures: [
      { figure: 'canary: tick of 50 canaries / one compare', pattern: /ratio tick \/ compare ([0-9.]+)/, target: atMost(10) },
      { figure: 'canary: regression → OFREP 0%, p99 (ms)', pattern: /^\(a\) .*?p99 ([0-9.]+) ms/m, target: below(50) },
      { figure: 'canary: regression → SSE subscriber, p99 (ms)', pattern: /^\(b\) .*?p99 ([0-9.]+) ms/m, target: below(50) },
    ],
  },
  {
    name: 'beacons',
    needs: ['dist/server/index.js', 'undici'],
    figures: [
      { figure: 'beacons: executions stitched/s / batch events/s', pattern: /^ratio beacons \/ batch: ([0-9.]+)/m, target: atLeast(0.5) },
      { figure: 'beacons: RSS above idle, 100,000 open (MB)', pattern: /^RSS above idle: ([0-9.]+) MB/m, target: below(200) },
    ],
  },
];

/** Why a benchmark cannot run here (a missing built file or package), or undefined. */
function missingPeer(needs) {
  const require = createRequire(join(root, 'package.json'));
  for (const need of needs) {
    if (need.startsWith('dist/')) {
      if (!existsSync(join(root, need))) return `${need} is missing: run \`npm run build\``;
      continue;
    }
    try {
      require.resolve(need);
    } catch {
      return `package ${need} is not installed`;
    }
  }
  return undefined;
}

/** Runs one benchmark script, streaming its output; resolves with its output, exit code and whether it timed out. */
function runScript(name) {
  return new Promise((resolvePromise) => {
    const started = performance.now();
    // Its own process group, so a time-out stops the servers it forked too.
    const child = spawn(process.execPath, [join(root, 'bench', `${name}.mjs`)], {
      cwd: root,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
      process.stderr.write(chunk);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, TIMEOUT_SECONDS * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ output, code, timedOut, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** The table rows of one benchmark from its run (or from why it did not run). */
function rowsOf(benchmark, run, notRun) {
  const command = `node bench/${benchmark.name}.mjs`;
  return benchmark.figures.map(({ figure, pattern, target }) => {
    const row = { figure, measured: '–', target: target.text, status: '', command };
    if (notRun !== undefined) return { ...row, status: `not run: ${notRun}` };
    if (run.timedOut) return { ...row, status: `timed out after ${TIMEOUT_SECONDS} s` };
    const match = pattern.exec(run.output);
    if (match === null) {
      const lastLine = run.output.trim().split('\n').at(-1) ?? '';
      return { ...row, status: run.code === 0 ? 'no figure in its output' : `failed (exit ${run.code}): ${lastLine.slice(0, 80)}` };
    }
    const value = Number(match[1]);
    return { ...row, measured: match[1], status: target.met(value) ? 'pass' : 'FAIL' };
  });
}

function printTable(rows) {
  const columns = ['figure', 'measured', 'target', 'status', 'command'];
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) =>
    cells
      .map((cell, i) => String(cell).padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  console.log(line(columns));
  for (const row of rows) console.log(line(columns.map((c) => row[c])));
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !BENCHMARKS.some((b) => b.name === name));
if (unknown.length > 0) {
  console.error(`error: unknown benchmark ${unknown.join(', ')}\nhint: choose from ${BENCHMARKS.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const selected = wanted.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => wanted.includes(b.name));
const rows = [];
for (const benchmark of selected) {
  const notRun = missingPeer(benchmark.needs);
  if (notRun !== undefined) {
    console.log(`\n=== ${benchmark.name}: not run (${notRun})`);
    rows.push(...rowsOf(benchmark, undefined, notRun));
    continue;
  }
  console.log(`\n=== ${benchmark.name} (node bench/${benchmark.name}.mjs, at most ${TIMEOUT_SECONDS} s)`);
  const run = await runScript(benchmark.name);
  console.log(`=== ${benchmark.name}: ${run.timedOut ? 'timed out' : `exit ${run.code}`} after ${run.seconds.toFixed(1)} s`);
  rows.push(...rowsOf(benchmark, run, undefined));
}
console.log('');
printTable(rows);
process.exitCode = rows.every((r) => r.status === 'pass') ? 0 : 1;
