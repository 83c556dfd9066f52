/**
 * The demo data generator: realistic ~100-column wide events for a small web
 * shop, one event per request, with ~30 `flag.*` variant columns, lognormal
 * latencies, errors that concentrate in one flag combination (the hidden
 * regression of `catalog.ts`), a short payments incident, a deploy or two and
 * optional sampling of boring traffic.
 *
 * Pure: the output depends only on the options (seeded PRNG, no clock, no I/O).
 */
import { invalidInput } from '../errors.js';
import { rolloutVariant } from '../flags/evaluate.js';
import {
  BORING_SAMPLE_RATE,
  DEMO_FLAGS,
  DEMO_SERVICES,
  HIDDEN_REGRESSION,
  PAYMENTS_INCIDENT,
  QUIET_EXECUTIONS,
  demoFlagRollout,
  type DemoRoute,
  type DemoService,
} from './catalog.js';
import { createRandom, cumulativeWeights, hashInts, hashUnit, pickWeighted, type Random } from './random.js';

export {
  BORING_SAMPLE_RATE,
  DEMO_DATASET,
  demoFlagDefinition,
  demoFlagRollout,
  DEMO_FLAGS,
  DEMO_SERVICES,
  HIDDEN_REGRESSION,
  PAYMENTS_INCIDENT,
  QUIET_EXECUTIONS,
} from './catalog.js';
export type { DemoFlag, DemoFlagKind, DemoRoute, DemoService, DemoVariant } from './catalog.js';

export interface GenerateOptions {
  /** Any integer; the same seed and options always produce the same events. */
  seed: number;
  /** Number of events to produce. */
  count: number;
  /** Unix milliseconds, inclusive. */
  start: number;
  /** Unix milliseconds, exclusive. */
  end: number;
  /** Only these services (names from `DEMO_SERVICES`); default all. */
  services?: string[];
  /**
   * When true, fast successful requests on high-volume read routes are kept
   * one in `BORING_SAMPLE_RATE` and sent with that sample rate (about 10% of
   * the events produced); everything else has sample rate 1.
   */
  sampling?: boolean;
  /**
   * Strength of the hidden regression in its cohort (`HIDDEN_REGRESSION`);
   * `false` for none, so the data set has no effect to find. Default: the
   * multipliers of `HIDDEN_REGRESSION`.
   */
  regression?: false | { errorRateMultiplier?: number; latencyMultiplier?: number };
  /**
   * Lose every event of this share of the users with a flag variant, as if
   * their telemetry never arrived: the observed split no longer matches the
   * rollout (a sample ratio mismatch).
   */
  lostCohort?: { flag: string; variant: string; share: number };
  /**
   * Browser executions whose end never arrived: `INCOMPLETE_EXECUTIONS.rate`
   * of requests (`QUIET_EXECUTIONS.incompleteRate` in its flag combination
   * and services) carry `meta.incomplete = true` and none of the fields known
   * only at the end (status, duration, error, database); every other event
   * has `meta.incomplete = false`. Default off.
   */
  incomplete?: boolean;
  /**
   * Flag key → variant served to every user, as while a kill switch is
   * pressed or after a flag is rolled back: the `flag.<key>` column shows it
   * in every event.
   */
  overrides?: Record<string, string>;
}

/** One generated event, in the shape of a Honeycomb batch item (time as unix ms). */
export interface GeneratedEvent {
  /** Unix milliseconds. */
  time: number;
  samplerate: number;
  data: Record<string, unknown>;
}

/** Incomplete executions when `incomplete` is on (see `GenerateOptions.incomplete`). */
export const INCOMPLETE_EXECUTIONS = {
  rate: 0.004,
  /** Fields an incomplete execution lacks: what only the end of a request knows. */
  endFields: [
    'status_code',
    'http.status_class',
    'error',
    'error.message',
    'error.type',
    'duration_ms',
    'cpu_ms',
    'db.calls',
    'db.duration_ms',
    'db.rows',
    'upstream.duration_ms',
    'http.response_content_length',
    'order.id',
  ],
} as const;

/** The variant columns, in catalog order: `flag.<key>`. */
export const FLAG_COLUMNS: readonly string[] = DEMO_FLAGS.map((f) => `flag.${f.key}`);

const FLAG_ROLLOUTS = DEMO_FLAGS.map((f) => demoFlagRollout(f));
const FLAG_INDEX = new Map(DEMO_FLAGS.map((f, i) => [f.key, i]));

function flagIndex(key: string): number {
  const index = FLAG_INDEX.get(key);
  if (index === undefined) throw new Error(`unknown demo flag ${key}`);
  return index;
}

