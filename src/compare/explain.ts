/**
 * `explain` (a BubbleUp): how the selected events differ from the rest, for
 * every column and for combinations of flag columns. Pure: builds the SQL
 * and ranks what the database returns.
 *
 * Three statements, all aggregates:
 *
 * 1. profile: over a block sample of the population, the approximate
 *    number of distinct values of every column and, for numeric columns,
 *    16-quantile bucket edges. Columns with many distinct values (ids) are
 *    skipped; numeric columns with few distinct values are treated as
 *    categories (status codes).
 * 2. columns: one scan, `GROUP BY GROUPING SETS ((s, c0), (s, c1), …)` with
 *    `s` the selection predicate: weighted counts per value (categories) or
 *    per bucket (numbers), split by selection. Every selected event counts;
 *    the rest is read on a uniform sample of about {@link REST_SAMPLE_ROWS}
 *    rows whose weights stand for the events left out.
 * 3. combinations: the same for pairs of the most telling flag columns and
 *    for those pairs with the most telling other (non-consequence) columns.
 *
 * Categories are tested value by value (2×2 chi-square, selected vs rest ×
 * value vs other), numbers by a rank test between the bucketed
 * distributions; Benjamini–Hochberg over every test; findings ranked by effect
 * size (difference in share for values, 2·|P(X>Y) − ½| for numbers).
 */
import { invalidInput } from '../errors.js';
import { compileFilterPredicate, type SqlParam } from '../query/compile.js';
import { formatFilters } from '../query/format.js';
import { duckdbDialect, type SqlDialect } from '../query/dialect.js';
import type { Filter, QuerySpec } from '../query/spec.js';
import { validateQuery } from '../query/validate.js';
import { adjustPValues } from '../stats/adjust.js';
import { contingencyTest, histogramRankTest } from '../stats/distribution.js';
import type { ColumnType, DatasetSchema } from '../query/schema.js';

/** Columns with more distinct values than this (in the sample) are skipped as identifiers. */
export const MAX_CATEGORIES = 500;
/** Numeric columns with at most this many distinct values are treated as categories. */
export const CATEGORICAL_NUMBER_LIMIT = 12;
/** Buckets of numeric columns (quantiles of the sample). */
export const NUMERIC_BUCKETS = 16;
/** Flag columns combined pairwise. */
export const PAIR_FLAG_COLUMNS = 5;
/** Flag pairs extended with the most telling other columns. */
export const TRIPLE_FLAG_PAIRS = 3;
export const TRIPLE_OTHER_COLUMNS = 4;
/** A value this many times more common in the selection than in the rest marks its column as a consequence of the selection. */
export const CONSEQUENCE_LIFT = 50;

const NULL_SENTINEL = '\u0001(null)';
/** How a missing value is shown. */
export const MISSING_VALUE = '(missing)';

export interface ExplainRequest {
  /** The selection: events matching these filters. */
  selection: Filter[];
  selection_combination?: 'AND' | 'OR';
  /** Population filters (both sides). */
  filters?: Filter[];
  filter_combination?: 'AND' | 'OR';
  time_range?: number;
  start_time?: number;
  end_time?: number;
  alpha?: number;
  /** Findings returned (default 50). */
  limit?: number;
}

export interface ValidatedExplain {
  selection: Filter[];
  selectionCombination: 'AND' | 'OR';
  filters: Filter[];
  filterCombination: 'AND' | 'OR';
  startTime: number;
  endTime: number;
  alpha: number;
  limit: number;
}

const KEYS = [
  'selection',
  'selection_combination',
  'filters',
  'filter_combination',
  'time_range',
  'start_time',
  'end_time',
  'alpha',
  'limit',
];
const HINT = 'see docs/api.md, "Explain a selection"';

