/**
 * No input reaches a 5xx (issue 9): random and mutated bodies, thrown by fast-check at every
 * route that reads a body, against a real server (temp data dir, real DuckDB, an ingest worker
 * scanning every batch: run `npm run build` first, the worker loads from dist/). For every
 * answer: never a 5xx; every 4xx has the documented error shape and a code of docs/api.md's
 * Errors table (OFREP: its own `errorCode`); and a refused request changed nothing (datasets
 * with their row and column counts, flags with their versions, keys). Then the reproductions of
 * issue 9, items 5 and 7, one by one.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppDependencies, buildRouter } from '../../src/server/app.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { DEFAULT_SERVER_LIMITS } from '../../src/server/limits.js';
import type { Route } from '../../src/server/router.js';
import { runQuery } from '../../src/server/query/query-service.js';
import { openEventStore } from '../../src/store/duckdb/event-store.js';

const MAX_BODY_BYTES = 300_000;
/** Wall time each route's property may take (fast-check stops starting runs after it; a stopped property passes). */
const TIME_PER_ROUTE_MS = 2_000;
const RUNS_PER_ROUTE = 60;

let dir: string;
let server: RunningServer;
let admin: string;
let documented: Set<string>;

/** Every route that reads a body, with a valid body to start mutations from. */
interface BodyRoute {
  method: 'POST' | 'PUT' | 'PATCH';
  /** The route's pattern in the router. */
  pattern: string;
  path: string;
  valid: () => string;
  headers?: () => Promise<Record<string, string>>;
  ofrep?: true;
  /** OTLP/HTTP: a JSON request's refusal is a google.rpc.Status (docs/api.md, "OTLP"). */
  otlp?: true;
}

const T0 = Date.now();
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

