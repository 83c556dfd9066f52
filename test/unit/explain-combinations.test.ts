/**
 * explain's combinations (issue 11, item 5): one flag × one attribute is tested, single values and
 * pairs are ranked together, and a combination is reported only when each of its values adds to
 * what the others explain, so unrelated flags never pad a row. Pure: events generated and counted
 * in-process, then the core's own column choice, tests and ranking.
 */
import { describe, expect, it } from 'vitest';
import type { ExplainGroup } from '../../src/compare/explain/groups.js';
import { choosePairColumns } from '../../src/compare/explain/pairs.js';
import type { ExplainPlan } from '../../src/compare/explain/plan.js';
import { assembleExplainReport, type ExplainFinding } from '../../src/compare/explain/report.js';
import { parseExplainRequest, validateExplain } from '../../src/compare/explain/request.js';
import type { DatasetSchema } from '../../src/query/schema.js';
import { type PlantedEvent, plantedPairEvents } from '../fixtures/planted-pair.js';

const COLUMNS = ['flag.checkout_v2', 'flag.dark_mode', 'flag.new_cart', 'flag.promo', 'browser', 'country'] as const;
const schema: DatasetSchema = {
  dataset: 'shop',
  hasSampling: false,
  columns: [{ name: 'error', type: 'boolean' }, ...COLUMNS.map((name) => ({ name, type: 'string' as const }))],
};
const validated = validateExplain(
  parseExplainRequest({ selection: [{ column: 'error', op: '=', value: true }], start_time: 0, end_time: 100, limit: 1000 }),
  schema,
  0,
);
const plan: ExplainPlan = { columns: COLUMNS.map((name) => ({ name, type: 'string', mode: 'category' })), skipped: [], restModulus: 1 };

/** What the grouping statement returns: counts per combination of values of each column set, split by selection. */
function count(events: PlantedEvent[], sets: readonly (readonly string[])[]): ExplainGroup[] {
  const groups = new Map<string, ExplainGroup>();
  for (const set of sets) {
    for (const e of events) {
      const values = set.map((c) => String(e[c as keyof PlantedEvent]));
      const id = JSON.stringify([set, values]);
      let g = groups.get(id);
      if (g === undefined) {
        g = { columns: [...set], values, mode: 'category', selected: { rows: 0, weight: 0 }, rest: { rows: 0, weight: 0 } };
        groups.set(id, g);
      }
      const side = e.error ? g.selected : g.rest;
      side.rows += 1;
      side.weight += 1;
    }
  }
  return [...groups.values()];
}

/** The explain core end to end on `events`: singles, the combinations it chooses, the report. */
function explain(events: PlantedEvent[]) {
  const single = count(
    events,
    COLUMNS.map((c) => [c]),
  );
  const combos = choosePairColumns(plan, single, validated);
  const report = assembleExplainReport({ dataset: 'shop', validated, plan, groups: [...single, ...count(events, combos)] });
  return { combos, report };
}

const label = (f: ExplainFinding): string => f.columns.map((c, i) => `${c}=${f.values[i]}`).join(' × ');

describe('explain combinations', () => {
  it('tests each flag with each telling attribute, not only flag pairs and padded triples', () => {
    const { combos } = explain(plantedPairEvents(20_000, 1));
    expect(combos).toContainEqual(['flag.checkout_v2', 'browser']);
    // Every pair inside a triple is itself tested, so a triple can be checked against its best pair.
    const keys = new Set(combos.map((c) => [...c].sort().join('|')));
    for (const triple of combos.filter((c) => c.length === 3)) {
      for (let i = 0; i < 3; i++)
        expect(
          keys.has(
            triple
              .filter((_, j) => j !== i)
              .sort()
              .join('|'),
          ),
        ).toBe(true);
    }
  });

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`ranks the planted checkout_v2=on × Firefox first and pads no row with an unrelated value (seed ${seed})`, () => {
      const { report } = explain(plantedPairEvents(20_000, seed));
      expect(label(report.findings[0]!)).toBe('flag.checkout_v2=on × browser=Firefox');
      expect(report.findings[0]!.significant).toBe(true);
      expect(report.findings[0]!.elementPValue).toBeLessThan(0.05);
      // The only combination whose every value adds explanation is the planted one.
      const combinations = report.findings.filter((f) => f.columns.length > 1).map(label);
      expect(combinations).toEqual(['flag.checkout_v2=on × browser=Firefox']);
      expect(report.combinations.tested).toBeGreaterThan(combinations.length);
      expect(report.combinations.dropped).toBe(report.combinations.tested - 1);
      // The pair outranks each of its own values alone.
      const rank = (text: string): number => report.findings.findIndex((f) => label(f) === text);
      expect(rank('flag.checkout_v2=on')).toBeGreaterThan(0);
      expect(rank('browser=Firefox')).toBeGreaterThan(0);
    });
  }

  it('keeps a third value when it explains significantly more than its best pair', () => {
    const cause = (e: PlantedEvent): boolean => e['flag.checkout_v2'] === 'on' && e['flag.new_cart'] === 'on' && e.browser === 'Firefox';
    const { report } = explain(plantedPairEvents(30_000, 7, { planted: 0.25, cause }));
    expect(new Set(report.findings[0]!.columns)).toEqual(new Set(['flag.checkout_v2', 'flag.new_cart', 'browser']));
    expect(label(report.findings[0]!)).toContain('flag.checkout_v2=on');
    const combinations = report.findings.filter((f) => f.columns.length > 1);
    // Its pairs may be shown too (each of their values adds), but nothing with an unrelated column.
    for (const f of combinations) for (const c of f.columns) expect(['flag.checkout_v2', 'flag.new_cart', 'browser']).toContain(c);
  });

  it('drops a triple whose third value adds nothing to its pair', () => {
    const events = plantedPairEvents(20_000, 11);
    const { report } = explain(events);
    // Counted (dark_mode with the planted pair), tested, and left out.
    const tested = count(events, [['flag.checkout_v2', 'flag.dark_mode', 'browser']]).find(
      (g) => g.values.join() === 'on,on,Firefox' || g.values.join() === 'on,off,Firefox',
    );
    expect(tested).toBeDefined();
    expect(report.findings.some((f) => f.columns.includes('flag.dark_mode') && f.columns.length > 1)).toBe(false);
  });
});
