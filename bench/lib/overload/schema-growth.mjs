/**
 * Schema growth (issue 9, item 4): the first event with 2,000 new fields, to a new dataset and
 * to an existing one, and the p99 of single-event ingest into another dataset meanwhile (a schema
 * change must stay local to its dataset).
 *
 * The server is the built `dist/server/index.js` of a checkout, in its own process on a temporary
 * data directory. A client sends one-event batches to dataset `other`, one after another, for
 * the whole run; the wide events go to `wide-new` (a new dataset) and `wide-old` (a dataset of
 * 1,000 small events) while it does. "Meanwhile" is from the wide event's send to its answer.
 *
 * `run(opts)` resolves to figures `{name, value, unit, target, ok}`; run alone it prints them:
 *   node bench/lib/overload/schema-growth.mjs
 * env (alone) / opts: BENCH_FIELDS / fields (2000), BENCH_ROOT / root (the checkout whose
 * `dist/` to run; default this one), BENCH_LABEL / label (a suffix for the figure names),
 * BENCH_COMPARE_ROOT / compareRoot (a second checkout, e.g. /work/main, measured after this one
 * in the same run, its figures labelled "(compare)"; its wide events take ~10 s each).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const DEFAULT_ROOT = resolve(HERE, '../../..');
const FIRST_EVENT_TARGET_MS = 1000;
const OTHER_P99_TARGET_MS = 200;

/** Starts the server of `root` in a child process; resolves with its URL, admin key and a stop function. */
async function startServer(root) {
  const dir = await mkdtemp(join(tmpdir(), 'flagscope-schema-growth-'));
  const entry = pathToFileURL(join(root, 'dist/server/index.js')).href;
  const script = `const { startServer } = await import(${JSON.stringify(entry)});
const server = await startServer({ host: '127.0.0.1', port: 0, dataDir: ${JSON.stringify(join(dir, 'data'))} });
process.stdout.write(JSON.stringify({ url: server.url, adminKey: server.adminKey }) + '\\n');
process.on('SIGTERM', () => server.close().then(() => process.exit(0), () => process.exit(1)));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const info = await new Promise((resolveInfo, reject) => {
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const line = text.split('\n')[0];
      if (text.includes('\n')) resolveInfo(JSON.parse(line));
    });
    child.on('exit', (code) => reject(new Error(`the server exited with ${code}`)));
  });
  const stop = async () => {
    const exited = new Promise((done) => child.on('exit', done));
    child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  return { ...info, stop };
}

async function post(server, dataset, items) {
  const res = await fetch(`${server.url}/1/batch/${dataset}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(items),
  });
  const body = await res.json();
  if (res.status !== 200 || body.some((item) => item.status !== 202))
    throw new Error(`ingest into ${dataset}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
}

function wideItem(prefix, fields) {
  const data = {};
  for (let i = 0; i < fields; i++) data[`${prefix}.${i}`] = i % 3 === 0 ? i : i % 3 === 1 ? `value ${i}` : i % 2 === 0;
  return { data };
}

function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Measures one checkout's server. */
async function measure(root, fields) {
  const server = await startServer(root);
  try {
    await post(server, 'other', [{ data: { n: 0, service: 'api' } }]);
    await post(
      server,
      'wide-old',
      Array.from({ length: 1000 }, (_, i) => ({ data: { i, route: `/r/${i % 7}` } })),
    );
    const samples = [];
    let running = true;
    const loop = (async () => {
      for (let n = 1; running; n++) {
        const start = performance.now();
        await post(server, 'other', [{ data: { n, service: 'api' } }]);
        samples.push({ start, ms: performance.now() - start });
      }
    })();
    await new Promise((done) => setTimeout(done, 500));
    const wide = async (dataset, prefix, count) => {
      const start = performance.now();
      await post(server, dataset, [wideItem(prefix, count)]);
      const end = performance.now();
      await new Promise((done) => setTimeout(done, 300));
      const during = samples.filter((s) => s.start + s.ms >= start && s.start <= end).map((s) => s.ms);
      return { ms: end - start, during };
    };
    const fresh = await wide('wide-new', 'f', fields);
    const existing = await wide('wide-old', 'g', fields - 2);
    running = false;
    await loop;
    const baseline = samples.filter((s) => s.start < samples[0].start + 400).map((s) => s.ms);
    return { fresh, existing, baseline };
  } finally {
    await server.stop();
  }
}

/** Resolves to the figures; `opts` as in the header. */
export async function run(opts = {}) {
  const fields = opts.fields ?? 2000;
  const figures = [];
  const roots = [[opts.root ?? DEFAULT_ROOT, opts.label ? ` ${opts.label}` : '']];
  if (opts.compareRoot) roots.push([opts.compareRoot, ' (compare)']);
  for (const [root, label] of roots) {
    const { fresh, existing } = await measure(root, fields);
    const during = [...fresh.during, ...existing.during];
    figures.push(
      {
        name: `schema: first event with ${fields} new fields, new dataset${label}`,
        value: Math.round(fresh.ms),
        unit: 'ms',
        target: `< ${FIRST_EVENT_TARGET_MS} ms`,
        ok: fresh.ms < FIRST_EVENT_TARGET_MS,
      },
      {
        name: `schema: event with ${fields - 2} new fields, existing dataset of 2 columns and 1,000 events${label}`,
        value: Math.round(existing.ms),
        unit: 'ms',
        target: 'measured',
        ok: true,
      },
      {
        name: `schema: single-event ingest into another dataset meanwhile, p99 (${during.length} events)${label}`,
        value: Math.round(percentile(during, 99)),
        unit: 'ms',
        target: `< ${OTHER_P99_TARGET_MS} ms`,
        ok: percentile(during, 99) < OTHER_P99_TARGET_MS,
      },
    );
  }
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const env = process.env;
  const figures = await run({
    fields: env.BENCH_FIELDS === undefined ? undefined : Number(env.BENCH_FIELDS),
    root: env.BENCH_ROOT,
    label: env.BENCH_LABEL,
    compareRoot: env.BENCH_COMPARE_ROOT,
  });
  for (const f of figures) console.log(`${f.name}: ${f.value} ${f.unit} (target ${f.target}) ${f.ok ? 'ok' : 'MISSED'}`);
  process.exitCode = figures.every((f) => f.ok) ? 0 : 1;
}
