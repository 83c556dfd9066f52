/**
 * Plans a write transaction: decides each event's fate against a dataset's columns, and collects
 * the new columns and widenings it needs (copy on write: the dataset's slots stay as they are
 * until the commit). Pure bookkeeping, no database calls; docs/storage.md has the rules.
 */
import type { PreparedBatch } from './prepared.js';
import { columnTypeAfter, eventProblem, MISTYPED_COLUMN, mistypedWarning, typeOfValue } from '../../ingest/value-rules.js';
import type { ColumnType, IncomingEvent, IngestOutcome } from '../types.js';
import {
  aliasBitOf,
  fieldNameProblem,
  setSlot,
  storedFieldName,
  type DatasetChange,
  type DatasetState,
  type FieldSlot,
  type StoreLimits,
} from './catalog.js';

/** The outcome of every stored event (shared: callers must not mutate outcomes). */
export const ACCEPTED: IngestOutcome = Object.freeze({ status: 202 });

/** One `ingest` or `ingestPrepared` call waiting for the writer. */
export interface PendingIngest {
  dataset: string;
  /** Events as objects, or a batch prepared off the writer's thread (then `events` is empty). */
  events: IncomingEvent[];
  prepared: PreparedBatch | undefined;
  /** Events in the request. */
  count: number;
  resolve: (outcomes: IngestOutcome[]) => void;
  reject: (error: unknown) => void;
}

/** What one dataset's part of a transaction will do: its change to the catalog, and the events it appends. */
export interface DatasetPlan extends DatasetChange {
  /** Lower-cased names of the columns this transaction adds. */
  newLowerCaseNames: Map<string, string>;
  accepted: IncomingEvent[];
  /** Prepared batches whose chunks are appended as they are (all their events accepted). */
  prepared: PreparedBatch[];
  /** The field order of the last planned event, so events of one shape skip map lookups. */
  shape: ShapeCache;
  outcomes: Map<PendingIngest, IngestOutcome[]>;
  /** Per accepted event (same index), the fields whose values did not fit and the side column's text. */
  mistyped: Array<MistypedValues | undefined>;
}

/** The values of one event that did not fit their columns: skipped in their columns, kept in {@link MISTYPED_COLUMN}. */
export interface MistypedValues {
  fields: ReadonlySet<string>;
  /** `{"<column>": value, ...}` as JSON text. */
  text: string;
}

/** An empty plan for a dataset (a new one when `isNewDataset`). */
export function newPlan(state: DatasetState, isNewDataset: boolean): DatasetPlan {
  return {
    state,
    isNewDataset,
    slots: state.slots,
    types: state.columns.map((column) => column.type),
    newColumns: [],
    newLowerCaseNames: new Map(),
    accepted: [],
    prepared: [],
    shape: newShapeCache(),
    outcomes: new Map(),
    mistyped: [],
    mistypedIndex: state.columns.findIndex((column) => column.name === MISTYPED_COLUMN),
    mistypedCounts: new Map(),
    addedRows: 0,
    lastEventMs: null,
    hasSampling: false,
  };
}

/**

 * The fields of the last event seen, in order, with their slots from
 * `source`. Events parsed from the same client usually list the same fields
 * in the same order, so comparing field names by position (identical strings
 * compare in constant time) replaces most map lookups.
 */
export interface ShapeCache {
  source: Map<string, FieldSlot> | undefined;
  fields: string[];
  slots: Array<FieldSlot | undefined>;
}

export function newShapeCache(): ShapeCache {
  return { source: undefined, fields: [], slots: [] };
}

/** Keeps the first `length` remembered fields (which must come from `source`) and drops the rest. */
export function resetShape(shape: ShapeCache, source: Map<string, FieldSlot>, length: number): void {
  shape.source = source;
  shape.fields.length = length;
  shape.slots.length = length;
}

/**
 * The slot of `field`, the `position`-th field of its event, from the shape cache when the
 * previous event had the same field there; otherwise looked up in `slots`, and the cache
 * keeps the new field in place of the old one's (and drops the rest).
 */
