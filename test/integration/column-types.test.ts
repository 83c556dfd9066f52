/**
 * Column types keep their meaning (issue 9, item 6), against a real server: a value that does
 * not fit its column no longer re-types it. The event is stored (202) with a warning, the value
 * is kept in `meta.mistyped` and counted, P99 and compare's P95 guard keep working, and
 * `flagscope columns --set-type` changes the type on purpose, converting what converts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { createMemoryContext } from '../support/memory-context.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
let dir: string;
let server: RunningServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-column-types-'));
  server = await startServer({ port: 0, dataDir: dir, now: () => NOW });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  key = server.adminKey!,
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** Events of a checkout flag, `on` 30% slower, `duration_ms` numeric. */
function events(count: number, offset = 0): Array<Record<string, unknown>> {
  return Array.from({ length: count }, (_, i) => {
    const variant = i % 2 === 0 ? 'on' : 'off';
    return {
      time: new Date(NOW - 60_000 - (i + offset) * 100).toISOString(),
      data: { 'flag.checkout': variant, error: false, duration_ms: (variant === 'on' ? 130 : 100) + (i % 50) },
    };
  });
}

async function columns(dataset: string): Promise<Record<string, { type: string; mistyped?: number }>> {
  const res = await call('GET', `/api/v1/datasets/${dataset}/columns`);
  expect(res.status).toBe(200);
  const list = (res.body as { columns: Array<{ name: string; type: string; mistyped?: number }> }).columns;
  return Object.fromEntries(list.map((c) => [c.name, { type: c.type, ...(c.mistyped === undefined ? {} : { mistyped: c.mistyped }) }]));
}

function cli(stdin?: string, tty = false) {
  return createMemoryContext({
    now: NOW,
    stdoutTTY: tty,
    columns: 140,
    ...(stdin === undefined ? {} : { stdin }),
    env: { FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: server.adminKey!, NO_COLOR: '1', XDG_CONFIG_HOME: join(dir, 'xdg') },
  });
}