const CHECKOUT_V2 = flagIndex('checkout_v2');
const NEW_CART = flagIndex('new_cart');
const EDGE_CACHE = flagIndex('edge_cache');
const SEARCH_RANKING = flagIndex('search_ranking_v3');
const RECOMMENDATIONS_ML = flagIndex('recommendations_ml');
const STRICT_RATE_LIMIT = flagIndex('strict_rate_limit');
const APPLE_PAY = flagIndex('apple_pay');
const PASSWORDLESS = flagIndex('passwordless_auth');
const IMAGE_CDN_V2 = flagIndex('image_cdn_v2');
const LAZY_IMAGES = flagIndex('lazy_images');

/**
 * The variant of a demo flag that a user gets: flagd's `fractional` bucketing
 * of flag key + user id over the flag's rollout, exactly what the flag
 * evaluator answers for `demoFlagDefinition(flag)` with the user id as
 * targeting key. A user keeps their variant in every event.
 */
export function userFlagVariant(flagKey: string, userId: string): string {
  return variantFor(flagIndex(flagKey), userId);
}

function variantFor(f: number, userId: string): string {
  const flag = DEMO_FLAGS[f]!;
  const rollout = FLAG_ROLLOUTS[f];
  if (rollout === undefined) return flag.variants.find((v) => v.weight > 0)?.name ?? flag.defaultVariant;
  // Flag keys and user ids are ASCII, where hashing UTF-16 code units equals
  // hashing UTF-8 bytes, and it skips encoding 30 strings per new user.
  return rolloutVariant(flag.key, userId, rollout, 'utf16-code-units');
}

/** Number of distinct users for a run of `count` events (about 20 events per user). */
function userPoolSize(count: number): number {
  return Math.min(250_000, Math.max(1_000, Math.ceil(count / 20)));
}

interface UserProfile {
  id: string;
  plan: string;
  signupDays: number;
  deviceType: string;
  browser: string;
  browserVersion: string;
  os: string;
  osVersion: string;
  screenWidth: number;
  networkType: string;
  country: string;
  locale: string;
  cloudRegion: string;
  clientIp: string;
  userAgent: string;
  appVersion: string;
  flags: string[];
  /** True when the user is in the hidden regression's flag combination and browser. */
  inRegressionCohort: boolean;
  /** True when the user is in the flag combination whose executions go quiet (`QUIET_EXECUTIONS`). */
  inQuietCohort: boolean;
}

interface Choice<T> {
  value: T;
  weight: number;
}

class WeightedList<T> {
  private readonly values: T[];
  private readonly cumulative: number[];
  constructor(choices: Choice<T>[]) {
    this.values = choices.map((c) => c.value);
    this.cumulative = cumulativeWeights(choices.map((c) => c.weight));
  }
  pick(u: number): T {
    return this.values[pickWeighted(this.cumulative, u)] as T;
  }
}

const DEVICES = new WeightedList([
  { value: 'desktop', weight: 55 },
  { value: 'mobile', weight: 38 },
  { value: 'tablet', weight: 7 },
]);

interface BrowserChoice {
  browser: string;
  os: string;
  versions: string[];
  osVersions: string[];
}

const BROWSERS_BY_DEVICE: Record<string, WeightedList<BrowserChoice>> = {
  desktop: new WeightedList<BrowserChoice>([
    { value: { browser: 'Chrome', os: 'Windows', versions: ['130.0', '131.0', '132.0'], osVersions: ['10', '11'] }, weight: 42 },
    { value: { browser: 'Chrome', os: 'macOS', versions: ['131.0', '132.0'], osVersions: ['14.6', '15.1'] }, weight: 15 },
    { value: { browser: 'Chrome', os: 'Linux', versions: ['131.0'], osVersions: ['6.8'] }, weight: 3 },
    { value: { browser: 'Safari', os: 'macOS', versions: ['17.6', '18.1'], osVersions: ['14.6', '15.1'] }, weight: 14 },
    { value: { browser: 'Firefox', os: 'Windows', versions: ['132.0', '133.0'], osVersions: ['10', '11'] }, weight: 8 },
    { value: { browser: 'Firefox', os: 'Linux', versions: ['133.0'], osVersions: ['6.8'] }, weight: 4 },
    { value: { browser: 'Edge', os: 'Windows', versions: ['131.0'], osVersions: ['10', '11'] }, weight: 14 },
  ]),
  mobile: new WeightedList<BrowserChoice>([
    { value: { browser: 'Chrome', os: 'Android', versions: ['131.0', '132.0'], osVersions: ['13', '14', '15'] }, weight: 55 },
    { value: { browser: 'Safari', os: 'iOS', versions: ['17.6', '18.1'], osVersions: ['17.6', '18.1'] }, weight: 35 },
    { value: { browser: 'Samsung Internet', os: 'Android', versions: ['26.0'], osVersions: ['14'] }, weight: 10 },
  ]),
  tablet: new WeightedList<BrowserChoice>([
    { value: { browser: 'Safari', os: 'iPadOS', versions: ['17.6', '18.1'], osVersions: ['17.6', '18.1'] }, weight: 60 },
    { value: { browser: 'Chrome', os: 'Android', versions: ['131.0'], osVersions: ['14'] }, weight: 40 },
  ]),
};