/** Checks the shape of an explain request body. */
export function parseExplainRequest(body: unknown): ExplainRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidInput('explain request must be a JSON object like {"selection": [{"column": "error", "op": "=", "value": true}]}', HINT);
  }
  const record = body as Record<string, unknown>;
  for (const key of Object.keys(record))
    if (!KEYS.includes(key))
      throw invalidInput(`unknown field ${JSON.stringify(key)} in the explain request`, `the fields are ${KEYS.join(', ')}`);
  if (!Array.isArray(record.selection) || record.selection.length === 0) {
    throw invalidInput(
      '"selection" must be a non-empty array of filters',
      'e.g. {"selection": [{"column": "error", "op": "=", "value": true}]}',
    );
  }
  const request: ExplainRequest = { selection: record.selection as Filter[] };
  if (record.selection_combination !== undefined) request.selection_combination = record.selection_combination as 'AND' | 'OR';
  if (record.filters !== undefined) request.filters = record.filters as Filter[];
  if (record.filter_combination !== undefined) request.filter_combination = record.filter_combination as 'AND' | 'OR';
  for (const key of ['time_range', 'start_time', 'end_time'] as const) if (record[key] !== undefined) request[key] = record[key] as number;
  if (record.alpha !== undefined) {
    if (typeof record.alpha !== 'number' || !(record.alpha > 0 && record.alpha < 1))
      throw invalidInput('"alpha" must be between 0 and 1', HINT);
    request.alpha = record.alpha;
  }
  if (record.limit !== undefined) {
    if (typeof record.limit !== 'number' || !Number.isInteger(record.limit) || record.limit < 1 || record.limit > 1000) {
      throw invalidInput('"limit" must be an integer from 1 to 1000', HINT);
    }
    request.limit = record.limit;
  }
  return request;
}

/** Validates selection, population and time range against the schema. */
export function validateExplain(request: ExplainRequest, schema: DatasetSchema, now: number): ValidatedExplain {
  const times: QuerySpec = {};
  if (request.time_range !== undefined) times.time_range = request.time_range;
  if (request.start_time !== undefined) times.start_time = request.start_time;
  if (request.end_time !== undefined) times.end_time = request.end_time;
  const selection = validateQuery(
    { ...times, filters: request.selection, filter_combination: request.selection_combination ?? 'AND' },
    schema,
    now,
  );
  const population = validateQuery(
    { ...times, filters: request.filters ?? [], filter_combination: request.filter_combination ?? 'AND' },
    schema,
    now,
  );
  return {
    selection: selection.filters,
    selectionCombination: selection.filter_combination,
    filters: population.filters,
    filterCombination: population.filter_combination,
    startTime: population.start_time,
    endTime: population.end_time,
    alpha: request.alpha ?? 0.05,
    limit: request.limit ?? 50,
  };
}

interface Statement<T> {
  sql: string;
  params: SqlParam[];
  decode(rows: readonly (readonly unknown[])[]): T;
}

function isNumeric(type: ColumnType): boolean {
  return type === 'integer' || type === 'float';
}

/** Columns worth explaining: everything but the internal ones and those the selection is defined by. */
function candidateColumns(schema: DatasetSchema, validated: ValidatedExplain): { name: string; type: ColumnType }[] {
  const used = new Set(validated.selection.map((f) => f.column));
  return schema.columns.filter((c) => !c.name.startsWith('_') && !used.has(c.name)).map((c) => ({ name: c.name, type: c.type }));
}

function whereClause(validated: ValidatedExplain, schema: DatasetSchema, params: SqlParam[], dialect: SqlDialect): string {
  const bind = (value: SqlParam, type: string): string => {
    params.push(value);
    return `CAST(${dialect.placeholder(params.length)} AS ${type})`;
  };
  const ident = dialect.quoteIdent;
  const where = [
    `${ident('_time')} >= ${dialect.timestampFromMicros(bind(BigInt(validated.startTime) * 1_000_000n, dialect.sqlType('bigint')))}`,
    `${ident('_time')} < ${dialect.timestampFromMicros(bind(BigInt(validated.endTime) * 1_000_000n, dialect.sqlType('bigint')))}`,
  ];
  const population = compileFilterPredicate(validated.filters, validated.filterCombination, schema, params, dialect);
  if (population !== undefined) where.push(population);
  return where.join(' AND ');
}

/** What the profile found per column. */
export interface ColumnProfile {
  name: string;
  distinct: number;
  /** Numeric columns: ascending distinct bucket edges. */
  edges?: number[];
}

/** What the profile found: per column, and the estimated size of each side. */
export interface PopulationProfile {
  columns: ColumnProfile[];
  /** Estimated events of the population (rows) and of the selection. */
  rows: number;
  selectedRows: number;
}