export function slotOf(shape: ShapeCache, slots: Map<string, FieldSlot>, position: number, field: string): FieldSlot | undefined {
  if (shape.fields[position] === field) return shape.slots[position];
  resetShape(shape, slots, position);
  const slot = slots.get(field);
  shape.fields.push(field);
  shape.slots.push(slot);
  return slot;
}

/** True when a column of `type` stores `value` (not null) as it is: no widening, no mistyped value. */
function slotAccepts(type: ColumnType, value: unknown): boolean {
  switch (type) {
    case 'string':
      return true;
    case 'float':
      return typeof value === 'number' || (typeof value === 'bigint' && typeOfValue(value) === 'integer');
    case 'integer':
      return typeOfValue(value) === 'integer';
    case 'boolean':
      return typeof value === 'boolean';
  }
}

/**
 * Decides each event's fate against the dataset's columns as planned so
 * far. An event whose fields all fit existing columns takes the fast path
 * (one map lookup per field, no allocation); otherwise its new columns and
 * widenings are checked and added to the plan.
 */
export function planRequest(plan: DatasetPlan, request: PendingIngest, limits: StoreLimits): IngestOutcome[] {
  const batch = request.prepared;
  if (batch === undefined) return planEvents(plan, request.events, limits);
  if (plan.isNewDataset || batch.version !== plan.state.version || plan.slots !== plan.state.slots) {
    // Its chunks do not fit the columns: from now on the request holds its events as objects
    // (a request may be planned again after a schema change; the body is parsed once).
    request.events = batch.materialize();
    request.prepared = undefined;
    return planEvents(plan, request.events, limits);
  }
  plan.prepared.push(batch);
  if (batch.lastEventMs !== null && (plan.lastEventMs === null || batch.lastEventMs > plan.lastEventMs))
    plan.lastEventMs = batch.lastEventMs;
  if (batch.hasSampling) plan.hasSampling = true;
  return new Array<IngestOutcome>(batch.events).fill(ACCEPTED);
}

function planEvents(plan: DatasetPlan, events: IncomingEvent[], limits: StoreLimits): IngestOutcome[] {
  const outcomes: IngestOutcome[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const problem = eventProblem(event);
    if (problem !== undefined) {
      outcomes[i] = { status: 400, error: problem };
      continue;
    }
    const slots = plan.slots;
    const data = event.data;
    const shape = plan.shape;
    if (shape.source !== slots) resetShape(shape, slots, 0);
    let position = 0;
    let fits = true;
    let aliases = 0;
    for (const field in data) {
      const slot = slotOf(shape, slots, position++, field);
      const value = data[field];
      if (value === null || value === undefined) continue;
      if (slot === undefined || !slotAccepts(slot.type, value) || (slot.aliasBit & aliases) !== 0) {
        fits = false;
        break;
      }
      aliases |= slot.aliasBit;
    }
    if (fits && position < shape.fields.length) resetShape(shape, slots, position);
    const slow = fits ? undefined : planSchemaChanges(plan, data, limits);
    if (typeof slow === 'string') {
      outcomes[i] = { status: 400, error: slow };
      continue;
    }
    if (plan.lastEventMs === null || event.time > plan.lastEventMs) plan.lastEventMs = event.time;
    if (event.samplerate !== 1) plan.hasSampling = true;
    if (slow !== undefined) {
      plan.mistyped[plan.accepted.length] = slow.values;
      outcomes[i] = { status: 202, warning: slow.warning };
    } else {
      outcomes[i] = ACCEPTED;
    }
    plan.accepted.push(event);
  }
  return outcomes;
}

/**
 * The slow path of {@link planEvents}: checks the event's new fields (name,
 * letter-case clash, column limit), records new columns and widenings, and
 * sets aside values that do not fit their column (`columnTypeAfter`).
 * Returns why the event is rejected; or, once the plan holds it, its
 * mistyped values and their warning, if any.
 */
