/**
 * Every canary of a dataset measured by one statement that aggregates per user once for all of
 * them, instead of two per-user group-bys per canary (issue 10: one tick of 50 canaries over
 * 1,000,000 events). The numbers are those of each canary's own compare statements
 * ({@link buildCanaryStatements}): the rows this statement returns are turned into the rows those
 * statements would return, and decoded by them.
 *
 * How (DuckDB SQL; user values are bound parameters, aliases generated):
 *
 *   cs  one scan of the union of the canaries' windows: time, sample rate w, unit u, the metrics'
 *       values x_m and log buckets b_h, and each canary's cohort as a 2-bit code (1 baseline,
 *       2 canary variant, 0 anything else or none) packed 32 canaries to a UBIGINT k_j;
 *   cu  per unit (GROUP BY u): bit_or and bit_and of the codes, and per window the events and
 *       sums of w, w², and per guard metric the sums compare's per-unit part takes;
 *   ck  units merged by their codes (bit_or, bit_and): a unit whose code for a canary is the same
 *       at every event ("stable") belongs to one cohort of that canary, so units with the same
 *       codes add up, sums of squares of their per-unit sums included;
 *   cx  the events of units not stable for some canary (and of events without a unit): for each
 *       canary they are not stable for, grouped per (cohort, unit) from the events, as compare does;
 *   per group of canaries with the same windows and guard metrics: the merged units crossed with
 *       the canaries, each canary's stable units by cohort, plus its unstable ones;
 *   histograms, per window and percentile column: the window's total per bucket, and per canary
 *       the buckets of its cohorts other than the larger one (found by joining the scan to its
 *       distinct codes crossed with the canaries); the larger cohort's buckets are the total minus
 *       the others: sample rates are integers, so these sums are exact.
 *
 * Sums of integers (counts, sample rates, rates' 0/1 values) are exact in any order; the sums of
 * AVG and SUM values may differ from compare's in the last bits (as two runs of one statement
 * on several threads may). Pure: SQL text and decoding.
 */
import { invalidInput } from '../errors.js';
import { metricExpression } from '../compare/plan.js';
import type { MetricDefinition } from '../compare/metrics.js';
import type { SqlParam } from '../query/compile.js';
import { duckdbDialect } from '../query/dialect.js';
import {
  type CanaryBatch,
  type CanaryMeasurement,
  type CanaryStatementInput,
  type CanaryStatements,
  type TimeWindow,
  buildCanaryStatements,
  canaryWindows,
} from './measure.js';

/** Canaries whose codes one packed key holds (2 bits each). */
const CODES_PER_KEY = 32;

/** What {@link buildCanaryUnitBatch} needs per canary: its statement input and, optionally, its current percentage. */
export interface UnitBatchInput extends CanaryStatementInput {
  /** The canary's share in percent: above 50 its variant is the larger cohort (the one derived by subtraction). */
  percent?: number;
}

interface MomentMetric {
  id: string;
  metric: MetricDefinition;
  input: CanaryStatementInput;
}

interface Planned {
  input: UnitBatchInput;
  statements: CanaryStatements;
  guardWindow: number;
  stepWindow: number;
  /** Per moment slot of the canary's statement (in order), the batch's moment metric index. */
  moments: number[];
  /** Per histogram part of the canary's statement (in order), the batch's histogram index (window × column). */
  histograms: number[];
  /** The code (1 baseline, 2 variant) of the larger cohort. */
  major: 1 | 2;
}

/** The values of a level row (kind 1) before the moments: units, events, Σw, Σw² in the guards' and the step's window. */
const LEVEL_HEAD = ['ug', 'us', 'ng', 'swg', 'swwg', 'ns', 'sws', 'swws'] as const;
/** Per moment metric: compare's part-0 sums, then the per-unit sums of part −1. */
const MOMENT_COLUMNS = ['c', 'f', 'ff', 'x', 'xx', 'ux', 'uxx', 'uy', 'uyy', 'uxy'] as const;

/** The unit column of a canary's statements, or undefined when it counts events. */
export function unitColumnOf(input: CanaryStatementInput): string | undefined {
  return buildCanaryStatements({ ...input, table: '"check"' }).unitColumn;
}

/**
 * One statement measuring canaries of one dataset that count the same unit column (see the file's
 * comment). All inputs share the table, schema and dialect of the first, and their `now`.
 */
