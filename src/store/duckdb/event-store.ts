/**
 * The embedded event store: one DuckDB table per dataset, a column per field
 * (created the first time the field is seen, widened when a later value
 * disagrees), group commit of concurrent ingests, and queries compiled by
 * `src/query/`. The rules are written down in docs/storage.md.
 */
import { DuckDBDataChunk, DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBAppender, DuckDBConnection, DuckDBResultReader, DuckDBValue } from '@duckdb/node-api';
import { FlagscopeError } from '../../errors.js';
import { compileQuery } from '../../query/compile.js';
import type { QueryResult, QuerySpec } from '../../query/spec.js';
import { validateQuery } from '../../query/validate.js';
import { BatchBodyIngest, type BatchIngestOptions } from './batch-ingest.js';
import { buildDataChunk, CHUNK_ROWS, ColumnBuilder, sqlTypeFor, type ChunkColumnKind } from './chunk.js';
import type { DatasetSnapshot, PreparedBatch, PreparedIngest } from './prepared.js';
import { eventProblem, textOf, typeOfValue } from '../../ingest/value-rules.js';
import type {
  BatchBodyOptions,
  ColumnInfo,
  ColumnType,
  DatasetInfo,
  DatasetSchema,
  EventStore,
  IncomingEvent,
  IngestOutcome,
  IngestPressure,
} from '../types.js';

export type { IngestPressure } from '../types.js';

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

/** Options of {@link openEventStore}; the ingest workers' options are those of src/store/duckdb/batch-ingest.ts. */
export interface EventStoreOptions extends BatchIngestOptions {
  /** The `.duckdb` file, e.g. `<data-dir>/events.duckdb`; created when missing. */
  path: string;
  limits?: Partial<StoreLimits>;
  /** Unix milliseconds; used for catalog timestamps. */
  now?: () => number;
  /** Connections reserved for queries (default 2). */
  queryConnections?: number;
  /**
   * WAL size that triggers an automatic checkpoint (DuckDB's `checkpoint_threshold`), default
   * `256MB`: checkpointing ~100k wide events at once instead of DuckDB's 16 MB default avoids
   * rewriting the same partly filled row group again and again (docs/storage.md).
   */
  checkpointThreshold?: string;
}

export const DEFAULT_CHECKPOINT_THRESHOLD = '256MB';

/** Counters for observability and tests. */
export interface IngestStats {
  /** Committed write transactions. */
  transactions: number;
  /** `ingest` calls committed. */
  requests: number;
  /** Events committed. */
  events: number;
  /** Group transactions that failed and were retried one request at a time. */
  groupFallbacks: number;
}

/** The outcome of every stored event (shared: callers must not mutate outcomes). */
const ACCEPTED: IngestOutcome = Object.freeze({ status: 202 });
const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
const INTERNAL_COLUMNS = ['_time', '_samplerate'] as const;
const DATASETS_TABLE = 'flagscope_datasets';
const COLUMNS_TABLE = 'flagscope_columns';

/**
 * Throws `invalid_input` unless `name` is a valid dataset name: 1–128
 * characters, letters, digits, `.`, `_` and `-`, starting with a letter or digit.
 */
