/**
 * Filters to SQL predicates, with every user value bound as a parameter.
 * Null semantics as documented in docs/query.md.
 */
import type { SqlDialect } from '../dialect.js';
import type { ColumnType, DatasetSchema } from '../schema.js';
import type { Filter, FilterValue } from '../spec.js';
import { compilerBug, type ParamList } from './params.js';

/** Column name → logical type, for the compiler's lookups. */
export function columnTypes(schema: DatasetSchema): Map<string, ColumnType> {
  return new Map(schema.columns.map((c) => [c.name, c.type]));
}

/** One predicate joining `filters` with `combination`; undefined when there are none. */
export function compileFilters(
  filters: Filter[],
  combination: 'AND' | 'OR',
  types: Map<string, ColumnType>,
  params: ParamList,
  dialect: SqlDialect,
): string | undefined {
  if (filters.length === 0) return undefined;
  const parts = filters.map((f) => {
    const type = types.get(f.column);
    if (type === undefined) throw compilerBug(`filter on a column missing from the schema`);
    return `(${compileFilter(f, type, params, dialect)})`;
  });
  return parts.length === 1 ? parts[0] : `(${parts.join(` ${combination} `)})`;
}

/** The SQL predicate of one filter. */
function compileFilter(filter: Filter, type: ColumnType, params: ParamList, dialect: SqlDialect): string {
  const col = dialect.quoteIdent(filter.column);
  const bindValue = (value: FilterValue): string => {
    // A fraction, or an integer beyond 2^53 (possibly beyond BIGINT), compares as a double.
    if (type === 'integer' && typeof value === 'number' && !Number.isSafeInteger(value))
      return params.bind(value, dialect.sqlType('float'));
    return params.bind(value, dialect.sqlType(type));
  };
  const single = (): FilterValue => {
    if (filter.value === undefined || Array.isArray(filter.value)) throw compilerBug(`filter ${filter.op} without a single value`);
    return filter.value;
  };
  const text = (): string => params.bind(String(single()), dialect.sqlType('string'));
  switch (filter.op) {
    case 'exists':
      return `${col} IS NOT NULL`;
    case 'does-not-exist':
      return `${col} IS NULL`;
    case '=': {
      const value = single();
      return value === null ? `${col} IS NULL` : `${col} = ${bindValue(value)}`;
    }
    case '!=': {
      const value = single();
      return value === null ? `${col} IS NOT NULL` : `${col} IS DISTINCT FROM ${bindValue(value)}`;
    }
    case '>':
    case '>=':
    case '<':
    case '<=': {
      const value = single();
      if (value === null) throw compilerBug(`filter ${filter.op} with null`);
      return `${col} ${filter.op} ${bindValue(value)}`;
    }
    case 'starts-with':
      return dialect.startsWith(col, text());
    case 'does-not-start-with':
      return `(${col} IS NULL OR NOT ${dialect.startsWith(col, text())})`;
    case 'contains':
      return dialect.contains(col, text());
    case 'does-not-contain':
      return `(${col} IS NULL OR NOT ${dialect.contains(col, text())})`;
    case 'in':
    case 'not-in':
      return compileMembership(filter, col, bindValue);
  }
}

/** `in` / `not-in`: a null among the values matches (or excludes) missing values. */
function compileMembership(filter: Filter, col: string, bindValue: (value: FilterValue) => string): string {
  const values = Array.isArray(filter.value) ? filter.value : [filter.value ?? null];
  const present = values.filter((v): v is Exclude<FilterValue, null> => v !== null);
  const withNull = present.length < values.length;
  const list = present.length > 0 ? `${col} IN (${present.map(bindValue).join(', ')})` : undefined;
  if (filter.op === 'in') {
    if (list === undefined) return `${col} IS NULL`;
    return withNull ? `(${list} OR ${col} IS NULL)` : list;
  }
  if (list === undefined) return `${col} IS NOT NULL`;
  return withNull ? `(${col} IS NOT NULL AND NOT ${list})` : `(${col} IS NULL OR NOT ${list})`;
}
