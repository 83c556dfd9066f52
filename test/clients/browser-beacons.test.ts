/**
 * The beacon snippet (browser/flagscope-beacons.js) in a real browser against the real server:
 * Debian's Chromium, driven headless by playwright-core, loads a page the test serves from its
 * own loopback origin (so the beacons cross origins and the server's CORS is the real one, with
 * the page's origin allowed through the API). The page loads the snippet and web-vitals'
 * attribution build and sends its beacons with `navigator.sendBeacon` and an ingest-only
 * `?key=`. Some page loads end normally (navigating away fires `pagehide`, which sends `end`),
 * some crash before their end: the renderer crashed through CDP `Page.crash`, or the whole
 * browser killed with SIGKILL. A page from an origin that is not allowed is refused.
 *
 * The server runs on a manual scheduler, so the beacon window closes when the test moves the
 * clock past it, after every beacon has been acknowledged (counted from the server's own
 * request log), never while a slow page is still loading. The server then stops (which awaits
 * the storing of what the window closed), a second server opens the same data directory, and
 * its query and raw-events APIs must show every completed execution as one stitched event with
 * its web-vitals columns and every crashed one as `meta.incomplete = true`, with the exact counts
 * the test produced.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserServer, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { callApiOk } from '../support/api-call.js';
import { BeaconLog, CHROMIUM, launchChromium as launchBrowser } from '../support/browser.js';
import { ManualScheduler } from '../support/manual-scheduler.js';

const DATASET = 'web';
const WINDOW_MS = 10_000;

const SNIPPET = fileURLToPath(new URL('../../browser/flagscope-beacons.js', import.meta.url));
const SNIPPET_IIFE = fileURLToPath(new URL('../../browser/flagscope-beacons.iife.js', import.meta.url));
const WEB_VITALS = fileURLToPath(new URL('../../node_modules/web-vitals/dist/web-vitals.attribution.js', import.meta.url));
const WEB_VITALS_IIFE = fileURLToPath(new URL('../../node_modules/web-vitals/dist/web-vitals.attribution.iife.js', import.meta.url));

/**
 * The test page, with the snippet and web-vitals as ES modules (`module`), or as classic scripts
 * (`classic`: their IIFE builds, which set `flagscopeBeacons` and `webVitals`), and a button whose
 * handler is slow enough for an INP.
 */
function pageHtml(serverUrl: string, key: string, form: 'module' | 'classic'): string {
  const scripts =
    form === 'module'
      ? `<script type="module">
import { startBeacons } from '/flagscope-beacons.js';
import * as webVitals from '/web-vitals.attribution.js';`
      : `<script src="/web-vitals.attribution.iife.js"></script>
<script src="/flagscope-beacons.iife.js"></script>
<script>
const { startBeacons } = flagscopeBeacons;`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>checkout</title></head>
<body>
<h1 id="title">Your basket</h1>
<p>Three items, ready to buy. This paragraph is here so the page paints some text.</p>
<button id="buy">Buy</button>
${scripts}
const params = new URLSearchParams(location.search);
window.vitalsSeen = {};
for (const on of ['onTTFB', 'onFCP', 'onLCP', 'onCLS', 'onINP']) webVitals[on]((metric) => { window.vitalsSeen[metric.name] = metric.value; }, { reportAllChanges: true });
window.beacons = startBeacons({
  url: ${JSON.stringify(serverUrl)},
  dataset: ${JSON.stringify(DATASET)},
  key: ${JSON.stringify(key)},
  webVitals,
  flags: { 'new-checkout': params.get('variant') },
  fields: { 'page.load': Number(params.get('load')), 'page.scenario': params.get('scenario') },
});
document.getElementById('buy').addEventListener('click', () => {
  const until = performance.now() + 80;
  while (performance.now() < until);
  document.getElementById('title').textContent = 'Thank you';
});
</script>
</body></html>`;
}

/** Serves the test page, the snippet, web-vitals, and a page without beacons to navigate to. */
async function startPageServer(serverUrl: string, key: string): Promise<{ server: Server; origin: string; port: number }> {
  const [snippet, snippetIife, webVitals, webVitalsIife] = await Promise.all([
    readFile(SNIPPET),
    readFile(SNIPPET_IIFE),
    readFile(WEB_VITALS),
    readFile(WEB_VITALS_IIFE),
  ]);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://page').pathname;
    const send = (type: string, body: string | Buffer) => {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (path === '/flagscope-beacons.js') send('text/javascript', snippet);
    else if (path === '/flagscope-beacons.iife.js') send('text/javascript', snippetIife);
    else if (path === '/web-vitals.attribution.js') send('text/javascript', webVitals);
    else if (path === '/web-vitals.attribution.iife.js') send('text/javascript', webVitalsIife);
    else if (path === '/page') send('text/html; charset=utf-8', pageHtml(serverUrl, key, 'module'));
    else if (path === '/page-classic') send('text/html; charset=utf-8', pageHtml(serverUrl, key, 'classic'));
    else if (path === '/elsewhere') send('text/html; charset=utf-8', '<!doctype html><title>elsewhere</title><p>another page');
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}`, port };
}

