/**
 * Ingest memory under overload (issue 9): the server's RSS above idle while many connections
 * each send 5 MB batches, and the goodput (batches stored per second) under that load against
 * one client alone, and whether a batch is ever stored twice.
 *
 * The server is `bin/flagscope serve --port 0` on a temporary data directory, in its own process,
 * so its RSS (all threads: DuckDB, ingest workers) is read from /proc/PID/status. Clients are
 * plain node:http requests with a Content-Length and an `Idempotency-Key` per batch; one that gets
 * a 429 (or a connection closed on it, a timeout, a 409) waits the `Retry-After` seconds and sends
 * the batch again under the same key, as a well-behaved client does.
 *
 * `run(opts)` resolves to figures `{name, value, unit, target, ok}`; run alone it prints them:
 *   node bench/lib/overload/ingest-memory.mjs
 * env (alone) / opts: BENCH_CONNECTIONS / connections (256), BENCH_SECONDS / seconds (20: the
 * overload window), BENCH_ALONE_SECONDS / aloneSeconds (10), BENCH_CLIENT_TIMEOUT /
 * clientTimeoutSeconds (10: a client gives up on an attempt after it and sends the batch again),
 * BENCH_ROOT / root (the checkout whose `bin/flagscope` and `dist/` to run; default this one),
 * BENCH_LABEL / label (a suffix for the figure names, e.g. "main").
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wideEventGenerator } from '../wide-events.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const DEFAULT_ROOT = resolve(HERE, '../../..');
/** Just under the server's 5,000,000-byte body limit. */
const BATCH_BYTES = 4_900_000;
const RSS_TARGET_MB = 1024;
const GOODPUT_RATIO_TARGET = 0.5;

/** One batch body of ~4.9 MB of ~100-column wide events, and its event count. */
function batchBody() {
  const next = wideEventGenerator({ seed: 7, startMs: Date.now() - 3_600_000, spanMs: 3_600_000 });
  const parts = [];
  let bytes = 2;
  for (let i = 0; ; i++) {
    const event = next(i, 1_000_000);
    const text = JSON.stringify({ data: event.data, time: new Date(event.time).toISOString(), samplerate: event.samplerate });
    if (bytes + text.length + 1 > BATCH_BYTES) break;
    parts.push(text);
    bytes += text.length + 1;
  }
  return { body: Buffer.from(`[${parts.join(',')}]`), events: parts.length };
}

