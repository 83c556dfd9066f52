/**
 * The browser snippet (browser/flagscope-beacons.js) outside a browser: its pure parts (the
 * web-vitals columns, flag columns, execution ids, the size fit) and its lifecycle with the
 * browser globals passed in (a document whose visibility the test sets, a sendBeacon that
 * records). test/clients/browser-beacons.test.ts runs it in Chromium against the server.
 */
import { InMemoryProvider, OpenFeature } from '@openfeature/server-sdk';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_BYTES,
  MAX_BEACONS_PER_EXECUTION,
  beaconUrl,
  changedColumns,
  fitBeacon,
  flagColumns,
  newExecutionId,
  sendBody,
  startBeacons,
  utf8Length,
  vitalColumns,
  type VitalMetric,
} from '../../../browser/flagscope-beacons.js';

/** Metrics shaped as web-vitals' attribution build reports them (the fields the snippet reads). */
const LCP = {
  name: 'LCP',
  value: 1234.5,
  rating: 'good',
  navigationType: 'navigate',
  attribution: {
    target: 'main > img.hero',
    url: 'https://shop.example/hero.jpg',
    timeToFirstByte: 210,
    resourceLoadDelay: 40,
    resourceLoadDuration: 800,
    elementRenderDelay: 184.5,
    lcpEntry: { size: 1 },
  },
};
const INP = {
  name: 'INP',
  value: 88,
  rating: 'good',
  navigationType: 'navigate',
  attribution: {
    interactionTarget: '#buy',
    interactionType: 'pointer',
    interactionTime: 2010.4,
    inputDelay: 2,
    processingDuration: 80,
    presentationDelay: 6,
    loadState: 'complete',
    processedEventEntries: [],
    longAnimationFrameEntries: [],
    longestScript: {
      subpart: 'processing-duration',
      intersectingDuration: 79,
      entry: { sourceURL: 'https://shop.example/app.js', invoker: 'BUTTON#buy.onclick', invokerType: 'event-listener' },
    },
    totalScriptDuration: 79,
  },
};
const CLS = {
  name: 'CLS',
  value: 0.12,
  rating: 'needs-improvement',
  navigationType: 'reload',
  attribution: { largestShiftTarget: '#banner', largestShiftTime: 900, largestShiftValue: 0.1, loadState: 'dom-content-loaded' },
};
const FCP = {
  name: 'FCP',
  value: 300,
  rating: 'good',
  navigationType: 'navigate',
  attribution: { timeToFirstByte: 210, firstByteToFCP: 90, loadState: 'loading' },
};
const TTFB = {
  name: 'TTFB',
  value: 210,
  rating: 'good',
  navigationType: 'navigate',
  attribution: { waitingDuration: 5, cacheDuration: 0, dnsDuration: 20, connectionDuration: 30, requestDuration: 155 },
};

