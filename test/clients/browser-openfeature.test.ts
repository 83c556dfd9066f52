/**
 * The beacon snippet with the OpenFeature web SDK and its OFREP web provider, all real, in
 * headless Chromium against the real server: each page sets its user as the evaluation context,
 * loads the flags through `@openfeature/ofrep-web-provider` (bulk OFREP, through the page's own
 * origin, which forwards `/ofrep/` to flagscope with the `flags:read` key as a site's backend
 * would, so the page holds no key that reads flags), evaluates them through
 * the client it hands to `startBeacons({openFeature})`, and leaves. Every stitched execution must
 * carry, as `flag.<key>`, the variant flagscope's own single-flag OFREP answer gives that user: a
 * 50/50 rollout, a targeting rule that serves one user another variant, and a flag the server
 * does not know (the caller's default, no variant).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserServer } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { callApiOk } from '../support/api-call.js';
import { BeaconLog, CHROMIUM, launchChromium } from '../support/browser.js';
import { ManualScheduler } from '../support/manual-scheduler.js';

const DATASET = 'shop-web';
const WINDOW_MS = 10_000;
const USERS = ['user-1', 'user-2', 'user-3', 'user-4', 'user-5', 'user-6', 'vip@example.com'];

const moduleFile = (path: string) => fileURLToPath(new URL(`../../node_modules/${path}`, import.meta.url));
/** The ES modules the page imports by name (its import map), each the package's own browser build. */
const MODULES: Record<string, string> = {
  '@openfeature/core': moduleFile('@openfeature/core/dist/esm/index.js'),
  '@openfeature/web-sdk': moduleFile('@openfeature/web-sdk/dist/esm/index.js'),
  '@openfeature/ofrep-core': existsSync(moduleFile('@openfeature/ofrep-web-provider/node_modules/@openfeature/ofrep-core/index.esm.js'))
    ? moduleFile('@openfeature/ofrep-web-provider/node_modules/@openfeature/ofrep-core/index.esm.js')
    : moduleFile('@openfeature/ofrep-core/index.esm.js'),
  '@openfeature/ofrep-web-provider': moduleFile('@openfeature/ofrep-web-provider/index.esm.js'),
};
const SNIPPET = fileURLToPath(new URL('../../browser/flagscope-beacons.js', import.meta.url));

let dir: string;
let scheduler: ManualScheduler;
let server: RunningServer;
let firstServerOpen = false;
let reopened: RunningServer | undefined;
let pages: { server: Server; origin: string };
let adminKey: string;
let readKey: string;
const browsers: BrowserServer[] = [];
const beaconLog = new BeaconLog();
/** What each page's client returned, by user. */
const served = new Map<string, { checkout: boolean; banner: string; missing: string }>();

function api(target: RunningServer, method: string, path: string, body?: unknown): Promise<any> {
  return callApiOk(target.url, adminKey, method, path, body);
}