export function validateDatasetName(name: string): void {
  if (typeof name !== 'string' || !DATASET_NAME.test(name)) {
    throw new FlagscopeError(
      'invalid_input',
      `invalid dataset name ${JSON.stringify(String(name)).slice(0, 140)}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      'rename the dataset, e.g. `my-service.prod`',
    );
  }
}

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

/** The column a user field is stored in: `_time`/`_samplerate` are reserved and become `data._time`/`data._samplerate`. */
export function storedFieldName(field: string): string {
  return field === '_time' || field === '_samplerate' ? `data.${field}` : field;
}

/** The narrowest type that holds values of both types without loss (docs/storage.md). */
export function widenType(current: ColumnType, incoming: ColumnType): ColumnType {
  if (current === incoming) return current;
  if ((current === 'integer' || current === 'float') && (incoming === 'integer' || incoming === 'float')) return 'float';
  return 'string';
}

interface ColumnState {
  name: string;
  type: ColumnType;
  createdAt: number;
}

interface DatasetState {
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
  schema: DatasetSchema | undefined;
  /** Changes whenever the columns change; never reused by another dataset state. */
  version: number;
  snapshot: DatasetSnapshot | undefined;
}

interface PendingIngest {
  dataset: string;
  /** Events as objects, or a batch prepared off the writer's thread (then `events` is empty). */
  events: IncomingEvent[];
  prepared: PreparedBatch | undefined;
  /** Events in the request. */
  count: number;
  resolve: (outcomes: IngestOutcome[]) => void;
  reject: (error: unknown) => void;
}

/** Where a user field is stored: its column, position among the user columns, and type. */
interface FieldSlot {
  readonly column: string;
  readonly index: number;
  readonly type: ColumnType;
  /** 1 for `data._time`, 2 for `data._samplerate` (two user fields map to each), else 0. */
  readonly aliasBit: number;
}

/** What one dataset's part of a transaction will do. */
interface DatasetPlan {
  state: DatasetState;
  isNewDataset: boolean;
  /** Field slots after this transaction; the state's own map until a column changes (copy on write). */
  slots: Map<string, FieldSlot>;
  /** Column types after this transaction, by slot index. */
  types: ColumnType[];
  /** Columns this transaction adds, in order (their slot index follows the existing columns). */
  newColumns: string[];
  /** Lower-cased names of the columns this transaction adds. */
  newLowerCaseNames: Map<string, string>;
  accepted: IncomingEvent[];
  /** Prepared batches whose chunks are appended as they are (all their events accepted). */
  prepared: PreparedBatch[];
  /** The field order of the last planned event, so events of one shape skip map lookups. */
  shape: ShapeCache;
  outcomes: Map<PendingIngest, IngestOutcome[]>;
  addedRows: number;
  /** Newest accepted event time, Unix milliseconds. */
  lastEventMs: number | null;
  hasSampling: boolean;
}

function micros(timeMs: number): bigint {
  return BigInt(Math.round(timeMs * 1000));
}

/**
 * The DuckDB implementation of {@link EventStore}. Create it with
 * {@link openEventStore}.
 */
export class DuckDbEventStore implements EventStore, PreparedIngest {
  private readonly instance: DuckDBInstance;
  private readonly writer: DuckDBConnection;
  /** The two connections groups are appended on in turn (the writer commits the one-by-one retries). */
  private readonly lanes: DuckDBConnection[];
  private readonly readers: DuckDBConnection[];
  private readerCursor = 0;
  private readonly limits: StoreLimits;
  private readonly now: () => number;
  private readonly datasets = new Map<string, DatasetState>();
  private nextTableNumber = 1;
  private queue: PendingIngest[] = [];
  private queuedEvents = 0;
  private writing: Promise<void> | undefined;
  /** The writer waiting for the queue to grow while a commit runs. */
  private queueWaiter: { events: number; resolve: () => void } | undefined;
  /** Events in `queue` (not yet in a group). */
  private waitingEvents = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly reads = new Set<Promise<DuckDBResultReader>>();
  private readonly counters: IngestStats = { transactions: 0, requests: 0, events: 0, groupFallbacks: 0 };
  private readonly batches: BatchBodyIngest;

  /** @internal use {@link openEventStore}. */
  constructor(
    instance: DuckDBInstance,
    writer: DuckDBConnection,
    lanes: DuckDBConnection[],
    readers: DuckDBConnection[],
    limits: StoreLimits,
    now: () => number,
    batchOptions: BatchIngestOptions = {},
  ) {
    this.batches = new BatchBodyIngest(this, batchOptions);
    this.lanes = lanes;
    this.instance = instance;
    this.writer = writer;
    this.readers = readers;
    this.limits = limits;
    this.now = now;
  }

  /** @internal loads the catalog; called once by {@link openEventStore}. */
  async load(): Promise<void> {
    await this.writer.run(
      `CREATE TABLE IF NOT EXISTS ${DATASETS_TABLE} (name VARCHAR NOT NULL, table_name VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)`,
    );
    await this.writer.run(
      `CREATE TABLE IF NOT EXISTS ${COLUMNS_TABLE} (dataset VARCHAR NOT NULL, position INTEGER NOT NULL, name VARCHAR NOT NULL, type VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)`,
    );
    const datasets = (
      await this.writer.runAndReadAll(`SELECT name, table_name, epoch_ms(created_at) FROM ${DATASETS_TABLE} ORDER BY name`)
    ).getRows();
    const columns = (
      await this.writer.runAndReadAll(`SELECT dataset, name, type, epoch_ms(created_at) FROM ${COLUMNS_TABLE} ORDER BY dataset, position`)
    ).getRows();
    for (const [name, table, createdAt] of datasets) {
      const state = emptyDatasetState(String(name), String(table), Number(createdAt));
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
      state.columns.forEach((column, index) =>
        setSlot(state.slots, { column: column.name, index, type: column.type, aliasBit: aliasBitOf(column.name) }),
      );
      const [row] = (
        await this.writer.runAndReadAll(
          `SELECT count(*), max(epoch_us(_time)), coalesce(bool_or(_samplerate <> 1), false) FROM ${quoteIdentifier(state.table)}`,
        )
      ).getRows();
      state.rows = Number(row?.[0] ?? 0);
      state.lastEventMicros = row?.[1] == null ? null : BigInt(row[1] as bigint);
      state.hasSampling = row?.[2] === true;
    }
  }

  /** Datasets with their row count, column count and newest event time, from memory. */
  async listDatasets(): Promise<DatasetInfo[]> {
    return [...this.datasets.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((state) => ({
        name: state.name,
        rows: state.rows,
        columns: state.columns.length,
        last_event_time: state.lastEventMicros === null ? null : new Date(Number(state.lastEventMicros / 1000n)).toISOString(),
      }));
  }

  /** The cached schema of a dataset (frozen; rebuilt when its columns change), or undefined. */
  async getSchema(dataset: string): Promise<DatasetSchema | undefined> {
    const state = this.datasets.get(dataset);
    if (state === undefined) return undefined;
    return schemaOf(state);
  }

  /** How many events wait for a commit, and the bound beyond which `ingest` throws `overloaded`. */
  pressure(): IngestPressure {
    return { queuedEvents: this.queuedEvents, max: this.limits.maxQueuedEvents };
  }

  /** Counters of committed work (a copy). */
  stats(): IngestStats {
    return { ...this.counters };
  }

  /**
   * Queues events for the single writer and resolves with one outcome per
   * event once they are committed. Rejects with `invalid_input` for a bad
   * dataset name, `overloaded` when the queue is full (see {@link pressure}),
   * `server_error` after `close()` or when the commit fails.
   */
  ingest(dataset: string, events: IncomingEvent[]): Promise<IngestOutcome[]> {
    try {
      validateDatasetName(dataset);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.closed) {
      return Promise.reject(new FlagscopeError('server_error', 'the event store is closed', 'restart the server'));
    }
    if (events.length === 0) return Promise.resolve([]);
    return this.enqueue({ dataset, events, prepared: undefined, count: events.length });
  }

  /**
   * Like {@link ingest} for a batch prepared against {@link snapshot}: its chunks are appended
   * as they are when the dataset's columns are unchanged, else its events are stored as by
   * `ingest`. Resolves with one outcome per event.
   */
  ingestPrepared(dataset: string, batch: PreparedBatch): Promise<IngestOutcome[]> {
    try {
      validateDatasetName(dataset);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.closed) {
      return Promise.reject(new FlagscopeError('server_error', 'the event store is closed', 'restart the server'));
    }
    if (batch.events === 0) return Promise.resolve([]);
    return this.enqueue({ dataset, events: [], prepared: batch, count: batch.events });
  }

  /** Stores a Honeycomb batch body: scanned by an ingest worker when that pays, else the object way (batch-ingest.ts). */
  ingestBatchBody(dataset: string, body: Buffer, options: BatchBodyOptions): Promise<IngestOutcome[]> {
    return this.batches.ingest(dataset, body, options);
  }

  /** A shared-memory buffer for a body an ingest worker will scan, or undefined. */
  takeBatchBody(bytes: number): Buffer | undefined {
    return this.batches.takeBody(bytes);
  }

  releaseBatchBody(body: Buffer): void {
    this.batches.releaseBody(body);
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

  private enqueue(request: Omit<PendingIngest, 'resolve' | 'reject'>): Promise<IngestOutcome[]> {
    if (this.queuedEvents > 0 && this.queuedEvents + request.count > this.limits.maxQueuedEvents) {
      return Promise.reject(
        new FlagscopeError(
          'overloaded',
          `the ingest queue is full (${this.queuedEvents} events waiting, limit ${this.limits.maxQueuedEvents})`,
          'retry after a second, or send smaller batches',
        ),
      );
    }
    return new Promise<IngestOutcome[]>((resolve, reject) => {
      this.queue.push({ ...request, resolve, reject });
      this.queuedEvents += request.count;
      this.waitingEvents += request.count;
      const waiter = this.queueWaiter;
      if (waiter !== undefined && this.waitingEvents >= waiter.events) {
        this.queueWaiter = undefined;
        waiter.resolve();
      }
      this.startWriter();
    });
  }

  /**
   * The single writer. Groups are appended on two connections in turn, so the next group is
   * appended while the previous one commits; commits (and the cache updates after them) keep
   * the order of the groups. A group that changes columns runs alone: it waits for the group
   * before it to commit, and the group after it waits for its commit.
   */
  private startWriter(): void {
    if (this.writing !== undefined) return;
    this.writing = (async () => {
      // Let the requests that arrive in the same tick join the first group.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const lanes = this.lanes.map((connection) => ({ connection, done: Promise.resolve() }));
      let lane = 0;
      let last = Promise.resolve();
      let alone = false;
      while (this.queue.length > 0) {
        if (alone) await last;
        // While the previous group commits, let a few more requests join this one: every
        // commit has a fixed cost of several milliseconds, so small groups cost more per event.
        if (this.waitingEvents < GROUP_TARGET_EVENTS) await Promise.race([last, this.queueReaches(GROUP_TARGET_EVENTS)]);
        const group = this.takeGroup();
        const current = lanes[lane]!;
        lane = (lane + 1) % lanes.length;
        await current.done;
        const previous = last;
        let staged: StagedTransaction | undefined;
        let failure: unknown;
        try {
          staged = await this.stageTransaction(group, current.connection, () => previous);
        } catch (error) {
          failure = error;
        }
        const done = (async () => {
          await previous;
          if (staged !== undefined) {
            try {
              await staged.commit?.();
              const { result } = staged;
              this.settle(group, (request) => request.resolve(result.get(request) ?? []));
              return;
            } catch (error) {
              failure = error;
            }
          }
          await this.retryAlone(group, failure);
        })();
        current.done = done;
        last = done;
        alone = staged === undefined || staged.changesColumns;
      }
      await last;
    })().finally(() => {
      this.writing = undefined;
      if (this.queue.length > 0) this.startWriter();
    });
  }

  /** Resolves once at least `events` events are queued (or the store closes). */
  private queueReaches(events: number): Promise<void> {
    return new Promise((resolve) => {
      this.queueWaiter = { events, resolve };
    });
  }

  private takeGroup(): PendingIngest[] {
    const group: PendingIngest[] = [];
    let events = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (group.length > 0 && events + next.count > this.limits.maxEventsPerTransaction) break;
      group.push(next);
      events += next.count;
      this.waitingEvents -= next.count;
      this.queue.shift();
    }
    return group;
  }

  /** After a group failed: commits its requests one at a time, so one bad request cannot fail the others. */
  private async retryAlone(group: PendingIngest[], error: unknown): Promise<void> {
    if (group.length === 1) {
      this.settle(group, (request) => request.reject(asStoreError(error)));
      return;
    }
    this.counters.groupFallbacks++;
    for (const request of group) {
      try {
        const outcomes = await this.commitTransaction([request]);
        this.settle([request], (r) => r.resolve(outcomes.get(r) ?? []));
      } catch (error) {
        this.settle([request], (r) => r.reject(asStoreError(error)));
      }
    }
  }

  private settle(requests: PendingIngest[], action: (request: PendingIngest) => void): void {
    for (const request of requests) {
      this.queuedEvents -= request.count;
      action(request);
    }
  }

  /** Commits the requests in one transaction; on failure rolls back and leaves the cache unchanged. */
  private async commitTransaction(requests: PendingIngest[]): Promise<Map<PendingIngest, IngestOutcome[]>> {
    const staged = await this.stageTransaction(requests, this.writer, async () => undefined);
    await staged.commit?.();
    return staged.result;
  }

  /**
   * Plans the requests and appends them in a transaction on `connection`, without committing.
   * A transaction that changes columns first awaits `before` (the commit of the previous group).
   * On failure rolls back and leaves the cache unchanged.
   */
  private async stageTransaction(
    requests: PendingIngest[],
    connection: DuckDBConnection,
    before: () => Promise<void>,
  ): Promise<StagedTransaction> {
    const plans = new Map<string, DatasetPlan>();
    let tableNumber = this.nextTableNumber;
    for (const request of requests) {
      let plan = plans.get(request.dataset);
      if (plan === undefined) {
        const existing = this.datasets.get(request.dataset);
        const state = existing ?? emptyDatasetState(request.dataset, `ds_${tableNumber++}`, this.now());
        plan = newPlan(state, existing === undefined);
        plans.set(request.dataset, plan);
      }
      plan.outcomes.set(request, this.planRequest(plan, request));
    }
    for (const plan of plans.values()) {
      // Chunks prepared against the old columns do not fit changed ones: store those events as objects
      // (every value that fitted a column fits it widened, so all stay accepted).
      if (plan.prepared.length > 0 && (plan.slots !== plan.state.slots || plan.isNewDataset)) {
        for (const batch of plan.prepared) for (const event of batch.materialize()) plan.accepted.push(event);
        plan.prepared = [];
      }
    }
    const result = new Map<PendingIngest, IngestOutcome[]>();
    for (const plan of plans.values()) for (const [request, outcomes] of plan.outcomes) result.set(request, outcomes);
    const eventsToWrite = [...plans.values()].reduce((sum, plan) => sum + plan.accepted.length + preparedEvents(plan), 0);
    const writing = [...plans.values()].filter((plan) => plan.accepted.length > 0 || plan.prepared.length > 0);
    const changesColumns = writing.some((plan) => plan.isNewDataset || plan.slots !== plan.state.slots);
    if (eventsToWrite === 0) return { result, commit: undefined, changesColumns: false };

    // DuckDB refuses to alter a table that another open transaction appends to.
    if (changesColumns) await before();
    await connection.run('BEGIN TRANSACTION');
    const rollBack = async (error: unknown): Promise<never> => {
      await connection.run('ROLLBACK').catch(() => undefined);
      throw error;
    };
    try {
      for (const plan of writing) {
        await this.applySchemaChanges(connection, plan);
        await appendEvents(connection, plan);
        await appendPrepared(connection, plan);
      }
    } catch (error) {
      return rollBack(error);
    }
    const commit = async (): Promise<void> => {
      try {
        await connection.run('COMMIT');
      } catch (error) {
        return rollBack(error);
      }
      this.counters.transactions++;
      this.counters.requests += requests.length;
      this.counters.events += eventsToWrite;
      this.nextTableNumber = tableNumber;
      for (const plan of writing) this.applyPlanToCache(plan);
    };
    return { result, commit, changesColumns };
  }

  /**
   * Decides each event's fate against the dataset's columns as planned so
   * far. An event whose fields all fit existing columns takes the fast path
   * (one map lookup per field, no allocation); otherwise its new columns and
   * widenings are checked and added to the plan.
   */
  private planRequest(plan: DatasetPlan, request: PendingIngest): IngestOutcome[] {
    const batch = request.prepared;
    if (batch === undefined) return this.planEvents(plan, request.events);
    if (plan.isNewDataset || batch.version !== plan.state.version || plan.slots !== plan.state.slots) {
      return this.planEvents(plan, batch.materialize());
    }
    plan.prepared.push(batch);
    if (batch.lastEventMs !== null && (plan.lastEventMs === null || batch.lastEventMs > plan.lastEventMs))
      plan.lastEventMs = batch.lastEventMs;
    if (batch.hasSampling) plan.hasSampling = true;
    return new Array<IngestOutcome>(batch.events).fill(ACCEPTED);
  }

  private planEvents(plan: DatasetPlan, events: IncomingEvent[]): IngestOutcome[] {
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
      const rejection = fits ? undefined : this.planSchemaChanges(plan, data);
      if (rejection !== undefined) {
        outcomes[i] = { status: 400, error: rejection };
        continue;
      }
      if (plan.lastEventMs === null || event.time > plan.lastEventMs) plan.lastEventMs = event.time;
      if (event.samplerate !== 1) plan.hasSampling = true;
      plan.accepted.push(event);
      outcomes[i] = ACCEPTED;
    }
    return outcomes;
  }

  /**
   * The slow path of {@link planEvents}: checks the event's new fields (name,
   * letter-case clash, column limit) and records new columns and widenings.
   * Returns why the event is rejected, or undefined once the plan holds it.
   */
  private planSchemaChanges(plan: DatasetPlan, data: Record<string, unknown>): string | undefined {
    const state = plan.state;
    const added = new Map<string, ColumnType>();
    const widened = new Map<FieldSlot, ColumnType>();
    const addedLowerCase = new Map<string, string>();
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
        if (!slotAccepts(slot.type, value)) widened.set(slot, widenType(widened.get(slot) ?? slot.type, valueType));
        continue;
      }
      const nameProblem = fieldNameProblem(field, this.limits.maxFieldNameLength);
      if (nameProblem !== undefined) return nameProblem;
      const lower = column.toLowerCase();
      const clash = state.lowerCaseNames.get(lower) ?? plan.newLowerCaseNames.get(lower) ?? addedLowerCase.get(lower);
      if (clash !== undefined && clash !== column) {
        return `field ${JSON.stringify(column)} differs only in letter case from column ${JSON.stringify(clash)}, and column names are case-insensitive: rename one of them`;
      }
      addedLowerCase.set(lower, column);
      const already = added.get(column);
      added.set(column, already === undefined ? valueType : widenType(already, valueType));
    }
    const columnCount = state.columns.length + plan.newColumns.length + added.size;
    if (added.size > 0 && columnCount > this.limits.maxColumnsPerDataset) {
      return `event would add ${added.size} new column(s) to dataset ${JSON.stringify(state.name)}, exceeding the limit of ${this.limits.maxColumnsPerDataset} columns per dataset: send these fields to another dataset or drop unused fields`;
    }
    if (added.size === 0 && widened.size === 0) return undefined;
    if (plan.slots === state.slots) plan.slots = new Map(state.slots);
    plan.shape.source = undefined;
    for (const [slot, type] of widened) setSlot(plan.slots, { ...slot, type });
    for (const [column, type] of added) {
      const slot: FieldSlot = { column, index: plan.types.length, type, aliasBit: aliasBitOf(column) };
      setSlot(plan.slots, slot);
      plan.types.push(type);
      plan.newColumns.push(column);
      plan.newLowerCaseNames.set(column.toLowerCase(), column);
    }
    for (const [slot, type] of widened) plan.types[slot.index] = type;
    return undefined;
  }

  private async applySchemaChanges(connection: DuckDBConnection, plan: DatasetPlan): Promise<void> {
    const state = plan.state;
    const table = quoteIdentifier(state.table);
    const createdAt = this.now();
    if (plan.isNewDataset) {
      await connection.run(`CREATE TABLE ${table} (_time TIMESTAMP NOT NULL, _samplerate BIGINT NOT NULL)`);
      await connection.run(`INSERT INTO ${DATASETS_TABLE} VALUES ($1, $2, make_timestamp($3::BIGINT))`, [
        state.name,
        state.table,
        BigInt(state.createdAt) * 1000n,
      ]);
    }
    const createdMicros = BigInt(createdAt) * 1000n;
    for (let index = 0; index < state.columns.length; index++) {
      const column = state.columns[index]!;
      const type = plan.types[index]!;
      if (type === column.type) continue;
      await connection.run(`ALTER TABLE ${table} ALTER COLUMN ${quoteIdentifier(column.name)} SET DATA TYPE ${sqlTypeFor(type)}`);
      await connection.run(`UPDATE ${COLUMNS_TABLE} SET type = $1 WHERE dataset = $2 AND name = $3`, [type, state.name, column.name]);
    }
    for (let n = 0; n < plan.newColumns.length; n++) {
      const name = plan.newColumns[n]!;
      const index = state.columns.length + n;
      const type = plan.types[index]!;
      await connection.run(`ALTER TABLE ${table} ADD COLUMN ${quoteIdentifier(name)} ${sqlTypeFor(type)}`);
      await connection.run(`INSERT INTO ${COLUMNS_TABLE} VALUES ($1, $2, $3, $4, make_timestamp($5::BIGINT))`, [
        state.name,
        index,
        name,
        type,
        createdMicros,
      ]);
    }
  }

  private applyPlanToCache(plan: DatasetPlan): void {
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
  }

  /**
   * Runs a query spec on a reader connection. Throws `not_found` for an
   * unknown dataset and `invalid_input` for a spec the compiler rejects.
   */
  async query(dataset: string, spec: QuerySpec, now: number): Promise<QueryResult> {
    const state = this.datasets.get(dataset);
    if (state === undefined) {
      throw new FlagscopeError(
        'not_found',
        `dataset ${JSON.stringify(dataset)} does not exist`,
        'run `flagscope datasets` to list datasets',
      );
    }
    const started = performance.now();
    const schema = schemaOf(state);
    const normalized = validateQuery(spec, schema, now);
    const compiled = compileQuery(normalized, schema, { table: state.table });
    const reader = await this.read(compiled.sql, compiled.params as DuckDBValue[]);
    const data = compiled.decode(reader.getRows());
    return {
      query: normalized,
      data,
      meta: {
        dataset,
        calculations: compiled.calculations,
        breakdowns: compiled.breakdowns,
        duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      },
    };
  }

  /**
   * Runs read-only SQL on a reader connection and returns rows as arrays of
   * JS values (BIGINT as bigint, TIMESTAMP as Date). For benchmarks and
   * tests; never pass user text as SQL.
   */
  async readSql(sql: string, params: DuckDBValue[] = []): Promise<unknown[][]> {
    const reader = await this.read(sql, params);
    return reader.getRowsJS() as unknown[][];
  }

  /** Runs a statement on the next reader connection, tracked so `close()` can wait for it. */
  private read(sql: string, params: DuckDBValue[]): Promise<DuckDBResultReader> {
    if (this.closed) return Promise.reject(new FlagscopeError('server_error', 'the event store is closed', 'restart the server'));
    const running = this.nextReader().runAndReadAll(sql, params);
    this.reads.add(running);
    const forget = (): void => void this.reads.delete(running);
    running.then(forget, forget);
    return running;
  }

  /** The table that holds a dataset's events (quoted), for readSql. */
  tableOf(dataset: string): string | undefined {
    const state = this.datasets.get(dataset);
    return state === undefined ? undefined : quoteIdentifier(state.table);
  }

  private nextReader(): DuckDBConnection {
    const connection = this.readers[this.readerCursor % this.readers.length]!;
    this.readerCursor++;
    return connection;
  }

  /** Stops accepting events and the ingest workers, commits everything queued, checkpoints and closes the file. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await this.batches.close();
      while (this.writing !== undefined) await this.writing;
      await Promise.allSettled([...this.reads]);
      try {
        await this.writer.run('CHECKPOINT');
      } finally {
        for (const reader of this.readers) reader.closeSync();
        for (const lane of this.lanes) lane.closeSync();
        this.writer.closeSync();
        this.instance.closeSync();
      }
    })();
    return this.closing;
  }
}

/** A group appended in an open transaction, waiting for its commit. */
interface StagedTransaction {
  result: Map<PendingIngest, IngestOutcome[]>;
  /** Commits and updates the cache; undefined when there was nothing to write. */
  commit: (() => Promise<void>) | undefined;
  /** True when the transaction creates a dataset or changes columns. */
  changesColumns: boolean;
}

let nextDatasetVersion = 1;

function emptyDatasetState(name: string, table: string, createdAt: number): DatasetState {
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
    schema: undefined,
  };
}

function addColumnToState(state: DatasetState, column: ColumnState): void {
  state.lowerCaseNames.set(column.name.toLowerCase(), column.name);
  state.columns.push(column);
  state.schema = undefined;
}

function schemaOf(state: DatasetState): DatasetSchema {
  if (state.schema === undefined) {
    const columns: ColumnInfo[] = state.columns.map((column) =>
      Object.freeze({ name: column.name, type: column.type, created_at: column.createdAt }),
    );
    state.schema = Object.freeze({ dataset: state.name, columns: Object.freeze(columns) as ColumnInfo[], hasSampling: state.hasSampling });
  }
  return state.schema;
}

function newPlan(state: DatasetState, isNewDataset: boolean): DatasetPlan {
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
interface ShapeCache {
  source: Map<string, FieldSlot> | undefined;
  fields: string[];
  slots: Array<FieldSlot | undefined>;
}

function newShapeCache(): ShapeCache {
  return { source: undefined, fields: [], slots: [] };
}

/** Keeps the first `length` remembered fields (which must come from `source`) and drops the rest. */
function resetShape(shape: ShapeCache, source: Map<string, FieldSlot>, length: number): void {
  shape.source = source;
  shape.fields.length = length;
  shape.slots.length = length;
}

/**
 * The slot of `field`, the `position`-th field of its event, from the shape cache when the
 * previous event had the same field there; otherwise looked up in `slots`, and the cache
 * keeps the new field in place of the old one's (and drops the rest).
 */
function slotOf(shape: ShapeCache, slots: Map<string, FieldSlot>, position: number, field: string): FieldSlot | undefined {
  if (shape.fields[position] === field) return shape.slots[position];
  resetShape(shape, slots, position);
  const slot = slots.get(field);
  shape.fields.push(field);
  shape.slots.push(slot);
  return slot;
}

function aliasBitOf(column: string): number {
  return column === 'data._time' ? 1 : column === 'data._samplerate' ? 2 : 0;
}

/** Registers a slot under its column name and, for `data._time`/`data._samplerate`, under the reserved field name too. */
function setSlot(slots: Map<string, FieldSlot>, slot: FieldSlot): void {
  slots.set(slot.column, slot);
  if (slot.aliasBit !== 0) slots.set(slot.column.slice(5), slot);
}

/** True when a column of `type` stores `value` (not null) without widening. */
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

/** Appends the plan's accepted events in data chunks, columns in table order. */
async function appendEvents(connection: DuckDBConnection, plan: DatasetPlan): Promise<void> {
  if (plan.accepted.length === 0) return;
  const { types, slots } = plan;
  const shape = newShapeCache();
  resetShape(shape, slots, 0);
  const appender: DuckDBAppender = await connection.createAppender(plan.state.table);
  try {
    const accepted = plan.accepted;
    for (let offset = 0; offset < accepted.length; offset += CHUNK_ROWS) {
      const rows = Math.min(CHUNK_ROWS, accepted.length - offset);
      const time = new ColumnBuilder('timestamp', rows);
      const samplerate = new ColumnBuilder('integer', rows);
      const builders = types.map((type) => new ColumnBuilder(type, rows));
      for (let row = 0; row < rows; row++) {
        const event = accepted[offset + row]!;
        time.setInteger(row, Math.round(event.time * 1000));
        samplerate.setInteger(row, event.samplerate);
        const data = event.data;
        let position = 0;
        for (const field in data) {
          const slot = slotOf(shape, slots, position++, field);
          const value = data[field];
          if (value === null || value === undefined || slot === undefined) continue;
          setValue(builders[slot.index]!, types[slot.index]!, row, value);
        }
        if (position < shape.fields.length) resetShape(shape, slots, position);
      }
      const chunk = buildDataChunk(
        chunkKinds(types),
        [time.finish(), samplerate.finish(), ...builders.map((builder) => builder.finish())],
        rows,
      );
      appender.appendDataChunk(new DuckDBDataChunk(chunk));
      appender.flushSync();
      // Let HTTP requests and queries run between chunks of a large group.
      if (offset + CHUNK_ROWS < accepted.length) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    appender.closeSync();
  }
  plan.addedRows += plan.accepted.length;
}

/** The kinds of a chunk's columns: `_time`, `_samplerate`, then the user columns. */
function chunkKinds(types: readonly ColumnType[]): ChunkColumnKind[] {
  return ['timestamp', 'integer', ...types];
}

function preparedEvents(plan: DatasetPlan): number {
  let events = 0;
  for (const batch of plan.prepared) events += batch.events;
  return events;
}

/**
 * Appends the plan's prepared chunks. The appender gathers the chunks of several requests
 * into full vectors; flushing every few thousand rows keeps each pause of the event loop short.
 */
async function appendPrepared(connection: DuckDBConnection, plan: DatasetPlan): Promise<void> {
  if (plan.prepared.length === 0) return;
  const kinds = chunkKinds(plan.types);
  const appender: DuckDBAppender = await connection.createAppender(plan.state.table);
  try {
    let unflushed = 0;
    for (const batch of plan.prepared) {
      for (const chunk of batch.chunks) {
        appender.appendDataChunk(new DuckDBDataChunk(buildDataChunk(kinds, chunk.columns, chunk.rows)));
        unflushed += chunk.rows;
        if (unflushed >= PREPARED_FLUSH_ROWS) {
          appender.flushSync();
          unflushed = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
      plan.addedRows += batch.events;
    }
  } finally {
    appender.closeSync();
  }
}

/** Events a group gathers while the previous group commits, before it is appended. */
const GROUP_TARGET_EVENTS = 4 * CHUNK_ROWS;

/** Rows appended between two flushes of prepared chunks (two full vectors). */
const PREPARED_FLUSH_ROWS = 2 * CHUNK_ROWS;

function setValue(builder: ColumnBuilder, type: ColumnType, row: number, value: unknown): void {
  switch (type) {
    case 'string':
      builder.setString(row, textOf(value));
      return;
    case 'integer':
      if (typeof value === 'bigint') builder.setBigInt(row, value);
      else builder.setInteger(row, value as number);
      return;
    case 'float':
      builder.setFloat(row, Number(value));
      return;
    case 'boolean':
      builder.setBoolean(row, value as boolean);
      return;
  }
}

function asStoreError(error: unknown): FlagscopeError {
  if (error instanceof FlagscopeError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new FlagscopeError(
    'server_error',
    `storing events failed: ${message.toLowerCase()}`,
    'retry the request; if it keeps failing, check the server log',
    {
      cause: error,
    },
  );
}

/**
 * Opens (or creates) the event store in the DuckDB file at `options.path`.
 * A file left by a killed process is recovered by DuckDB's WAL replay.
 */
export async function openEventStore(options: EventStoreOptions): Promise<DuckDbEventStore> {
  const limits: StoreLimits = { ...DEFAULT_STORE_LIMITS, ...options.limits };
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(options.path, {
      checkpoint_threshold: options.checkpointThreshold ?? DEFAULT_CHECKPOINT_THRESHOLD,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new FlagscopeError(
      'server_error',
      `cannot open event store ${options.path}: ${message}`,
      'check that no other flagscope server uses this data directory',
      {
        cause: error,
      },
    );
  }
  const writer = await instance.connect();
  const readers: DuckDBConnection[] = [];
  for (let i = 0; i < Math.max(1, options.queryConnections ?? 2); i++) readers.push(await instance.connect());
  const lanes = [await instance.connect(), await instance.connect()];
  const store = new DuckDbEventStore(instance, writer, lanes, readers, limits, options.now ?? (() => Date.now()), options);
  await store.load();
  return store;
}

export { INTERNAL_COLUMNS };