describe('vitalColumns', () => {
  it('flattens each metric of the attribution build into vitals.<name> columns', () => {
    expect(vitalColumns(LCP)).toEqual({
      'vitals.lcp': 1234.5,
      'vitals.lcp.rating': 'good',
      'vitals.lcp.navigation_type': 'navigate',
      'vitals.lcp.element': 'main > img.hero',
      'vitals.lcp.url': 'https://shop.example/hero.jpg',
      'vitals.lcp.time_to_first_byte': 210,
      'vitals.lcp.resource_load_delay': 40,
      'vitals.lcp.resource_load_duration': 800,
      'vitals.lcp.element_render_delay': 184.5,
    });
    expect(vitalColumns(INP)).toEqual({
      'vitals.inp': 88,
      'vitals.inp.rating': 'good',
      'vitals.inp.navigation_type': 'navigate',
      'vitals.inp.element': '#buy',
      'vitals.inp.interaction_type': 'pointer',
      'vitals.inp.interaction_time': 2010.4,
      'vitals.inp.input_delay': 2,
      'vitals.inp.processing_duration': 80,
      'vitals.inp.presentation_delay': 6,
      'vitals.inp.load_state': 'complete',
      'vitals.inp.total_script_duration': 79,
      'vitals.inp.longest_script.subpart': 'processing-duration',
      'vitals.inp.longest_script.duration': 79,
      'vitals.inp.longest_script.source_url': 'https://shop.example/app.js',
      'vitals.inp.longest_script.invoker': 'BUTTON#buy.onclick',
      'vitals.inp.longest_script.invoker_type': 'event-listener',
    });
    expect(vitalColumns(CLS)).toEqual({
      'vitals.cls': 0.12,
      'vitals.cls.rating': 'needs-improvement',
      'vitals.cls.navigation_type': 'reload',
      'vitals.cls.element': '#banner',
      'vitals.cls.largest_shift_time': 900,
      'vitals.cls.largest_shift_value': 0.1,
      'vitals.cls.load_state': 'dom-content-loaded',
    });
    expect(vitalColumns(FCP)).toEqual({
      'vitals.fcp': 300,
      'vitals.fcp.rating': 'good',
      'vitals.fcp.navigation_type': 'navigate',
      'vitals.fcp.time_to_first_byte': 210,
      'vitals.fcp.first_byte_to_fcp': 90,
      'vitals.fcp.load_state': 'loading',
    });
    expect(vitalColumns(TTFB)).toEqual({
      'vitals.ttfb': 210,
      'vitals.ttfb.rating': 'good',
      'vitals.ttfb.navigation_type': 'navigate',
      'vitals.ttfb.waiting_duration': 5,
      'vitals.ttfb.cache_duration': 0,
      'vitals.ttfb.dns_duration': 20,
      'vitals.ttfb.connection_duration': 30,
      'vitals.ttfb.request_duration': 155,
    });
  });

  it('takes the plain build (no attribution) and metrics it does not know, and leaves out what is not a number or text', () => {
    expect(vitalColumns({ name: 'LCP', value: 900, rating: 'good' })).toEqual({ 'vitals.lcp': 900, 'vitals.lcp.rating': 'good' });
    expect(vitalColumns({ name: 'XYZ', value: 3, rating: 'poor', attribution: { target: 'x' } })).toEqual({
      'vitals.xyz': 3,
      'vitals.xyz.rating': 'poor',
    });
    expect(
      vitalColumns({ name: 'LCP', value: Number.NaN, attribution: { target: undefined, url: null, timeToFirstByte: Infinity } }),
    ).toEqual({});
    expect(vitalColumns(null)).toEqual({});
    expect(vitalColumns({ value: 3 })).toEqual({});
  });
});

describe('flagColumns', () => {
  it('holds the variant name, or the value as text when the evaluation has no variant', () => {
    expect(flagColumns('new-checkout', 'on', true)).toEqual({ 'flag.new-checkout': 'on' });
    expect(flagColumns('new-checkout', undefined, true)).toEqual({ 'flag.new-checkout': 'true' });
    expect(flagColumns('page-size', undefined, 50)).toEqual({ 'flag.page-size': '50' });
    expect(flagColumns('theme', '', { bg: '#000' })).toEqual({ 'flag.theme': '{"bg":"#000"}' });
    expect(flagColumns('gone', undefined, undefined)).toEqual({});
    expect(flagColumns('', 'on', true)).toEqual({});
  });
});

describe('newExecutionId', () => {
  const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('uses crypto.randomUUID where there is one', () => {
    expect(newExecutionId({ randomUUID: () => 'from-random-uuid' })).toBe('from-random-uuid');
    expect(newExecutionId()).toMatch(V4);
  });

  it('builds a version 4 UUID from getRandomValues outside a secure context, and from Math.random without crypto', () => {
    const zeros = newExecutionId({ getRandomValues: (bytes) => bytes.fill(0) });
    expect(zeros).toBe('00000000-0000-4000-8000-000000000000');
    const ones = newExecutionId({ getRandomValues: (bytes) => bytes.fill(255) });
    expect(ones).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
    const throwing = newExecutionId({
      randomUUID: () => {
        throw new Error('insecure');
      },
      getRandomValues: (bytes) => bytes.fill(17),
    });
    expect(throwing).toBe('11111111-1111-4111-9111-111111111111');
    expect(newExecutionId(null, () => 0.5)).toBe('80808080-8080-4080-8080-808080808080');
    expect(newExecutionId(null, Math.random)).toMatch(V4);
  });
});

