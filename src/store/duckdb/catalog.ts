/**
 * The event store's catalog: which datasets exist, their tables and columns (kept in memory and in
 * the `flagscope_datasets`/`flagscope_columns` tables), the naming and widening rules, and the
 * schema changes (CREATE TABLE, ALTER TABLE) a write transaction makes. docs/storage.md has the rules.
 */
import { DuckDBTimestampValue, type DuckDBConnection } from '@duckdb/node-api';
import { sqlTypeFor } from './chunk.js';
import { MISTYPED_COLUMN } from '../../ingest/value-rules.js';
import type { DatasetSnapshot } from './prepared.js';
import type { ColumnInfo, ColumnType, DatasetInfo, DatasetSchema } from '../types.js';

/** Limits the store enforces. */
export interface StoreLimits {
  /** User columns per dataset (`_time` and `_samplerate` not counted). */
  maxColumnsPerDataset: number;
  /** Events accepted but not yet committed; beyond it `ingest` throws `overloaded`. */
  maxQueuedEvents: number;
  /** Events committed by one group transaction at most (bounds memory and latency). */
  maxEventsPerTransaction: number;
  /** Characters of a field name. */
  maxFieldNameLength: number;
}

export const DEFAULT_STORE_LIMITS: StoreLimits = {
  maxColumnsPerDataset: 2000,
  maxQueuedEvents: 200_000,
  maxEventsPerTransaction: 50_000,
  maxFieldNameLength: 256,
};

const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
export const INTERNAL_COLUMNS = ['_time', '_samplerate'] as const;
export const DATASETS_TABLE = 'flagscope_datasets';
export const COLUMNS_TABLE = 'flagscope_columns';

export { validateDatasetName } from '../../api/dataset-name.js';

/**
 * Why `name` cannot be a field name, or undefined when it can: non-empty, at
 * most `maxLength` characters, no control characters.
 */
export function fieldNameProblem(name: string, maxLength = DEFAULT_STORE_LIMITS.maxFieldNameLength): string | undefined {
  if (name.length === 0) return 'field names must not be empty';
  if (name.length > maxLength) return `field name ${JSON.stringify(name.slice(0, 40))}… is longer than ${maxLength} characters`;
  if (CONTROL_CHARACTER.test(name)) return `field name ${JSON.stringify(name)} contains a control character`;
  return undefined;
}

/** Quotes an SQL identifier: `"` + name with `"` doubled + `"`. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The column a user field is stored in: `_time`, `_samplerate` and `meta.mistyped` are reserved
 * and become `data._time`, `data._samplerate` and `data.meta.mistyped`.
 */
export function storedFieldName(field: string): string {
  return field === '_time' || field === '_samplerate' || field === MISTYPED_COLUMN ? `data.${field}` : field;
}

export interface ColumnState {
  name: string;
  type: ColumnType;
  createdAt: number;
}

export interface DatasetState {
  name: string;
  table: string;
  createdAt: number;
  columns: ColumnState[];
  /** Lower-cased names, because DuckDB identifiers are case-insensitive. */
  lowerCaseNames: Map<string, string>;
  /** User field name → its column (`_time` and `data._time` share one). Replaced, never mutated, once built. */
  slots: Map<string, FieldSlot>;
  rows: number;
  lastEventMicros: bigint | null;
  hasSampling: boolean;
  /** The dataset's own retention in milliseconds, 0 to keep its events forever, null for the server's default. */
  retentionMs: number | null;
  schema: DatasetSchema | undefined;
  /** Values kept in `meta.mistyped` because they did not fit their column, by column. */
  mistyped: Map<string, number>;
  /** Changes whenever the columns change; never reused by another dataset state. */
  version: number;
  snapshot: DatasetSnapshot | undefined;
}

/** Where a user field is stored: its column, position among the user columns, and type. */
export interface FieldSlot {
  readonly column: string;
  readonly index: number;
  readonly type: ColumnType;
  /** 1 for `data._time`, 2 for `data._samplerate`, 4 for `data.meta.mistyped` (two user fields map to each), else 0. */
  readonly aliasBit: number;
}

/**
 * What one write transaction does to one dataset's columns and counters: the part of an ingest
 * plan the catalog applies (its DDL inside the transaction, its cache update after the commit).
 */
