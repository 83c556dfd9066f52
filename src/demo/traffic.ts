/**
 * Canary traffic: a seeded, deterministic source of request events for one flag, whose
 * outcomes depend on the variant each user is served. It is what the canary's integration
 * tests and `flagscope demo` run a canary against.
 *
 * The generator does not choose variants. It says who arrives when (`arrivals`: a Poisson
 * process of `ratePerSecond` over simulated time, each arrival a user of a stable population
 * with a country, a browser and a plan) and, once a variant is known, what that request looked
 * like (`outcome`: `status_code`, `duration_ms`, `error`, service and endpoint fields, or
 * nothing when the variant's telemetry is under-reported). The driver
 * (`src/cli/demo/traffic-driver.ts`) asks the server's OFREP endpoint which variant each user
 * is served at that moment and writes it to `flag.<key>`, the cohort column `compare` and the
 * canary controller measure; so the observed split is whatever rollout the flag serves.
 *
 * A profile gives the baseline outcomes (error rate, median and P95 latency) and, per variant,
 * how they differ: `{ on: { errorRate: 0.025 } }` is an error regression, `{ on: { p95Ms: 390 } }`
 * a tail-only one (same median, heavier tail), `{ on: { underReport: 0.3 } }` a cohort whose
 * telemetry goes missing (a sample ratio mismatch).
 *
 * Pure: arrivals depend only on the seed, the start and the slices asked for (slices compose:
 * [0, 10 s) then [10 s, 20 s) yields the same arrivals as [0, 20 s)); an outcome depends only
 * on the seed, the arrival's sequence number and the variant, and every arrival draws the same
 * random numbers whatever its variant, so two rollouts of one seed differ only where the
 * variant does.
 */
import { invalidInput } from '../errors.js';
import { createRandom, hashInts, hashUnit, type Random } from './random.js';

/** Outcomes of the requests of one cohort. */
export interface CohortOutcomes {
  /** Share of requests answered with a 5xx (`status_code >= 500`, `error = true`), in [0, 1]. */
  errorRate: number;
  /** Median of `duration_ms` (lognormal), > 0. */
  medianMs: number;
  /** 95th percentile of `duration_ms`, > `medianMs`. */
  p95Ms: number;
  /**
   * Share of executions whose end never arrived (`meta.incomplete = true`, no status or
   * duration), in [0, 1). Default 0; when any cohort sets it every event carries `meta.incomplete`.
   */
  incompleteRate?: number;
  /** Share of this cohort's telemetry lost before it reaches ingest, in [0, 1). Default 0. */
  underReport?: number;
}

/** How a variant's requests differ from the baseline: any field of {@link CohortOutcomes}. */
export type VariantOutcomes = Partial<CohortOutcomes>;

export interface TrafficProfile {
  /** The flag key; events carry the served variant in `flag.<key>`. */
  flag: string;
  /** Requests per second of simulated time, > 0. */
  ratePerSecond: number;
  /** Outcomes of every variant not named in `variants`. */
  baseline: CohortOutcomes;
  /** Per variant, what differs from the baseline. */
  variants?: Record<string, VariantOutcomes>;
  /** Distinct users (`user.id` = `<userPrefix>-<n>`, the OFREP targeting key). Default 2,000. */
  users?: number;
  /** Prefix of the user ids. Default `user`. */
  userPrefix?: string;
  /** `service.name` of every event. Default `checkout`. */
  service?: string;
  /**
   * What an under-reported cohort loses: every event of that share of its users (`user`: a
   * client build whose telemetry never arrives; the default) or that share of its events (`event`).
   */
  underReportBy?: 'user' | 'event';
  /** Include the boolean `error` column beside `status_code`. Default true. */
  errorColumn?: boolean;
}

/** One user of the population; the same index always has the same attributes. */
export interface TrafficUser {
  index: number;
  id: string;
  country: string;
  browser: string;
  plan: string;
}

/** One request: who, when, where. Its outcome waits for the variant the user was served. */
export interface Arrival {
  /** 0, 1, 2, … in time order over the generator's life. */
  seq: number;
  /** Unix milliseconds (whole). */
  time: number;
  user: TrafficUser;
  method: string;
  endpoint: string;
}

