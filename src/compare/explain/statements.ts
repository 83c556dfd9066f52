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
import { compileFilterPredicate, type SqlParam } from '../../query/compile.js';
import { duckdbDialect, type SqlDialect } from '../../query/dialect.js';
import type { DatasetSchema } from '../../query/schema.js';
import { type ExplainGroup, MISSING_VALUE } from './groups.js';
import {
  candidateColumns,
  type ColumnProfile,
  type ExplainColumnPlan,
  type ExplainPlan,
  isNumeric,
  NUMERIC_BUCKETS,
  type PopulationProfile,
  PROFILE_FULL_SCAN_ROWS,
} from './plan.js';
import type { ValidatedExplain } from './request.js';

const NULL_SENTINEL = '\u0001(null)';

/** A statement, its parameters and the decoder of its rows. */
export interface Statement<T> {
  sql: string;
  params: SqlParam[];
  decode(rows: readonly (readonly unknown[])[]): T;
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
  const wanted = datasetRows > PROFILE_FULL_SCAN_ROWS ? Math.max(0.01, Math.round((100 * PROFILE_FULL_SCAN_ROWS) / datasetRows) / 100) : 1;
  // An engine without block samples reads the table whole.
  const sampleClause = wanted < 1 ? dialect.tableSample(wanted * 100) : undefined;
  const fraction = sampleClause === undefined ? 1 : wanted;
  const quantiles = Array.from({ length: NUMERIC_BUCKETS - 1 }, (_, i) => (i + 1) / NUMERIC_BUCKETS);
  const selects: string[] = ['CAST(count(*) AS DOUBLE)', 'CAST(count(*) FILTER (WHERE s) AS DOUBLE)'];
  columns.forEach((c, i) => {
    selects.push(dialect.approxCountDistinct(`c${i}`));
    if (isNumeric(c.type)) selects.push(dialect.approxQuantiles(`CAST(c${i} AS DOUBLE)`, quantiles));
  });
  const inner = [
    `CAST(coalesce(${selection}, false) AS ${dialect.sqlType('boolean')}) AS s`,
    ...columns.map((c, i) => `${ident(c.name)} AS c${i}`),
  ].join(', ');
  const sample = sampleClause === undefined ? '' : ` ${sampleClause}`;
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
  const selection = `CAST(coalesce(${compileFilterPredicate(validated.selection, validated.selectionCombination, schema, params, dialect) ?? 'false'}, false) AS ${dialect.sqlType('boolean')})`;
  const values = columns.map((c, i) => `${valueExpression(c, params, dialect)} AS c${i}`);
  let where = whereClause(validated, schema, params, dialect);
  let weight = `CAST(${dialect.quoteIdent('_samplerate')} AS DOUBLE)`;
  if (restModulus > 1) {
    // Every selected event, and a uniform sample of the rest standing for restModulus events each.
    where += ` AND (${selection} OR ${dialect.rowHash} % ${restModulus} = 0)`;
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