const SCREEN_WIDTHS: Record<string, number[]> = {
  desktop: [1280, 1366, 1440, 1536, 1920, 2560],
  mobile: [360, 375, 390, 393, 412, 430],
  tablet: [768, 810, 820, 1024],
};

interface CountryChoice {
  country: string;
  locale: string;
  regions: string[];
}

const COUNTRIES = new WeightedList<CountryChoice>([
  { value: { country: 'US', locale: 'en-US', regions: ['us-east-1', 'us-west-2'] }, weight: 35 },
  { value: { country: 'CA', locale: 'en-CA', regions: ['us-east-1'] }, weight: 5 },
  { value: { country: 'MX', locale: 'es-MX', regions: ['us-west-2'] }, weight: 3 },
  { value: { country: 'BR', locale: 'pt-BR', regions: ['sa-east-1'] }, weight: 5 },
  { value: { country: 'GB', locale: 'en-GB', regions: ['eu-west-1'] }, weight: 10 },
  { value: { country: 'DE', locale: 'de-DE', regions: ['eu-central-1'] }, weight: 10 },
  { value: { country: 'FR', locale: 'fr-FR', regions: ['eu-west-1'] }, weight: 7 },
  { value: { country: 'ES', locale: 'es-ES', regions: ['eu-west-1'] }, weight: 3 },
  { value: { country: 'NL', locale: 'nl-NL', regions: ['eu-central-1'] }, weight: 3 },
  { value: { country: 'IN', locale: 'en-IN', regions: ['ap-south-1'] }, weight: 8 },
  { value: { country: 'JP', locale: 'ja-JP', regions: ['ap-northeast-1'] }, weight: 6 },
  { value: { country: 'AU', locale: 'en-AU', regions: ['ap-southeast-2'] }, weight: 5 },
]);

const PLANS = new WeightedList([
  { value: 'free', weight: 70 },
  { value: 'pro', weight: 25 },
  { value: 'enterprise', weight: 5 },
]);

const NETWORKS: Record<string, WeightedList<string>> = {
  desktop: new WeightedList([
    { value: 'wifi', weight: 60 },
    { value: 'ethernet', weight: 40 },
  ]),
  mobile: new WeightedList([
    { value: '5g', weight: 35 },
    { value: '4g', weight: 35 },
    { value: 'wifi', weight: 30 },
  ]),
  tablet: new WeightedList([
    { value: 'wifi', weight: 85 },
    { value: '4g', weight: 15 },
  ]),
};

const APP_VERSIONS = new WeightedList([
  { value: '5.12.0', weight: 15 },
  { value: '5.13.0', weight: 35 },
  { value: '5.13.1', weight: 50 },
]);

function buildUser(seed: number, index: number, overrides: readonly (string | undefined)[]): UserProfile {
  const u = (salt: number): number => hashUnit(seed, index, salt);
  const deviceType = DEVICES.pick(u(1));
  const b = (BROWSERS_BY_DEVICE[deviceType] as WeightedList<BrowserChoice>).pick(u(2));
  const browserVersion = b.versions[Math.floor(u(3) * b.versions.length)] as string;
  const osVersion = b.osVersions[Math.floor(u(4) * b.osVersions.length)] as string;
  const widths = SCREEN_WIDTHS[deviceType] as number[];
  const c = COUNTRIES.pick(u(5));
  const ipHash = hashInts(seed, index, 6);
  const id = `u_${(hashInts(seed, index, 7) % 0xfffff).toString(36)}${index.toString(36).padStart(4, '0')}`;
  const flags: string[] = [];
  for (let f = 0; f < DEMO_FLAGS.length; f++) flags.push(overrides[f] ?? variantFor(f, id));
  const inRegressionCohort =
    flags[CHECKOUT_V2] === HIDDEN_REGRESSION.flags.checkout_v2 &&
    flags[NEW_CART] === HIDDEN_REGRESSION.flags.new_cart &&
    b.browser === HIDDEN_REGRESSION.browser;
  const inQuietCohort =
    flags[IMAGE_CDN_V2] === QUIET_EXECUTIONS.flags.image_cdn_v2 && flags[LAZY_IMAGES] === QUIET_EXECUTIONS.flags.lazy_images;
  return {
    id,
    plan: PLANS.pick(u(8)),
    signupDays: Math.floor(u(9) ** 2 * 1500),
    deviceType,
    browser: b.browser,
    browserVersion,
    os: b.os,
    osVersion,
    screenWidth: widths[Math.floor(u(10) * widths.length)] as number,
    networkType: (NETWORKS[deviceType] as WeightedList<string>).pick(u(11)),
    country: c.country,
    locale: c.locale,
    cloudRegion: c.regions[Math.floor(u(12) * c.regions.length)] as string,
    clientIp: `${((ipHash >>> 24) % 223) + 1}.${(ipHash >>> 16) & 255}.${(ipHash >>> 8) & 255}.${ipHash & 255}`,
    userAgent: `Mozilla/5.0 (${b.os} ${osVersion}) ${b.browser.replace(' ', '')}/${browserVersion}`,
    appVersion: APP_VERSIONS.pick(u(13)),
    flags,
    inRegressionCohort,
    inQuietCohort,
  };
}