/** A Chromium of its own (its process is the test's to kill). */
function launchChromium(): Promise<{ browserServer: BrowserServer; browser: Browser }> {
  return launchBrowser(browserServers);
}

type Scenario = 'completed' | 'completed-with-update' | 'page-crash' | 'page-crash-after-update' | 'browser-killed';

interface Load {
  load: number;
  /** `/page` (ES modules) or `/page-classic` (classic scripts). */
  path: string;
  scenario: Scenario;
  variant: 'on' | 'off';
  executionId: string;
}

const allVitals = () => ['TTFB', 'FCP', 'LCP', 'CLS', 'INP'].every((name) => name in (globalThis as any).vitalsSeen);
const loadVitals = () => ['TTFB', 'FCP', 'LCP', 'CLS'].every((name) => name in (globalThis as any).vitalsSeen);

let dir: string;
let scheduler: ManualScheduler;
let server: RunningServer;
let reopened: RunningServer | undefined;
/** What a failed start leaves running, for afterAll: the first server until it is closed, the browsers. */
let firstServerOpen = false;
const browserServers: BrowserServer[] = [];
let adminKey: string;
let pages: { server: Server; origin: string; port: number };
const beaconLog = new BeaconLog();
const loads: Load[] = [];
let refusedExecution: string;
let startedAt: number;

function api(target: RunningServer, method: string, path: string, body?: unknown): Promise<any> {
  return callApiOk(target.url, adminKey, method, path, body);
}

/** Opens a page load and waits for its `start` beacon to be accepted; returns its execution id. */
async function open(page: Page, load: number, scenario: Scenario, variant: 'on' | 'off', path = '/page'): Promise<string> {
  const before = beaconLog.accepted;
  await page.goto(`${pages.origin}${path}?load=${load}&scenario=${scenario}&variant=${variant}`);
  await beaconLog.reach(before + 1, `the start beacon of load ${load} (${scenario})`);
  const executionId = await page.evaluate(() => (globalThis as any).beacons.executionId as string);
  loads.push({ load, path, scenario, variant, executionId });
  return executionId;
}

/** Sends an `update` from the page (headless Chromium never hides a page, so the page asks) and waits for it. */
async function update(page: Page, load: number): Promise<void> {
  const before = beaconLog.accepted;
  await page.evaluate(() => {
    (globalThis as any).beacons.setField('cart.items', 3);
    (globalThis as any).beacons.update();
  });
  await beaconLog.reach(before + 1, `the update beacon of load ${load}`);
}

/** A page load that ends normally: measured, clicked (an INP), then left for another page (`pagehide` → `end`). */
async function completeLoad(page: Page, load: number, withUpdate: boolean, path = '/page'): Promise<void> {
  await open(page, load, withUpdate ? 'completed-with-update' : 'completed', load % 2 === 0 ? 'on' : 'off', path);
  await page.click('#buy');
  await page.waitForFunction(allVitals);
  if (withUpdate) await update(page, load);
  const before = beaconLog.accepted;
  await page.goto(`${pages.origin}/elsewhere`);
  await beaconLog.reach(before + 1, `the end beacon of load ${load}`);
}

