/**
 * flagscope-beacons: the browser side of flagscope's stitched beacons (docs/beacons.md).
 *
 * One page execution sends a `start` beacon as soon as `startBeacons` runs, an `update` each
 * time the page is hidden, and an `end` beacon on `pagehide`, all to
 * `POST {url}/1/beacons/{dataset}?key={key}` with `navigator.sendBeacon` (a `text/plain` body,
 * so no CORS preflight), falling back to `fetch(…, {keepalive: true})`. The server stitches
 * them by execution id into one wide event; an execution whose `end` never arrives is kept as
 * `meta.incomplete = true`, so the page loads that went bad are counted instead of vanishing.
 *
 * Each beacon carries only the columns that are new or changed since the previous one:
 * the page's own fields, the flag variants the page evaluated (`flag.<key>`), and the latest
 * measurement of each web vital the page's `web-vitals` attribution build has reported
 * (`vitals.lcp`, `vitals.lcp.element`, …). The page passes the `web-vitals` module in; this
 * file bundles nothing and depends on nothing.
 *
 * Plain JavaScript, an ES module: `<script type="module">` or any bundler.
 */

/** Bytes one beacon may take. Two beacons can be in flight at once (the page hides, then goes away) and browsers cap the bytes of all in-flight keepalive requests of a page at 64 KiB. */
export const DEFAULT_MAX_BYTES = 32768;

/** The server takes at most this many beacons of one execution; the snippet keeps the last for `end`. */
export const MAX_BEACONS_PER_EXECUTION = 100;

/** Longer string values are cut to this many characters (selectors and URLs can be long). */
export const DEFAULT_MAX_VALUE_LENGTH = 1024;

/** The web-vitals metrics and, per metric, its attribution fields as [attribution property, column suffix]. */
const ATTRIBUTION_COLUMNS = {
  LCP: [
    ['target', 'element'],
    ['url', 'url'],
    ['timeToFirstByte', 'time_to_first_byte'],
    ['resourceLoadDelay', 'resource_load_delay'],
    ['resourceLoadDuration', 'resource_load_duration'],
    ['elementRenderDelay', 'element_render_delay'],
  ],
  INP: [
    ['interactionTarget', 'element'],
    ['interactionType', 'interaction_type'],
    ['interactionTime', 'interaction_time'],
    ['inputDelay', 'input_delay'],
    ['processingDuration', 'processing_duration'],
    ['presentationDelay', 'presentation_delay'],
    ['loadState', 'load_state'],
    ['totalScriptDuration', 'total_script_duration'],
    ['totalStyleAndLayoutDuration', 'total_style_and_layout_duration'],
    ['totalPaintDuration', 'total_paint_duration'],
    ['totalUnattributedDuration', 'total_unattributed_duration'],
  ],
  CLS: [
    ['largestShiftTarget', 'element'],
    ['largestShiftTime', 'largest_shift_time'],
    ['largestShiftValue', 'largest_shift_value'],
    ['loadState', 'load_state'],
  ],
  FCP: [
    ['timeToFirstByte', 'time_to_first_byte'],
    ['firstByteToFCP', 'first_byte_to_fcp'],
    ['loadState', 'load_state'],
  ],
  TTFB: [
    ['waitingDuration', 'waiting_duration'],
    ['cacheDuration', 'cache_duration'],
    ['dnsDuration', 'dns_duration'],
    ['connectionDuration', 'connection_duration'],
    ['requestDuration', 'request_duration'],
  ],
};

/** The `web-vitals` functions the snippet subscribes to, by metric name. */
const VITAL_SUBSCRIPTIONS = { LCP: 'onLCP', INP: 'onINP', CLS: 'onCLS', FCP: 'onFCP', TTFB: 'onTTFB' };