/** Datasets larger than this many stored rows are profiled on a block sample of about this many rows. */
export const PROFILE_FULL_SCAN_ROWS = 50_000;
/** The rest (unselected events) is analysed on a uniform sample of about this many rows; the selection always whole. */
export const REST_SAMPLE_ROWS = 100_000;

/**
 * The profile statement: distinct counts and quantile edges of every column
 * and the size of each side, on a block sample when the dataset holds more
 * than {@link PROFILE_FULL_SCAN_ROWS} rows (`datasetRows`), sized to read about that many.
 */
export function buildExplainProfileStatement(
  table: string,
  schema: DatasetSchema,
  validated: ValidatedExplain,
  datasetRows: number,
  dialect: SqlDialect = duckdbDialect,
): Statement<PopulationProfile> {
  const columns = candidateColumns(schema, validated);
  const params: SqlParam[] = [];
  const selection = compileFilterPredicate(validated.selection, validated.selectionCombination, schema, params, dialect) ?? 'false';
  const where = whereClause(validated, schema, params, dialect);
  const ident = dialect.quoteIdent;
  const fraction =
    datasetRows > PROFILE_FULL_SCAN_ROWS ? Math.max(0.01, Math.round((100 * PROFILE_FULL_SCAN_ROWS) / datasetRows) / 100) : 1;
  const quantiles = Array.from({ length: NUMERIC_BUCKETS - 1 }, (_, i) => (i + 1) / NUMERIC_BUCKETS);
  const selects: string[] = ['CAST(count(*) AS DOUBLE)', 'CAST(count(*) FILTER (WHERE s) AS DOUBLE)'];
  columns.forEach((c, i) => {
    selects.push(`approx_count_distinct(c${i})`);
    if (isNumeric(c.type)) selects.push(`approx_quantile(CAST(c${i} AS DOUBLE), [${quantiles.map((q) => q.toFixed(6)).join(', ')}])`);
  });
  const inner = [`coalesce(${selection}, false) AS s`, ...columns.map((c, i) => `${ident(c.name)} AS c${i}`)].join(', ');
  const sample = fraction < 1 ? ` TABLESAMPLE ${fraction * 100}% (system, 7)` : '';
  const sql = `SELECT ${selects.join(', ')} FROM (SELECT ${inner} FROM ${table}${sample} WHERE ${where})`;
  const decode = (rows: readonly (readonly unknown[])[]): PopulationProfile => {
    const row = rows[0] ?? [];
    const total = Number(row[0] ?? 0) / fraction;
    const selected = Number(row[1] ?? 0) / fraction;
    let k = 2;
    const profiles = columns.map((c) => {
      const distinct = Number(row[k++] ?? 0);
      const profile: ColumnProfile = { name: c.name, distinct };
      if (isNumeric(c.type)) {
        const list = row[k++];
        const values = Array.isArray(list) ? list.map(Number).filter((v) => Number.isFinite(v)) : [];
        profile.edges = [...new Set(values)].sort((a, b) => a - b);
      }
      return profile;
    });
    return { columns: profiles, rows: total, selectedRows: selected };
  };
  return { sql, params, decode };
}

/** How one column is analysed. */
export interface ExplainColumnPlan {
  name: string;
  type: ColumnType;
  /** Categories compare value shares; numbers compare bucketed distributions. */
  mode: 'category' | 'number';
  /** Numbers: bucket edges (bucket i holds values with i edges ≤ value). */
  edges?: number[];
}

export interface ExplainPlan {
  columns: ExplainColumnPlan[];
  /** The rest is analysed on rows with hash(rowid) % restModulus = 0 (1: every row). */
  restModulus: number;
  /** Columns left out, and why. */
  skipped: { column: string; reason: string }[];
}