/** Starts `bin/flagscope serve` of `root` on a fresh data directory; resolves once it listens. */
async function startServer(root) {
  const dir = await mkdtemp(join(tmpdir(), 'flagscope-ingest-memory-'));
  const child = spawn(process.execPath, [join(root, 'bin/flagscope'), 'serve', '--port', '0', '--data-dir', join(dir, 'data')], {
    env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'config'), FLAGSCOPE_PROFILE: 'bench' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const url = await new Promise((resolveUrl, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /flagscope listening on (\S+)/.exec(out);
      if (match) resolveUrl(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}) before listening: ${stderr}`)));
  });
  const config = JSON.parse(await readFile(join(dir, 'config/flagscope/config.json'), 'utf8'));
  const key = config.profiles.bench.api_key;
  return {
    url: new URL(url),
    key,
    pid: child.pid,
    async stop() {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The resident set of a process, in bytes (Linux). */
async function rssBytes(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/** One POST of `body`; resolves to {status, retryAfter} (status 0: the connection failed; -1: timed out). */
function post(server, agent, path, body, timeoutMs, idempotencyKey) {
  return new Promise((done) => {
    let settled = false;
    const finish = (status, retryAfter) => {
      if (settled) return;
      settled = true;
      done({ status, retryAfter });
    };
    const req = http.request(
      {
        host: server.url.hostname,
        port: server.url.port,
        method: 'POST',
        path,
        agent,
        headers: {
          authorization: `Bearer ${server.key}`,
          'content-type': 'application/json',
          'content-length': body.length,
          'idempotency-key': idempotencyKey,
        },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode, Number(res.headers['retry-after'] ?? 0)));
        res.on('error', () => finish(res.statusCode, Number(res.headers['retry-after'] ?? 0)));
        res.on('aborted', () => finish(res.statusCode, Number(res.headers['retry-after'] ?? 0)));
      },
    );
    req.on('timeout', () => {
      finish(-1, 1);
      req.destroy();
    });
    req.on('error', () => finish(0, 1));
    req.end(body);
  });
}

const pause = (ms) => new Promise((done) => setTimeout(done, ms));

/** Attempts at one batch at most: a batch still unanswered after them is counted as not acknowledged. */
const MAX_ATTEMPTS = 20;

/**
 * `connections` clients each sending batches of `body` one after another for `seconds`, each
 * batch under an `Idempotency-Key` of its own. A refusal (429, a closed connection, a timeout, a
 * 409 while the first attempt still runs) waits its Retry-After and sends the batch again under
 * the same key, until it is answered 200. Resolves with the counts: `acknowledged` batches, and
 * the attempts that were refused, failed or timed out.
 */
async function load(server, connections, seconds, body, timeoutMs) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const counts = { acknowledged: 0, unacknowledged: 0, refused: 0, failed: 0, timedOut: 0, conflicts: 0 };
  const deadline = Date.now() + seconds * 1000;
  const client = async () => {
    while (Date.now() < deadline) {
      const key = randomUUID();
      let answered = false;
      for (let attempt = 0; attempt < MAX_ATTEMPTS && !answered; attempt++) {
        const { status, retryAfter } = await post(server, agent, '/1/batch/memory', body, timeoutMs, key);
        if (status === 200) {
          answered = true;
          break;
        }
        if (status === 429) counts.refused++;
        else if (status === 409) counts.conflicts++;
        else if (status === -1) counts.timedOut++;
        else counts.failed++;
        await pause(Math.max(1, retryAfter) * 1000);
      }
      if (answered) counts.acknowledged++;
      else counts.unacknowledged++;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: connections }, client));
  agent.destroy();
  return { ...counts, seconds: (Date.now() - started) / 1000 };
}

async function storedRows(server) {
  const res = await fetch(new URL('/api/v1/datasets', server.url), { headers: { authorization: `Bearer ${server.key}` } });
  const { datasets } = await res.json();
  return datasets.find((d) => d.name === 'memory')?.rows ?? 0;
}

export async function run(opts = {}) {
  const connections = opts.connections ?? 256;
  const seconds = opts.seconds ?? 20;
  const aloneSeconds = opts.aloneSeconds ?? 10;
  const timeoutMs = (opts.clientTimeoutSeconds ?? 10) * 1000;
  const root = opts.root ?? DEFAULT_ROOT;
  const label = opts.label ? ` (${opts.label})` : '';
  const log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
  const { body, events } = batchBody();
  const server = await startServer(root);
  try {
    // One client alone (the first batch creates the dataset, then the fast path takes the rest).
    const alone = await load(server, 1, aloneSeconds, body, timeoutMs);
    const aloneRate = alone.acknowledged / alone.seconds;
    log(`alone: ${alone.acknowledged} batches in ${alone.seconds.toFixed(1)} s`);
    await pause(1_000);
    const idle = await rssBytes(server.pid);
    let peak = idle;
    const sampler = setInterval(() => {
      rssBytes(server.pid).then(
        (bytes) => {
          if (bytes > peak) peak = bytes;
        },
        () => undefined,
      );
    }, 100);
    const rowsBefore = await storedRows(server);
    const loaded = await load(server, connections, seconds, body, timeoutMs);
    clearInterval(sampler);
    const storedBatches = Math.round(((await storedRows(server)) - rowsBefore) / events);
    const loadRate = loaded.acknowledged / loaded.seconds;
    const extra = storedBatches - loaded.acknowledged;
    log(
      `${connections} connections: ${loaded.acknowledged} batches acknowledged (${loaded.unacknowledged} never), ${storedBatches} stored; ` +
        `attempts refused ${loaded.refused} (429), ${loaded.conflicts} (409), failed or cut off ${loaded.failed}, timed out ${loaded.timedOut} (${timeoutMs / 1000} s); in ${loaded.seconds.toFixed(1)} s; RSS idle ${(idle / 2 ** 20).toFixed(0)} MB, peak ${(peak / 2 ** 20).toFixed(0)} MB`,
    );
    const aboveIdleMb = (peak - idle) / 2 ** 20;
    const ratio = aloneRate > 0 ? loadRate / aloneRate : 0;
    return [
      {
        name: `ingest: server RSS above idle, ${connections} connections of 5 MB batches${label}`,
        value: Math.round(aboveIdleMb),
        unit: 'MB',
        target: `< ${RSS_TARGET_MB} MB`,
        ok: aboveIdleMb < RSS_TARGET_MB,
      },
      {
        name: `ingest: batches stored per second under ${connections} connections / one client alone${label}`,
        value: Number(ratio.toFixed(2)),
        unit: `ratio (${loadRate.toFixed(2)} vs ${aloneRate.toFixed(2)} acknowledged batches/s)`,
        target: `≥ ${GOODPUT_RATIO_TARGET}`,
        ok: ratio >= GOODPUT_RATIO_TARGET,
      },
      {
        name: `ingest: batches stored more than acknowledged (twice, or for a client that gave up) under ${connections} connections${label}`,
        value: extra,
        unit: `batches (of ${storedBatches} stored; ${loaded.timedOut} attempts timed out after ${timeoutMs / 1000} s and were sent again under the same Idempotency-Key)`,
        target: '0',
        ok: extra === 0,
      },
    ];
  } finally {
    await server.stop();
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const env = process.env;
  const figures = await run({
    connections: env.BENCH_CONNECTIONS === undefined ? undefined : Number(env.BENCH_CONNECTIONS),
    seconds: env.BENCH_SECONDS === undefined ? undefined : Number(env.BENCH_SECONDS),
    aloneSeconds: env.BENCH_ALONE_SECONDS === undefined ? undefined : Number(env.BENCH_ALONE_SECONDS),
    clientTimeoutSeconds: env.BENCH_CLIENT_TIMEOUT === undefined ? undefined : Number(env.BENCH_CLIENT_TIMEOUT),
    root: env.BENCH_ROOT,
    label: env.BENCH_LABEL,
  });
  for (const f of figures) console.log(`${f.name}: ${f.value} ${f.unit} (target ${f.target}) ${f.ok ? 'ok' : 'MISSED'}`);
}
