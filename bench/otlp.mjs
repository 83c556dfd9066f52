#!/usr/bin/env node
/**
 * OTLP trace ingest benchmark (issue 12): spans per second through `POST /v1/traces` (protobuf,
 * 512 spans per request, as the OpenTelemetry SDK's batch processor sends them) against
 * `POST /1/batch` of the same events (the spans flattened by the server's own code, 512 per body)
 * in the same run, each against a fresh server in its own process (bench/lib/server-child.mjs).
 *
 * The spans come from the real SDK (@opentelemetry/sdk-trace-base) and are serialised by its own
 * protobuf serialiser (@opentelemetry/otlp-transformer), so the bodies are what an exporter sends.
 * Each round sends every body once each way, each to a fresh server (new data directory),
 * interleaved; the best time of each way over the rounds is kept. The time runs from the first
 * request to the last answer (answers come after commit). Prints spans/s each way, the server's
 * CPU per event each way (its whole life: start-up and final checkpoint included; steadier than
 * wall time on a busy machine) and the ratio otlp / batch (target >= 0.7).
 *
 * Run: npm run build && node bench/otlp.mjs
 * Env: BENCH_SPANS (default 102400), BENCH_CLIENTS (concurrent clients, 8), BENCH_ROUNDS (3),
 *      BENCH_DIR (scratch dir, bench/.data/otlp), BENCH_WORKERS (the server's ingest workers, passed on),
 *      BENCH_SERVER_PROF=DIR runs each server with `node --cpu-prof` into DIR/<batch|otlp>-<round>.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { decodeTraceProtobuf } from '../dist/ingest/otlp/decode-protobuf.js';
import { flattenTraces } from '../dist/ingest/otlp/flatten.js';
import { formatRate, runConcurrently, timed } from './lib/measure.mjs';
import { seededRandom } from './lib/wide-events.mjs';

const SPANS = Number(process.env.BENCH_SPANS ?? 102_400);
const BATCH = 512;
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const DIR = resolve(process.env.BENCH_DIR ?? 'bench/.data/otlp');

await rm(DIR, { recursive: true, force: true });
await mkdir(DIR, { recursive: true });

const ROUTES = ['/cart', '/checkout', '/search', '/product/:id', '/login', '/api/recommendations'];
const COUNTRIES = ['DE', 'FR', 'US', 'BR', 'JP', 'IN', 'GB', 'ES'];

/** Spans as the SDK makes them: a server span per request with ~25 attributes, 1 in 4 with a child client span, some errors. */
function generateSpans() {
  const random = seededRandom(12);
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'bench',
      'service.version': '4.2.1',
      'deployment.environment': 'production',
      'host.name': 'web-17',
      'cloud.region': 'eu-west-1',
      'telemetry.sdk.language': 'nodejs',
    }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('@opentelemetry/instrumentation-http', '0.57.0');
  const start = Date.now() - 30 * 60_000;
  let made = 0;
  while (made < SPANS) {
    const at = start + made * 10;
    const failed = random() < 0.02;
    const attributes = {
      'http.request.method': random() < 0.8 ? 'GET' : 'POST',
      'http.route': ROUTES[Math.floor(random() * ROUTES.length)],
      'http.response.status_code': failed ? 500 : 200,
      'url.scheme': 'https',
      'server.address': 'shop.example.com',
      'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36',
      'user.id': `u${Math.floor(random() * 50_000)}`,
      'user.country': COUNTRIES[Math.floor(random() * COUNTRIES.length)],
      'user.plan': random() < 0.2 ? 'pro' : 'free',
      'cart.items': Math.floor(random() * 12),
      'cart.value': Math.round(random() * 50_000) / 100,
      'db.calls': Math.floor(random() * 8),
      'cache.hit': random() < 0.7,
      'app.build': 'a1b2c3d',
    };
    for (let f = 0; f < 10; f++) attributes[`flag.f${f}`] = random() < 0.5 ? 'on' : 'off';
    const span = tracer.startSpan('HTTP GET', { kind: SpanKind.SERVER, startTime: at, attributes });
    if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream timeout' });
    made++;
    if (made < SPANS && random() < 0.25) {
      const child = tracer.startSpan('SELECT orders', {
        kind: SpanKind.CLIENT,
        startTime: at + 1,
        attributes: { 'db.system': 'postgresql', 'db.operation': 'SELECT', 'db.rows': Math.floor(random() * 100) },
      });
      child.end(at + 1 + random() * 20);
      made++;
    }
    span.end(at + 5 + random() * 200);
  }
  return exporter.getFinishedSpans();
}