export interface DatasetChange {
  state: DatasetState;
  isNewDataset: boolean;
  /** Field slots after the transaction; the state's own map when no column changes. */
  slots: Map<string, FieldSlot>;
  /** Column types after the transaction, by slot index. */
  types: ColumnType[];
  /** Columns the transaction adds, in order. */
  newColumns: string[];
  addedRows: number;
  /** Newest event time, Unix milliseconds. */
  lastEventMs: number | null;
  hasSampling: boolean;
  /** Index of the `meta.mistyped` column among the columns after the transaction, or -1. */
  mistypedIndex: number;
  /** Values the transaction keeps in `meta.mistyped`, by column. */
  mistypedCounts: Map<string, number>;
}

function micros(timeMs: number): bigint {
  return BigInt(Math.round(timeMs * 1000));
}

/** The datasets of one event store, in memory, and the catalog tables behind them. */
export class DatasetCatalog {
  private readonly datasets = new Map<string, DatasetState>();
  /** The number of the next dataset's table (`ds_<n>`); a transaction that creates datasets advances it at commit. */
  nextTableNumber = 1;

  constructor(private readonly now: () => number) {}

  /** Creates the catalog tables when missing and loads them, with each dataset's row count and newest event. */
  async load(connection: DuckDBConnection): Promise<void> {
    await connection.run(
      `CREATE TABLE IF NOT EXISTS ${DATASETS_TABLE} (name VARCHAR NOT NULL, table_name VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)`,
    );
    await connection.run(
      `CREATE TABLE IF NOT EXISTS ${COLUMNS_TABLE} (dataset VARCHAR NOT NULL, position INTEGER NOT NULL, name VARCHAR NOT NULL, type VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)`,
    );
    // Added with retention (docs/storage.md, "Retention"): a file from before it gains the column.
    await connection.run(`ALTER TABLE ${DATASETS_TABLE} ADD COLUMN IF NOT EXISTS retention_ms BIGINT`);
    const datasets = (
      await connection.runAndReadAll(`SELECT name, table_name, epoch_ms(created_at), retention_ms FROM ${DATASETS_TABLE} ORDER BY name`)
    ).getRows();
    const columns = (
      await connection.runAndReadAll(`SELECT dataset, name, type, epoch_ms(created_at) FROM ${COLUMNS_TABLE} ORDER BY dataset, position`)
    ).getRows();
    for (const [name, table, createdAt, retentionMs] of datasets) {
      const state = emptyDatasetState(String(name), String(table), Number(createdAt));
      state.retentionMs = retentionMs == null ? null : Number(retentionMs);
      this.datasets.set(state.name, state);
      const number = Number(/^ds_(\d+)$/.exec(state.table)?.[1] ?? 0);
      if (number >= this.nextTableNumber) this.nextTableNumber = number + 1;
    }
    for (const [dataset, name, type, createdAt] of columns) {
      const state = this.datasets.get(String(dataset));
      if (state === undefined) continue;
      addColumnToState(state, { name: String(name), type: String(type) as ColumnType, createdAt: Number(createdAt) });
    }
    for (const state of this.datasets.values()) {
      state.columns.forEach((column, index) => {
        if (column.name !== MISTYPED_COLUMN)
          setSlot(state.slots, { column: column.name, index, type: column.type, aliasBit: aliasBitOf(column.name) });
      });
      await this.countMistyped(connection, state);
      const [row] = (
        await connection.runAndReadAll(
          `SELECT count(*), max(epoch_us(_time)), coalesce(bool_or(_samplerate <> 1), false) FROM ${quoteIdentifier(state.table)}`,
        )
      ).getRows();
      state.rows = Number(row?.[0] ?? 0);
      state.lastEventMicros = row?.[1] == null ? null : BigInt(row[1] as bigint);
      state.hasSampling = row?.[2] === true;
    }
  }

  /** Counts the values each column keeps in `meta.mistyped` (at open, and after a column's type changed). */
  async countMistyped(connection: DuckDBConnection, state: DatasetState): Promise<void> {
    state.mistyped = new Map();
    state.schema = undefined;
    if (!state.columns.some((column) => column.name === MISTYPED_COLUMN)) return;
    const rows = (
      await connection.runAndReadAll(
        `SELECT key, count(*) FROM (SELECT unnest(json_keys(${quoteIdentifier(MISTYPED_COLUMN)})) AS key FROM ${quoteIdentifier(state.table)} WHERE ${quoteIdentifier(MISTYPED_COLUMN)} IS NOT NULL) GROUP BY key`,
      )
    ).getRows();
    for (const [key, count] of rows) state.mistyped.set(String(key), Number(count));
  }