function pageHtml(ingestKey: string): string {
  const imports = Object.fromEntries(Object.keys(MODULES).map((name) => [name, `/modules/${name}.js`]));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shop</title>
<script type="importmap">${JSON.stringify({ imports })}</script></head>
<body><h1>Shop</h1>
<script type="module">
import { OpenFeature } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { startBeacons } from '/flagscope-beacons.js';
const user = new URLSearchParams(location.search).get('user');
await OpenFeature.setContext({ targetingKey: user, email: user });
await OpenFeature.setProviderAndWait(
  new OFREPWebProvider({ baseUrl: location.origin, pollInterval: 0 }),
);
const client = OpenFeature.getClient();
window.beacons = startBeacons({
  url: ${JSON.stringify(server.url)},
  dataset: ${JSON.stringify(DATASET)},
  key: ${JSON.stringify(ingestKey)},
  openFeature: client,
  fields: { 'page.user': user },
});
window.served = {
  checkout: client.getBooleanValue('new-checkout', false),
  banner: client.getStringValue('banner-text', 'none'),
  missing: client.getStringValue('no-such-flag', 'fallback'),
};
</script></body></html>`;
}

/** Serves the page and its modules, and forwards `/ofrep/…` to flagscope with the key (the page's origin: no CORS, no key in the page). */
async function startPageServer(ingestKey: string): Promise<{ server: Server; origin: string }> {
  const files = new Map<string, Buffer>();
  for (const [name, file] of Object.entries(MODULES)) files.set(`/modules/${name}.js`, await readFile(file));
  files.set('/flagscope-beacons.js', await readFile(SNIPPET));
  const pageServer = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://page').pathname;
    if (path.startsWith('/ofrep/')) {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers: Record<string, string> = { authorization: `Bearer ${readKey}` };
      for (const name of ['content-type', 'if-none-match']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const answer = await fetch(server.url + (req.url ?? ''), {
        method: req.method,
        headers,
        body: chunks.length === 0 ? undefined : Buffer.concat(chunks),
      });
      const forwarded: Record<string, string> = {};
      for (const name of ['content-type', 'etag']) {
        const value = answer.headers.get(name);
        if (value !== null) forwarded[name] = value;
      }
      res.writeHead(answer.status, forwarded);
      res.end(Buffer.from(await answer.arrayBuffer()));
      return;
    }
    const file = files.get(path);
    if (file !== undefined) {
      res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' });
      res.end(file);
    } else if (path === '/page') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(pageHtml(ingestKey));
    } else if (path === '/elsewhere') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>elsewhere</title><p>another page');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  return { server: pageServer, origin: `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}` };
}

/** flagscope's own single-flag OFREP answer for a user: the variant and value the page must have recorded. */
async function ofrepAnswer(flag: string, user: string): Promise<{ status: number; variant?: string; value?: unknown }> {
  const res = await fetch(`${(reopened as RunningServer).url}/ofrep/v1/evaluate/flags/${flag}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ context: { targetingKey: user, email: user } }),
  });
  return { status: res.status, ...((await res.json()) as { variant?: string; value?: unknown }) };
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (bash .ci/run does)`);
  dir = await mkdtemp(join(tmpdir(), 'flagscope-browser-openfeature-'));
  scheduler = new ManualScheduler(Date.now());
  server = await startServer({ dataDir: dir, port: 0, scheduler, beaconWindowMs: WINDOW_MS, verbose: true, log: beaconLog.line });
  firstServerOpen = true;
  adminKey = server.adminKey as string;
  readKey = (await api(server, 'POST', '/api/v1/keys', { name: 'web-flags', scopes: ['flags:read'] })).key;
  const ingestKey = (await api(server, 'POST', '/api/v1/keys', { name: 'web-beacons', scopes: ['ingest'] })).key;
  await api(server, 'POST', '/api/v1/flags', {
    key: 'new-checkout',
    service: 'checkout',
    kind: 'release',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    rollout: { on: 50, off: 50 },
  });
  await api(server, 'POST', '/api/v1/flags', {
    key: 'banner-text',
    service: 'web',
    kind: 'experiment',
    variants: { plain: 'Welcome', fancy: 'Welcome back!' },
    defaultVariant: 'plain',
    targeting: { if: [{ ends_with: [{ var: 'email' }, '@example.com'] }, 'fancy', null] },
  });
  pages = await startPageServer(ingestKey);
  await api(server, 'PUT', `/api/v1/datasets/${DATASET}/beacons`, { allowed_origins: [pages.origin] });

  const { browser } = await launchChromium(browsers);
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    for (const user of USERS) {
      const before = beaconLog.accepted;
      await page.goto(`${pages.origin}/page?user=${encodeURIComponent(user)}`);
      await page.waitForFunction(() => (globalThis as any).served !== undefined);
      served.set(user, await page.evaluate(() => (globalThis as any).served));
      await page.goto(`${pages.origin}/elsewhere`);
      // Its start and its end (pagehide).
      await beaconLog.reach(before + 2, `the start and end beacons of ${user}`);
    }
    await context.close();
  } finally {
    await browser.close();
  }
  await scheduler.advance(WINDOW_MS + 2_000);
  firstServerOpen = false;
  await server.close();
  reopened = await startServer({ dataDir: dir, port: 0 });
}, 120_000);

afterAll(async () => {
  for (const browserServer of browsers) await browserServer.close().catch(() => undefined);
  if (firstServerOpen) await server.close();
  await reopened?.close();
  await new Promise<void>((resolve) => (pages?.server === undefined ? resolve() : pages.server.close(() => resolve())));
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('the beacon snippet with the OpenFeature web SDK and the OFREP web provider (headless Chromium)', () => {
  it('serves each page the value flagscope gives its user', async () => {
    for (const user of USERS) {
      const checkout = await ofrepAnswer('new-checkout', user);
      const banner = await ofrepAnswer('banner-text', user);
      expect(served.get(user), user).toEqual({ checkout: checkout.value, banner: banner.value, missing: 'fallback' });
    }
    // The rollout splits these users, and the rule picks out the one address it names.
    expect(new Set([...served.values()].map((s) => s.checkout))).toEqual(new Set([true, false]));
    expect([...served].filter(([, s]) => s.banner === 'Welcome back!').map(([user]) => user)).toEqual(['vip@example.com']);
  });

  it('stores one complete execution per page whose flag columns are the variants served, and the default where the flag is unknown', async () => {
    const answer = await api(reopened as RunningServer, 'POST', `/api/v1/events/${DATASET}`, {
      limit: 100,
      start_time: Math.floor(Date.now() / 1000) - 3600,
      end_time: Math.ceil(Date.now() / 1000) + 3600,
    });
    const byUser = new Map<string, Record<string, unknown>>();
    for (const event of answer.events as Array<{ data: Record<string, unknown> }>) {
      const user = event.data['page.user'] as string;
      expect(byUser.has(user), `${user} stored twice`).toBe(false);
      byUser.set(user, event.data);
    }
    expect([...byUser.keys()].sort()).toEqual([...USERS].sort());
    for (const user of USERS) {
      const event = byUser.get(user) as Record<string, unknown>;
      expect(event['meta.incomplete'], user).toBe(false);
      expect(event['flag.new-checkout'], user).toBe((await ofrepAnswer('new-checkout', user)).variant);
      expect(event['flag.banner-text'], user).toBe((await ofrepAnswer('banner-text', user)).variant);
      // No variant for a flag the server does not have: the caller's default value is what was served.
      expect(event['flag.no-such-flag'], user).toBe('fallback');
    }
  });
});