/** A value a column can hold: strings, finite numbers and booleans; anything else is dropped (objects become JSON text). */
function columnValue(value) {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (value === null || value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (typeof value === 'bigint') return value.toString();
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/**
 * The columns of one `web-vitals` report (a metric of the attribution build, or of the plain
 * build, which then has no attribution columns): `vitals.<name>` (the value),
 * `vitals.<name>.rating`, `vitals.<name>.navigation_type` and the attribution fields.
 */
export function vitalColumns(metric) {
  const columns = {};
  if (metric === null || typeof metric !== 'object' || typeof metric.name !== 'string') return columns;
  const base = `vitals.${metric.name.toLowerCase()}`;
  const put = (name, value) => {
    const v = columnValue(value);
    if (v !== undefined && typeof v !== 'boolean') columns[name] = v;
  };
  put(base, metric.value);
  put(`${base}.rating`, metric.rating);
  put(`${base}.navigation_type`, metric.navigationType);
  const attribution = metric.attribution;
  if (attribution !== null && typeof attribution === 'object') {
    for (const [property, suffix] of ATTRIBUTION_COLUMNS[metric.name] ?? []) put(`${base}.${suffix}`, attribution[property]);
    const longest = metric.name === 'INP' ? attribution.longestScript : undefined;
    if (longest !== null && typeof longest === 'object') {
      put(`${base}.longest_script.subpart`, longest.subpart);
      put(`${base}.longest_script.duration`, longest.intersectingDuration);
      const entry = longest.entry;
      if (entry !== null && typeof entry === 'object') {
        put(`${base}.longest_script.source_url`, entry.sourceURL);
        put(`${base}.longest_script.invoker`, entry.invoker);
        put(`${base}.longest_script.invoker_type`, entry.invokerType);
      }
    }
  }
  return columns;
}

/** The column of one flag evaluation: `flag.<key>` holds the variant name, or the value as text when there is no variant. */
export function flagColumns(key, variant, value) {
  if (typeof key !== 'string' || key === '') return {};
  const shown = typeof variant === 'string' && variant !== '' ? variant : columnValue(value);
  if (shown === undefined) return {};
  return { [`flag.${key}`]: typeof shown === 'string' ? shown : String(shown) };
}

/**
 * A fresh execution id: `crypto.randomUUID()` where there is one (it needs a secure context),
 * else a version 4 UUID from `crypto.getRandomValues`, else from `random` (`Math.random`;
 * `crypto` null means none).
 */
export function newExecutionId(crypto = globalThis.crypto, random = Math.random) {
  if (crypto && typeof crypto.randomUUID === 'function') {
    try {
      return crypto.randomUUID();
    } catch {
      // not a secure context in some browsers: fall through
    }
  }
  const bytes = new Uint8Array(16);
  if (crypto && typeof crypto.getRandomValues === 'function') crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(random() * 256) & 255;
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The columns of `current` that `sent` does not hold with the same value. */
export function changedColumns(current, sent) {
  const changed = {};
  for (const [name, value] of Object.entries(current)) {
    if (!(name in sent) || sent[name] !== value) changed[name] = value;
  }
  return changed;
}

/** UTF-8 bytes of a string. */
export function utf8Length(text) {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * One beacon's JSON body, at most `maxBytes` UTF-8 bytes: the `required` fields (execution id,
 * `beacon.*`, `duration_ms`) always, then `columns` with strings cut to `maxValueLength`
 * characters; when that is still too large, the largest columns are left out, counted in
 * `beacon.dropped_fields`. Returns the body and the columns it holds.
 */
export function fitBeacon(required, columns, { maxBytes = DEFAULT_MAX_BYTES, maxValueLength = DEFAULT_MAX_VALUE_LENGTH } = {}) {
  const kept = {};
  for (const [name, value] of Object.entries(columns)) {
    kept[name] = typeof value === 'string' && value.length > maxValueLength ? value.slice(0, maxValueLength) : value;
  }
  let body = JSON.stringify({ ...required, ...kept });
  if (utf8Length(body) <= maxBytes) return { body, sent: kept };
  const bySize = Object.keys(kept)
    .map((name) => [name, utf8Length(JSON.stringify({ [name]: kept[name] }))])
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  let dropped = 0;
  for (const [name] of bySize) {
    delete kept[name];
    dropped++;
    body = JSON.stringify({ ...required, ...kept, 'beacon.dropped_fields': dropped });
    if (utf8Length(body) <= maxBytes) break;
  }
  return { body, sent: kept };
}

/** `POST {url}/1/beacons/{dataset}?key={key}` */
export function beaconUrl(url, dataset, key) {
  const base = String(url).replace(/\/+$/, '');
  const query = key === undefined || key === '' ? '' : `?key=${encodeURIComponent(key)}`;
  return `${base}/1/beacons/${encodeURIComponent(dataset)}${query}`;
}

/**
 * Sends one body: `navigator.sendBeacon` (a string body goes as `text/plain;charset=UTF-8`),
 * else, when the browser has none or refuses it (a full keepalive quota), `fetch` with
 * `keepalive`. Returns how it went: `beacon`, `fetch` or `none`.
 */
export function sendBody(target, body, { navigator, fetch } = {}) {
  if (navigator && typeof navigator.sendBeacon === 'function') {
    try {
      if (navigator.sendBeacon(target, body)) return 'beacon';
    } catch {
      // an invalid URL or a browser that throws on a full queue: try fetch
    }
  }
  if (typeof fetch === 'function') {
    try {
      const sent = fetch(target, {
        method: 'POST',
        body,
        keepalive: true,
        credentials: 'omit',
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
      });
      if (sent && typeof sent.catch === 'function') sent.catch(() => undefined);
      return 'fetch';
    } catch {
      // keepalive refused (a body past the quota): nothing else can send it as the page goes
    }
  }
  return 'none';
}

/** The browser globals the snippet uses; tests pass their own. */
function browserEnvironment() {
  const g = globalThis;
  return {
    window: g,
    document: g.document,
    navigator: g.navigator,
    fetch: typeof g.fetch === 'function' ? g.fetch.bind(g) : undefined,
    crypto: g.crypto,
    performance: g.performance,
    location: g.location,
    now: () => Date.now(),
  };
}

/** The page columns the snippet adds itself: where it runs, without the query string and fragment (they can hold tokens). */
function pageColumns(env) {
  const columns = {};
  const location = env.location;
  if (location && typeof location.origin === 'string') columns['page.url'] = `${location.origin}${location.pathname ?? ''}`;
  const agent = env.navigator?.userAgent;
  if (typeof agent === 'string') columns['browser.user_agent'] = agent;
  return columns;
}

/**
 * Starts beaconing this page execution and sends its `start` beacon at once.
 *
 * @param {import('./flagscope-beacons.js').BeaconOptions} options
 * @returns {import('./flagscope-beacons.js').Beacons}
 */
export function startBeacons(options, environment) {
  if (options === null || typeof options !== 'object') throw new TypeError('flagscope-beacons: startBeacons needs an options object');
  const { url, dataset, key } = options;
  if (typeof url !== 'string' || url === '') throw new TypeError('flagscope-beacons: `url` (the flagscope server) is required');
  if (typeof dataset !== 'string' || dataset === '') throw new TypeError('flagscope-beacons: `dataset` is required');
  const env = { ...browserEnvironment(), ...environment };
  const idField = options.executionIdField ?? 'execution_id';
  const limits = { maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES, maxValueLength: options.maxValueLength ?? DEFAULT_MAX_VALUE_LENGTH };
  const target = beaconUrl(url, dataset, key);
  const elapsed = () => (env.performance && typeof env.performance.now === 'function' ? env.performance.now() : env.now());

  const fields = {};
  const flags = {};
  let vitals = {};
  let execution;
  let stopped = false;

  const setFields = (values) => {
    if (values === null || typeof values !== 'object') return;
    for (const [name, value] of Object.entries(values)) {
      const v = columnValue(value);
      if (v === undefined) delete fields[name];
      else fields[name] = v;
    }
  };
  const setFlag = (flagKey, variant, value) => Object.assign(flags, flagColumns(flagKey, variant, value));

  const current = () => {
    const dynamic = {};
    if (typeof options.fields === 'function') {
      try {
        const got = options.fields();
        if (got !== null && typeof got === 'object') {
          for (const [name, value] of Object.entries(got)) {
            const v = columnValue(value);
            if (v !== undefined) dynamic[name] = v;
          }
        }
      } catch {
        // the page's callback failed: send what is known
      }
    }
    return { ...pageColumns(env), ...dynamic, ...fields, ...flags, ...vitals };
  };

  const send = (phase) => {
    const required = { [idField]: execution.id, 'beacon.phase': phase, 'beacon.seq': execution.seq, 'beacon.time': env.now() };
    if (phase === 'end') required.duration_ms = Math.max(0, Math.round(elapsed() - execution.startedAt));
    const { body, sent } = fitBeacon(required, changedColumns(current(), execution.sent), limits);
    execution.seq++;
    if (phase === 'end') execution.ended = true;
    const how = sendBody(target, body, env);
    // What the browser would not send is offered again with the next beacon.
    if (how !== 'none') Object.assign(execution.sent, sent);
    if (typeof options.onBeacon === 'function') {
      try {
        options.onBeacon({ phase, body, transport: how });
      } catch {
        // the page's observer failed: the beacon is sent anyway
      }
    }
    return how;
  };

  const begin = (startedAt) => {
    execution = { id: newExecutionId(env.crypto), seq: 0, sent: {}, ended: false, startedAt };
    send('start');
  };

  // An update past the server's cap would be refused, and so would the end after it.
  const mayUpdate = () => !stopped && !execution.ended && execution.seq < MAX_BEACONS_PER_EXECUTION - 1;
  const onVisibility = () => {
    if (mayUpdate() && env.document?.visibilityState === 'hidden') send('update');
  };
  const onPageHide = () => {
    if (!stopped && !execution.ended) send('end');
  };
  const onPageShow = (event) => {
    // A page restored from the back/forward cache is a new execution; web-vitals reports its metrics anew.
    if (stopped || event?.persisted !== true) return;
    vitals = {};
    begin(elapsed());
  };

  setFields(typeof options.fields === 'function' ? undefined : options.fields);
  if (options.flags !== null && typeof options.flags === 'object') {
    for (const [flagKey, variant] of Object.entries(options.flags))
      setFlag(flagKey, typeof variant === 'string' ? variant : undefined, variant);
  }
  const client = options.openFeature;
  if (client && typeof client.addHooks === 'function') {
    client.addHooks({
      after: (hookContext, details) => {
        if (!stopped) setFlag(hookContext?.flagKey ?? details?.flagKey, details?.variant, details?.value);
      },
      error: (hookContext) => {
        if (!stopped) setFlag(hookContext?.flagKey, undefined, hookContext?.defaultValue);
      },
    });
  }

  begin(0);

  const webVitals = options.webVitals;
  if (webVitals && typeof webVitals === 'object') {
    const vitalOptions = { reportAllChanges: true, ...options.webVitalsOptions };
    for (const fn of Object.values(VITAL_SUBSCRIPTIONS)) {
      if (typeof webVitals[fn] !== 'function') continue;
      webVitals[fn]((metric) => {
        if (!stopped) Object.assign(vitals, vitalColumns(metric));
      }, vitalOptions);
    }
  }

  const win = env.window;
  if (win && typeof win.addEventListener === 'function') {
    // Capture, so the page's own handlers cannot stop the beacons by stopping propagation.
    env.document?.addEventListener?.('visibilitychange', onVisibility, true);
    win.addEventListener('pagehide', onPageHide, true);
    win.addEventListener('pageshow', onPageShow, true);
  }

  return {
    get executionId() {
      return execution.id;
    },
    setField(name, value) {
      setFields({ [name]: value });
    },
    setFields,
    setFlag(flagKey, variant) {
      setFlag(flagKey, typeof variant === 'string' ? variant : undefined, variant);
    },
    update() {
      return mayUpdate() ? send('update') : 'none';
    },
    stop() {
      stopped = true;
      env.document?.removeEventListener?.('visibilitychange', onVisibility, true);
      win?.removeEventListener?.('pagehide', onPageHide, true);
      win?.removeEventListener?.('pageshow', onPageShow, true);
    },
  };
}