interface ServiceRuntime {
  service: DemoService;
  routeCumulative: number[];
  pods: string[];
  nodes: string[];
  shas: [string, string];
  inRegressionServices: boolean;
  inQuietServices: boolean;
  timeoutMs: number;
}

/** Four hex digits for every 16-bit value: two lookups make a 32-bit hex word without `toString`. */
const HEX4: readonly string[] = Array.from({ length: 65_536 }, (_, i) => i.toString(16).padStart(4, '0'));

function hex8(n: number): string {
  return (HEX4[n >>> 16] as string) + (HEX4[n & 0xffff] as string);
}

function buildRuntime(seed: number, service: DemoService, serviceIndex: number): ServiceRuntime {
  const replicaSet = hex8(hashInts(seed, serviceIndex, 1)).slice(0, 9);
  const pods: string[] = [];
  const nodes: string[] = [];
  for (let p = 0; p < service.pods; p++) {
    const h = hashInts(seed, serviceIndex, 100 + p);
    pods.push(`${service.name}-${replicaSet}-${(h % 60466176).toString(36).padStart(5, '0')}`);
    nodes.push(`ip-10-0-${(h >>> 8) & 63}-${(h >>> 16) & 255}.ec2.internal`);
  }
  const sha = (v: number): string => hex8(hashInts(seed, serviceIndex, 200 + v)) + hex8(hashInts(seed, serviceIndex, 300 + v)).slice(0, 4);
  const regressionServices: readonly string[] = HIDDEN_REGRESSION.services;
  return {
    service,
    routeCumulative: cumulativeWeights(service.routes.map((r) => r.weight)),
    pods,
    nodes,
    shas: [sha(0), service.versions[0] === service.versions[1] ? sha(0) : sha(1)],
    inRegressionServices: regressionServices.includes(service.name),
    inQuietServices: (QUIET_EXECUTIONS.services as readonly string[]).includes(service.name),
    timeoutMs: service.name === 'payments' ? 10_000 : 3_000,
  };
}

/** Traffic weight of a moment: a daily cycle peaking at 15:00 UTC, half as busy at 03:00. */
function diurnalWeight(time: number): number {
  const hour = (((time % 86_400_000) + 86_400_000) % 86_400_000) / 3_600_000;
  return 1 + 0.5 * Math.cos((2 * Math.PI * (hour - 15)) / 24);
}

/**
 * Event times for `count` events: stratified over the cumulative traffic
 * curve, so they come out in ascending order and follow the daily cycle.
 */
class TimeLine {
  private readonly start: number;
  private readonly width: number;
  private readonly cumulative: Float64Array;
  private bucket = 0;
  constructor(start: number, end: number) {
    const span = end - start;
    const buckets = Math.max(1, Math.min(20_000, Math.ceil(span / 60_000)));
    this.start = start;
    this.width = span / buckets;
    this.cumulative = new Float64Array(buckets);
    let sum = 0;
    for (let i = 0; i < buckets; i++) {
      sum += diurnalWeight(start + (i + 0.5) * this.width);
      this.cumulative[i] = sum;
    }
    for (let i = 0; i < buckets; i++) this.cumulative[i] = (this.cumulative[i] as number) / sum;
  }
  /** Time for a fraction `u` in [0, 1); `u` must not decrease between calls. */
  at(u: number): number {
    const c = this.cumulative;
    while (this.bucket < c.length - 1 && u >= (c[this.bucket] as number)) this.bucket++;
    const lower = this.bucket === 0 ? 0 : (c[this.bucket - 1] as number);
    const upper = c[this.bucket] as number;
    const within = upper > lower ? Math.min(1, Math.max(0, (u - lower) / (upper - lower))) : 0;
    return Math.floor(this.start + (this.bucket + within) * this.width);
  }
}