/** Decides, from the profile, which columns are analysed and how. */
export function planExplainColumns(
  schema: DatasetSchema,
  validated: ValidatedExplain,
  profile: PopulationProfile | undefined,
): ExplainPlan {
  const byName = new Map((profile?.columns ?? []).map((p) => [p.name, p]));
  const restRows = profile === undefined ? 0 : profile.rows - profile.selectedRows;
  const plan: ExplainPlan = { columns: [], skipped: [], restModulus: Math.max(1, Math.floor(restRows / REST_SAMPLE_ROWS)) };
  for (const column of candidateColumns(schema, validated)) {
    const profile = byName.get(column.name);
    const distinct = profile?.distinct ?? 0;
    if (distinct === 0) {
      plan.skipped.push({ column: column.name, reason: 'no values in the time range' });
      continue;
    }
    if (isNumeric(column.type) && distinct > CATEGORICAL_NUMBER_LIMIT && (profile?.edges?.length ?? 0) > 0) {
      plan.columns.push({ name: column.name, type: column.type, mode: 'number', edges: profile!.edges! });
      continue;
    }
    if (distinct > MAX_CATEGORIES) {
      plan.skipped.push({ column: column.name, reason: `about ${Math.round(distinct)} distinct values in a sample (an identifier)` });
      continue;
    }
    plan.columns.push({ name: column.name, type: column.type, mode: 'category' });
  }
  return plan;
}

/** Weighted and stored counts of one group (a value, bucket or combination) on each side of the selection. */
export interface ExplainGroup {
  /** Columns of the group (one, or two or three for combinations). */
  columns: string[];
  /** Values as text (MISSING_VALUE for null); numbers: the bucket index as text. */
  values: string[];
  mode: 'category' | 'number';
  selected: { rows: number; weight: number };
  rest: { rows: number; weight: number };
}

function valueExpression(column: ExplainColumnPlan, params: SqlParam[], dialect: SqlDialect): string {
  const ident = dialect.quoteIdent(column.name);
  if (column.mode === 'number') {
    const edges = column.edges ?? [];
    // Bucket i holds the values with exactly i edges ≤ value: a binary search of CASEs, ⌈log₂ 16⌉ comparisons a row.
    const search = (lo: number, hi: number): string => {
      if (lo === hi) return String(lo);
      const mid = (lo + hi) >> 1;
      return `CASE WHEN ${ident} < ${dialect.doubleLiteral(edges[mid]!)} THEN ${search(lo, mid)} ELSE ${search(mid + 1, hi)} END`;
    };
    return `CASE WHEN ${ident} IS NULL THEN -1 ELSE ${search(0, edges.length)} END`;
  }
  params.push(NULL_SENTINEL);
  return `coalesce(CAST(${ident} AS VARCHAR), CAST(${dialect.placeholder(params.length)} AS VARCHAR))`;
}

function groupingStatement(
  table: string,
  schema: DatasetSchema,
  validated: ValidatedExplain,
  columns: ExplainColumnPlan[],
  sets: number[][],
  restModulus: number,
  dialect: SqlDialect,
): Statement<ExplainGroup[]> {
  const params: SqlParam[] = [];
  const selection = `coalesce(${compileFilterPredicate(validated.selection, validated.selectionCombination, schema, params, dialect) ?? 'false'}, false)`;
  const values = columns.map((c, i) => `${valueExpression(c, params, dialect)} AS c${i}`);
  let where = whereClause(validated, schema, params, dialect);
  let weight = `CAST(${dialect.quoteIdent('_samplerate')} AS DOUBLE)`;
  if (restModulus > 1) {
    // Every selected event, and a uniform sample of the rest standing for restModulus events each.
    where += ` AND (${selection} OR hash(rowid) % ${restModulus} = 0)`;
    weight = `${weight} * CASE WHEN ${selection} THEN 1 ELSE ${restModulus} END`;
  }
  const src = `SELECT ${selection} AS s, ${weight} AS w, ${values.join(', ')} FROM ${table} WHERE ${where}`;
  const setList = sets.map((set) => `(s, ${set.map((i) => `c${i}`).join(', ')})`).join(', ');
  const cols = columns.map((_, i) => `c${i}`).join(', ');
  const sql = `WITH src AS ${dialect.inlineCte}(${src})\nSELECT s, ${cols}, CAST(count(*) AS DOUBLE) AS n, sum(w) AS sw FROM src GROUP BY GROUPING SETS (${setList})`;
  const decode = (rows: readonly (readonly unknown[])[]): ExplainGroup[] => {
    const groups = new Map<string, ExplainGroup>();
    for (const row of rows) {
      const selected = row[0] === true;
      const present: number[] = [];
      for (let i = 0; i < columns.length; i++) if (row[1 + i] !== null && row[1 + i] !== undefined) present.push(i);
      const groupColumns = present.map((i) => columns[i]!);
      const groupValues = present.map((i) => {
        const raw = row[1 + i];
        return raw === NULL_SENTINEL || raw === -1 ? MISSING_VALUE : String(raw);
      });
      const id = JSON.stringify([present, groupValues]);
      let group = groups.get(id);
      if (group === undefined) {
        group = {
          columns: groupColumns.map((c) => c.name),
          values: groupValues,
          mode: groupColumns.length === 1 && groupColumns[0]!.mode === 'number' ? 'number' : 'category',
          selected: { rows: 0, weight: 0 },
          rest: { rows: 0, weight: 0 },
        };
        groups.set(id, group);
      }
      const side = selected ? group.selected : group.rest;
      side.rows += Number(row[1 + columns.length] ?? 0);
      side.weight += Number(row[2 + columns.length] ?? 0);
    }
    return [...groups.values()];
  };
  return { sql, params, decode };
}