/** A page load whose renderer crashes (CDP `Page.crash`) before it can send its end. */
async function crashLoad(browser: Browser, load: number, afterUpdate: boolean): Promise<void> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await open(page, load, afterUpdate ? 'page-crash-after-update' : 'page-crash', load % 2 === 0 ? 'on' : 'off');
  if (afterUpdate) {
    await page.waitForFunction(loadVitals);
    await update(page, load);
  }
  const cdp = await context.newCDPSession(page);
  const crashed = new Promise((resolve) => page.once('crash', resolve));
  // The session goes down with the renderer, so the command never answers.
  cdp.send('Page.crash').catch(() => undefined);
  await crashed;
  await context.close();
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (bash .ci/run does)`);
  dir = await mkdtemp(join(tmpdir(), 'flagscope-browser-beacons-'));
  startedAt = Date.now();
  scheduler = new ManualScheduler(startedAt);
  server = await startServer({ dataDir: dir, port: 0, scheduler, beaconWindowMs: WINDOW_MS, verbose: true, log: beaconLog.line });
  firstServerOpen = true;
  adminKey = server.adminKey as string;
  const ingestKey = (await api(server, 'POST', '/api/v1/keys', { name: 'web-beacons', scopes: ['ingest'] })).key as string;
  pages = await startPageServer(server.url, ingestKey);
  await api(server, 'PUT', `/api/v1/datasets/${DATASET}/beacons`, { allowed_origins: [pages.origin] });

  const first = await launchChromium();
  try {
    const context = await first.browser.newContext();
    const page = await context.newPage();
    // Load 2 includes the snippet and web-vitals as classic scripts (their IIFE builds).
    for (let load = 1; load <= 4; load++) await completeLoad(page, load, load > 2, load === 2 ? '/page-classic' : '/page');
    await context.close();
    for (let load = 5; load <= 7; load++) await crashLoad(first.browser, load, load === 7);

    // The same page from an origin the dataset does not allow: its start and end are refused (403), nothing kept.
    const stranger = await first.browser.newContext();
    const strangerPage = await stranger.newPage();
    const accepted = beaconLog.accepted;
    await strangerPage.goto(`http://localhost:${pages.port}/page?load=99&scenario=stranger&variant=on`);
    await beaconLog.reach(accepted, 'the refused start beacon of a page from another origin', 1);
    refusedExecution = await strangerPage.evaluate(() => (globalThis as any).beacons.executionId as string);
    await strangerPage.goto(`http://localhost:${pages.port}/elsewhere`);
    await beaconLog.reach(accepted, 'the refused end beacon of a page from another origin', 2);
    await stranger.close();
  } finally {
    await first.browser.close();
    await first.browserServer.close();
  }

  // A browser killed outright with two pages open: no pagehide, no end.
  const second = await launchChromium();
  const context = await second.browser.newContext();
  for (let load = 8; load <= 9; load++) await open(await context.newPage(), load, 'browser-killed', load % 2 === 0 ? 'on' : 'off');
  const browserProcess = second.browserServer.process();
  const exited = new Promise((resolve) => browserProcess.once('exit', resolve));
  // Its process group: the browser and its renderers and helpers (playwright launches it detached,
  // as the leader of its group); the browser alone if it is not.
  try {
    process.kill(-(browserProcess.pid as number), 'SIGKILL');
  } catch {
    browserProcess.kill('SIGKILL');
  }
  await exited;
  await second.browserServer.close().catch(() => undefined);

  // Every beacon is in the window: let it close, then stop the server, which awaits the storing.
  await scheduler.advance(WINDOW_MS + 2_000);
  firstServerOpen = false;
  await server.close();
  reopened = await startServer({ dataDir: dir, port: 0 });
}, 180_000);