export interface TrafficGenerator {
  readonly profile: TrafficProfile;
  readonly users: readonly TrafficUser[];
  /** Unix milliseconds up to which arrivals have been produced. */
  readonly cursor: number;
  /** The arrivals from the cursor up to `untilMs` (exclusive), in time order; moves the cursor. */
  arrivals(untilMs: number): Arrival[];
  /** The outcomes of `arrival` for a user served `variant`, or undefined when its telemetry is lost. */
  outcome(arrival: Arrival, variant: string): Record<string, unknown> | undefined;
  /** The outcomes of `variant`'s cohort: the baseline with the variant's differences. */
  cohort(variant: string): CohortOutcomes;
}

export interface TrafficOptions {
  /** Any integer; the same seed, start and profile always produce the same traffic. */
  seed: number;
  /** Unix milliseconds of the first possible arrival. */
  startMs: number;
}

/** z of the standard normal's 95th percentile. */
const Z95 = 1.6448536269514722;
const COUNTRIES = ['US', 'DE', 'GB', 'FR', 'IN', 'BR', 'JP', 'CA'] as const;
const BROWSERS = ['Chrome', 'Safari', 'Firefox', 'Edge'] as const;
const PLANS = ['free', 'free', 'free', 'pro', 'pro', 'enterprise'] as const;
const ENDPOINTS = [
  ['GET', '/cart'],
  ['GET', '/cart'],
  ['POST', '/cart/items'],
  ['POST', '/checkout'],
  ['GET', '/checkout/status'],
] as const;
const SERVER_ERRORS = [500, 500, 502, 503] as const;
const CLIENT_ERRORS = [400, 404, 409] as const;
/** Share of requests answered 4xx, the same in every cohort (not an error of the service). */
const CLIENT_ERROR_RATE = 0.01;

/** Salts of the per-arrival draws, one per purpose. */
const Draw = { Error: 1, ErrorCode: 2, Normal1: 3, Normal2: 4, Drop: 5, Incomplete: 6, ClientError: 7, UserDrop: 8 } as const;
type Draw = (typeof Draw)[keyof typeof Draw];

/** The log standard deviation of a lognormal with this median and 95th percentile. */
export function lognormalSigma(medianMs: number, p95Ms: number): number {
  return Math.log(p95Ms / medianMs) / Z95;
}

/** Creates a traffic generator; throws a clear invalid-input error for an impossible profile. */
export function createTrafficGenerator(profile: TrafficProfile, options: TrafficOptions): TrafficGenerator {
  validateProfile(profile);
  const seed = options.seed | 0;
  const users = population(profile, seed);
  const random: Random = createRandom(hashInts(seed, 0x7aff1c, 1));
  const gapMs = 1000 / profile.ratePerSecond;
  const cohorts = new Map<string, CohortOutcomes & { sigma: number }>();
  const incompleteColumn = [profile.baseline, ...Object.values(profile.variants ?? {})].some((c) => c.incompleteRate !== undefined);
  const errorColumn = profile.errorColumn !== false;
  const flagColumn = `flag.${profile.flag}`;
  const service = profile.service ?? 'checkout';
  const byUser = (profile.underReportBy ?? 'user') === 'user';
  let cursor = options.startMs;
  let next = options.startMs + exponential(random) * gapMs;
  let seq = 0;

  const cohort = (variant: string): CohortOutcomes & { sigma: number } => {
    let c = cohorts.get(variant);
    if (c === undefined) {
      const merged = { ...profile.baseline, ...(profile.variants?.[variant] ?? {}) };
      c = { ...merged, sigma: lognormalSigma(merged.medianMs, merged.p95Ms) };
      cohorts.set(variant, c);
    }
    return c;
  };

  return {
    profile,
    users,
    get cursor() {
      return cursor;
    },
    arrivals(untilMs) {
      const out: Arrival[] = [];
      while (next < untilMs) {
        const user = users[random.int(users.length)] as TrafficUser;
        const [method, endpoint] = ENDPOINTS[random.int(ENDPOINTS.length)] as readonly [string, string];
        out.push({ seq: seq++, time: Math.floor(next), user, method, endpoint });
        next += exponential(random) * gapMs;
      }
      cursor = Math.max(cursor, untilMs);
      return out;
    },
    outcome(arrival, variant) {
      const c = cohort(variant);
      const u = (draw: Draw): number => hashUnit(seed, arrival.seq, draw);
      const lost = byUser ? hashUnit(seed ^ 0x5bd1e995, arrival.user.index, Draw.UserDrop) : u(Draw.Drop);
      if ((c.underReport ?? 0) > 0 && lost < (c.underReport as number)) return undefined;
      const data: Record<string, unknown> = {
        'service.name': service,
        'http.method': arrival.method,
        endpoint: arrival.endpoint,
        name: `${arrival.method} ${arrival.endpoint}`,
        'request.id': `${seed >>> 0}-${arrival.seq}`,
        'user.id': arrival.user.id,
        'user.country': arrival.user.country,
        'user.plan': arrival.user.plan,
        browser: arrival.user.browser,
        [flagColumn]: variant,
      };
      if (incompleteColumn) {
        const incomplete = u(Draw.Incomplete) < (c.incompleteRate ?? 0);
        data['meta.incomplete'] = incomplete;
        if (incomplete) return data;
      }
      const failed = u(Draw.Error) < c.errorRate;
      let status = 200;
      if (failed) status = SERVER_ERRORS[Math.floor(u(Draw.ErrorCode) * SERVER_ERRORS.length)] as number;
      else if (u(Draw.ClientError) < CLIENT_ERROR_RATE)
        status = CLIENT_ERRORS[Math.floor(u(Draw.ErrorCode) * CLIENT_ERRORS.length)] as number;
      data.status_code = status;
      if (errorColumn) data.error = failed;
      const z = boxMuller(u(Draw.Normal1), u(Draw.Normal2));
      data.duration_ms = Math.round(c.medianMs * Math.exp(c.sigma * z) * 100) / 100;
      return data;
    },
    cohort(variant) {
      const { sigma: _sigma, ...outcomes } = cohort(variant);
      return outcomes;
    },
  };
}

