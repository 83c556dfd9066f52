/**
 * Deterministic generator of ~100-column wide events for the benchmarks:
 * service/route strings, ~30 flag variant columns, integer counters, float
 * timings and booleans, lognormal latencies. No I/O, no clock: the caller
 * passes the seed and the time range.
 */

/** Mulberry32: a small seeded PRNG so every run generates the same events. */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICES = ['api', 'checkout', 'search', 'auth', 'cart', 'catalog', 'payments', 'web'];
const ROUTES = ['/', '/login', '/cart', '/checkout', '/search', '/product/:id', '/api/v2/orders', '/health'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-south-1'];
const VARIANTS = ['on', 'off', 'control', 'treatment'];

/**
 * Returns a function producing event i as `{ time, samplerate, data }`.
 * options: { seed, startMs, spanMs, sampledShare (share of events with samplerate 10) }.
 */
export function wideEventGenerator({ seed = 1, startMs = Date.UTC(2026, 0, 1), spanMs = 86_400_000, sampledShare = 0 } = {}) {
  const random = seededRandom(seed);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return (i, count) => {
    const service = SERVICES[i % SERVICES.length];
    const data = {
      'service.name': service,
      name: `${pick(METHODS)} ${pick(ROUTES)}`,
      'http.method': pick(METHODS),
      'http.route': pick(ROUTES),
      'http.status_code': random() < 0.03 ? 500 : 200,
      'cloud.region': pick(REGIONS),
      'host.name': `${service}-${Math.floor(random() * 40)}.prod.internal`,
      'user.id': `user-${Math.floor(random() * 100_000)}`,
      'trace.trace_id':
        Math.floor(random() * 2 ** 52)
          .toString(16)
          .padStart(16, '0') +
        Math.floor(random() * 2 ** 52)
          .toString(16)
          .padStart(16, '0'),
      'trace.span_id': Math.floor(random() * 2 ** 52)
        .toString(16)
        .padStart(16, '0'),
      duration_ms: Math.round(Math.exp(3.5 + 0.8 * normal()) * 1000) / 1000,
      error: random() < 0.02,
      'app.version': `1.${Math.floor(random() * 20)}.${Math.floor(random() * 10)}`,
    };
    for (let f = 0; f < 30; f++) data[`flag.feature_${f}`] = VARIANTS[(i * (f + 7) + f) % (f % 3 === 0 ? 4 : 2)];
    for (let c = 0; c < 20; c++) data[`app.counter_${c}`] = Math.floor(random() * 10_000);
    for (let t = 0; t < 15; t++) data[`app.timing_${t}_ms`] = Math.round(random() * 1e6) / 1000;
    for (let b = 0; b < 8; b++) data[`app.enabled_${b}`] = random() < 0.5;
    for (let s = 0; s < 14; s++) data[`app.tag_${s}`] = `tag-value-${Math.floor(random() * 500)}-${s}`;
    const time = startMs + Math.floor((spanMs * i) / Math.max(1, count));
    const samplerate = sampledShare > 0 && random() < sampledShare ? 10 : 1;
    return { time, samplerate, data };
  };
}
