import { describe, expect, it } from 'vitest';
import {
  BORING_SAMPLE_RATE,
  DEMO_FLAGS,
  DEMO_SERVICES,
  FLAG_COLUMNS,
  HIDDEN_REGRESSION,
  INCOMPLETE_EXECUTIONS,
  PAYMENTS_INCIDENT,
  QUIET_EXECUTIONS,
  generateEventBatches,
  generateEvents,
  userFlagVariant,
  type GeneratedEvent,
  type GenerateOptions,
} from '../../src/demo/generate.js';
import { demoFlagDefinition } from '../../src/demo/catalog.js';
import { evaluateFlag } from '../../src/flags/evaluate.js';
import { validateFlagDefinition } from '../../src/flags/model.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDemoNdjson } from '../fixtures/generate-demo-ndjson.js';
import { eventToNdjsonLine, ndjsonChunks } from '../../src/demo/ndjson.js';
import { createRandom } from '../../src/demo/random.js';
import { FlagscopeError } from '../../src/errors.js';

const START = Date.UTC(2026, 10, 22, 0, 0, 0);
const DAY = 86_400_000;
const END = START + DAY;

function generate(count: number, seed = 7, sampling = false): GeneratedEvent[] {
  return Array.from(generateEvents({ seed, count, start: START, end: END, sampling }));
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function matchesRegression(data: Record<string, unknown>): boolean {
  return Object.entries(HIDDEN_REGRESSION.where).every(([column, value]) => data[column] === value);
}

const events = generate(60_000);

describe('generateEvents', () => {
  it('is deterministic: the same seed gives the same events, another seed different ones', () => {
    const first = generate(2_000, 7);
    const again = generate(2_000, 7);
    expect(again).toEqual(first);
    expect(JSON.stringify(again)).toBe(JSON.stringify(first));
    const other = generate(2_000, 8);
    expect(JSON.stringify(other)).not.toBe(JSON.stringify(first));
  });

  it('produces exactly `count` events in ascending time order inside the range', () => {
    expect(events).toHaveLength(60_000);
    let previous = -Infinity;
    for (const e of events) {
      expect(e.time).toBeGreaterThanOrEqual(previous);
      previous = e.time;
    }
    expect(events[0]!.time).toBeGreaterThanOrEqual(START);
    expect(events[events.length - 1]!.time).toBeLessThan(END);
  });

  it('follows a daily traffic cycle: the afternoon is busier than the night', () => {
    const hourOf = (t: number) => new Date(t).getUTCHours();
    const afternoon = events.filter((e) => hourOf(e.time) === 15).length;
    const night = events.filter((e) => hourOf(e.time) === 3).length;
    expect(afternoon / night).toBeGreaterThan(2);
  });

  it('makes wide events: ~100 columns in all, ~90 per event, ~30 of them flag columns', () => {
    const columns = new Set<string>();
    let totalWidth = 0;
    for (const e of events) {
      for (const key of Object.keys(e.data)) columns.add(key);
      totalWidth += Object.keys(e.data).length;
    }
    expect(columns.size).toBeGreaterThanOrEqual(95);
    expect(columns.size).toBeLessThanOrEqual(115);
    expect(totalWidth / events.length).toBeGreaterThan(80);
    const flagColumns = [...columns].filter((c) => c.startsWith('flag.'));
    expect(flagColumns.sort()).toEqual([...FLAG_COLUMNS].sort());
    expect(flagColumns.length).toBe(30);
    for (const required of [
      'service.name',
      'name',
      'http.method',
      'http.route',
      'status_code',
      'error',
      'error.message',
      'duration_ms',
      'db.duration_ms',
      'db.calls',
      'cache.hit',
      'user.id',
      'session.id',
      'trace.trace_id',
      'trace.span_id',
      'browser',
      'os',
      'device.type',
      'country',
      'region',
      'app.version',
      'build.sha',
      'host.name',
      'k8s.pod',
      'cart.items',
      'cart.value_usd',
      'payment.method',
    ]) {
      expect(columns, required).toContain(required);
    }
  });

  it('uses every service, with high-cardinality user ids and unique trace ids', () => {
    const services = new Set(events.map((e) => e.data['service.name']));
    expect([...services].sort()).toEqual(DEMO_SERVICES.map((s) => s.name).sort());
    expect(new Set(events.map((e) => e.data['user.id'])).size).toBeGreaterThan(1_000);
    expect(new Set(events.map((e) => e.data['trace.trace_id'])).size).toBe(events.length);
    for (const e of events.slice(0, 100)) {
      expect(e.data['trace.trace_id']).toMatch(/^[0-9a-f]{32}$/);
      expect(e.data['trace.span_id']).toMatch(/^[0-9a-f]{16}$/);
    }
  });

  it('gives each user one variant per flag, in every event, following the rollout weights', () => {
    const byUser = new Map<unknown, Record<string, unknown>>();
    let repeatVisits = 0;
    const mismatches: string[] = [];
    for (const e of events) {
      const seen = byUser.get(e.data['user.id']);
      if (seen === undefined) {
        byUser.set(e.data['user.id'], e.data);
        continue;
      }
      repeatVisits++;
      for (const column of [...FLAG_COLUMNS, 'browser', 'country']) {
        if (e.data[column] !== seen[column]) mismatches.push(`${String(e.data['user.id'])} ${column}`);
      }
    }
    expect(repeatVisits).toBeGreaterThan(10_000);
    expect(mismatches).toEqual([]);
    const users = [...byUser.values()];
    for (const flag of DEMO_FLAGS) {
      for (const variant of flag.variants) {
        const share = users.filter((d) => d[`flag.${flag.key}`] === variant.name).length / users.length;
        expect(share, `${flag.key}=${variant.name}`).toBeCloseTo(variant.weight / 100, 1);
      }
    }
  });

  it('spells out every variant column in catalog order', () => {
    const e = events[0]!;
    expect(Object.keys(e.data).filter((k) => k.startsWith('flag.'))).toEqual([...FLAG_COLUMNS]);
    expect(FLAG_COLUMNS).toEqual(DEMO_FLAGS.map((f) => `flag.${f.key}`));
  });

  it('buckets users exactly as the flag evaluator does for the demo flag definitions', () => {
    const definitions = DEMO_FLAGS.map((f) => validateFlagDefinition(demoFlagDefinition(f)));
    const users = new Map<string, Record<string, unknown>>();
    for (const e of events) users.set(e.data['user.id'] as string, e.data);
    let checked = 0;
    const disagreements: string[] = [];
    for (const [userId, data] of [...users].slice(0, 2_000)) {
      for (const definition of definitions) {
        const evaluated = evaluateFlag(definition, { targetingKey: userId });
        if (evaluated.variant !== data[`flag.${definition.key}`]) disagreements.push(`${userId} ${definition.key}`);
        if (userFlagVariant(definition.key, userId) !== data[`flag.${definition.key}`])
          disagreements.push(`${userId} ${definition.key} (userFlagVariant)`);
        checked++;
      }
    }
    expect(checked).toBe(2_000 * 30);
    expect(disagreements).toEqual([]);
    const killSwitches = definitions.filter((d) => d.kind === 'kill-switch');
    expect(killSwitches.length).toBeGreaterThan(0);
    for (const d of killSwitches) expect(d.safeVariant).toBeDefined();
  });

  it('hides a regression in one flag combination: ×5 errors and ×1.6 latency there, mild in each flag alone', () => {
    const affected = events.filter((e) => (HIDDEN_REGRESSION.services as readonly string[]).includes(e.data['service.name'] as string));
    const inCombo = affected.filter((e) => matchesRegression(e.data));
    const rest = affected.filter((e) => !matchesRegression(e.data));
    expect(inCombo.length).toBeGreaterThan(400);
    const errorRate = (list: GeneratedEvent[]) => list.filter((e) => e.data.error === true).length / list.length;
    const ratio = errorRate(inCombo) / errorRate(rest);
    expect(ratio).toBeGreaterThan(3.5);
    expect(ratio).toBeLessThan(7);

    // The same route, successful requests only: P95 grows by the latency multiplier.
    const okCheckout = (list: GeneratedEvent[]) =>
      list.filter((e) => e.data.name === 'POST /checkout' && e.data.error === false).map((e) => e.data.duration_ms as number);
    const p95Ratio = quantile(okCheckout(inCombo), 0.95) / quantile(okCheckout(rest), 0.95);
    expect(p95Ratio).toBeGreaterThan(1.3);
    expect(p95Ratio).toBeLessThan(2);

    // Each flag alone, over all traffic: far less striking than the combination.
    for (const [column, value] of [
      ['flag.checkout_v2', 'on'],
      ['flag.new_cart', 'on'],
      ['browser', 'Safari'],
    ] as const) {
      const withIt = events.filter((e) => e.data[column] === value);
      const without = events.filter((e) => e.data[column] !== value);
      expect(errorRate(withIt) / errorRate(without), column).toBeLessThan(1.6);
    }
    const regressionMessages = inCombo.filter((e) => e.data['error.message'] === HIDDEN_REGRESSION.errorMessage).length;
    expect(regressionMessages).toBeGreaterThan(0);
    expect(events.filter((e) => !matchesRegression(e.data) && e.data['error.message'] === HIDDEN_REGRESSION.errorMessage)).toHaveLength(0);
  });

  it('draws lognormal-looking latencies: right-skewed with a sane P95/median ratio', () => {
    const durations = events
      .filter((e) => e.data.name === 'GET /search' && e.data.error === false && e.data['status_code'] === 200)
      .map((e) => e.data.duration_ms as number);
    const median = quantile(durations, 0.5);
    const p95 = quantile(durations, 0.95);
    const mean = durations.reduce((a, b) => a + b, 0) / durations.length;
    expect(mean).toBeGreaterThan(median);
    expect(p95 / median).toBeGreaterThan(1.8);
    expect(p95 / median).toBeLessThan(5);
    const logs = durations.map(Math.log);
    const logMean = logs.reduce((a, b) => a + b, 0) / logs.length;
    const logSd = Math.sqrt(logs.reduce((a, b) => a + (b - logMean) ** 2, 0) / logs.length);
    expect(logSd).toBeGreaterThan(0.4);
    expect(logSd).toBeLessThan(1);
    expect(Math.max(...durations) / median).toBeGreaterThan(8);
  });

  it('has a payments incident: errors spike in its window', () => {
    const incidentStart = START + PAYMENTS_INCIDENT.startFraction * DAY;
    const payments = events.filter((e) => e.data['service.name'] === 'payments');
    const inWindow = payments.filter((e) => e.time >= incidentStart && e.time < incidentStart + PAYMENTS_INCIDENT.durationMs);
    const outside = payments.filter((e) => e.time < incidentStart || e.time >= incidentStart + PAYMENTS_INCIDENT.durationMs);
    const rate = (list: GeneratedEvent[]) => list.filter((e) => e.data.error === true).length / list.length;
    expect(inWindow.length).toBeGreaterThan(20);
    expect(rate(inWindow)).toBeGreaterThan(5 * rate(outside));
  });

  it('without sampling, every sample rate is 1', () => {
    expect(events.every((e) => e.samplerate === 1)).toBe(true);
  });

  it('with sampling, ~10% of events are boring successes sent with samplerate 10, and weighted shares match', () => {
    const sampled = generate(60_000, 7, true);
    expect(sampled).toHaveLength(60_000);
    const rare = sampled.filter((e) => e.samplerate === BORING_SAMPLE_RATE);
    expect(rare.length / sampled.length).toBeGreaterThan(0.07);
    expect(rare.length / sampled.length).toBeLessThan(0.14);
    expect(sampled.every((e) => e.samplerate === 1 || e.samplerate === BORING_SAMPLE_RATE)).toBe(true);
    const sampledRoutes = new Set(DEMO_SERVICES.flatMap((s) => s.routes.filter((r) => r.sampled).map((r) => `${r.method} ${r.route}`)));
    for (const e of rare) {
      expect(e.data.error).toBe(false);
      expect(e.data.status_code as number).toBeLessThan(400);
      expect(sampledRoutes.has(e.data.name as string)).toBe(true);
    }
    // Weighted by sample rate, the sampled data describes the same traffic as the unsampled data.
    const weighted = (list: GeneratedEvent[], pick: (e: GeneratedEvent) => boolean) => {
      let hit = 0;
      let total = 0;
      for (const e of list) {
        total += e.samplerate;
        if (pick(e)) hit += e.samplerate;
      }
      return hit / total;
    };
    const isError = (e: GeneratedEvent) => e.data.error === true;
    const isSampledRoute = (e: GeneratedEvent) => sampledRoutes.has(e.data.name as string);
    expect(weighted(sampled, isError)).toBeCloseTo(weighted(events, isError), 2);
    expect(weighted(sampled, isSampledRoute)).toBeCloseTo(weighted(events, isSampledRoute), 1);
    expect(weighted(events, isSampledRoute)).toBeGreaterThan(0.5);
  });

  it('restricts to the services asked for and rejects bad options with FlagscopeError', () => {
    const only = Array.from(generateEvents({ seed: 1, count: 500, start: START, end: END, services: ['checkout', 'cart'] }));
    expect(new Set(only.map((e) => e.data['service.name']))).toEqual(new Set(['checkout', 'cart']));
    const bad = [
      { seed: 1, count: 10, start: END, end: START },
      { seed: 1.5, count: 10, start: START, end: END },
      { seed: 1, count: -1, start: START, end: END },
      { seed: 1, count: 10, start: START, end: END, services: ['nope'] },
    ];
    for (const options of bad) {
      expect(() => Array.from(generateEvents(options))).toThrow(FlagscopeError);
    }
    expect(Array.from(generateEvents({ seed: 1, count: 0, start: START, end: END }))).toEqual([]);
  });

  it('batches the same events', () => {
    const batches = Array.from(generateEventBatches({ seed: 7, count: 2_500, start: START, end: END }, 1_000));
    expect(batches.map((b) => b.length)).toEqual([1_000, 1_000, 500]);
    expect(JSON.stringify(batches.flat())).toBe(JSON.stringify(generate(2_500)));
  });
});

describe('generateEvents variations for statistics tests', () => {
  const base = { seed: 11, count: 40_000, start: START, end: END };
  const affected = (list: GeneratedEvent[]) =>
    list.filter((e) => (HIDDEN_REGRESSION.services as readonly string[]).includes(e.data['service.name'] as string));
  const errorRate = (list: GeneratedEvent[]) => list.filter((e) => e.data.error === true).length / list.length;
  const comboRatio = (list: GeneratedEvent[]) => {
    const inScope = affected(list);
    return errorRate(inScope.filter((e) => matchesRegression(e.data))) / errorRate(inScope.filter((e) => !matchesRegression(e.data)));
  };

  it('regression: false leaves no effect to find; a stronger one is stronger', () => {
    const none = Array.from(generateEvents({ ...base, regression: false }));
    expect(comboRatio(none)).toBeGreaterThan(0.4);
    expect(comboRatio(none)).toBeLessThan(1.8);
    expect(none.some((e) => e.data['error.message'] === HIDDEN_REGRESSION.errorMessage)).toBe(false);
    const strong = Array.from(generateEvents({ ...base, regression: { errorRateMultiplier: 12, latencyMultiplier: 1 } }));
    expect(comboRatio(strong)).toBeGreaterThan(8);
  });

  it("lostCohort drops a share of one variant's users: the observed split departs from the rollout", () => {
    const users = (list: GeneratedEvent[]) => {
      const variants = new Map<unknown, unknown>();
      for (const e of list) variants.set(e.data['user.id'], e.data['flag.checkout_v2']);
      const all = [...variants.values()];
      return all.filter((v) => v === 'on').length / all.length;
    };
    const normal = Array.from(generateEvents(base));
    const lossy = Array.from(generateEvents({ ...base, lostCohort: { flag: 'checkout_v2', variant: 'on', share: 0.3 } }));
    expect(lossy).toHaveLength(base.count);
    expect(users(normal)).toBeCloseTo(0.5, 1);
    // 0.5 × 0.7 / (0.5 × 0.7 + 0.5) ≈ 0.41
    expect(users(lossy)).toBeGreaterThan(0.37);
    expect(users(lossy)).toBeLessThan(0.45);
  });

  it('incomplete executions lack their end fields and concentrate in the quiet combination, whose completed ones look like the rest', () => {
    const list = Array.from(generateEvents({ ...base, incomplete: true }));
    expect(list.every((e) => typeof e.data['meta.incomplete'] === 'boolean')).toBe(true);
    const incomplete = list.filter((e) => e.data['meta.incomplete'] === true);
    for (const e of incomplete) {
      for (const field of INCOMPLETE_EXECUTIONS.endFields) expect(e.data).not.toHaveProperty([field]);
      expect(e.data['user.id']).toBeDefined();
      expect(e.data['flag.checkout_v2']).toBeDefined();
    }
    const inServices = (e: GeneratedEvent) => (QUIET_EXECUTIONS.services as readonly string[]).includes(e.data['service.name'] as string);
    const quiet = (e: GeneratedEvent) =>
      inServices(e) && Object.entries(QUIET_EXECUTIONS.where).every(([column, value]) => e.data[column] === value);
    const rate = (l: GeneratedEvent[]) => l.filter((e) => e.data['meta.incomplete'] === true).length / l.length;
    const inCombination = list.filter(quiet);
    const elsewhere = list.filter((e) => !quiet(e));
    expect(inCombination.length).toBeGreaterThan(300);
    expect(rate(elsewhere)).toBeGreaterThan(INCOMPLETE_EXECUTIONS.rate / 2);
    expect(rate(elsewhere)).toBeLessThan(INCOMPLETE_EXECUTIONS.rate * 2);
    expect(rate(inCombination)).toBeGreaterThan(QUIET_EXECUTIONS.incompleteRate / 2);
    expect(rate(inCombination)).toBeLessThan(QUIET_EXECUTIONS.incompleteRate * 2);
    // Completed executions of the combination fail as often as the rest of its services'.
    const completed = (l: GeneratedEvent[]) => l.filter((e) => e.data['meta.incomplete'] === false);
    const gatewayRest = completed(list.filter((e) => inServices(e) && !quiet(e)));
    const completedQuiet = completed(inCombination);
    const bound = 4 * Math.sqrt((errorRate(gatewayRest) * (1 - errorRate(gatewayRest))) / completedQuiet.length);
    expect(Math.abs(errorRate(completedQuiet) - errorRate(gatewayRest))).toBeLessThan(bound);
  });

  it('overrides serve one variant to everyone, as a pressed kill switch does', () => {
    const pressed = Array.from(
      generateEvents({ ...base, count: 3_000, overrides: { recommendations_enabled: 'off', checkout_v2: 'off' } }),
    );
    expect(new Set(pressed.map((e) => e.data['flag.recommendations_enabled']))).toEqual(new Set(['off']));
    expect(new Set(pressed.map((e) => e.data['flag.checkout_v2']))).toEqual(new Set(['off']));
    expect(new Set(pressed.map((e) => e.data['flag.new_cart']))).toEqual(new Set(['on', 'off']));
    expect(pressed.some((e) => matchesRegression(e.data))).toBe(false);
  });

  it('rejects bad variation options', () => {
    const bad: GenerateOptions[] = [
      { ...base, overrides: { nope: 'on' } },
      { ...base, overrides: { checkout_v2: 'maybe' } },
      { ...base, regression: { errorRateMultiplier: -1 } },
      { ...base, lostCohort: { flag: 'nope', variant: 'on', share: 0.1 } },
      { ...base, lostCohort: { flag: 'checkout_v2', variant: 'maybe', share: 0.1 } },
      { ...base, lostCohort: { flag: 'checkout_v2', variant: 'on', share: 1 } },
    ];
    for (const options of bad) expect(() => generateEvents(options).next()).toThrow(FlagscopeError);
  });
});

describe('ndjson helpers', () => {
  it('writes batch items with ISO times, or bare data, one per line', () => {
    const sample = events.slice(0, 5);
    const line = JSON.parse(eventToNdjsonLine(sample[0]!)) as { time: string; samplerate: number; data: unknown };
    expect(line.time).toBe(new Date(sample[0]!.time).toISOString());
    expect(line.samplerate).toBe(1);
    expect(line.data).toEqual(sample[0]!.data);
    expect(JSON.parse(eventToNdjsonLine(sample[1]!, 'data'))).toEqual(sample[1]!.data);
    const chunks = Array.from(ndjsonChunks(sample, { linesPerChunk: 2 }));
    expect(chunks).toHaveLength(3);
    const lines = chunks.join('').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => (JSON.parse(l) as { data: unknown }).data)).toEqual(sample.map((e) => e.data));
  });
});

