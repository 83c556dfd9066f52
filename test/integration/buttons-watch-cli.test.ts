/**
 * `buttons press --watch-traffic` waits on the context's scheduler: with the
 * in-memory context's manual clock, two minutes of polling run without any
 * real waiting, against the real server.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { createMemoryContext } from '../support/memory-context.js';

let dir: string;
let server: RunningServer;
/** The server's clock: real for the set-up, then the test context's, so press times and queries agree. */
let clock: () => number = () => Date.now();

async function api(method: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-watch-cli-'));
  server = await startServer({ dataDir: join(dir, 'data'), port: 0, now: () => clock() });
  const created = await api('POST', '/api/v1/flags', {
    key: 'payments-off',
    service: 'checkout',
    kind: 'kill-switch',
    variants: { live: true, off: false },
    defaultVariant: 'live',
    safeVariant: 'off',
  });
  expect(created.status).toBe(201);
  const sent = await api('POST', '/1/batch/shop', [
    { data: { 'flag.payments-off': 'live' }, time: new Date(Date.now() - 60_000).toISOString() },
  ]);
  expect(sent.status).toBe(200);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('buttons press --watch-traffic on the manual scheduler', () => {
  it('polls once a second of the context clock and gives up after --watch-timeout with exit 5, without sleeping', async () => {
    const ctx = createMemoryContext({ now: Date.now(), env: { XDG_CONFIG_HOME: join(dir, 'config'), NO_COLOR: '1' } });
    clock = ctx.now;
    const started = performance.now();
    let exit: number | undefined;
    const run = runCli(
      [
        'buttons',
        'press',
        'payments-off',
        '--reason',
        'drill',
        '--yes',
        '--watch-traffic',
        'shop',
        '--watch-timeout',
        '2m',
        '--api-url',
        server.url,
        '--api-key',
        server.adminKey as string,
      ],
      ctx,
    ).then((code) => {
      exit = code;
    });
    let polls = 0;
    while (exit === undefined) {
      await Promise.race([ctx.waitForSleep(), run]);
      if (exit !== undefined) break;
      polls++;
      await ctx.advance(1000);
    }
    await run;
    expect(exit, ctx.stderrText()).toBe(5);
    expect(ctx.stderrText()).toContain('traffic in shop does not show off after 120s of watching');
    expect(polls).toBe(120);
    // Two minutes of the context's clock in far less real time.
    expect(performance.now() - started).toBeLessThan(60_000);
  });

  it('judges the last 10s, so clients still serving the old variant in the first seconds do not fail it (issue 11, item 3)', async () => {
    const created = await api('POST', '/api/v1/flags', {
      key: 'search-off',
      service: 'search',
      kind: 'kill-switch',
      variants: { live: true, off: false },
      defaultVariant: 'live',
      safeVariant: 'off',
    });
    expect(created.status).toBe(201);
    // Whole seconds, after the other test's clock: the window's edges are the query's seconds.
    const start = Math.ceil(Date.now() / 1000) * 1000 + 600_000;
    const ctx = createMemoryContext({ now: start, env: { XDG_CONFIG_HOME: join(dir, 'config'), NO_COLOR: '1' } });
    clock = ctx.now;
    const before = [{ data: { 'flag.search-off': 'live' }, time: new Date(start - 60_000).toISOString() }];
    expect((await api('POST', '/1/batch/search', before)).status).toBe(200);
    let exit: number | undefined;
    const run = runCli(
      [
        'buttons',
        'press',
        'search-off',
        '--reason',
        'index corrupt',
        '--yes',
        '--watch-traffic',
        'search',
        '--watch-timeout',
        '60s',
        '--api-url',
        server.url,
        '--api-key',
        server.adminKey as string,
      ],
      ctx,
    ).then((code) => {
      exit = code;
    });
    let second = 0;
    while (exit === undefined) {
      await Promise.race([ctx.waitForSleep(), run]);
      if (exit !== undefined) break;
      // Each second of traffic: for the first three, 8 of 40 clients have not heard of the press yet.
      const lagging = second < 3 ? 8 : 0;
      const events = Array.from({ length: second < 3 ? 40 : 10 }, (_, i) => ({
        data: { 'flag.search-off': i < lagging ? 'live' : 'off' },
        time: new Date(ctx.now()).toISOString(),
      }));
      expect((await api('POST', '/1/batch/search', events)).status).toBe(200);
      second++;
      await ctx.advance(1000);
    }
    await run;
    expect(exit, ctx.stderrText()).toBe(0);
    expect(ctx.stderrText()).toContain('judging the last 10s of events after the press, for up to 60s');
    // The lagging events (seconds 0 to 2) leave the window once it starts at second 3.
    expect(second).toBe(13);
    expect(ctx.stdoutText()).toMatch(
      /traffic confirms it: 100 of 100 events in search in the last 10s \(\d\d:\d\d:\d\d–\d\d:\d\d:\d\d UTC\) were served off/,
    );
    expect(ctx.stdoutText()).toContain('(every event since the press, propagation included: off: 196, live: 24)');
  });
});