/** The one-scan statement of per-column counts split by selection. */
export function buildExplainStatement(
  table: string,
  schema: DatasetSchema,
  validated: ValidatedExplain,
  plan: ExplainPlan,
  dialect: SqlDialect = duckdbDialect,
): Statement<ExplainGroup[]> {
  const sets = plan.columns.map((_, i) => [i]);
  if (sets.length === 0) {
    return groupingStatement(
      table,
      schema,
      validated,
      [{ name: '_samplerate', type: 'integer', mode: 'category' }],
      [[0]],
      plan.restModulus,
      dialect,
    );
  }
  return groupingStatement(table, schema, validated, plan.columns, sets, plan.restModulus, dialect);
}

/** Combinations worth a look: pairs of the most telling flag columns, and the best pairs with the most telling other category columns. */
export function choosePairColumns(plan: ExplainPlan, single: ExplainGroup[], validated: ValidatedExplain): string[][] {
  const totals = sideTotals(single);
  const scoreByColumn = new Map<string, number>();
  // Columns with a value (nearly) only ever seen in the selection are consequences of it
  // (an error type, a 5xx status), not causes: combining them tells nothing new.
  const consequences = new Set<string>();
  for (const group of single) {
    if (group.mode !== 'category') continue;
    const score = shareDifference(group, totals);
    const column = group.columns[0]!;
    if (score > (scoreByColumn.get(column) ?? 0)) scoreByColumn.set(column, score);
    const selectedShare = totals.selected.weight > 0 ? group.selected.weight / totals.selected.weight : 0;
    const restShare = totals.rest.weight > 0 ? group.rest.weight / totals.rest.weight : 0;
    if (group.values[0] !== MISSING_VALUE && selectedShare > 0.05 && restShare < selectedShare / CONSEQUENCE_LIFT) consequences.add(column);
  }
  void validated;
  const ranked = [...scoreByColumn].filter(([c, s]) => s > 0 && !consequences.has(c)).sort((a, b) => b[1] - a[1]);
  const flags = ranked
    .filter(([c]) => c.startsWith('flag.'))
    .slice(0, PAIR_FLAG_COLUMNS)
    .map(([c]) => c);
  const others = ranked
    .filter(([c]) => !c.startsWith('flag.'))
    .slice(0, TRIPLE_OTHER_COLUMNS)
    .map(([c]) => c);
  const combos: string[][] = [];
  for (let i = 0; i < flags.length; i++) for (let j = i + 1; j < flags.length; j++) combos.push([flags[i]!, flags[j]!]);
  const top = flags.slice(0, TRIPLE_FLAG_PAIRS);
  for (let i = 0; i < top.length; i++) {
    for (let j = i + 1; j < top.length; j++) for (const other of others) combos.push([top[i]!, top[j]!, other]);
  }
  const known = new Set(plan.columns.filter((c) => c.mode === 'category').map((c) => c.name));
  return combos.filter((combo) => combo.every((c) => known.has(c)));
}