const spans = generateSpans();
const otlpBodies = [];
const batchBodies = [];
for (let offset = 0; offset < spans.length; offset += BATCH) {
  const body = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans.slice(offset, offset + BATCH)));
  otlpBodies.push(body);
  // The same events as /1/batch items: the spans flattened by the server's own code.
  const flat = flattenTraces(decodeTraceProtobuf(body), { fallbackDataset: 'x', now: Date.now() });
  const items = flat.byDataset.flatMap((d) => d.events.map((e) => ({ time: e.time, samplerate: e.samplerate, data: e.data })));
  batchBodies.push(Buffer.from(JSON.stringify(items)));
}
const events = batchBodies.reduce((n, b) => n + JSON.parse(b).length, 0);
if (events !== spans.length) throw new Error(`flattened ${events} events from ${spans.length} spans`);
const mb = (bodies) => (bodies.reduce((n, b) => n + b.length, 0) / 1e6).toFixed(1);
console.log(
  `otlp benchmark: ${spans.length} spans (${otlpBodies.length} requests of ${BATCH}, protobuf ${mb(otlpBodies)} MB, as batch JSON ${mb(batchBodies)} MB), ${CLIENTS} clients, best of ${ROUNDS}`,
);

const { request, Agent } = await import('undici');

/**
 * Starts a fresh server in its own process, sends every body to `path`, retrying 429s, and closes
 * it: resolves with the wall time of the sending (every request answered, i.e. committed) and the
 * server's CPU time over its whole life (start-up and the final checkpoint included).
 */
async function measure(name, bodies, path, type, check) {
  const scratch = join(DIR, name);
  await mkdir(scratch, { recursive: true });
  const profiling = process.env.BENCH_SERVER_PROF ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_SERVER_PROF, name)}`] : [];
  const child = spawn(process.execPath, [...profiling, fileURLToPath(new URL('./lib/server-child.mjs', import.meta.url)), scratch], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const { url, adminKey } = JSON.parse((await lines.next()).value);
  const headers = { 'content-type': type, 'x-honeycomb-team': adminKey };
  const agent = new Agent({ connections: CLIENTS, pipelining: 1 });
  let retries = 0;
  const { ms } = await timed(() =>
    runConcurrently(bodies, CLIENTS, async (body) => {
      for (;;) {
        const response = await request(url + path, { method: 'POST', headers, body, dispatcher: agent });
        const bytes = Buffer.from(await response.body.arrayBuffer());
        if (response.statusCode === 429) {
          retries++;
          await new Promise((done) => setTimeout(done, 50));
          continue;
        }
        if (response.statusCode !== 200) throw new Error(`POST ${path} answered ${response.statusCode}: ${bytes.toString().slice(0, 200)}`);
        check(bytes);
        return;
      }
    }),
  );
  await agent.close();
  child.kill('SIGTERM');
  const closed = await lines.next();
  const report = closed.done ? {} : JSON.parse(closed.value);
  if (!report.closed) throw new Error('the server did not close cleanly');
  await rm(scratch, { recursive: true, force: true });
  return { ms, cpuMicros: report.cpuMicros, retries };
}

const best = { batch: undefined, otlp: undefined };
const keepBest = (name, result) => {
  if (best[name] === undefined || result.ms < best[name].ms) best[name] = result;
};
const note = (r) => (r.retries > 0 ? ` (${r.retries} retries after 429)` : '');
for (let round = 1; round <= ROUNDS; round++) {
  const batch = await measure(`batch-${round}`, batchBodies, '/1/batch/bench', 'application/json', (bytes) => {
    if (!JSON.parse(bytes.toString()).every((o) => o.status === 202)) throw new Error(`rejected items: ${bytes.toString().slice(0, 200)}`);
  });
  const otlp = await measure(`otlp-${round}`, otlpBodies, '/v1/traces', 'application/x-protobuf', (bytes) => {
    if (bytes.length !== 0) throw new Error(`partial success: ${bytes.toString('latin1').slice(0, 200)}`);
  });
  keepBest('batch', batch);
  keepBest('otlp', otlp);
  console.log(
    `round ${round}: batch ${formatRate((events / batch.ms) * 1000)}${note(batch)}, otlp ${formatRate((spans.length / otlp.ms) * 1000)}${note(otlp)}`,
  );
}

const batchRate = (events / best.batch.ms) * 1000;
const otlpRate = (spans.length / best.otlp.ms) * 1000;
const cpu = (r, n) => (r.cpuMicros / n).toFixed(1);
console.log(
  `batch     ${formatRate(batchRate)}  server CPU ${cpu(best.batch, events)} µs/event (POST /1/batch, the same events as JSON, ${BATCH} per request)`,
);
console.log(
  `otlp      ${formatRate(otlpRate)}  server CPU ${cpu(best.otlp, spans.length)} µs/span  (POST /v1/traces, protobuf, ${BATCH} spans per request)`,
);
console.log(`server CPU per event, batch / otlp = ${(best.batch.cpuMicros / best.otlp.cpuMicros).toFixed(2)}`);
console.log(`ratio otlp / batch = ${(otlpRate / batchRate).toFixed(2)} (target >= 0.7)`);