function validate(options: GenerateOptions): void {
  const { seed, count, start, end } = options;
  if (!Number.isSafeInteger(seed)) throw invalidInput(`seed must be an integer, got ${String(seed)}`, 'pass a whole number as the seed');
  if (!Number.isSafeInteger(count) || count < 0)
    throw invalidInput(`count must be a non-negative integer, got ${String(count)}`, 'pass a whole number of events');
  if (!Number.isFinite(start) || !Number.isFinite(end))
    throw invalidInput('start and end must be unix milliseconds', 'pass numbers such as Date.now()');
  if (end <= start) throw invalidInput(`end (${end}) must be after start (${start})`, 'pass a time range that is not empty');
  const regression = options.regression;
  if (regression !== undefined && regression !== false) {
    for (const [name, value] of Object.entries(regression)) {
      if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)) {
        throw invalidInput(`regression.${name} must be a positive number, got ${String(value)}`);
      }
    }
  }
  const lost = options.lostCohort;
  if (lost !== undefined) {
    const flag = DEMO_FLAGS.find((f) => f.key === lost.flag);
    if (flag === undefined) throw invalidInput(`lostCohort names unknown demo flag "${lost.flag}"`, 'use a key of DEMO_FLAGS');
    if (!flag.variants.some((v) => v.name === lost.variant)) {
      throw invalidInput(
        `flag "${lost.flag}" has no variant "${lost.variant}"`,
        `use one of: ${flag.variants.map((v) => v.name).join(', ')}`,
      );
    }
    if (!(lost.share >= 0 && lost.share < 1)) throw invalidInput(`lostCohort.share must be in [0, 1), got ${String(lost.share)}`);
  }
  for (const [key, variant] of Object.entries(options.overrides ?? {})) {
    const flag = DEMO_FLAGS.find((f) => f.key === key);
    if (flag === undefined) throw invalidInput(`overrides name unknown demo flag "${key}"`, 'use a key of DEMO_FLAGS');
    if (!flag.variants.some((v) => v.name === variant)) {
      throw invalidInput(`flag "${key}" has no variant "${variant}"`, `use one of: ${flag.variants.map((v) => v.name).join(', ')}`);
    }
  }
}

interface Effects {
  errorRateMultiplier: number;
  latencyMultiplier: number;
  incomplete: boolean;
}

function effectsOf(options: GenerateOptions): Effects {
  const r = options.regression;
  return {
    errorRateMultiplier: r === false ? 1 : (r?.errorRateMultiplier ?? HIDDEN_REGRESSION.errorRateMultiplier),
    latencyMultiplier: r === false ? 1 : (r?.latencyMultiplier ?? HIDDEN_REGRESSION.latencyMultiplier),
    incomplete: options.incomplete === true,
  };
}

function selectServices(names: string[] | undefined): DemoService[] {
  if (names === undefined) return [...DEMO_SERVICES];
  const known = new Map(DEMO_SERVICES.map((s) => [s.name, s]));
  const out: DemoService[] = [];
  for (const name of names) {
    const service = known.get(name);
    if (service === undefined) {
      throw invalidInput(`unknown demo service "${name}"`, `use some of: ${DEMO_SERVICES.map((s) => s.name).join(', ')}`);
    }
    if (!out.includes(service)) out.push(service);
  }
  if (out.length === 0) throw invalidInput('no demo services selected', 'name at least one service or leave the list out');
  return out;
}

const CLIENT_ERRORS = [400, 401, 404, 409] as const;

/**
 * Generates `count` demo events in ascending time order, lazily (one million
 * events never sit in memory at once unless the caller collects them).
 *
 * Each event is one request to one service with ~100 fields, among them the
 * 30 `flag.*` variant columns of `DEMO_FLAGS`; users keep their variants,
 * browser and country across events. Throws `FlagscopeError` (invalid_input)
 * for a bad seed, count, time range or service name.
 */