afterAll(async () => {
  for (const browserServer of browserServers) await browserServer.close().catch(() => undefined);
  if (firstServerOpen) await server.close();
  await reopened?.close();
  await new Promise<void>((resolve) => (pages?.server === undefined ? resolve() : pages.server.close(() => resolve())));
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('the beacon snippet in headless Chromium against the real server', () => {
  it('produced the loads it meant to: four completed, three renderer crashes, two killed with the browser', () => {
    expect(loads.map((l) => l.scenario)).toEqual([
      'completed',
      'completed',
      'completed-with-update',
      'completed-with-update',
      'page-crash',
      'page-crash',
      'page-crash-after-update',
      'browser-killed',
      'browser-killed',
    ]);
    expect(new Set(loads.map((l) => l.executionId)).size).toBe(loads.length);
    // start + end, start + update + end, start, start + update, start: what the server acknowledged.
    expect(beaconLog.accepted).toBe(2 * 2 + 2 * 3 + 2 * 1 + 2 + 2 * 1);
  });

  it('counts completed and incomplete executions exactly, each closed by its window', async () => {
    const result = await api(reopened as RunningServer, 'POST', `/api/v1/query/${DATASET}`, {
      calculations: [{ op: 'COUNT' }],
      breakdowns: ['meta.incomplete', 'meta.closed_by', 'meta.missing_start'],
      orders: [{ column: 'meta.incomplete', order: 'ascending' }],
      start_time: Math.floor(startedAt / 1000) - 60,
      end_time: Math.ceil(Date.now() / 1000) + 60,
    });
    expect(result.data.results.map((r: any) => r.data)).toEqual([
      { 'meta.incomplete': false, 'meta.closed_by': 'window', 'meta.missing_start': false, COUNT: 4 },
      { 'meta.incomplete': true, 'meta.closed_by': 'window', 'meta.missing_start': false, COUNT: 5 },
    ]);
  });

  it('stitches each completed execution into one event with its web-vitals columns, flags and page fields', async () => {
    const byId = await storedExecutions();
    const completed = loads.filter((l) => l.scenario.startsWith('completed'));
    for (const load of completed) {
      const event = storedLoad(byId, load, false, load.scenario === 'completed' ? 2 : 3);
      expect(event).toMatchObject({
        'vitals.inp.element': '#buy',
        'vitals.inp.interaction_type': 'pointer',
        'vitals.lcp.navigation_type': 'navigate',
      });
      for (const metric of ['lcp', 'fcp', 'ttfb', 'inp']) {
        expect(event[`vitals.${metric}`], `vitals.${metric} of load ${load.load}`).toBeGreaterThan(0);
        expect(['good', 'needs-improvement', 'poor']).toContain(event[`vitals.${metric}.rating`]);
      }
      expect(event['vitals.cls']).toBeGreaterThanOrEqual(0);
      // The slow click handler is the interaction: at least its 80 ms of processing.
      expect(event['vitals.inp.processing_duration']).toBeGreaterThanOrEqual(70);
      expect(typeof event['vitals.lcp.element']).toBe('string');
      expect(event['vitals.fcp.first_byte_to_fcp']).toBeGreaterThanOrEqual(0);
      expect(event['vitals.ttfb.request_duration']).toBeGreaterThanOrEqual(0);
      expect(event.duration_ms).toBeGreaterThan(0);
      if (load.scenario === 'completed-with-update') expect(event['cart.items']).toBe(3);
      else expect(event).not.toHaveProperty('cart.items');
    }
  });

  it('keeps every crashed execution as incomplete with what it sent before the crash', async () => {
    const byId = await storedExecutions();
    for (const load of loads.filter((l) => !l.scenario.startsWith('completed'))) {
      const event = storedLoad(byId, load, true, load.scenario === 'page-crash-after-update' ? 2 : 1);
      expect(event).not.toHaveProperty('vitals.inp');
      if (load.scenario === 'page-crash-after-update') {
        expect(event['vitals.lcp']).toBeGreaterThan(0);
        expect(event['cart.items']).toBe(3);
      } else expect(event).not.toHaveProperty('vitals.lcp');
    }
  });

  it('stores nothing else: one event per execution, none from the origin that was refused', async () => {
    const byId = await storedExecutions();
    expect([...byId.keys()].sort()).toEqual(loads.map((l) => l.executionId).sort());
    expect(byId.has(refusedExecution)).toBe(false);
    expect(beaconLog.refused).toHaveLength(2);
    for (const line of beaconLog.refused) expect(line).toMatch(/^POST \/1\/beacons\/web\?key=… 403 /);
  });
});

/** The stored event of a load, with what every execution carries: its flag variant, page fields, completeness and beacon count. */
function storedLoad(byId: Map<string, any>, load: Load, incomplete: boolean, beaconCount: number): any {
  const event = byId.get(load.executionId);
  expect(event, `load ${load.load} (${load.scenario})`).toMatchObject({
    'meta.incomplete': incomplete,
    'meta.beacon_count': beaconCount,
    'flag.new-checkout': load.variant,
    'page.load': load.load,
    'page.scenario': load.scenario,
    'page.url': `${pages.origin}${load.path}`,
  });
  return event;
}

/** Every stored event of the dataset by execution id (failing on an id stored twice). */
async function storedExecutions(): Promise<Map<string, any>> {
  const answer = await api(reopened as RunningServer, 'POST', `/api/v1/events/${DATASET}`, {
    limit: 100,
    start_time: Math.floor(startedAt / 1000) - 60,
    end_time: Math.ceil(Date.now() / 1000) + 60,
  });
  const byId = new Map<string, any>();
  for (const event of answer.events) {
    const id = event.data.execution_id as string;
    expect(byId.has(id), `execution ${id} stored twice`).toBe(false);
    byId.set(id, event.data);
  }
  return byId;
}