  /** Datasets with their row count, column count and newest event time, from memory. */
  list(): DatasetInfo[] {
    return [...this.datasets.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((state) => ({
        name: state.name,
        rows: state.rows,
        columns: state.columns.length,
        last_event_time: state.lastEventMicros === null ? null : new Date(Number(state.lastEventMicros / 1000n)).toISOString(),
      }));
  }

  /** Forgets a dataset whose table and catalog rows a committed transaction removed. */
  remove(dataset: string): void {
    this.datasets.delete(dataset);
  }

  /** Whether some dataset's events are in `table`. */
  hasTable(table: string): boolean {
    for (const state of this.datasets.values()) if (state.table === table) return true;
    return false;
  }

  /** The names of every dataset, sorted. */
  names(): string[] {
    return [...this.datasets.keys()].sort();
  }

  /** The cached schema of a dataset (frozen; rebuilt when its columns change), or undefined. */
  schema(dataset: string): DatasetSchema | undefined {
    const state = this.datasets.get(dataset);
    if (state === undefined) return undefined;
    return schemaOf(state);
  }

  /** The state of a dataset, or undefined when it does not exist. */
  get(dataset: string): DatasetState | undefined {
    return this.datasets.get(dataset);
  }

  /** The name of a dataset's table (unquoted), or undefined when it does not exist. */
  tableOf(dataset: string): string | undefined {
    return this.datasets.get(dataset)?.table;
  }

  /** The dataset's columns for a batch scanner (cached until they change), or undefined for an unknown dataset. */
  snapshot(dataset: string): DatasetSnapshot | undefined {
    const state = this.datasets.get(dataset);
    if (state === undefined) return undefined;
    if (state.snapshot === undefined) {
      const fields: Array<[string, number]> = [];
      for (const [field, slot] of state.slots) fields.push([field, slot.index]);
      state.snapshot = Object.freeze({ dataset, version: state.version, types: state.columns.map((column) => column.type), fields });
    }
    return state.snapshot;
  }

  /**
   * Makes a plan's schema change on `connection`, in its open transaction: a new dataset is one
   * `CREATE TABLE` with every column and its catalog rows; new and widened columns of an existing
   * dataset are either one `ALTER TABLE` each or one rebuild of the table, whichever is
   * estimated cheaper (docs/storage.md, "Schema changes"). Catalog rows go in through an appender.
   */
  async applySchemaChanges(connection: DuckDBConnection, plan: DatasetChange): Promise<void> {
    const state = plan.state;
    const table = quoteIdentifier(state.table);
    const createdMicros = BigInt(this.now()) * 1000n;
    const definitions = (from: number): string[] =>
      plan.types.slice(from).map((type, n) => {
        const index = from + n;
        const name = index < state.columns.length ? state.columns[index]!.name : plan.newColumns[index - state.columns.length]!;
        return `${quoteIdentifier(name)} ${sqlTypeFor(type)}`;
      });
    if (plan.isNewDataset) {
      await connection.run(
        `CREATE TABLE ${table} (${['_time TIMESTAMP NOT NULL', '_samplerate BIGINT NOT NULL', ...definitions(0)].join(', ')})`,
      );
      await connection.run(`INSERT INTO ${DATASETS_TABLE} (name, table_name, created_at) VALUES ($1, $2, make_timestamp($3::BIGINT))`, [
        state.name,
        state.table,
        BigInt(state.createdAt) * 1000n,
      ]);
    } else {
      const widened: number[] = [];
      for (let index = 0; index < state.columns.length; index++) if (plan.types[index] !== state.columns[index]!.type) widened.push(index);
      if (rebuildIsCheaper(state.rows, state.columns.length, plan.newColumns.length, widened.length)) {
        await this.rebuildTable(connection, plan, definitions(0));
      } else {
        for (const index of widened) {
          const column = quoteIdentifier(state.columns[index]!.name);
          await connection.run(`ALTER TABLE ${table} ALTER COLUMN ${column} SET DATA TYPE ${sqlTypeFor(plan.types[index]!)}`);
        }
        for (const definition of definitions(state.columns.length)) await connection.run(`ALTER TABLE ${table} ADD COLUMN ${definition}`);
      }
      for (const index of widened) {
        await connection.run(`UPDATE ${COLUMNS_TABLE} SET type = $1 WHERE dataset = $2 AND name = $3`, [
          plan.types[index]!,
          state.name,
          state.columns[index]!.name,
        ]);
      }
    }
    if (plan.newColumns.length === 0) return;
    const appender = await connection.createAppender(COLUMNS_TABLE);
    try {
      const createdAt = new DuckDBTimestampValue(createdMicros);
      plan.newColumns.forEach((name, n) => {
        const index = state.columns.length + n;
        appender.appendVarchar(state.name);
        appender.appendInteger(index);
        appender.appendVarchar(name);
        appender.appendVarchar(plan.types[index]!);
        appender.appendTimestamp(createdAt);
        appender.endRow();
      });
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }

  /** Copies the dataset's rows into a new table with every column of `plan` (`definitions`), then puts it in place of the old one. */
  private async rebuildTable(connection: DuckDBConnection, plan: DatasetChange, definitions: string[]): Promise<void> {
    const state = plan.state;
    const table = quoteIdentifier(state.table);
    const next = quoteIdentifier(`${state.table}_rebuild`);
    await connection.run(
      `CREATE TABLE ${next} (${['_time TIMESTAMP NOT NULL', '_samplerate BIGINT NOT NULL', ...definitions].join(', ')})`,
    );
    const kept = ['_time', '_samplerate', ...state.columns.map((column) => column.name)].map(quoteIdentifier).join(', ');
    await connection.run(`INSERT INTO ${next} (${kept}) SELECT ${kept} FROM ${table}`);
    await connection.run(`DROP TABLE ${table}`);
    await connection.run(`ALTER TABLE ${next} RENAME TO ${table}`);
  }

  /**
   * Changes a column's type on `connection`, in its open transaction (docs/storage.md, "Changing
   * a column's type"), by one rebuild of the table: values that do not convert move to
   * `meta.mistyped`, and values kept there for the column that now convert come back. (DuckDB
   * refuses to commit an `UPDATE` and an `ALTER` of one table in one transaction, and the rebuild
   * does both in one pass.) Returns the change to apply once committed, and how many values moved.
   */
  async convertColumn(
    connection: DuckDBConnection,
    state: DatasetState,
    index: number,
    type: ColumnType,
  ): Promise<{ change: DatasetChange; kept: number; restored: number }> {
    const column = state.columns[index]!;
    const table = quoteIdentifier(state.table);
    const name = quoteIdentifier(column.name);
    const types = state.columns.map((c) => c.type);
    types[index] = type;
    const newColumns: string[] = [];
    const hadSide = state.columns.some((c) => c.name === MISTYPED_COLUMN);
    let mistypedIndex = state.columns.findIndex((c) => c.name === MISTYPED_COLUMN);
    if (!hadSide) {
      mistypedIndex = types.length;
      types.push('string');
      newColumns.push(MISTYPED_COLUMN);
    }
    const side = hadSide ? quoteIdentifier(MISTYPED_COLUMN) : 'CAST(NULL AS VARCHAR)';
    const converted = conversionSql(name, column.type, type);
    // The kept value as text: a JSON string's own text, anything else its JSON text.
    const back = conversionSql('json_extract_string(m, $2)', 'string', type);
    const counts = (
      await connection.runAndReadAll(
        `SELECT count(*) FILTER (${name} IS NOT NULL AND (${converted}) IS NULL), count(*) FILTER (${name} IS NULL AND ${side} IS NOT NULL AND json_extract(${side}, $1) IS NOT NULL AND (${conversionSql(`json_extract_string(${side}, $1)`, 'string', type)}) IS NOT NULL) FROM ${table}`,
        [pointerOf(column.name)],
      )
    ).getRows()[0]!;
    const names = [...state.columns.map((c) => c.name), ...newColumns];
    const definitions = names.map((n, i) => `${quoteIdentifier(n)} ${sqlTypeFor(types[i]!)}`);
    const next = quoteIdentifier(`${state.table}_rebuild`);
    await connection.run(
      `CREATE TABLE ${next} (${['_time TIMESTAMP NOT NULL', '_samplerate BIGINT NOT NULL', ...definitions].join(', ')})`,
    );
    const selected = names.map((n, i) => {
      if (i === index) return `CASE WHEN v IS NOT NULL THEN ${conversionSql('v', column.type, type)} ELSE ${back} END`;
      if (i === mistypedIndex)
        return `CASE WHEN v IS NOT NULL AND (${conversionSql('v', column.type, type)}) IS NULL THEN json_merge_patch(coalesce(m, '{}'), json_object($1, to_json(v)))::VARCHAR WHEN v IS NULL AND m IS NOT NULL AND json_extract(m, $2) IS NOT NULL AND (${back}) IS NOT NULL THEN nullif(json_merge_patch(m, json_object($1, NULL))::VARCHAR, '{}') ELSE m END`;
      return quoteIdentifier(n);
    });
    await connection.run(
      `INSERT INTO ${next} SELECT _time, _samplerate, ${selected.join(', ')} FROM (SELECT *, ${name} AS v, ${side} AS m FROM ${table} ORDER BY rowid)`,
      [column.name, pointerOf(column.name)],
    );
    await connection.run(`DROP TABLE ${table}`);
    await connection.run(`ALTER TABLE ${next} RENAME TO ${table}`);
    await connection.run(`UPDATE ${COLUMNS_TABLE} SET type = $1 WHERE dataset = $2 AND name = $3`, [type, state.name, column.name]);
    if (!hadSide) {
      await connection.run(`INSERT INTO ${COLUMNS_TABLE} VALUES ($1, $2, $3, 'string', make_timestamp($4::BIGINT))`, [
        state.name,
        mistypedIndex,
        MISTYPED_COLUMN,
        BigInt(this.now()) * 1000n,
      ]);
    }
    const slots = new Map(state.slots);
    const slot = state.slots.get(column.name);
    if (slot !== undefined) setSlot(slots, { ...slot, type });
    const change: DatasetChange = {
      state,
      isNewDataset: false,
      slots,
      types,
      newColumns,
      addedRows: 0,
      lastEventMs: null,
      hasSampling: false,
      mistypedIndex,
      mistypedCounts: new Map(),
    };
    return { change, kept: Number(counts[0]), restored: Number(counts[1]) };
  }

  /** Brings the in-memory state up to a committed change (a new dataset, new or widened columns, counters). */
  applyCommitted(plan: DatasetChange): void {
    const state = plan.state;
    if (plan.isNewDataset) this.datasets.set(state.name, state);
    const createdAt = this.now();
    if (plan.slots !== state.slots) {
      for (let index = 0; index < state.columns.length; index++) state.columns[index]!.type = plan.types[index]!;
      for (const name of plan.newColumns) {
        addColumnToState(state, { name, type: plan.types[state.columns.length]!, createdAt });
      }
      state.slots = plan.slots;
      state.schema = undefined;
      state.snapshot = undefined;
      state.version = nextDatasetVersion++;
    }
    state.rows += plan.addedRows;
    if (plan.lastEventMs !== null) {
      const newest = micros(plan.lastEventMs);
      if (state.lastEventMicros === null || newest > state.lastEventMicros) state.lastEventMicros = newest;
    }
    if (plan.hasSampling && !state.hasSampling) {
      state.hasSampling = true;
      state.schema = undefined;
    }
    if (plan.mistypedCounts.size > 0) {
      for (const [column, count] of plan.mistypedCounts) state.mistyped.set(column, (state.mistyped.get(column) ?? 0) + count);
      state.schema = undefined;
    }
  }
}

let nextDatasetVersion = 1;

/** The JSON pointer of a key of `meta.mistyped` (`~` and `/` escaped). */
function pointerOf(key: string): string {
  return `/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

/**
 * SQL that converts `value` (SQL of type `from`) to `to` the way `--set-type` does, NULL where it
 * does not convert: numbers and booleans to their text; text to a number only when it is one
 * (an integer only when whole and within 64 bits), to a boolean only when `true`/`false`; a float
 * to an integer only when whole; booleans and numbers never into each other.
 */
export function conversionSql(value: string, from: ColumnType, to: ColumnType): string {
  if (from === to) return value;
  if (to === 'string') return `CAST(${value} AS VARCHAR)`;
  if (from === 'string') {
    const number = `TRY_CAST(trim(${value}) AS DOUBLE)`;
    if (to === 'float') return `CASE WHEN isfinite(${number}) THEN ${number} END`;
    if (to === 'integer')
      return `CASE WHEN regexp_full_match(trim(${value}), '-?[0-9]+') THEN TRY_CAST(trim(${value}) AS BIGINT) WHEN isfinite(${number}) AND ${number} = trunc(${number}) AND abs(${number}) < 9.2e18 THEN CAST(${number} AS BIGINT) END`;
    return `CASE lower(trim(${value})) WHEN 'true' THEN true WHEN 'false' THEN false END`;
  }
  if (from === 'integer' && to === 'float') return `CAST(${value} AS DOUBLE)`;
  if (from === 'float' && to === 'integer')
    return `CASE WHEN ${value} = trunc(${value}) AND abs(${value}) < 9.2e18 THEN CAST(${value} AS BIGINT) END`;
  return `CAST(NULL AS ${sqlTypeFor(to)})`;
}

/**
 * Whether copying a dataset's rows into a new table costs less than one `ALTER TABLE` per
 * column. DuckDB's `ADD COLUMN` costs in proportion to the table's columns times its row groups,
 * so `added` of them cost about `added × columns × (row groups + 1)`; a rebuild costs in
 * proportion to the values it copies. The weights are measured (docs/storage.md).
 */
export function rebuildIsCheaper(rows: number, columns: number, added: number, widened: number): boolean {
  const rowGroups = Math.ceil(rows / 122_880);
  const alterMicros = added * (columns + added / 2 + 2) * 4.5 * (rowGroups + 1) + widened * rows * 0.05;
  const rebuildMicros = 20_000 + rows * (columns + added + 2) * 0.04;
  return rebuildMicros < alterMicros;
}

/** A dataset with no columns and no rows yet, stored in `table`. */
export function emptyDatasetState(name: string, table: string, createdAt: number): DatasetState {
  return {
    version: nextDatasetVersion++,
    snapshot: undefined,
    name,
    table,
    createdAt,
    columns: [],
    lowerCaseNames: new Map(),
    slots: new Map(),
    rows: 0,
    lastEventMicros: null,
    hasSampling: false,
    retentionMs: null,
    schema: undefined,
    mistyped: new Map(),
  };
}

function addColumnToState(state: DatasetState, column: ColumnState): void {
  state.lowerCaseNames.set(column.name.toLowerCase(), column.name);
  state.columns.push(column);
  state.schema = undefined;
}

function schemaOf(state: DatasetState): DatasetSchema {
  state.schema ??= freezeSchema(state);
  return state.schema;
}

/** The frozen schema a store hands out for a dataset's columns (each engine keeps its own catalog state). */
export function freezeSchema(state: {
  name: string;
  columns: ReadonlyArray<{ name: string; type: ColumnType; createdAt: ColumnInfo['created_at'] }>;
  mistyped: ReadonlyMap<string, NonNullable<ColumnInfo['mistyped']>>;
  hasSampling: boolean;
}): DatasetSchema {
  const columns: ColumnInfo[] = state.columns.map((column) => {
    const mistyped = state.mistyped.get(column.name);
    return Object.freeze({
      name: column.name,
      type: column.type,
      created_at: column.createdAt,
      ...(mistyped === undefined ? {} : { mistyped }),
    });
  });
  return Object.freeze({ dataset: state.name, columns: Object.freeze(columns) as ColumnInfo[], hasSampling: state.hasSampling });
}

/** 1 for `data._time`, 2 for `data._samplerate`, 4 for `data.meta.mistyped` (two user fields map to each), else 0. */
export function aliasBitOf(column: string): number {
  return column === 'data._time' ? 1 : column === 'data._samplerate' ? 2 : column === 'data.meta.mistyped' ? 4 : 0;
}

/** Registers a slot under its column name and, for `data._time`/`data._samplerate`, under the reserved field name too. */
export function setSlot(slots: Map<string, FieldSlot>, slot: FieldSlot): void {
  slots.set(slot.column, slot);
  if (slot.aliasBit !== 0) slots.set(slot.column.slice(5), slot);
}