const ROUTES: BodyRoute[] = [
  {
    method: 'POST',
    pattern: '/1/events/:dataset',
    path: '/1/events/hx',
    valid: () => '{"service":"api","dur":12.5,"ok":true,"tags":["a"]}',
  },
  {
    method: 'POST',
    pattern: '/1/batch/:dataset',
    path: '/1/batch/hx',
    valid: () =>
      JSON.stringify([
        { data: { service: 'api', dur: 3, ok: true } },
        { data: { service: 'web', dur: 1.5, nested: { a: [1, 2] } }, time: nowSeconds() - 60, samplerate: 2 },
      ]),
  },
  {
    method: 'POST',
    pattern: '/1/beacons/:dataset',
    path: '/1/beacons/hx',
    valid: () =>
      JSON.stringify([
        { execution_id: 'pv-1', 'beacon.phase': 'start', 'beacon.seq': 0, url: '/cart', dur: 3 },
        { execution_id: 'pv-1', 'beacon.phase': 'end', 'beacon.seq': 1, 'beacon.time': 1767225600000, lcp: 1200.5 },
      ]),
  },
  {
    method: 'PUT',
    pattern: '/api/v1/datasets/:dataset/beacons',
    path: '/api/v1/datasets/hx/beacons',
    valid: () => '{"allowed_origins":["http://127.0.0.1:5173"],"execution_id_field":"execution_id"}',
  },
  {
    method: 'POST',
    pattern: '/api/v1/query/:dataset',
    path: '/api/v1/query/hx',
    valid: () =>
      JSON.stringify({
        calculations: [{ op: 'COUNT' }, { op: 'HEATMAP', column: 'dur' }, { op: 'P99', column: 'dur' }],
        filters: [{ column: 'dur', op: '>', value: 1 }],
        breakdowns: ['service'],
        time_range: 3600,
        granularity: 60,
      }),
  },
  {
    method: 'POST',
    pattern: '/api/v1/events/:dataset',
    path: '/api/v1/events/hx',
    valid: () =>
      JSON.stringify({
        filters: [{ column: 'dur', op: '>', value: 1 }],
        columns: ['service', 'dur'],
        limit: 20,
        time_range: 3600,
      }),
  },
  {
    method: 'POST',
    pattern: '/api/v1/compare/:dataset',
    path: '/api/v1/compare/hx',
    valid: () => '{"flags":["hx.base"],"metrics":["COUNT","P95(dur)"],"time_range":3600}',
  },
  {
    method: 'POST',
    pattern: '/api/v1/explain/:dataset',
    path: '/api/v1/explain/hx',
    valid: () => '{"selection":[{"column":"ok","op":"=","value":false}],"time_range":3600}',
  },
  { method: 'POST', pattern: '/api/v1/keys', path: '/api/v1/keys', valid: () => '{"name":"robot","scopes":["query"]}' },
  {
    method: 'POST',
    pattern: '/api/v1/datasets/:dataset/columns/:column/type',
    path: '/api/v1/datasets/hx/columns/dur/type',
    valid: () => '{"type":"float"}',
  },
  {
    method: 'PUT',
    pattern: '/api/v1/datasets/:dataset/retention',
    path: '/api/v1/datasets/hx/retention',
    valid: () => '{"retention":"30d"}',
  },
  {
    method: 'POST',
    pattern: '/api/v1/flags',
    path: '/api/v1/flags',
    valid: () => '{"key":"hx.fresh","service":"hx","kind":"release","variants":{"on":true,"off":false},"defaultVariant":"off"}',
  },
  {
    method: 'PUT',
    pattern: '/api/v1/flags/:key',
    path: '/api/v1/flags/hx.base',
    valid: () => '{"key":"hx.base","service":"hx","kind":"release","variants":{"on":true,"off":false},"defaultVariant":"on"}',
    headers: ifMatch,
  },
  {
    method: 'PATCH',
    pattern: '/api/v1/flags/:key',
    path: '/api/v1/flags/hx.base',
    valid: () => '{"description":"patched","rollout":{"on":10,"off":90}}',
    headers: ifMatch,
  },
  { method: 'POST', pattern: '/api/v1/flags/:key/archive', path: '/api/v1/flags/hx.other/archive', valid: () => '{"reason":"done"}' },
  { method: 'PUT', pattern: '/api/v1/flags/:key/rollout', path: '/api/v1/flags/hx.base/rollout', valid: () => '{"on":25,"off":75}' },
  { method: 'POST', pattern: '/api/v1/flags/:key/press', path: '/api/v1/flags/hx.button/press', valid: () => '{"reason":"drill"}' },
  { method: 'POST', pattern: '/api/v1/flags/:key/release', path: '/api/v1/flags/hx.button/release', valid: () => '{"reason":"drill"}' },
  {
    method: 'POST',
    pattern: '/api/v1/import/flagd',
    path: '/api/v1/import/flagd',
    valid: () =>
      '{"flags":{"hx.imported":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off","metadata":{"service":"hx"}}}}',
  },
  {
    method: 'POST',
    pattern: '/api/v1/canaries',
    path: '/api/v1/canaries',
    valid: () => '{"flag":"hx.canary","dataset":"hx","steps":[5,50,100],"interval":"1m","guards":["P95(dur) <= +10%"],"dryRun":true}',
  },
  { method: 'POST', pattern: '/api/v1/canaries/:flag/ramp', path: '/api/v1/canaries/hx.canary/ramp', valid: () => '{"to":50}' },
  { method: 'POST', pattern: '/api/v1/canaries/:flag/promote', path: '/api/v1/canaries/hx.canary/promote', valid: () => '{}' },
  { method: 'POST', pattern: '/api/v1/canaries/:flag/pause', path: '/api/v1/canaries/hx.canary/pause', valid: () => '{"reason":"lunch"}' },
  { method: 'POST', pattern: '/api/v1/canaries/:flag/resume', path: '/api/v1/canaries/hx.canary/resume', valid: () => '{}' },
  { method: 'POST', pattern: '/api/v1/canaries/:flag/abort', path: '/api/v1/canaries/hx.canary/abort', valid: () => '{"reason":"drill"}' },
  {
    method: 'POST',
    pattern: '/v1/traces',
    path: '/v1/traces',
    otlp: true,
    valid: () =>
      JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'hx' } }] },
            scopeSpans: [
              {
                scope: { name: 'lib', version: '1' },
                spans: [
                  {
                    traceId: '5b8efff798038103d269b633813fc60c',
                    spanId: 'eee19b7ec3c1b174',
                    name: 'GET /x',
                    kind: 2,
                    startTimeUnixNano: String(BigInt(T0 - 60_000) * 1_000_000n),
                    endTimeUnixNano: String(BigInt(T0 - 59_000) * 1_000_000n),
                    attributes: [
                      { key: 'dur', value: { doubleValue: 1.5 } },
                      { key: 'nested', value: { kvlistValue: { values: [{ key: 'a', value: { intValue: '3' } }] } } },
                    ],
                    events: [{ timeUnixNano: String(BigInt(T0 - 59_500) * 1_000_000n), name: 'e', attributes: [] }],
                    status: { code: 2, message: 'bad' },
                  },
                ],
              },
            ],
          },
        ],
      }),
  },
  { method: 'POST', pattern: '/v1/logs', path: '/v1/logs', valid: () => '{"resourceLogs":[]}' },
  { method: 'POST', pattern: '/v1/metrics', path: '/v1/metrics', valid: () => '{"resourceMetrics":[]}' },
  {
    method: 'POST',
    pattern: '/ofrep/v1/evaluate/flags/:key',
    path: '/ofrep/v1/evaluate/flags/hx.base',
    valid: () => '{"context":{"targetingKey":"u-1","plan":"pro","n":3}}',
    ofrep: true,
  },
  {
    method: 'POST',
    pattern: '/ofrep/v1/evaluate/flags',
    path: '/ofrep/v1/evaluate/flags',
    valid: () => '{"context":{"targetingKey":"u-2"}}',
    ofrep: true,
  },
];