/** The statement of the combinations chosen by {@link choosePairColumns}. */
export function buildExplainPairsStatement(
  table: string,
  schema: DatasetSchema,
  validated: ValidatedExplain,
  combos: string[][],
  restModulus = 1,
  dialect: SqlDialect = duckdbDialect,
): Statement<ExplainGroup[]> {
  const names = [...new Set(combos.flat())];
  const types = new Map(schema.columns.map((c) => [c.name, c.type]));
  const columns: ExplainColumnPlan[] = names.map((name) => ({ name, type: types.get(name) ?? 'string', mode: 'category' }));
  const sets = combos.map((combo) => combo.map((c) => names.indexOf(c)));
  return groupingStatement(table, schema, validated, columns, sets, restModulus, dialect);
}

interface SideTotals {
  selected: { rows: number; weight: number };
  rest: { rows: number; weight: number };
}

/** Totals of each side, from the groups of any one column (every set covers every row). */
function sideTotals(groups: ExplainGroup[]): SideTotals {
  const first = groups.find((g) => g.columns.length === 1)?.columns[0];
  const totals: SideTotals = { selected: { rows: 0, weight: 0 }, rest: { rows: 0, weight: 0 } };
  for (const g of groups) {
    if (g.columns.length !== 1 || g.columns[0] !== first) continue;
    totals.selected.rows += g.selected.rows;
    totals.selected.weight += g.selected.weight;
    totals.rest.rows += g.rest.rows;
    totals.rest.weight += g.rest.weight;
  }
  return totals;
}

function shareDifference(group: ExplainGroup, totals: SideTotals): number {
  const s = totals.selected.weight > 0 ? group.selected.weight / totals.selected.weight : 0;
  const r = totals.rest.weight > 0 ? group.rest.weight / totals.rest.weight : 0;
  return s - r;
}

/** One ranked difference between the selection and the rest. */
export interface ExplainFinding {
  /** `value`: a value (or combination of values) over- or under-represented; `distribution`: a numeric column shifted. */
  kind: 'value' | 'distribution';
  columns: string[];
  /** Values of `columns` (kind value). */
  values: string[];
  /** Share of the selection (weighted) with this value; for distributions, null. */
  selectedShare: number | null;
  restShare: number | null;
  /** Effect size: selectedShare − restShare for values; 2·(P(selected > rest) − ½) for distributions (positive: the selection is higher). */
  effect: number;
  pValue: number;
  qValue: number;
  significant: boolean;
  /** Distributions: share of each side per bucket, and the bucket edges. */
  buckets?: { edges: number[]; selected: number[]; rest: number[] };
  /** Distributions: approximate medians of each side (bucket midpoints). */
  selectedMedian?: number | null;
  restMedian?: number | null;
}

export interface ExplainReport {
  dataset: string;
  selection: string;
  start_time: number;
  end_time: number;
  alpha: number;
  selected: { rows: number; weight: number };
  rest: { rows: number; weight: number };
  /** Tests behind the q-values (every value, bucket distribution and combination). */
  tests: number;
  /** Share of the unselected events the rest is measured on (1: all; the selection is always whole). */
  restSampleFraction: number;
  findings: ExplainFinding[];
  columns: { analysed: number; skipped: { column: string; reason: string }[] };
}

export interface ExplainReportInput {
  dataset: string;
  validated: ValidatedExplain;
  plan: ExplainPlan;
  groups: ExplainGroup[];
  /** Text of the selection for the report (default: the filters as given). */
  selectionText?: string;
}

function medianOf(edges: number[], shares: number[]): number | null {
  let cumulative = 0;
  for (let i = 0; i < shares.length; i++) {
    cumulative += shares[i]!;
    if (cumulative >= 0.5) {
      const lower = i === 0 ? edges[0]! : edges[i - 1]!;
      const upper = i >= edges.length ? edges[edges.length - 1]! : edges[i]!;
      return (lower + upper) / 2;
    }
  }
  return null;
}