describe('the size of a beacon', () => {
  it('counts UTF-8 bytes as Buffer does, surrogate pairs and lone surrogates included', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => utf8Length(text) === Buffer.byteLength(text, 'utf8')));
    expect(utf8Length('é€😀\ud800x')).toBe(Buffer.byteLength('é€😀\ud800x'));
  });

  it('keeps a small beacon whole and cuts long strings', () => {
    const required = { execution_id: 'e1', 'beacon.phase': 'end', 'beacon.seq': 2 };
    const small = fitBeacon(required, { 'vitals.lcp': 12, 'page.route': '/cart' });
    expect(JSON.parse(small.body)).toEqual({ ...required, 'vitals.lcp': 12, 'page.route': '/cart' });
    expect(small.sent).toEqual({ 'vitals.lcp': 12, 'page.route': '/cart' });
    const cut = fitBeacon(required, { 'page.note': 'x'.repeat(5000) }, { maxValueLength: 100 });
    expect(JSON.parse(cut.body)['page.note']).toBe('x'.repeat(100));
  });

  it('leaves out the largest columns until the body fits, never the execution id or beacon fields, and counts them', () => {
    const required = { execution_id: 'e1', 'beacon.phase': 'end', 'beacon.seq': 2, duration_ms: 4000 };
    const columns = { 'vitals.lcp': 12, 'page.a': 'é'.repeat(900), 'page.b': 'b'.repeat(1000), 'page.c': 'c'.repeat(300) };
    const fit = fitBeacon(required, columns, { maxBytes: 1000, maxValueLength: 5000 });
    expect(utf8Length(fit.body)).toBeLessThanOrEqual(1000);
    expect(JSON.parse(fit.body)).toEqual({ ...required, 'vitals.lcp': 12, 'page.c': 'c'.repeat(300), 'beacon.dropped_fields': 2 });
    expect(Object.keys(fit.sent).sort()).toEqual(['page.c', 'vitals.lcp']);
  });

  it('stays under the default limit whatever the page sets', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ maxLength: 3000, unit: 'grapheme' }), { maxKeys: 80 }),
        (fields) => {
          const fit = fitBeacon({ execution_id: 'e', 'beacon.phase': 'start', 'beacon.seq': 0 }, fields);
          return utf8Length(fit.body) <= DEFAULT_MAX_BYTES && JSON.parse(fit.body).execution_id === 'e';
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('beaconUrl, changedColumns and sendBody', () => {
  it('puts the dataset in the path and the key in the query string', () => {
    expect(beaconUrl('https://fs.example/', 'web shop', 'fsk_a+b')).toBe('https://fs.example/1/beacons/web%20shop?key=fsk_a%2Bb');
    expect(beaconUrl('http://127.0.0.1:7070', 'web')).toBe('http://127.0.0.1:7070/1/beacons/web');
  });

  it('sends only what is new or changed', () => {
    expect(changedColumns({ a: 1, b: 'x', c: 0.1 }, { a: 1, b: 'y' })).toEqual({ b: 'x', c: 0.1 });
    expect(changedColumns({ a: 1 }, { a: 1 })).toEqual({});
  });

  it('falls back to fetch with keepalive and a text/plain body when sendBeacon refuses', () => {
    const calls: unknown[][] = [];
    const fetch = (url: string, init: Record<string, unknown>) => {
      calls.push([url, init]);
      return Promise.resolve();
    };
    expect(sendBody('http://s/1/beacons/web', '{}', { navigator: { sendBeacon: () => true }, fetch })).toBe('beacon');
    expect(calls).toEqual([]);
    expect(sendBody('http://s/1/beacons/web', '{}', { navigator: { sendBeacon: () => false }, fetch })).toBe('fetch');
    expect(calls).toEqual([
      [
        'http://s/1/beacons/web',
        { method: 'POST', body: '{}', keepalive: true, credentials: 'omit', headers: { 'content-type': 'text/plain;charset=UTF-8' } },
      ],
    ]);
    expect(
      sendBody('http://s', '{}', {
        fetch: () => {
          throw new TypeError('keepalive quota');
        },
      }),
    ).toBe('none');
  });
});

/** A page as the snippet sees it: a window and document to dispatch to, sendBeacon recording bodies, a clock the test moves. */
function fakePage(options: { sendBeacon?: boolean } = {}) {
  const window = new EventTarget();
  const document = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  const sent: Record<string, unknown>[] = [];
  const urls: string[] = [];
  let elapsed = 0;
  let ids = 0;
  const env = {
    window,
    document,
    navigator: {
      userAgent: 'TestBrowser/1',
      sendBeacon: (url: string, body: string) => {
        urls.push(url);
        sent.push(JSON.parse(body));
        return options.sendBeacon ?? true;
      },
    },
    fetch: undefined,
    crypto: { randomUUID: () => `exec-${++ids}` },
    performance: { now: () => elapsed },
    location: { origin: 'https://shop.example', pathname: '/cart' },
    now: () => 1_700_000_000_000 + elapsed,
  };
  return {
    env,
    sent,
    urls,
    advance: (ms: number) => (elapsed += ms),
    hide: () => {
      document.visibilityState = 'hidden';
      document.dispatchEvent(new Event('visibilitychange'));
    },
    show: () => {
      document.visibilityState = 'visible';
      document.dispatchEvent(new Event('visibilitychange'));
    },
    pagehide: (persisted = false) => window.dispatchEvent(Object.assign(new Event('pagehide'), { persisted })),
    pageshow: (persisted: boolean) => window.dispatchEvent(Object.assign(new Event('pageshow'), { persisted })),
  };
}

/** A web-vitals module whose metrics the test reports when it likes. */
function fakeVitals() {
  const callbacks = new Map<string, (metric: VitalMetric) => void>();
  const options: unknown[] = [];
  const subscribe = (name: string) => (callback: (metric: VitalMetric) => void, opts: unknown) => {
    callbacks.set(name, callback);
    options.push(opts);
  };
  return {
    module: {
      onLCP: subscribe('LCP'),
      onINP: subscribe('INP'),
      onCLS: subscribe('CLS'),
      onFCP: subscribe('FCP'),
      onTTFB: subscribe('TTFB'),
    },
    options,
    report: (metric: VitalMetric) => callbacks.get(metric.name)?.(metric),
  };
}

describe('startBeacons through a page lifecycle', () => {
  it('sends start at once, an update when hidden with what changed, and end on pagehide with the rest and duration_ms', () => {
    const page = fakePage();
    const vitals = fakeVitals();
    const beacons = startBeacons(
      {
        url: 'https://fs.example',
        dataset: 'web',
        key: 'fsk_ingest',
        webVitals: vitals.module,
        flags: { 'new-checkout': 'on' },
        fields: { 'page.route': '/cart' },
      },
      page.env,
    );
    expect(page.urls[0]).toBe('https://fs.example/1/beacons/web?key=fsk_ingest');
    expect(vitals.options).toEqual(Array(5).fill({ reportAllChanges: true }));
    expect(beacons.executionId).toBe('exec-1');
    expect(page.sent).toEqual([
      {
        execution_id: 'exec-1',
        'beacon.phase': 'start',
        'beacon.seq': 0,
        'beacon.time': 1_700_000_000_000,
        'page.url': 'https://shop.example/cart',
        'browser.user_agent': 'TestBrowser/1',
        'page.route': '/cart',
        'flag.new-checkout': 'on',
      },
    ]);

    vitals.report(TTFB);
    vitals.report(FCP);
    vitals.report({ ...LCP, value: 900 });
    page.advance(1500);
    page.hide();
    expect(page.sent[1]).toEqual({
      execution_id: 'exec-1',
      'beacon.phase': 'update',
      'beacon.seq': 1,
      'beacon.time': 1_700_000_001_500,
      ...vitalColumns(TTFB),
      ...vitalColumns(FCP),
      ...vitalColumns({ ...LCP, value: 900 }),
    });

    page.show();
    vitals.report(LCP);
    vitals.report(INP);
    vitals.report(CLS);
    beacons.setFlag('banner', 'fancy');
    beacons.setField('cart.items', 3);
    page.advance(2500);
    page.pagehide();
    expect(page.sent[2]).toEqual({
      execution_id: 'exec-1',
      'beacon.phase': 'end',
      'beacon.seq': 2,
      'beacon.time': 1_700_000_004_000,
      duration_ms: 4000,
      'cart.items': 3,
      'flag.banner': 'fancy',
      'vitals.lcp': 1234.5,
      ...vitalColumns(INP),
      ...vitalColumns(CLS),
    });

    page.hide();
    page.pagehide();
    expect(beacons.update()).toBe('none');
    expect(page.sent).toHaveLength(3);
  });

  it('starts a new execution when the page comes back from the back/forward cache', () => {
    const page = fakePage();
    const vitals = fakeVitals();
    const beacons = startBeacons({ url: 'https://fs.example', dataset: 'web', webVitals: vitals.module }, page.env);
    vitals.report(LCP);
    page.advance(1000);
    page.pagehide(true);
    page.pageshow(false);
    expect(page.sent.map((b) => [b.execution_id, b['beacon.phase'], b['beacon.seq']])).toEqual([
      ['exec-1', 'start', 0],
      ['exec-1', 'end', 1],
    ]);
    page.advance(60_000);
    page.pageshow(true);
    expect(beacons.executionId).toBe('exec-2');
    expect(page.sent[2]).toMatchObject({
      execution_id: 'exec-2',
      'beacon.phase': 'start',
      'beacon.seq': 0,
      'page.url': 'https://shop.example/cart',
    });
    expect(page.sent[2]).not.toHaveProperty('vitals.lcp');
    page.advance(500);
    page.pagehide();
    expect(page.sent[3]).toMatchObject({ execution_id: 'exec-2', 'beacon.phase': 'end', 'beacon.seq': 1, duration_ms: 500 });
  });

  it('reads the page fields again for every beacon, names the execution id field as the dataset does, and stops', () => {
    const page = fakePage();
    let step = 'landing';
    const beacons = startBeacons(
      { url: 'https://fs.example', dataset: 'web', executionIdField: 'page_view_id', fields: () => ({ 'app.step': step }) },
      page.env,
    );
    step = 'payment';
    expect(beacons.update()).toBe('beacon');
    beacons.stop();
    page.hide();
    page.pagehide();
    expect(beacons.update()).toBe('none');
    expect(page.sent.map((b) => [b.page_view_id, b['beacon.phase'], b['app.step']])).toEqual([
      ['exec-1', 'start', 'landing'],
      ['exec-1', 'update', 'payment'],
    ]);
  });

  it('offers the columns of a beacon the browser would not send again with the next one', () => {
    let accept = false;
    const page = fakePage();
    const env = {
      ...page.env,
      navigator: { sendBeacon: (url: string, body: string) => page.env.navigator.sendBeacon(url, body) && accept },
    };
    const beacons = startBeacons({ url: 'https://fs.example', dataset: 'web', fields: { 'page.route': '/cart' } }, env);
    accept = true;
    beacons.setField('cart.items', 2);
    beacons.update();
    expect(page.sent.map((b) => [b['beacon.seq'], b['page.route'], b['cart.items']])).toEqual([
      [0, '/cart', undefined],
      [1, '/cart', 2],
    ]);
  });

  it('keeps the last of the 100 beacons the server takes per execution for the end', () => {
    const page = fakePage();
    const beacons = startBeacons({ url: 'https://fs.example', dataset: 'web' }, page.env);
    for (let i = 0; i < 150; i++) beacons.update();
    page.hide();
    page.pagehide();
    expect(page.sent).toHaveLength(MAX_BEACONS_PER_EXECUTION);
    expect(page.sent.map((b) => b['beacon.seq'])).toEqual([...Array(MAX_BEACONS_PER_EXECUTION).keys()]);
    expect(page.sent.at(-1)).toMatchObject({ 'beacon.phase': 'end', 'beacon.seq': MAX_BEACONS_PER_EXECUTION - 1 });
  });

  it('refuses options without a server or a dataset', () => {
    const page = fakePage();
    expect(() => startBeacons({ dataset: 'web' } as never, page.env)).toThrow(/`url`/);
    expect(() => startBeacons({ url: 'https://fs.example' } as never, page.env)).toThrow(/`dataset`/);
    expect(page.sent).toEqual([]);
  });
});

describe('flag variants from an OpenFeature client', () => {
  const domain = 'beacons-snippet-test';
  afterAll(() => OpenFeature.clearProviders());

  it('records every evaluation through the client as flag.<key>, the default value when one fails', async () => {
    await OpenFeature.setProviderAndWait(
      domain,
      new InMemoryProvider({
        'new-checkout': { variants: { on: true, off: false }, defaultVariant: 'on', disabled: false },
        'page-size': { variants: { small: 10, large: 50 }, defaultVariant: 'large', disabled: false },
      }),
    );
    const client = OpenFeature.getClient(domain);
    const page = fakePage();
    startBeacons({ url: 'https://fs.example', dataset: 'web', openFeature: client }, page.env);
    expect(await client.getBooleanValue('new-checkout', false)).toBe(true);
    expect(await client.getNumberValue('page-size', 1)).toBe(50);
    expect(await client.getStringValue('missing-flag', 'fallback')).toBe('fallback');
    page.pagehide();
    expect(page.sent[1]).toMatchObject({ 'flag.new-checkout': 'on', 'flag.page-size': 'large', 'flag.missing-flag': 'fallback' });
  });
});