function population(profile: TrafficProfile, seed: number): TrafficUser[] {
  const count = profile.users ?? 2000;
  const prefix = profile.userPrefix ?? 'user';
  const users: TrafficUser[] = [];
  for (let i = 0; i < count; i++) {
    users.push({
      index: i,
      id: `${prefix}-${i}`,
      country: COUNTRIES[Math.floor(hashUnit(seed, i, 101) * COUNTRIES.length)] as string,
      browser: BROWSERS[Math.floor(hashUnit(seed, i, 102) * BROWSERS.length)] as string,
      plan: PLANS[Math.floor(hashUnit(seed, i, 103) * PLANS.length)] as string,
    });
  }
  return users;
}

/** An exponential variate of mean 1. */
function exponential(random: Random): number {
  return -Math.log(1 - random.next());
}

/** A standard normal from two uniforms in [0, 1). */
function boxMuller(u1: number, u2: number): number {
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
}

const HINT = 'see the profile fields of src/demo/traffic.ts';

function validateProfile(profile: TrafficProfile): void {
  if (typeof profile.flag !== 'string' || profile.flag.length === 0) throw invalidInput('traffic profile needs a flag key', HINT);
  if (!(profile.ratePerSecond > 0) || !Number.isFinite(profile.ratePerSecond)) {
    throw invalidInput(`traffic rate must be a positive number of events per second, not ${profile.ratePerSecond}`, HINT);
  }
  const users = profile.users ?? 2000;
  if (!Number.isInteger(users) || users < 1) throw invalidInput(`traffic users must be a positive integer, not ${users}`, HINT);
  checkCohort('baseline', profile.baseline);
  for (const [variant, differences] of Object.entries(profile.variants ?? {})) {
    checkCohort(`variant ${variant}`, { ...profile.baseline, ...differences });
  }
}

function checkCohort(name: string, c: CohortOutcomes): void {
  const share = (field: string, v: number | undefined, max: number): void => {
    if (v !== undefined && !(v >= 0 && v <= max)) throw invalidInput(`${name}: ${field} must be a share in [0, ${max}], not ${v}`, HINT);
  };
  share('errorRate', c.errorRate, 1);
  share('incompleteRate', c.incompleteRate, 0.999);
  share('underReport', c.underReport, 0.999);
  if (!(c.medianMs > 0) || !Number.isFinite(c.medianMs)) throw invalidInput(`${name}: medianMs must be positive, not ${c.medianMs}`, HINT);
  if (!(c.p95Ms > c.medianMs) || !Number.isFinite(c.p95Ms)) {
    throw invalidInput(`${name}: p95Ms must be above medianMs (${c.medianMs}), not ${c.p95Ms}`, HINT);
  }
}