/** Tests every group, adjusts over all tests and ranks the findings. */
export function assembleExplainReport(input: ExplainReportInput): ExplainReport {
  const { validated, plan } = input;
  const totals = sideTotals(input.groups.filter((g) => g.columns.length === 1));
  // Only the planned columns are findings (with none planned, the statement groups by a stand-in column for the totals).
  const planned = new Set(plan.columns.map((c) => c.name));
  const groups = input.groups.filter((g) => g.columns.length > 1 || planned.has(g.columns[0]!));
  const singles = groups.filter((g) => g.columns.length === 1);
  const scale = {
    selected: totals.selected.weight > 0 ? totals.selected.rows / totals.selected.weight : 0,
    rest: totals.rest.weight > 0 ? totals.rest.rows / totals.rest.weight : 0,
  };
  const unitsSelected = totals.selected.rows;
  const unitsRest = totals.rest.rows;
  const findings: Omit<ExplainFinding, 'qValue' | 'significant'>[] = [];
  const planByName = new Map(plan.columns.map((c) => [c.name, c]));

  // Numeric columns: one rank test per column over its buckets.
  const numericGroups = new Map<string, ExplainGroup[]>();
  for (const g of singles) {
    if (g.mode !== 'number') continue;
    const list = numericGroups.get(g.columns[0]!) ?? [];
    list.push(g);
    numericGroups.set(g.columns[0]!, list);
  }
  for (const [column, groups] of numericGroups) {
    const edges = planByName.get(column)?.edges ?? [];
    const bucketCount = edges.length + 1;
    const selected = new Array<number>(bucketCount).fill(0);
    const rest = new Array<number>(bucketCount).fill(0);
    for (const g of groups) {
      if (g.values[0] === MISSING_VALUE) continue;
      const index = Number(g.values[0]);
      if (!(index >= 0 && index < bucketCount)) continue;
      selected[index]! += g.selected.weight * scale.selected;
      rest[index]! += g.rest.weight * scale.rest;
    }
    const test = histogramRankTest(selected, rest);
    if (Number.isNaN(test.probabilityOfSuperiority)) continue;
    const sumS = selected.reduce((a, b) => a + b, 0);
    const sumR = rest.reduce((a, b) => a + b, 0);
    const sharesS = selected.map((v) => (sumS > 0 ? v / sumS : 0));
    const sharesR = rest.map((v) => (sumR > 0 ? v / sumR : 0));
    findings.push({
      kind: 'distribution',
      columns: [column],
      values: [],
      selectedShare: null,
      restShare: null,
      effect: 2 * (test.probabilityOfSuperiority - 0.5),
      pValue: test.pValue,
      buckets: { edges, selected: sharesS, rest: sharesR },
      selectedMedian: medianOf(edges, sharesS),
      restMedian: medianOf(edges, sharesR),
    });
  }

  // Values and combinations: 2×2 chi-square each.
  for (const g of groups) {
    if (g.mode !== 'category') continue;
    const a = g.selected.weight * scale.selected;
    const b = g.rest.weight * scale.rest;
    const selectedShare = totals.selected.weight > 0 ? g.selected.weight / totals.selected.weight : 0;
    const restShare = totals.rest.weight > 0 ? g.rest.weight / totals.rest.weight : 0;
    if (g.columns.length > 1 && g.values.includes(MISSING_VALUE)) continue;
    const test = contingencyTest([
      [a, Math.max(0, unitsSelected - a)],
      [b, Math.max(0, unitsRest - b)],
    ]);
    findings.push({
      kind: 'value',
      columns: g.columns,
      values: g.values,
      selectedShare,
      restShare,
      effect: selectedShare - restShare,
      pValue: test.pValue,
    });
  }

  const qValues =
    findings.length > 0
      ? adjustPValues(
          findings.map((f) => f.pValue),
          'bh',
        )
      : [];
  const ranked: ExplainFinding[] = findings.map((f, i) => ({ ...f, qValue: qValues[i]!, significant: qValues[i]! < validated.alpha }));
  const score = (f: ExplainFinding): number => (f.kind === 'distribution' ? Math.abs(f.effect) : f.effect);
  ranked.sort((x, y) => score(y) - score(x) || x.pValue - y.pValue);
  const selectionText = input.selectionText ?? formatFilters(validated.selection, validated.selectionCombination);
  return {
    dataset: input.dataset,
    selection: selectionText,
    start_time: validated.startTime,
    end_time: validated.endTime,
    alpha: validated.alpha,
    selected: totals.selected,
    rest: totals.rest,
    tests: findings.length,
    restSampleFraction: 1 / plan.restModulus,
    findings: ranked.slice(0, validated.limit),
    columns: { analysed: plan.columns.length, skipped: plan.skipped },
  };
}