describe('writeDemoNdjson fixture', () => {
  it('writes the same events to a file, one line each', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flagscope-ndjson-'));
    try {
      const path = join(dir, 'events.ndjson');
      const written = await writeDemoNdjson(path, { seed: 7, count: 2_500, start: START, end: END, shape: 'data' });
      const text = await readFile(path, 'utf8');
      expect(written.events).toBe(2_500);
      expect(written.bytes).toBe(Buffer.byteLength(text));
      const lines = text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown);
      expect(lines).toEqual(generate(2_500).map((e) => e.data));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('createRandom', () => {
  it('draws standard normals and lognormals with the right moments', () => {
    const rng = createRandom(42);
    const n = 50_000;
    const xs = Array.from({ length: n }, () => rng.normal());
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(variance).toBeCloseTo(1, 1);
    const ln = Array.from({ length: n }, () => rng.lognormal(100, 0.5));
    expect(quantile(ln, 0.5)).toBeGreaterThan(97);
    expect(quantile(ln, 0.5)).toBeLessThan(103);
    expect(quantile(ln, 0.95) / quantile(ln, 0.5)).toBeCloseTo(Math.exp(0.5 * 1.6449), 1);
    const uniforms = Array.from({ length: n }, () => rng.next());
    expect(Math.min(...uniforms)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...uniforms)).toBeLessThan(1);
  });
});