function planSchemaChanges(
  plan: DatasetPlan,
  data: Record<string, unknown>,
  limits: StoreLimits,
): string | { values: MistypedValues; warning: string } | undefined {
  const state = plan.state;
  const added = new Map<string, ColumnType>();
  const widened = new Map<FieldSlot, ColumnType>();
  const addedLowerCase = new Map<string, string>();
  const mistyped: Array<[field: string, column: string, type: ColumnType, value: unknown]> = [];
  let aliases = 0;
  for (const field in data) {
    const value = data[field];
    const valueType = typeOfValue(value);
    if (valueType === undefined) continue;
    const slot = plan.slots.get(field);
    const column = slot?.column ?? storedFieldName(field);
    const aliasBit = aliasBitOf(column);
    if ((aliases & aliasBit) !== 0) {
      return `fields ${JSON.stringify(column.slice(5))} and ${JSON.stringify(column)} would both be stored as ${JSON.stringify(column)}`;
    }
    aliases |= aliasBit;
    if (slot !== undefined) {
      if (slotAccepts(slot.type, value)) continue;
      const current = widened.get(slot) ?? slot.type;
      const after = columnTypeAfter(current, value);
      if (after === undefined) mistyped.push([field, column, current, value]);
      else if (after !== current) widened.set(slot, after);
      continue;
    }
    const nameProblem = fieldNameProblem(field, limits.maxFieldNameLength);
    if (nameProblem !== undefined) return nameProblem;
    const lower = column.toLowerCase();
    const clash = state.lowerCaseNames.get(lower) ?? plan.newLowerCaseNames.get(lower) ?? addedLowerCase.get(lower);
    if (clash !== undefined && clash !== column) {
      return `field ${JSON.stringify(column)} differs only in letter case from column ${JSON.stringify(clash)}, and column names are case-insensitive: rename one of them`;
    }
    addedLowerCase.set(lower, column);
    // The first value decides a new column's type (a field appears once per event).
    added.set(column, valueType);
  }
  const needsSideColumn = mistyped.length > 0 && plan.mistypedIndex < 0;
  const newColumns = added.size + (needsSideColumn ? 1 : 0);
  const columnCount = state.columns.length + plan.newColumns.length + newColumns;
  if (newColumns > 0 && columnCount > limits.maxColumnsPerDataset) {
    return `event would add ${newColumns} new column(s) to dataset ${JSON.stringify(state.name)}, exceeding the limit of ${limits.maxColumnsPerDataset} columns per dataset: send these fields to another dataset or drop unused fields`;
  }
  if (added.size > 0 || widened.size > 0 || needsSideColumn) {
    // A new map of slots marks the plan as changing columns (the side column has no slot of its own).
    if (plan.slots === state.slots) plan.slots = new Map(state.slots);
    plan.shape.source = undefined;
  }
  for (const [slot, type] of widened) setSlot(plan.slots, { ...slot, type });
  for (const [column, type] of added) {
    const slot: FieldSlot = { column, index: plan.types.length, type, aliasBit: aliasBitOf(column) };
    setSlot(plan.slots, slot);
    plan.types.push(type);
    plan.newColumns.push(column);
    plan.newLowerCaseNames.set(column.toLowerCase(), column);
  }
  for (const [slot, type] of widened) plan.types[slot.index] = type;
  if (mistyped.length === 0) return undefined;
  if (needsSideColumn) {
    plan.mistypedIndex = plan.types.length;
    plan.types.push('string');
    plan.newColumns.push(MISTYPED_COLUMN);
    plan.newLowerCaseNames.set(MISTYPED_COLUMN, MISTYPED_COLUMN);
  }
  const kept: Record<string, unknown> = {};
  for (const [, column, , value] of mistyped) {
    kept[column] = value;
    plan.mistypedCounts.set(column, (plan.mistypedCounts.get(column) ?? 0) + 1);
  }
  return {
    values: { fields: new Set(mistyped.map(([field]) => field)), text: jsonText(kept) },
    warning: mistypedWarning(mistyped.map(([, column, type, value]) => [column, type, value] as const)),
  };
}

/** JSON text of `value`; a bigint (a caller's exact integer) as its decimal digits in a string. */
function jsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