async function ifMatch(): Promise<Record<string, string>> {
  const res = await fetch(`${server.url}/api/v1/flags/hx.base`, { headers: { authorization: `Bearer ${admin}` } });
  await res.arrayBuffer();
  return { 'if-match': res.headers.get('etag') ?? '"1"' };
}

// ---------------------------------------------------------------------------
// Bodies

const BAD_UTF8: number[][] = [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf0, 0x9f, 0x98], [0x80]];
const HUGE_NUMBERS = ['1e400', '-1e400', '1e309', '9007199254740993', '9223372036854775808', '8640000000000001', '-0', '1e-400'];
const ODD_TIMES = ['8640000000000000', '275760', '"275760-09-13T00:00:00Z"', '9007199254740991', '-1', '1e16', '"1900-01-01T00:00:00Z"'];

const deep = (levels: number, closed: boolean): string => `${'['.repeat(levels)}${closed ? ']'.repeat(levels) : ''}`;

/** A generated body; shown short in a counterexample (a 100,000-level body would fill the screen). */
class Body {
  constructor(readonly bytes: Buffer) {}

  [fc.toStringMethod](): string {
    const text = this.bytes.toString('latin1');
    return `Body(${this.bytes.length} bytes: ${JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text)})`;
  }
}

/** A body built from a route's valid body by one of the mutations (or random bytes/JSON). */
function bodyFor(route: BodyRoute): fc.Arbitrary<Body> {
  return bodyBytesFor(route).map((bytes) => new Body(bytes));
}

