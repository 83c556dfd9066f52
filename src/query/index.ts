/**
 * The query engine: validation of Honeycomb query specs, compilation to SQL,
 * and the CLI shorthand. Pure: no I/O, no clock.
 */
export { compileQuery, HEATMAP_BUCKETS, type CompiledQuery, type DecodedRows, type SqlParam } from './compile.js';
export { duckdbDialect, type SqlDialect } from './dialect.js';
export { calculationName, formatColumn, formatFilter, formatFilters, formatValue } from './format.js';
export { mergeWhere, parseCalculation, parseDuration, parseHaving, parseOrder, parseTime, parseWhere, type WhereExpression } from './shorthand.js';
export {
  DEFAULT_LIMIT, DEFAULT_TIME_RANGE, MAX_IN_VALUES, MAX_LIMIT, MAX_LIST_LENGTH, MAX_TIME_BUCKETS,
  validateQuery, type NormalizedQuery,
} from './validate.js';
