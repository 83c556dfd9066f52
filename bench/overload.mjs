#!/usr/bin/env node
/**
 * Overload benchmark (issue 9): runs the modules of bench/lib/overload/, one after another, and
 * prints each figure they return as one line:
 *
 *   figure NAME = VALUE UNIT (target TEXT) pass|FAIL
 *
 * A module is any `bench/lib/overload/*.mjs` that exports `run(context)`, resolving to an array of
 * figures `{ name, value, unit, target?, met? }` (`target` a text such as `< 100 ms`, `met` whether
 * the value meets it). `context` has `log(line)` (one line of the module's own output) and
 * `scratch(name)` (a fresh scratch directory, removed after the module unless BENCH_KEEP=1).
 * A module that throws is reported and the others still run.
 *
 * Run: npm run build && node bench/overload.mjs [NAME...]
 *   NAME: modules whose file name (without .mjs) contains it; default all, in file name order.
 * Env: each module's header lists its own BENCH_* variables.
 * Exit code: 0 when every figure meets its target, 1 otherwise.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = fileURLToPath(new URL('./lib/overload/', import.meta.url));
const wanted = process.argv.slice(2);
const names = (await readdir(dir))
  .filter((file) => file.endsWith('.mjs'))
  .map((file) => file.slice(0, -'.mjs'.length))
  .sort();
const selected = wanted.length === 0 ? names : names.filter((name) => wanted.some((w) => name.includes(w)));
if (selected.length === 0) {
  console.error(`error: no overload module matches ${wanted.join(', ')}\nhint: the modules are ${names.join(', ') || '(none)'}`);
  process.exit(2);
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
let allMet = true;
for (const name of selected) {
  console.log(`\n=== overload: ${name} (load average ${load()})`);
  const scratches = [];
  const context = {
    log: (line) => console.log(`${name}: ${line}`),
    scratch: async (label) => {
      const path = await mkdtemp(join(tmpdir(), `flagscope-overload-${name}-${label}-`));
      scratches.push(path);
      return path;
    },
  };
  const started = performance.now();
  try {
    const module = await import(pathToFileURL(join(dir, `${name}.mjs`)).href);
    if (typeof module.run !== 'function') throw new Error(`bench/lib/overload/${name}.mjs exports no run function`);
    const figures = await module.run(context);
    for (const figure of figures) {
      const value = typeof figure.value === 'number' ? Number(figure.value.toFixed(1)) : figure.value;
      const target = figure.target === undefined ? '' : ` (target ${figure.target})`;
      const status = figure.met === undefined ? '' : figure.met ? ' pass' : ' FAIL';
      if (figure.met === false) allMet = false;
      const unit = figure.unit === undefined || figure.unit === '' ? '' : ` ${figure.unit}`;
      console.log(`figure ${figure.name} = ${value}${unit}${target}${status}`);
    }
  } catch (error) {
    allMet = false;
    console.log(`=== overload: ${name} failed: ${error?.stack ?? error}`);
  } finally {
    if (process.env.BENCH_KEEP !== '1') for (const path of scratches) await rm(path, { recursive: true, force: true });
  }
  console.log(`=== overload: ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s (load average ${load()})`);
}
process.exitCode = allMet ? 0 : 1;