export function* generateEvents(options: GenerateOptions): Generator<GeneratedEvent, void, undefined> {
  validate(options);
  const { seed, count, start, end } = options;
  const sampling = options.sampling === true;
  const services = selectServices(options.services);
  const runtimes = services.map((s) => buildRuntime(seed, s, DEMO_SERVICES.indexOf(s)));
  const serviceCumulative = cumulativeWeights(services.map((s) => s.weight));
  const rng = createRandom(seed);
  const timeline = new TimeLine(start, end);
  const span = end - start;
  const poolSize = userPoolSize(count);
  const users: (UserProfile | undefined)[] = new Array<UserProfile | undefined>(poolSize);
  const incidentStart = start + PAYMENTS_INCIDENT.startFraction * span;
  const incidentEnd = incidentStart + PAYMENTS_INCIDENT.durationMs;
  const effects = effectsOf(options);
  const lost = options.lostCohort;
  const lostFlag = lost === undefined ? -1 : flagIndex(lost.flag);
  const overrides = DEMO_FLAGS.map((f) => options.overrides?.[f.key]);

  for (let i = 0; i < count; i++) {
    const time = timeline.at((i + rng.next()) / count);
    const fraction = (time - start) / span;
    const inIncident = time >= incidentStart && time < incidentEnd;
    for (;;) {
      const rt = runtimes[pickWeighted(serviceCumulative, rng.next())] as ServiceRuntime;
      const route = rt.service.routes[pickWeighted(rt.routeCumulative, rng.next())] as DemoRoute;
      const userIndex = Math.floor(rng.next() ** 1.6 * poolSize);
      let user = users[userIndex];
      if (user === undefined) {
        user = buildUser(seed, userIndex, overrides);
        users[userIndex] = user;
      }
      if (lost !== undefined && user.flags[lostFlag] === lost.variant && hashUnit(seed, userIndex, 0x1057) < lost.share) continue;
      const outcome = drawOutcome(rng, rt, route, user, inIncident, effects);
      const boring = route.sampled === true && !outcome.error && outcome.status < 400 && outcome.durationMs < route.medianMs * 2.5;
      let samplerate = 1;
      if (sampling && boring) {
        if (!rng.chance(1 / BORING_SAMPLE_RATE)) continue;
        samplerate = BORING_SAMPLE_RATE;
      }
      const data = buildData(rng, seed, time, fraction, rt, route, user, userIndex, outcome);
      if (effects.incomplete) markCompleteness(rng, data, rt.inQuietServices && user.inQuietCohort);
      yield { time, samplerate, data };
      break;
    }
  }
}

/**
 * The same events as `generateEvents`, in arrays of at most `batchSize`
 * (for sending through the batch API).
 */
