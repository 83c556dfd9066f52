/** The explain request: its JSON shape, checked, then validated against the dataset's schema. Pure. */
import { invalidInput } from '../../errors.js';
import { incompleteColumnType, incompleteFilter } from '../../query/incomplete.js';
import type { DatasetSchema } from '../../query/schema.js';
import type { Filter, QuerySpec } from '../../query/spec.js';
import { validateQuery } from '../../query/validate.js';

export interface ExplainRequest {
  /** The selection: events matching these filters (empty when `incomplete` selects instead). */
  selection: Filter[];
  /** Select the incomplete executions (`meta.incomplete = true`) instead of giving `selection`. */
  incomplete?: boolean;
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
  'incomplete',
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
  if (record.incomplete !== undefined && typeof record.incomplete !== 'boolean') {
    throw invalidInput('"incomplete" must be true or false', 'e.g. {"incomplete": true} explains the executions whose end never arrived');
  }
  if (record.incomplete === true) {
    if (record.selection !== undefined) {
      throw invalidInput(
        'give "selection" or "incomplete": true, not both',
        '"incomplete": true is the selection meta.incomplete = true; narrow both sides with "filters"',
      );
    }
    return withOptions({ selection: [], incomplete: true }, record);
  }
  if (!Array.isArray(record.selection) || record.selection.length === 0) {
    throw invalidInput(
      '"selection" must be a non-empty array of filters',
      'e.g. {"selection": [{"column": "error", "op": "=", "value": true}]}, or {"incomplete": true} for the incomplete executions',
    );
  }
  return withOptions({ selection: record.selection as Filter[] }, record);
}

/** The request's fields besides the selection, shape-checked. */
function withOptions(request: ExplainRequest, record: Record<string, unknown>): ExplainRequest {
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
  const selectionFilters = request.incomplete === true ? [incompleteFilter(incompleteColumnType(schema, 'incomplete'))] : request.selection;
  const selection = validateQuery(
    { ...times, filters: selectionFilters, filter_combination: request.selection_combination ?? 'AND' },
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