describe('a value that does not fit its column', () => {
  it('is stored with a warning per item and a header; the column keeps its type; P99 and compare keep working', async () => {
    expect((await call('POST', '/1/batch/shop', events(2000))).status).toBe(200);
    const res = await call('POST', '/1/batch/shop', [
      { data: { 'flag.checkout': 'on', duration_ms: 'fast' }, time: new Date(NOW - 1000).toISOString() },
      { data: { 'flag.checkout': 'off', duration_ms: 120 }, time: new Date(NOW - 1000).toISOString() },
    ]);
    expect(res.status).toBe(200);
    const [first, second] = res.body as Array<Record<string, unknown>>;
    expect(first).toMatchObject({ status: 202, warning: expect.stringContaining('"duration_ms" is integer, got the string "fast"') });
    expect(first!.err).toBe(first!.warning);
    expect(second).toEqual({ status: 202 });
    expect(res.headers.get('x-flagscope-warning')).toMatch(/^1 of 2 items stored with a warning \(values that did not fit their columns/);

    // The single-event endpoint answers the warning in a body and the header.
    const single = await call('POST', '/1/events/shop', { duration_ms: true, 'flag.checkout': 'on' });
    expect(single.status).toBe(200);
    expect(single.body).toMatchObject({ status: 202, warning: expect.stringContaining('got the boolean true') });
    expect(single.headers.get('x-flagscope-warning')).toContain('meta.mistyped');

    expect(await columns('shop')).toMatchObject({ duration_ms: { type: 'integer', mistyped: 2 }, 'meta.mistyped': { type: 'string' } });

    const window = { start_time: Math.floor((NOW - 3_600_000) / 1000), end_time: Math.floor(NOW / 1000) + 1 };
    const p99 = await call('POST', '/api/v1/query/shop', { ...window, calculations: [{ op: 'P99', column: 'duration_ms' }] });
    expect(p99.status, JSON.stringify(p99.body)).toBe(200);
    const kept = await call('POST', '/api/v1/query/shop', {
      ...window,
      calculations: [{ op: 'COUNT' }],
      filters: [{ column: 'meta.mistyped', op: 'exists' }],
    });
    expect((kept.body as { data: { results: Array<{ data: { COUNT: number } }> } }).data.results[0]!.data.COUNT).toBe(2);

    const compare = await call('POST', '/api/v1/compare/shop', {
      time_range: 3600,
      end_time: Math.floor(NOW / 1000) + 1,
      flags: ['checkout'],
    });
    expect(compare.status, JSON.stringify(compare.body)).toBe(200);
    expect((compare.body as { metrics: Array<{ name: string }> }).metrics.map((m) => m.name)).toContain('P95(duration_ms)');
  });

  it('is counted by `flagscope columns`', async () => {
    const ctx = cli(undefined, true);
    expect(await runCli(['columns', 'shop'], ctx)).toBe(0);
    expect(ctx.stdoutText()).toMatch(/MISTYPED/);
    expect(ctx.stdoutText()).toMatch(/duration_ms\s+integer\s+.*\s2\s*$/m);
    const json = cli();
    expect(await runCli(['columns', 'shop', '--json'], json)).toBe(0);
    const body = JSON.parse(json.stdoutText()) as { columns: Array<{ name: string; mistyped?: number }> };
    expect(body.columns.find((c) => c.name === 'duration_ms')?.mistyped).toBe(2);
  });
});

describe('changing a column type', () => {
  it('asks for --yes when not on a terminal, refuses a bad spec, and changes nothing', async () => {
    const piped = cli();
    expect(await runCli(['columns', 'shop', '--set-type', 'duration_ms=string'], piped)).toBe(2);
    expect(piped.stderrText()).toContain('--yes');
    const bad = cli();
    expect(await runCli(['columns', 'shop', '--set-type', 'duration_ms=text', '--yes'], bad)).toBe(2);
    expect(await columns('shop')).toMatchObject({ duration_ms: { type: 'integer', mistyped: 2 } });
    const missing = cli();
    expect(await runCli(['columns', 'shop', '--set-type', 'nope=string', '--yes'], missing)).toBe(3);
  });

  it('needs the admin scope and a known type', async () => {
    const created = await call('POST', '/api/v1/keys', { name: 'q', scopes: ['query', 'ingest'] });
    const queryKey = (created.body as { key: string }).key;
    const path = '/api/v1/datasets/shop/columns/duration_ms/type';
    expect((await call('POST', path, { type: 'string' }, queryKey)).status).toBe(403);
    const bad = await call('POST', path, { type: 'text' });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { code: string } }).error.code).toBe('invalid_input');
    expect((await call('POST', '/api/v1/datasets/shop/columns/meta.mistyped/type', { type: 'integer' })).status).toBe(400);
    expect((await call('POST', '/api/v1/datasets/nope/columns/x/type', { type: 'string' })).status).toBe(404);
  });

  it('to string: every value becomes text and the kept values come back into the column', async () => {
    const ctx = cli();
    expect(await runCli(['columns', 'shop', '--set-type', 'duration_ms=string', '--yes'], ctx)).toBe(0);
    expect(ctx.stdoutText()).toContain('shop.duration_ms: integer → string; 2 value(s) came back from meta.mistyped');
    expect(await columns('shop')).toMatchObject({ duration_ms: { type: 'string' } });
    expect((await columns('shop')).duration_ms!.mistyped).toBeUndefined();
    const rows = await call('POST', '/api/v1/query/shop', {
      start_time: Math.floor((NOW - 3_600_000) / 1000),
      end_time: Math.floor(NOW / 1000) + 1,
      calculations: [{ op: 'COUNT' }],
      breakdowns: ['duration_ms'],
      filters: [{ column: 'duration_ms', op: 'in', value: ['fast', 'true', '120'] }],
      orders: [{ column: 'duration_ms', order: 'ascending' }],
    });
    expect(rows.status, JSON.stringify(rows.body)).toBe(200);
    const found = (rows.body as { data: { results: Array<{ data: Record<string, unknown> }> } }).data.results.map((r) => r.data);
    expect(found).toEqual(
      expect.arrayContaining([
        { duration_ms: 'fast', COUNT: 1 },
        { duration_ms: 'true', COUNT: 1 },
      ]),
    );
  });

  it('back to integer: what does not convert is kept aside again, nothing is lost', async () => {
    const res = await call('POST', '/api/v1/datasets/shop/columns/duration_ms/type', { type: 'integer' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ dataset: 'shop', column: 'duration_ms', from: 'string', to: 'integer', kept: 2, restored: 0 });
    expect(await columns('shop')).toMatchObject({ duration_ms: { type: 'integer', mistyped: 2 } });
    // New events follow the new type: numbers fit, text is set aside.
    const after = await call('POST', '/1/batch/shop', [{ data: { duration_ms: 99 } }, { data: { duration_ms: 'slow' } }]);
    expect((after.body as Array<Record<string, unknown>>).map((item) => [item.status, item.warning === undefined])).toEqual([
      [202, true],
      [202, false],
    ]);
    expect((await columns('shop')).duration_ms).toEqual({ type: 'integer', mistyped: 3 });
  });
});