export function buildCanaryUnitBatch(inputs: readonly UnitBatchInput[]): CanaryBatch {
  if (inputs.length === 0) throw invalidInput('no canary to measure', 'give at least one canary');
  const first = inputs[0]!;
  const dialect = first.dialect ?? duckdbDialect;
  const ident = (name: string): string => dialect.quoteIdent(name);
  const params: SqlParam[] = [];
  const param = (value: SqlParam): string => {
    params.push(value);
    return dialect.placeholder(params.length);
  };
  const micros = (seconds: number): string =>
    dialect.timestampFromMicros(`CAST(${param(BigInt(seconds) * 1_000_000n)} AS ${dialect.sqlType('bigint')})`);

  // Windows, moment metrics and histogram columns, each once.
  const windows: TimeWindow[] = [];
  const windowOf = (w: TimeWindow): number => {
    const found = windows.findIndex((x) => x.start === w.start && x.end === w.end);
    return found >= 0 ? found : windows.push(w) - 1;
  };
  const momentMetrics: MomentMetric[] = [];
  const bucketColumns: { column: string; metric: MetricDefinition; input: CanaryStatementInput }[] = [];
  const histograms: { window: number; column: number }[] = [];
  let unit: string | undefined;
  const planned: Planned[] = inputs.map((input, i) => {
    const statements = buildCanaryStatements({ ...input, table: '"check"', dialect });
    if (statements.unitColumn === undefined) throw invalidInput('a canary counting events cannot be measured per unit');
    if (i === 0) unit = statements.unitColumn;
    else if (statements.unitColumn !== unit) throw invalidInput('the canaries of one unit batch must count the same unit column');
    const { window, stepWindow } = canaryWindows(input.state, input.now);
    const guardWindow = windowOf(window);
    const moments: number[] = [];
    const parts: number[] = [];
    for (const metric of statements.metrics) {
      if (metric.kind === 'percentile') {
        let column = bucketColumns.findIndex((b) => b.column === metric.column);
        if (column < 0) column = bucketColumns.push({ column: metric.column!, metric, input }) - 1;
        let h = histograms.findIndex((x) => x.window === guardWindow && x.column === column);
        if (h < 0) h = histograms.push({ window: guardWindow, column }) - 1;
        if (!parts.includes(h)) parts.push(h);
        continue;
      }
      if (metric.kind === 'count') continue;
      const id = momentId(metric);
      let m = momentMetrics.findIndex((x) => x.id === id);
      if (m < 0) m = momentMetrics.push({ id, metric, input }) - 1;
      moments.push(m);
    }
    const major: 1 | 2 = (input.percent ?? 0) > 50 ? 2 : 1;
    return { input, statements, guardWindow, stepWindow: windowOf(stepWindow), moments, histograms: parts, major };
  });
  const start = Math.min(...windows.map((w) => w.start));
  const end = Math.max(...windows.map((w) => w.end));
  const keyCount = Math.ceil(planned.length / CODES_PER_KEY);
  const keys = Array.from({ length: keyCount }, (_, j) => `k${j}`);
  const ors = keys.map((_, j) => `o${j}`);
  const ands = keys.map((_, j) => `a${j}`);
  const shiftOf = (i: number): number => 2 * (i % CODES_PER_KEY);

  // cs: the scan.
  const select = [`${ident('_time')} AS t`, `CAST(${ident('_samplerate')} AS DOUBLE) AS w`, `${ident(unit!)} AS u`];
  keys.forEach((key, j) => {
    const codes = planned.slice(j * CODES_PER_KEY, (j + 1) * CODES_PER_KEY).map((p, i) => {
      const plan = p.input.plan;
      const list = `[CAST(${param(plan.baseline)} AS VARCHAR), CAST(${param(plan.variant)} AS VARCHAR)]`;
      const isText = p.input.schema.columns.some((c) => c.name === plan.column && c.type === 'string');
      const value = isText ? ident(plan.column) : `CAST(${ident(plan.column)} AS VARCHAR)`;
      return `(CAST(coalesce(list_position(${list}, ${value}), 0) AS UBIGINT) << ${shiftOf(i)})`;
    });
    select.push(`(${codes.join(' | ')}) AS ${key}`);
  });
  // Each metric's expression once, compiled as compare compiles it (its parameters follow).
  const nonNull = momentMetrics.map((m, i) => {
    const expression = metricExpression(m.metric, m.input.schema, params, dialect);
    if (expression.kind !== 'moments') throw new Error(`metric ${m.metric.name} has no value per event`);
    select.push(`${expression.expr} AS x${i}`);
    return expression.nonNull;
  });
  bucketColumns.forEach((b, i) => {
    const expression = metricExpression(b.metric, b.input.schema, params, dialect);
    if (expression.kind !== 'histogram') throw new Error(`metric ${b.metric.name} has no histogram`);
    select.push(`${expression.expr} AS b${i}`);
  });
  const time = ident('_time');
  const scan = `SELECT ${select.join(', ')} FROM ${first.table} WHERE ${time} >= ${micros(start)} AND ${time} < ${micros(end)}`;

  // A window's predicate on the scan (none for the whole scan).
  const windowPredicates = windows.map((w) =>
    w.start === start && w.end === end ? '' : `t >= ${micros(w.start)} AND t < ${micros(w.end)}`,
  );
  const filter = (w: number, extra = ''): string => {
    const parts = [windowPredicates[w]!, extra].filter((p) => p !== '');
    return parts.length === 0 ? '' : ` FILTER (WHERE ${parts.join(' AND ')})`;
  };
  const guardPairs: { window: number; moment: number }[] = [];
  for (const p of planned) {
    for (const m of p.moments) {
      if (!guardPairs.some((g) => g.window === p.guardWindow && g.moment === m)) guardPairs.push({ window: p.guardWindow, moment: m });
    }
  }
  const usedWindows = [...new Set(planned.flatMap((p) => [p.guardWindow, p.stepWindow]))];

  // cu: per unit.
  const perUnit = (windowFilter: (w: number, extra?: string) => string): string[] => [
    ...usedWindows.flatMap((w) => [
      `count(*)${windowFilter(w)} AS n_${w}`,
      `coalesce(sum(w)${windowFilter(w)}, 0) AS sw_${w}`,
      `coalesce(sum(w * w)${windowFilter(w)}, 0) AS sww_${w}`,
    ]),
    ...guardPairs.flatMap(({ window: w, moment: m }) => {
      const notNull = nonNull[m] ? `x${m} IS NOT NULL` : '';
      return [
        `count(x${m})${windowFilter(w)} AS c_${w}_${m}`,
        `coalesce(sum(w)${windowFilter(w, notNull)}, 0) AS f_${w}_${m}`,
        `coalesce(sum(w * w)${windowFilter(w, notNull)}, 0) AS ff_${w}_${m}`,
        `coalesce(sum(w * x${m})${windowFilter(w)}, 0) AS x_${w}_${m}`,
        `coalesce(sum(w * x${m} * x${m})${windowFilter(w)}, 0) AS xx_${w}_${m}`,
      ];
    }),
  ];
  const cu = `SELECT u, ${keys.map((k, j) => `bit_or(${k}) AS ${ors[j]}, bit_and(${k}) AS ${ands[j]}`).join(', ')}, ${perUnit(filter).join(', ')} FROM cs WHERE u IS NOT NULL GROUP BY u`;
  // ck: units merged by their codes.
  const merged = [
    ...usedWindows.flatMap((w) => [
      `sum(CASE WHEN n_${w} > 0 THEN 1 ELSE 0 END) AS un_${w}`,
      `sum(n_${w}) AS n_${w}`,
      `sum(sw_${w}) AS sw_${w}`,
      `sum(sww_${w}) AS sww_${w}`,
    ]),
    ...guardPairs.flatMap(({ window: w, moment: m }) => [
      `sum(c_${w}_${m}) AS c_${w}_${m}`,
      `sum(f_${w}_${m}) AS f_${w}_${m}`,
      `sum(ff_${w}_${m}) AS ff_${w}_${m}`,
      `sum(x_${w}_${m}) AS x_${w}_${m}`,
      `sum(xx_${w}_${m}) AS xx_${w}_${m}`,
      `sum(x_${w}_${m} * x_${w}_${m}) AS uxx_${w}_${m}`,
      `sum(f_${w}_${m} * f_${w}_${m}) AS uyy_${w}_${m}`,
      `sum(x_${w}_${m} * f_${w}_${m}) AS uxy_${w}_${m}`,
    ]),
  ];
  const codeColumns = [...ors, ...ands].join(', ');
  const ck = `SELECT ${codeColumns}, ${merged.join(', ')} FROM cu GROUP BY ${codeColumns}`;
  // cx: the events of units not stable for some canary, and of events without a unit.
  const unstable = ors.map((o, j) => `cu.${o} <> cu.${ands[j]}`).join(' OR ');
  const allOnes = '18446744073709551615';
  const cx =
    `SELECT cs.*, ${ors.map((o) => `cu.${o}`).join(', ')}, ${ands.map((a) => `cu.${a}`).join(', ')} FROM cs JOIN cu ON cs.u = cu.u WHERE ${unstable}` +
    ` UNION ALL SELECT cs.*, ${ors.map((o) => `CAST(${allOnes} AS UBIGINT) AS ${o}`).join(', ')}, ${ands.map((a) => `CAST(0 AS UBIGINT) AS ${a}`).join(', ')} FROM cs WHERE cs.u IS NULL`;

  // The canaries as a table to cross: index, key and shift; and a code read from packed keys.
  const canaryTable = (members: number[], extra?: (i: number) => string): string =>
    `(VALUES ${members.map((i) => `(${i}, ${Math.floor(i / CODES_PER_KEY)}, ${shiftOf(i)}${extra ? `, ${extra(i)}` : ''})`).join(', ')}) AS cn(c, kk, sh${extra ? ', mj' : ''})`;
  const codeFrom = (columns: string[]): string =>
    columns.length === 1
      ? `CAST((${columns[0]} >> cn.sh) & 3 AS INTEGER)`
      : `CAST(CASE cn.kk ${columns.map((col, j) => `WHEN ${j} THEN (${col} >> cn.sh) & 3`).join(' ')} END AS INTEGER)`;
  const stable = `(${codeFrom(ors)} = ${codeFrom(ands)})`;

  const momentWidth = Math.max(0, ...planned.map((p) => p.moments.length)) * MOMENT_COLUMNS.length;
  const width = Math.max(LEVEL_HEAD.length + momentWidth, 3);
  const values = (columns: string[]): string => {
    const padded = [...columns.map((c) => `CAST(${c} AS DOUBLE)`)];
    while (padded.length < width) padded.push('CAST(NULL AS DOUBLE)');
    return padded.join(', ');
  };
  const parts: string[] = [];

  // Level rows, per group of canaries with the same windows and moment metrics.
  const groups = new Map<string, number[]>();
  planned.forEach((p, i) => {
    const id = JSON.stringify([p.guardWindow, p.stepWindow, p.moments]);
    groups.set(id, [...(groups.get(id) ?? []), i]);
  });
  for (const members of groups.values()) {
    const p = planned[members[0]!]!;
    const [g, s] = [p.guardWindow, p.stepWindow];
    const fastMoments = p.moments.flatMap((m) => [
      `c_${g}_${m}`,
      `f_${g}_${m}`,
      `ff_${g}_${m}`,
      `x_${g}_${m}`,
      `xx_${g}_${m}`,
      `x_${g}_${m}`,
      `uxx_${g}_${m}`,
      `f_${g}_${m}`,
      `uyy_${g}_${m}`,
      `uxy_${g}_${m}`,
    ]);
    // A unit's bit_and code is 1 or 2 only when every one of its events had that code (1 & 2 = 0);
    // the groups of code 0 (units of neither cohort, or not stable) are left out when decoding: a
    // plain cross product is faster than one the engine filters pair by pair.
    const fast = `SELECT cn.c, ${codeFrom(ands)} AS code, un_${g}, un_${s}, n_${g}, sw_${g}, sww_${g}, n_${s}, sw_${s}, sww_${s}${fastMoments.map((c) => `, ${c}`).join('')} FROM ck, ${canaryTable(members)}`;
    // The slow path: per (canary, cohort, unit) from the events, as compare's per-unit part.
    const slowUnit = `SELECT cn.c, ${codeFrom(keys)} AS code, u, ${perUnit(filter).join(', ')} FROM cx, ${canaryTable(members)} WHERE NOT ${stable} AND ${codeFrom(keys)} IN (1, 2) GROUP BY cn.c, code, u`;
    const unitOnly = (expr: string): string => `sum(CASE WHEN u IS NOT NULL THEN ${expr} ELSE 0 END)`;
    const slowMoments = p.moments.flatMap((m) => [
      `sum(c_${g}_${m})`,
      `sum(f_${g}_${m})`,
      `sum(ff_${g}_${m})`,
      `sum(x_${g}_${m})`,
      `sum(xx_${g}_${m})`,
      unitOnly(`x_${g}_${m}`),
      unitOnly(`x_${g}_${m} * x_${g}_${m}`),
      unitOnly(`f_${g}_${m}`),
      unitOnly(`f_${g}_${m} * f_${g}_${m}`),
      unitOnly(`x_${g}_${m} * f_${g}_${m}`),
    ]);
    const slow = `SELECT c, code, sum(CASE WHEN u IS NOT NULL AND n_${g} > 0 THEN 1 ELSE 0 END), sum(CASE WHEN u IS NOT NULL AND n_${s} > 0 THEN 1 ELSE 0 END), sum(n_${g}), sum(sw_${g}), sum(sww_${g}), sum(n_${s}), sum(sw_${s}), sum(sww_${s})${slowMoments.map((c) => `, ${c}`).join('')} FROM (${slowUnit}) GROUP BY c, code`;
    const columns = [...LEVEL_HEAD.map((_, i) => `v${i}`), ...Array.from({ length: fastMoments.length }, (_, i) => `m${i}`)];
    parts.push(
      `SELECT 1 AS kind, c, code, CAST(NULL AS INTEGER) AS hid, CAST(NULL AS INTEGER) AS bucket, ${values(columns.map((c) => `sum(${c})`))} FROM (${fast} UNION ALL ${slow}) AS l(c, code, ${columns.join(', ')}) GROUP BY c, code`,
    );
  }

  // Histograms: per window and column, the total and each canary's smaller cohorts.
  const distinctCodes = new Map<number, string>();
  const extraCtes: string[] = [];
  histograms.forEach((h, hid) => {
    const w = windowPredicates[h.window]!;
    const where = `${w === '' ? '' : `${w} AND `}b${h.column} IS NOT NULL`;
    parts.push(
      `SELECT 2 AS kind, CAST(NULL AS INTEGER) AS c, CAST(NULL AS INTEGER) AS code, ${hid} AS hid, b${h.column} AS bucket, ${values(['count(*)', 'sum(w)', 'sum(w * w)'])} FROM cs WHERE ${where} GROUP BY b${h.column}`,
    );
    const members = planned.flatMap((p, i) => (p.histograms.includes(hid) ? [i] : []));
    if (!distinctCodes.has(h.window)) {
      distinctCodes.set(h.window, `SELECT DISTINCT ${keys.join(', ')} FROM cs${w === '' ? '' : ` WHERE ${w}`}`);
    }
    // Materialised whole (a plain cross product), then filtered: the engine would otherwise test
    // the filter pair by pair in a nested-loop join.
    const memberships = `cm${hid}`;
    extraCtes.push(
      `${memberships} AS ${dialect.materializedCte}(SELECT ${keys.map((k) => `d.${k}`).join(', ')}, cn.c, ${codeFrom(keys.map((k) => `d.${k}`))} AS code, cn.mj FROM (${distinctCodes.get(h.window)}) AS d, ${canaryTable(members, (i) => String(planned[i]!.major))})`,
    );
    parts.push(
      `SELECT 3 AS kind, m.c, m.code, ${hid} AS hid, cs.b${h.column} AS bucket, ${values(['count(*)', 'sum(cs.w)', 'sum(cs.w * cs.w)'])} FROM cs JOIN (SELECT * FROM ${memberships} WHERE code <> mj) AS m ON ${keys.map((k) => `cs.${k} = m.${k}`).join(' AND ')} WHERE ${where} GROUP BY m.c, m.code, cs.b${h.column}`,
    );
  });

  const sql = `WITH cs AS ${dialect.materializedCte}(${scan}),\ncu AS ${dialect.materializedCte}(${cu}),\nck AS ${dialect.materializedCte}(${ck}),\ncx AS ${dialect.materializedCte}(${cx})${extraCtes.map((c) => `,\n${c}`).join('')}\n${parts.join('\nUNION ALL\n')}`;
  return {
    sql,
    params,
    decode(rows) {
      return decodeUnitBatch(rows, planned, histograms.length);
    },
  };
}