function bodyBytesFor(route: BodyRoute): fc.Arbitrary<Buffer> {
  const valid = (): string => route.valid();
  const text =
    (f: (seed: string) => string): ((seed: string) => Buffer) =>
    (seed) =>
      Buffer.from(f(seed));
  return fc.oneof(
    fc.constant(null).map(() => Buffer.from(valid())),
    // Truncated.
    fc.nat().map((n) => {
      const seed = valid();
      return Buffer.from(seed.slice(0, n % (seed.length + 1)));
    }),
    // Nested deeply, closed or not, around the body or in place of a value.
    fc
      .record({
        levels: fc.oneof(fc.integer({ min: 60, max: 70 }), fc.constantFrom(1_000, 20_000, 100_000)),
        closed: fc.boolean(),
        at: fc.nat(),
      })
      .map(({ levels, closed, at }) => {
        const seed = valid();
        const values = [...seed.matchAll(/:(\d+(\.\d+)?|"[^"]*"|true|false)/g)];
        if (values.length === 0 || at % 3 === 0) return Buffer.from(`${deep(levels, closed)}${seed}`);
        const hit = values[at % values.length] as RegExpMatchArray;
        const start = (hit.index as number) + 1;
        return Buffer.from(`${seed.slice(0, start)}${deep(levels, closed)}${seed.slice(start + (hit[1] as string).length)}`);
      }),
    // A number (or an event time) replaced by a huge or odd one.
    fc.record({ at: fc.nat(), value: fc.constantFrom(...HUGE_NUMBERS, ...ODD_TIMES) }).map(({ at, value }) => {
      const seed = valid();
      const numbers = [...seed.matchAll(/-?\d+(\.\d+)?([eE][+-]?\d+)?/g)];
      if (numbers.length === 0) return Buffer.from(seed);
      const hit = numbers[at % numbers.length] as RegExpMatchArray;
      return Buffer.from(`${seed.slice(0, hit.index)}${value}${seed.slice((hit.index as number) + hit[0].length)}`);
    }),
    // Bytes that are not UTF-8, inside a string (a name or a value) or anywhere.
    fc.record({ at: fc.nat(), bytes: fc.constantFrom(...BAD_UTF8), inString: fc.boolean() }).map(({ at, bytes, inString }) => {
      const seed = Buffer.from(valid());
      const quotes: number[] = [];
      for (let i = 0; i < seed.length; i++) if (seed[i] === 0x22) quotes.push(i + 1);
      const position = inString && quotes.length > 0 ? (quotes[at % quotes.length] as number) : at % (seed.length + 1);
      return Buffer.concat([seed.subarray(0, position), Buffer.from(bytes), seed.subarray(position)]);
    }),
    // A value replaced by a random JSON value of another type.
    fc.record({ at: fc.nat(), value: fc.jsonValue({ maxDepth: 3 }) }).map(({ at, value }) => {
      const seed = valid();
      const values = [...seed.matchAll(/:(-?\d+(\.\d+)?|"[^"]*"|true|false|null)/g)];
      if (values.length === 0) return Buffer.from(JSON.stringify(value) ?? 'null');
      const hit = values[at % values.length] as RegExpMatchArray;
      const start = (hit.index as number) + 1;
      return Buffer.from(`${seed.slice(0, start)}${JSON.stringify(value) ?? 'null'}${seed.slice(start + (hit[1] as string).length)}`);
    }),
    // Random JSON and random bytes.
    fc.jsonValue({ maxDepth: 4 }).map((value) => Buffer.from(JSON.stringify(value) ?? '')),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
    fc.constantFrom('', ' ', 'null', '[]', '{}', '[{}]', '{"":{}}', '"\\ud800"', '[1e400]', '{"a":1e400}').map(text((s) => s)),
  );
}

const CONTENT_TYPES = [
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/x-ndjson',
  'application/vnd.x+json',
];

// ---------------------------------------------------------------------------
// Answers and state

interface Answer {
  status: number;
  json: any;
  text: string;
  headers: Headers;
}

async function send(method: string, path: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', ...headers },
    body: method === 'GET' ? undefined : body,
  });
  const text = await res.text();
  let json: any;
  try {
    json = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** What a refused request must leave as it was: datasets (rows, columns, last event time), flags with versions, keys. */
async function storedState(): Promise<string> {
  const [datasets, flags, keys] = await Promise.all([
    send('GET', '/api/v1/datasets', ''),
    send('GET', '/api/v1/flags', ''),
    send('GET', '/api/v1/keys', ''),
  ]);
  expect([datasets.status, flags.status, keys.status]).toEqual([200, 200, 200]);
  const flagState = (flags.json.flags as Array<Record<string, unknown>>).map((flag) => JSON.stringify(flag)).sort();
  const keyState = (keys.json.keys as Array<Record<string, unknown>>).map((key) => JSON.stringify(key)).sort();
  return JSON.stringify({ datasets: datasets.json.datasets, flags: flagState, keys: keyState });
}

/** The problem with an answer to a hostile body, or undefined when it keeps the API's word. */
function answerProblem(route: BodyRoute, answer: Answer): string | undefined {
  if (answer.status >= 500) return `a ${answer.status}: ${answer.text.slice(0, 300)}`;
  if (answer.status < 400) return undefined;
  if (route.otlp && answer.headers.get('content-type') === 'application/json') {
    const reason = answer.json?.details?.[0]?.reason;
    if (typeof answer.json?.code !== 'number' || typeof answer.json?.message !== 'string' || typeof reason !== 'string')
      return `an OTLP ${answer.status} without a google.rpc.Status {code, message, details: [ErrorInfo]}: ${answer.text.slice(0, 200)}`;
    return documented.has(`${answer.status} ${reason}`) ? undefined : `${answer.status} ${reason} is not in docs/api.md's Errors table`;
  }
  if (answer.headers.get('content-type') !== 'application/json; charset=utf-8')
    return `a ${answer.status} typed ${answer.headers.get('content-type')}`;
  if (route.ofrep && answer.status === 400) {
    return typeof answer.json?.errorCode === 'string' && typeof answer.json?.errorDetails === 'string'
      ? undefined
      : `an OFREP 400 without errorCode/errorDetails: ${answer.text.slice(0, 200)}`;
  }
  const error = answer.json?.error;
  if (typeof error?.code !== 'string' || typeof error?.message !== 'string')
    return `a ${answer.status} without {error: {code, message}}: ${answer.text.slice(0, 200)}`;
  if (error.hint !== undefined && typeof error.hint !== 'string') return `a hint that is not text: ${answer.text.slice(0, 200)}`;
  if (!documented.has(`${answer.status} ${error.code}`)) return `${answer.status} ${error.code} is not in docs/api.md's Errors table`;
  return undefined;
}

// ---------------------------------------------------------------------------

beforeAll(async () => {
  const text = await readFile(new URL('../../docs/api.md', import.meta.url), 'utf8');
  const section = text.slice(text.indexOf('## Errors'), text.indexOf('\n## ', text.indexOf('## Errors') + 1));
  documented = new Set([...section.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)].map((m) => `${m[1]} ${m[2]}`));
  dir = await mkdtemp(join(tmpdir(), 'flagscope-hostile-'));
  server = await startServer({
    dataDir: dir,
    port: 0,
    ingestWorkers: 1,
    ingestWorkerMinBytes: 0,
    limits: { maxBodyBytes: MAX_BODY_BYTES },
    // Beacons stay in their window for the whole run: a flush would change the datasets between two checks.
    beaconWindowMs: 3_600_000,
  });
  admin = server.adminKey as string;
  const flag = (key: string, kind: string): string =>
    JSON.stringify({
      key,
      service: 'hx',
      kind,
      variants: { on: true, off: false },
      defaultVariant: 'off',
      ...(kind === 'kill-switch' ? { safeVariant: 'off' } : {}),
    });
  for (const body of [
    flag('hx.base', 'release'),
    flag('hx.other', 'release'),
    flag('hx.button', 'kill-switch'),
    flag('hx.canary', 'release'),
  ]) {
    expect((await send('POST', '/api/v1/flags', body)).status).toBe(201);
  }
  const seed = await send(
    'POST',
    '/1/batch/hx',
    JSON.stringify([
      { data: { service: 'api', dur: 5, ok: true, flag_hx_base: 'on' } },
      { data: { service: 'web', dur: 2.5, ok: false, flag_hx_base: 'off' } },
    ]),
  );
  expect(seed.json).toEqual([{ status: 202 }, { status: 202 }]);
});

afterAll(async () => {
  await server?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('hostile bodies at every route that reads one (fast-check)', () => {
  it('covers every route of the router that takes a body', () => {
    const stub = { flags: {}, keyService: {}, limits: DEFAULT_SERVER_LIMITS, now: Date.now, scheduler: {}, log: () => undefined };
    const router = buildRouter(stub as unknown as AppDependencies);
    const routes = (router as unknown as { routes: Route[] }).routes
      .filter((route) => route.method === 'POST' || route.method === 'PUT' || route.method === 'PATCH')
      .map((route) => `${route.method} /${route.segments.join('/')}`)
      .sort();
    expect(ROUTES.map((route) => `${route.method} ${route.pattern}`).sort()).toEqual(routes);
  });

  for (const route of ROUTES) {
    it(`${route.method} ${route.path}: no 5xx, documented errors, a refusal changes nothing`, async () => {
      let before = await storedState();
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(bodyFor(route), fc.constantFrom(...CONTENT_TYPES), async ({ bytes: body }, type) => {
          runs++;
          const headers = { 'content-type': type, ...(route.headers === undefined ? {} : await route.headers()) };
          const answer = await send(route.method, route.path, body, headers);
          const problem = answerProblem(route, answer);
          if (problem !== undefined) throw new Error(`${problem}\nbody: ${JSON.stringify(body.toString('latin1').slice(0, 300))}`);
          const after = await storedState();
          const refused =
            answer.status >= 400 ||
            (route.path.startsWith('/1/batch') && (answer.json as Array<{ status: number }>).every((o) => o.status === 400));
          if (refused && after !== before) {
            throw new Error(
              `a refused request (${answer.status} ${answer.text.slice(0, 200)}) changed the stored data\nbody: ${body.toString('latin1').slice(0, 300)}`,
            );
          }
          before = after;
        }),
        { numRuns: RUNS_PER_ROUTE, interruptAfterTimeLimit: TIME_PER_ROUTE_MS },
      );
      expect(runs).toBeGreaterThan(0);
    });
  }
});

describe('the reproductions of issue 9 (items 5 and 7)', () => {
  const NESTING_ROUTES = ['/1/events/hx', '/api/v1/query/hx', '/api/v1/flags', '/api/v1/compare/hx', '/api/v1/import/flagd'];

  it('an unterminated [ ×20,000 is a 400, never a 500, on batch, event, query, flag create, compare and import', async () => {
    for (const path of [...NESTING_ROUTES, '/1/batch/hx']) {
      const answer = await send('POST', path, deep(20_000, false));
      expect(answer.status, path).toBe(400);
      expect(answer.json.error.code, path).toBe('invalid_input');
      if (path !== '/1/batch/hx') expect(answer.json.error.message, path).toMatch(/deeper than 64 levels/);
    }
  });

  it('valid nesting of 100,000 levels is refused naming the limit (per item in a batch)', async () => {
    const before = await storedState();
    for (const path of NESTING_ROUTES) {
      const answer = await send('POST', path, deep(100_000, true));
      expect(answer.status, path).toBe(400);
      expect(answer.json.error.message, path).toMatch(/deeper than 64 levels/);
      expect(answer.json.error.hint, path).toMatch(/at most 64 levels/);
    }
    const batch = await send('POST', '/1/batch/hx', `[{"data":{"a":${deep(100_000, true)}}},{"data":{"service":"ok"}}]`);
    expect(batch.status).toBe(200);
    expect(batch.json[0]).toEqual({ status: 400, error: expect.stringMatching(/deeper than 64 levels/) });
    expect(batch.json[1]).toEqual({ status: 202 });
    expect(await storedState()).not.toBe(before);
  });

  it('a 10,000-deep array gets the same per-item 400 from the worker scan and from the object path', async () => {
    const body = `[{"data":{"n":${deep(10_000, true)}}}]`;
    // An existing dataset: the worker scans it; a new one: the object path takes it.
    const scanned = await send('POST', '/1/batch/hx', body);
    const objects = await send('POST', '/1/batch/hx_new_dataset', body);
    expect(scanned.json).toEqual([{ status: 400, error: expect.stringMatching(/deeper than 64 levels/) }]);
    expect(objects.json).toEqual(scanned.json);
    // 64 levels of data (data itself is level 1) are taken.
    // (A dataset of its own: the hostile bodies above may have given `hx` any columns.)
    expect((await send('POST', '/1/batch/hx_edge', '[{"data":{"n":"[]"}}]')).json).toEqual([{ status: 202 }]);
    for (const dataset of ['hx_edge', 'hx_edge_new']) {
      const edge = await send('POST', `/1/batch/${dataset}`, `[{"data":{"n":${deep(63, true)}}},{"data":{"n":${deep(64, true)}}}]`);
      expect(edge.json, dataset).toEqual([{ status: 202 }, { status: 400, error: expect.stringMatching(/deeper than 64 levels/) }]);
    }
  });

  it('time_range 9007199254740991 is a 400 naming the window, not a 500', async () => {
    for (const path of ['/api/v1/query/hx', '/api/v1/compare/hx', '/api/v1/explain/hx']) {
      const body =
        path === '/api/v1/query/hx'
          ? '{"calculations":[{"op":"COUNT"}],"time_range":9007199254740991}'
          : path === '/api/v1/compare/hx'
            ? '{"flags":["hx.base"],"metrics":["COUNT"],"time_range":9007199254740991}'
            : '{"selection":[{"column":"ok","op":"=","value":false}],"time_range":9007199254740991}';
      const answer = await send('POST', path, body);
      expect(answer.status, path).toBe(400);
      expect(answer.json.error.code).toBe('invalid_input');
    }
    const reaching = await send('POST', '/api/v1/query/hx', '{"calculations":[{"op":"COUNT"}],"time_range":99999999999}');
    expect(reaching.status).toBe(400);
    expect(reaching.json.error.hint).toMatch(/1970-01-01T00:00:00Z.*5138/);
  });

  it('a flag body whose key defines toString (fast-check found a 500) is a 400 showing the key as JSON', async () => {
    for (const method of ['PUT', 'POST'] as const) {
      const path = method === 'PUT' ? '/api/v1/flags/hx.base' : '/api/v1/flags';
      const body =
        method === 'PUT'
          ? '{"key":[{"toString":0}],"service":"hx","kind":"release","variants":{"on":true,"off":false},"defaultVariant":"on"}'
          : '{"key":"hx.tostring","pressed":{"toString":0},"service":"hx","kind":"release","variants":{"on":true,"off":false},"defaultVariant":"on"}';
      const answer = await send(method, path, body, { 'content-type': 'application/json', ...(method === 'PUT' ? await ifMatch() : {}) });
      expect(answer.status, method).toBe(400);
      expect(answer.json.error.code).toBe('invalid_input');
    }
    const put = await send('PUT', '/api/v1/flags/hx.base', '{"key":[{"toString":0}]}', {
      'content-type': 'application/json',
      ...(await ifMatch()),
    });
    expect(put.json.error.message).toBe('the body names flag [{"toString":0}], the path hx.base');
  });

  it('a granularity wider than ten years is a 400 naming granularity, not a 500', async () => {
    const answer = await send('POST', '/api/v1/query/hx', '{"calculations":[{"op":"COUNT"}],"granularity":9007199254740991}');
    expect(answer.status).toBe(400);
    expect(answer.json.error.code).toBe('invalid_input');
    expect(answer.json.error.message).toMatch(/^granularity: must be between 1 and 315576000/);
  });

  it('1e400 is a per-item 400 (both paths), a 400 for a single event and in query, compare and flag bodies', async () => {
    const body = '[{"data":{"dur":1e400}},{"data":{"dur":7}}]';
    for (const dataset of ['hx', 'hx_inf_new']) {
      const answer = await send('POST', `/1/batch/${dataset}`, body);
      expect(answer.json, dataset).toEqual([
        { status: 400, error: expect.stringMatching(/^field "dur" holds a number beyond ±1\.8e308/) },
        { status: 202 },
      ]);
    }
    const single = await send('POST', '/1/events/hx', '{"dur":-1e400}');
    expect(single.status).toBe(400);
    expect(single.json.error.message).toMatch(/field "dur" holds a number beyond/);
    for (const [path, text] of [
      ['/api/v1/query/hx', '{"calculations":[{"op":"COUNT"}],"filters":[{"column":"dur","op":">","value":1e400}]}'],
      ['/api/v1/compare/hx', '{"flags":["hx.base"],"metrics":["COUNT"],"alpha":1e400}'],
      ['/api/v1/flags', '{"key":"hx.inf","service":"hx","kind":"release","variants":{"on":1e400,"off":0},"defaultVariant":"off"}'],
      ['/api/v1/flags/hx.base/rollout', '{"on":1e400,"off":0}'],
    ] as const) {
      const answer = await send(path.endsWith('rollout') ? 'PUT' : 'POST', path, text);
      expect(answer.status, path).toBe(400);
      expect(answer.json.error.message, path).toMatch(/beyond ±1\.8e308/);
    }
  });

  it('HEATMAP and P99 over a column that holds infinities (stored before they were refused) answer, never a 500', async () => {
    const storeDir = await mkdtemp(join(tmpdir(), 'flagscope-infinity-'));
    const store = await openEventStore({ path: join(storeDir, 'events.duckdb'), now: () => T0 });
    try {
      const events = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1, 2, 3].map((v, n) => ({
        time: T0 - n * 1000,
        samplerate: n % 2 === 0 ? 1 : 3,
        data: { v },
      }));
      expect((await store.ingest('inf', events)).every((o) => o.status === 202)).toBe(true);
      const spec = { calculations: [{ op: 'HEATMAP', column: 'v' }, { op: 'P99', column: 'v' }, { op: 'COUNT' }], time_range: 3600 };
      const result = await runQuery(store, 'inf', spec, T0);
      expect(result.data.results[0]?.data.COUNT).toBe(9);
    } finally {
      await store.close();
      await rm(storeDir, { recursive: true, force: true });
    }
  });

  it('an event time in the year 275760 (or before 1970, or two days ahead) is refused with the window, and last_event_time stays', async () => {
    const before = (await send('GET', '/api/v1/datasets', '')).json.datasets.find((d: { name: string }) => d.name === 'hx');
    const late = T0 + 2 * 86_400_000;
    const batch = await send(
      'POST',
      '/1/batch/hx',
      `[{"data":{"a":1},"time":8.64e15},{"data":{"a":2},"time":"1969-07-20T20:17:00Z"},{"data":{"a":3},"time":${late}}]`,
    );
    expect(batch.json.map((o: { status: number }) => o.status)).toEqual([400, 400, 400]);
    expect(batch.json[0].error).toMatch(
      /^event time \+275760-09-13T00:00:00\.000Z is outside the accepted window, 1970-01-01T00:00:00Z to 1 day after the server's clock/,
    );
    const single = await send('POST', '/1/events/hx', '{"a":1}', { 'x-honeycomb-event-time': '8640000000000000' });
    expect(single.status).toBe(400);
    expect(single.json.error.hint).toMatch(/1970-01-01T00:00:00Z to 1 day after the server's clock/);
    const after = (await send('GET', '/api/v1/datasets', '')).json.datasets.find((d: { name: string }) => d.name === 'hx');
    expect(after).toEqual(before);
  });

  it('bytes that are not UTF-8 in a name are refused; in an event value they are stored as U+FFFD with a warning', async () => {
    const bytes = (...parts: Array<string | number[]>): Buffer => Buffer.concat(parts.map((p) => Buffer.from(p as never)));
    const before = await storedState();
    // A field name: per item in a batch (both paths), the whole single event.
    for (const dataset of ['hx', 'hx_utf8_new']) {
      const answer = await send('POST', `/1/batch/${dataset}`, bytes('[{"data":{"na', [0xff], 'me":1}}]'));
      expect(answer.json, dataset).toEqual([{ status: 400, error: expect.stringMatching(/field name is not valid UTF-8/) }]);
    }
    const single = await send('POST', '/1/events/hx', bytes('{"na', [0xc3], 'me":1}'));
    expect(single.status).toBe(400);
    // A flag key, a column in a query, a dataset name in the path.
    const flag = await send(
      'POST',
      '/api/v1/flags',
      bytes('{"key":"hx.', [0xff], '","service":"hx","kind":"release","variants":{"on":true,"off":false},"defaultVariant":"off"}'),
    );
    expect(flag.status).toBe(400);
    expect(flag.json.error.message).toMatch(/not valid UTF-8 \(byte 11/);
    const query = await send('POST', '/api/v1/query/hx', bytes('{"calculations":[{"op":"P99","column":"d', [0xe2, 0x82], '"}]}'));
    expect(query.status).toBe(400);
    const path = await send('POST', '/1/batch/hx%FF', '[{"data":{}}]');
    expect(path.status).toBe(400);
    expect(await storedState()).toBe(before);
    // A value: stored with U+FFFD and reported.
    const batch = await send('POST', '/1/batch/hx', bytes('[{"data":{"service":"caf', [0xc3], '"}},{"data":{"service":"fine"}}]'));
    expect(batch.json).toEqual([
      { status: 202, warning: expect.stringMatching(/not valid UTF-8.*U\+FFFD/), err: expect.stringMatching(/not valid UTF-8/) },
      { status: 202 },
    ]);
    const event = await send('POST', '/1/events/hx', bytes('{"service":"x', [0xff], 'y"}'));
    expect(event.status).toBe(200);
    expect(event.headers.get('x-flagscope-warning')).toMatch(/not valid UTF-8/);
    const stored = await send(
      'POST',
      '/api/v1/query/hx',
      '{"calculations":[{"op":"COUNT"}],"filters":[{"column":"service","op":"in","value":["caf\\ufffd","x\\ufffdy"]}],"time_range":3600}',
    );
    expect(stored.json.data.results[0].data.COUNT).toBe(2);
  });
});