export function* generateEventBatches(options: GenerateOptions, batchSize: number): Generator<GeneratedEvent[], void, undefined> {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw invalidInput(`batch size must be a positive integer, got ${String(batchSize)}`);
  let batch: GeneratedEvent[] = [];
  for (const event of generateEvents(options)) {
    batch.push(event);
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

interface Outcome {
  status: number;
  error: boolean;
  errorMessage: string | null;
  timeout: boolean;
  durationMs: number;
  cacheHit: boolean;
}

function markCompleteness(rng: Random, data: Record<string, unknown>, goesQuiet: boolean): void {
  const rate = goesQuiet ? QUIET_EXECUTIONS.incompleteRate : INCOMPLETE_EXECUTIONS.rate;
  if (!rng.chance(rate)) {
    data['meta.incomplete'] = false;
    return;
  }
  for (const field of INCOMPLETE_EXECUTIONS.endFields) delete data[field];
  data['meta.incomplete'] = true;
}

function drawOutcome(rng: Random, rt: ServiceRuntime, route: DemoRoute, user: UserProfile, inIncident: boolean, effects: Effects): Outcome {
  const service = rt.service;
  const regression = rt.inRegressionServices && user.inRegressionCohort;
  const errorRate = Math.min(1, route.errorRate * (regression ? effects.errorRateMultiplier : 1));
  let incidentError = false;
  if (inIncident && service.name === PAYMENTS_INCIDENT.service) {
    incidentError = rng.chance(PAYMENTS_INCIDENT.errorRate);
  }
  const cacheHit = route.method === 'GET' && rng.chance(user.flags[EDGE_CACHE] === 'on' ? 0.85 : 0.7);
  let factor = cacheHit ? 0.65 : 1;
  if (regression) factor *= effects.latencyMultiplier;
  if (service.name === 'search' && user.flags[SEARCH_RANKING] === 'treatment') factor *= 1.08;
  if (route.route === '/api/recommendations' && user.flags[RECOMMENDATIONS_ML] === 'treatment') factor *= 1.15;
  if (user.plan === 'enterprise') factor *= 1.1;
  let durationMs = rng.lognormal(route.medianMs * factor, route.sigma);
  // A thin heavy tail: lock waits, GC pauses, cold caches.
  if (rng.chance(0.004)) durationMs *= rng.lognormal(4, 0.4);

  let error = incidentError;
  let errorMessage: string | null = incidentError ? PAYMENTS_INCIDENT.errorMessage : null;
  let timeout = incidentError;
  if (!error && rng.chance(errorRate)) {
    error = true;
    const regressionCaused = regression && effects.errorRateMultiplier > 1 && rng.chance(1 - 1 / effects.errorRateMultiplier);
    errorMessage = regressionCaused ? HIDDEN_REGRESSION.errorMessage : rng.pick(service.errorMessages);
    timeout = !regressionCaused && rng.chance(0.25);
  }
  let status = 200;
  if (error) {
    if (timeout) {
      status = 504;
      durationMs = rt.timeoutMs * (0.98 + 0.04 * rng.next());
    } else {
      status = rng.chance(0.7) ? 500 : rng.chance(0.5) ? 502 : 503;
      durationMs *= 0.6;
    }
  } else if (user.flags[STRICT_RATE_LIMIT] === 'on' && service.name === 'api-gateway' && rng.chance(0.02)) {
    status = 429;
    durationMs = rng.lognormal(1.5, 0.3);
  } else if (rng.chance(0.025)) {
    status = rng.pick(CLIENT_ERRORS);
    durationMs *= 0.4;
  } else if (route.method === 'POST' && (route.route === '/cart/items' || route.route === '/checkout')) {
    status = 201;
  }
  return { status, error, errorMessage, timeout, durationMs: round3(durationMs), cacheHit };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function concreteTarget(rng: Random, route: DemoRoute): string {
  if (route.route.includes('{id}')) return route.route.replace('{id}', String(1000 + rng.int(90_000)));
  if (route.route.includes('{sku}')) return route.route.replace('{sku}', `SKU-${String(rng.int(100_000)).padStart(5, '0')}`);
  return route.route;
}

function buildData(
  rng: Random,
  seed: number,
  time: number,
  fraction: number,
  rt: ServiceRuntime,
  route: DemoRoute,
  user: UserProfile,
  userIndex: number,
  outcome: Outcome,
): Record<string, unknown> {
  const service = rt.service;
  const deployed = fraction >= service.deployAt ? 1 : 0;
  const pod = rng.int(rt.pods.length);
  const duration = outcome.durationMs;
  const sessionBucket = Math.floor(time / 1_800_000);
  const isWrite = route.method !== 'GET';
  const flags = user.flags;
  const data: Record<string, unknown> = {
    'service.name': service.name,
    'service.version': service.versions[deployed],
    'service.namespace': 'shop',
    'deployment.environment': 'production',
    'telemetry.sdk.language': service.language,
    name: `${route.method} ${route.route}`,
    'span.kind': 'server',
    'http.method': route.method,
    'http.route': route.route,
    'http.target': concreteTarget(rng, route),
    'http.scheme': 'https',
    'http.flavor': rng.chance(0.8) ? '2.0' : '1.1',
    status_code: outcome.status,
    'http.status_class': `${Math.floor(outcome.status / 100)}xx`,
    error: outcome.error,
    duration_ms: duration,
    'cache.hit': outcome.cacheHit,
    'cache.duration_ms': round3(rng.lognormal(0.8, 0.4)),
    'queue.wait_ms': round3(rng.lognormal(0.6, 0.9)),
    cpu_ms: round3(Math.min(duration, duration * (0.1 + 0.3 * rng.next()))),
    memory_mb: Math.round(rng.lognormal(service.language === 'java' ? 900 : 220, 0.15)),
    'gc.pause_ms': service.language === 'go' || service.language === 'java' ? round3(rng.lognormal(0.4, 1)) : 0,
    'retry.count': outcome.error ? rng.int(3) : rng.chance(0.02) ? 1 : 0,
    rate_limited: outcome.status === 429,
    'http.request_content_length': isWrite ? Math.round(rng.lognormal(900, 0.6)) : 0,
    'http.response_content_length': Math.round(rng.lognormal(route.method === 'GET' ? 14_000 : 1_200, 0.7)),
    'session.id': hex8(hashInts(seed, userIndex, sessionBucket)) + hex8(hashInts(seed, sessionBucket, userIndex)),
    'trace.trace_id': hex8(rng.nextUint32()) + hex8(rng.nextUint32()) + hex8(rng.nextUint32()) + hex8(rng.nextUint32()),
    'trace.span_id': hex8(rng.nextUint32()) + hex8(rng.nextUint32()),
    'user.id': user.id,
    'user.plan': user.plan,
    'user.signup_days': user.signupDays,
    'user.is_new': user.signupDays < 7,
    'client.ip': user.clientIp,
    'http.user_agent': user.userAgent,
    browser: user.browser,
    'browser.version': user.browserVersion,
    os: user.os,
    'os.version': user.osVersion,
    'device.type': user.deviceType,
    'screen.width': user.screenWidth,
    'network.type': user.networkType,
    locale: user.locale,
    country: user.country,
    region: user.cloudRegion,
    'app.version': user.appVersion,
    // The variant columns are spelled out (not added in a loop) because one
    // object literal is a third faster than 30 keyed stores per event; a unit
    // test checks that they match FLAG_COLUMNS.
    'flag.checkout_v2': flags[0],
    'flag.new_cart': flags[1],
    'flag.dark_mode': flags[2],
    'flag.search_ranking_v3': flags[3],
    'flag.recommendations_ml': flags[4],
    'flag.one_click_buy': flags[5],
    'flag.express_shipping': flags[6],
    'flag.gift_wrap': flags[7],
    'flag.promo_banner': flags[8],
    'flag.new_login_flow': flags[9],
    'flag.passwordless_auth': flags[10],
    'flag.strict_rate_limit': flags[11],
    'flag.edge_cache': flags[12],
    'flag.image_cdn_v2': flags[13],
    'flag.lazy_images': flags[14],
    'flag.price_rounding': flags[15],
    'flag.currency_autodetect': flags[16],
    'flag.address_autocomplete': flags[17],
    'flag.saved_cards': flags[18],
    'flag.apple_pay': flags[19],
    'flag.paypal_button': flags[20],
    'flag.inventory_realtime': flags[21],
    'flag.search_typo_tolerance': flags[22],
    'flag.reviews_widget': flags[23],
    'flag.wishlist': flags[24],
    'flag.loyalty_points': flags[25],
    'flag.recommendations_enabled': flags[26],
    'flag.payments_retry_enabled': flags[27],
    'flag.search_suggest_enabled': flags[28],
    'flag.beta_features': flags[29],
    'cloud.provider': 'aws',
    'cloud.availability_zone': `${user.cloudRegion}${'abc'[pod % 3] as string}`,
    'build.sha': rt.shas[deployed],
    'host.name': rt.nodes[pod],
    'k8s.namespace': 'shop',
    'k8s.pod': rt.pods[pod],
    'k8s.node': rt.nodes[pod],
    'k8s.container': service.name,
  };
  addOutcomeFields(data, rng, rt, route, outcome);
  addServiceFields(data, rng, service, route, user, outcome);
  return data;
}

/** Error, database and upstream fields, drawn after the common ones (the draw order keeps seeded output stable). */
function addOutcomeFields(data: Record<string, unknown>, rng: Random, rt: ServiceRuntime, route: DemoRoute, outcome: Outcome): void {
  const service = rt.service;
  const duration = outcome.durationMs;
  if (outcome.error) {
    data['error.message'] = outcome.errorMessage;
    data['error.type'] = outcome.timeout ? 'timeout' : 'exception';
  }
  if (service.dbSystem !== null && route.dbCalls > 0) {
    const calls = Math.max(1, Math.round(route.dbCalls * (outcome.cacheHit ? 0.5 : 1) * rng.lognormal(1, 0.35)));
    data['db.system'] = service.dbSystem;
    data['db.calls'] = calls;
    data['db.duration_ms'] = round3(duration * (0.15 + 0.45 * rng.next()));
    data['db.rows'] = Math.round(rng.lognormal(calls * 12, 0.9));
  }
  if (service.upstream !== null) {
    data['upstream.service'] = service.upstream;
    data['upstream.duration_ms'] = round3(duration * (0.3 + 0.5 * rng.next()));
  }
}

/** Fields only some services have: cart and payment, search, auth, inventory. */
function addServiceFields(
  data: Record<string, unknown>,
  rng: Random,
  service: DemoService,
  route: DemoRoute,
  user: UserProfile,
  outcome: Outcome,
): void {
  switch (service.name) {
    case 'cart':
    case 'checkout':
    case 'payments': {
      const items = 1 + Math.floor(rng.lognormal(1.6, 0.7));
      data['cart.items'] = items;
      data['cart.value_usd'] = round2(items * rng.lognormal(32, 0.6));
      data['cart.currency'] = user.country === 'US' ? 'USD' : user.locale.endsWith('GB') ? 'GBP' : user.country === 'JP' ? 'JPY' : 'EUR';
      if (service.name !== 'cart') {
        const applePay = user.flags[APPLE_PAY] === 'on' && (user.os === 'iOS' || user.os === 'macOS' || user.os === 'iPadOS');
        const method = applePay && rng.chance(0.5) ? 'apple_pay' : rng.chance(0.15) ? 'paypal' : rng.chance(0.06) ? 'gift_card' : 'card';
        data['payment.method'] = method;
        data['payment.provider'] =
          method === 'paypal' ? 'paypal' : method === 'gift_card' ? 'internal' : rng.chance(0.7) ? 'stripe' : 'adyen';
      }
      if (route.route === '/checkout' && outcome.status < 400) data['order.id'] = `ord_${hex8(rng.nextUint32())}`;
      break;
    }
    case 'search':
      data['search.query_length'] = 1 + rng.int(40);
      data['search.results'] = rng.chance(0.08) ? 0 : Math.round(rng.lognormal(120, 1));
      data['search.index'] = 'products-v7';
      break;
    case 'auth':
      data['auth.method'] =
        user.flags[PASSWORDLESS] === 'on' && rng.chance(0.6)
          ? 'magic_link'
          : rng.chance(0.1)
            ? 'sso'
            : rng.chance(0.15)
              ? 'passkey'
              : 'password';
      data['auth.mfa'] = rng.chance(0.3);
      break;
    case 'inventory':
      data['inventory.in_stock'] = rng.chance(0.92);
      data['inventory.warehouse'] = rng.pick(['ams1', 'iad2', 'nrt1', 'gru1']);
      break;
    default:
      break;
  }
}