/** A moment metric's identity: two guards with the same value expression share its sums. */
function momentId(metric: MetricDefinition): string {
  return JSON.stringify([
    metric.kind === 'incomplete' ? 'rate' : metric.kind,
    metric.column ?? null,
    metric.filters ?? [],
    metric.filter_combination ?? 'AND',
  ]);
}

const num = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));

/** The batch's rows as each canary's measurement, through the rows its own statements would give. */
function decodeUnitBatch(rows: readonly (readonly unknown[])[], planned: Planned[], histogramCount: number): CanaryMeasurement[] {
  const levels = new Map<string, readonly unknown[]>();
  const totals: Map<number, { n: number; sw: number; sww: number }>[] = Array.from({ length: histogramCount }, () => new Map());
  const others = new Map<string, Map<number, { n: number; sw: number; sww: number }>>();
  for (const row of rows) {
    const kind = num(row[0]);
    const values = row.slice(5).map(num);
    if (kind === 1) levels.set(`${num(row[1])}:${num(row[2])}`, values);
    else {
      const bucket = { n: values[0]!, sw: values[1]!, sww: values[2]! };
      const index = num(row[4]);
      if (kind === 2) totals[num(row[3])]!.set(index, bucket);
      else {
        const id = `${num(row[1])}:${num(row[2])}:${num(row[3])}`;
        let buckets = others.get(id);
        if (buckets === undefined) others.set(id, (buckets = new Map()));
        buckets.set(index, bucket);
      }
    }
  }
  return planned.map((p, c) => {
    const keyOf = (code: number): string => (code === 1 ? p.input.plan.baseline : p.input.plan.variant);
    const guardRows: unknown[][] = [];
    const stepRows: unknown[][] = [];
    const momentCount = p.moments.length;
    for (const code of [1, 2]) {
      const level = levels.get(`${c}:${code}`)?.map(Number);
      if (level === undefined) continue;
      const [ug, us, ng, swg, swwg, ns, sws, swws] = level as [number, number, number, number, number, number, number, number];
      const moments = level.slice(LEVEL_HEAD.length, LEVEL_HEAD.length + momentCount * MOMENT_COLUMNS.length);
      if (ng > 0) {
        const part0: unknown[] = [0, keyOf(code), null, ng, swg, swwg];
        const partUnits: unknown[] = [-1, keyOf(code), null, ug, null, null];
        for (let m = 0; m < momentCount; m++) {
          part0.push(...moments.slice(m * 10, m * 10 + 5));
          partUnits.push(...moments.slice(m * 10 + 5, m * 10 + 10));
        }
        guardRows.push(part0, partUnits);
      }
      if (ns > 0) stepRows.push([0, keyOf(code), null, ns, sws, swws], [-1, keyOf(code), null, us, null, null]);
    }
    // Histogram parts: the smaller cohorts' buckets as measured, the larger's as the total minus them.
    p.histograms.forEach((hid, j) => {
      const of = (code: number) => others.get(`${c}:${code}:${hid}`) ?? new Map<number, { n: number; sw: number; sww: number }>();
      const minor = p.major === 1 ? 2 : 1;
      for (const [index, b] of of(minor)) guardRows.push([j + 1, keyOf(minor), index, b.n, b.sw, b.sww]);
      const none = of(0);
      const small = of(minor);
      for (const [index, total] of totals[hid]!) {
        const less = (k: 'n' | 'sw' | 'sww'): number => total[k] - (small.get(index)?.[k] ?? 0) - (none.get(index)?.[k] ?? 0);
        if (less('n') > 0) guardRows.push([j + 1, keyOf(p.major), index, less('n'), less('sw'), less('sww')]);
      }
    });
    // A cohort with histogram rows but no events in part 0 cannot occur: its buckets are its events'.
    const padded = (row: unknown[], width: number): unknown[] => [...row, ...Array(Math.max(0, width - row.length)).fill(null)];
    return p.statements.decode(
      guardRows.map((r) => padded(r, p.statements.guards.width)),
      stepRows.map((r) => padded(r, p.statements.step.width)),
    );
  });
}
