/**
 * The ClickHouse event store: one MergeTree table per dataset (`PARTITION BY toDate(_time)`,
 * `ORDER BY (_time, _pos)`), a Nullable column per field, added with `ALTER TABLE … ADD COLUMN`
 * the first time the field is seen and widened from Int64 to Float64 as the DuckDB store widens
 * (the same rules: src/ingest/value-rules.ts), values that do not fit kept in `meta.mistyped`.
 * Ingest is queued and written in batches by one writer; an event is acknowledged only once the
 * INSERT holding it has returned. The catalog (`flagscope_datasets`) is a ReplacingMergeTree of
 * dataset rows; columns are read back from `system.columns`, their first-seen time in the
 * column comment. docs/storage.md, "ClickHouse", has the rules and what is not supported.
 */
import { randomBytes } from 'node:crypto';
import { FlagscopeError, invalidInput, notFound } from '../../errors.js';
import { ingestBatchAsObjects } from '../batch-objects.js';
import { ingestOtlpOnThread } from '../otlp-objects.js';
import { columnTypeAfter, eventProblem, MISTYPED_COLUMN, mistypedWarning, textOf, typeOfValue } from '../../ingest/value-rules.js';
import { clickhouseDialect, type SqlDialect, type SqlParam } from '../../query/dialect.js';
import { closestName } from '../../query/suggest.js';
import {
  DEFAULT_STORE_LIMITS,
  fieldNameProblem,
  freezeSchema,
  type StoreLimits,
  storedFieldName,
  validateDatasetName,
} from '../duckdb/catalog.js';
import type {
  BatchBodyOptions,
  ColumnType,
  ColumnTypeChange,
  DatasetInfo,
  DatasetSchema,
  EventStore,
  ExecuteOptions,
  IncomingEvent,
  IngestOutcome,
  IngestPressure,
  OtlpTraceOptions,
  OtlpTraceOutcome,
  SqlRow,
  StorageEpoch,
  StorageInfo,
} from '../types.js';
import type { ClickHouseExecutor, ClickHouseParams } from './executor.js';

export const CATALOG_TABLE = 'flagscope_datasets';

/** The ClickHouse type of each logical column type (every user column is Nullable: a field may be absent). */
const CLICKHOUSE_TYPE: Record<ColumnType, string> = {
  string: 'Nullable(String)',
  integer: 'Nullable(Int64)',
  float: 'Nullable(Float64)',
  boolean: 'Nullable(Bool)',
};

/** Event times a DateTime64(6) holds: 1970 up to 2262 (ClickHouse's range starts in 1900; before 1970 is refused here). */
const MAX_TIME_MS = 9_214_646_400_000;

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
  /** Lower-cased column name → column name (ClickHouse names are case-sensitive; the DuckDB store's are not, and the rule stays). */
  lowerCase: Map<string, string>;
  rows: number;
  lastEventMicros: bigint | null;
  hasSampling: boolean;
  retentionMs: number | null;
  /** The next insert position (`_pos`): the storage order of raw-event cursors. */
  nextPosition: bigint;
  /** Catalog row version (ReplacingMergeTree keeps the highest). */
  version: number;
  schema: DatasetSchema | undefined;
  mistyped: Map<string, number>;
  /** Bumped twice by each deletion of events (start, end): a read that saw it change overlapped one. */
  deletions: number;
  /** `performance.now()` when the columns were last read from ClickHouse. */
  columnsReadAt: number;
}

interface PendingIngest {
  dataset: string;
  events: IncomingEvent[];
  resolve(outcomes: IngestOutcome[]): void;
  reject(error: unknown): void;
}

export interface ClickHouseEventStoreOptions {
  executor: ClickHouseExecutor;
  limits?: Partial<StoreLimits>;
  /** Unix milliseconds; catalog timestamps. */
  now?: () => number;
  /**
   * How old (milliseconds, monotonic clock) a dataset's column list may be before `getSchema` reads
   * it again from ClickHouse, so columns another replica added or widened are seen. Default 1000;
   * 0 reads it on every call.
   */
  schemaRefreshMs?: number;
}

export class ClickHouseEventStore implements EventStore {
  readonly dialect: SqlDialect = clickhouseDialect;
  private readonly executor: ClickHouseExecutor;
  private readonly limits: StoreLimits;
  private readonly now: () => number;
  private readonly schemaRefreshMs: number;
  private readonly datasets = new Map<string, DatasetState>();
  private readonly queue: PendingIngest[] = [];
  private queuedEvents = 0;
  /** Every write (a batch of ingests, a deletion, a retention change) runs after the one before. */
  private writes: Promise<unknown> = Promise.resolve();
  private flushScheduled = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  /** @internal use {@link openClickHouseEventStore}. */
  constructor(options: ClickHouseEventStoreOptions) {
    this.executor = options.executor;
    this.limits = { ...DEFAULT_STORE_LIMITS, ...options.limits };
    this.now = options.now ?? (() => Date.now());
    this.schemaRefreshMs = options.schemaRefreshMs ?? 1000;
  }

  /** Creates the catalog table when missing and loads every dataset's columns and figures. */
  async load(): Promise<void> {
    await this.executor.command(
      `CREATE TABLE IF NOT EXISTS ${CATALOG_TABLE} (name String, tbl String, created_at Int64, retention_ms Nullable(Int64), deleted UInt8, version UInt64)` +
        ' ENGINE = ReplacingMergeTree(version) ORDER BY name',
    );
    for (const state of await this.readCatalog()) this.datasets.set(state.name, state);
  }

  /** The catalog's datasets (or the one named), each with its columns and figures read from its table. */
  private async readCatalog(only?: string): Promise<DatasetState[]> {
    const rows = await this.executor.query(
      `SELECT name, tbl, created_at, retention_ms, version FROM ${CATALOG_TABLE} FINAL WHERE deleted = 0${only === undefined ? '' : ' AND name = {name:String}'} ORDER BY name`,
      only === undefined ? {} : { name: only },
    );
    const states: DatasetState[] = [];
    for (const [name, table, createdAt, retention, version] of rows) {
      const state = emptyState(String(name), String(table), Number(createdAt));
      state.retentionMs = retention === null ? null : Number(retention);
      state.version = Number(version);
      await this.readColumns(state);
      const [figures] = await this.executor.query(
        `SELECT count(), max(toUnixTimestamp64Micro(_time)), countIf(_samplerate != 1), max(_pos) FROM ${this.dialect.quoteIdent(state.table)}`,
      );
      state.rows = Number(figures?.[0] ?? 0);
      state.lastEventMicros = state.rows === 0 ? null : BigInt(figures?.[1] as bigint);
      state.hasSampling = Number(figures?.[2] ?? 0) > 0;
      state.nextPosition = state.rows === 0 ? 0n : BigInt(figures?.[3] as bigint) + 1n;
      states.push(state);
    }
    return states;
  }

  /**
   * A dataset this process does not know yet, read from the catalog: another replica over the same
   * ClickHouse may have created it. Undefined when the catalog has none either.
   */
  private async discover(dataset: string): Promise<DatasetState | undefined> {
    if (this.closed) return undefined;
    const [state] = await this.readCatalog(dataset);
    if (state === undefined) return undefined;
    const known = this.datasets.get(dataset);
    if (known !== undefined) return known;
    this.datasets.set(dataset, state);
    return state;
  }

  private async readColumns(state: DatasetState): Promise<void> {
    const columns = await this.executor.query(
      'SELECT name, type, comment FROM system.columns WHERE database = currentDatabase() AND table = {t:String} ORDER BY position',
      { t: state.table },
    );
    const read: ColumnState[] = [];
    for (const [name, type, comment] of columns) {
      const logical = logicalType(String(type));
      if (logical === undefined || name === '_time' || name === '_samplerate' || name === '_pos') continue;
      read.push({ name: String(name), type: logical, createdAt: Number(comment) || state.createdAt });
    }
    state.columnsReadAt = performance.now();
    const same =
      read.length === state.columns.length && read.every((c, i) => c.name === state.columns[i]?.name && c.type === state.columns[i]?.type);
    if (same) return;
    state.columns = [];
    state.lowerCase.clear();
    for (const column of read) addColumn(state, column);
  }

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

  async getSchema(dataset: string): Promise<DatasetSchema | undefined> {
    const known = this.datasets.get(dataset);
    if (known !== undefined && !this.closed && performance.now() - known.columnsReadAt >= this.schemaRefreshMs) {
      // Columns another replica added or widened meanwhile; the writer's own changes are in memory already.
      await this.exclusive(() => this.readColumns(known)).catch(() => undefined);
    }
    const state = this.datasets.get(dataset) ?? (await this.discover(dataset));
    return state === undefined ? undefined : schemaOf(state);
  }

  /** Not supported: ClickHouse converts a column with a mutation that fails as a whole on one value that does not convert. */
  async setColumnType(dataset: string, column: string, _type: ColumnType): Promise<ColumnTypeChange> {
    const state = this.known(dataset);
    if (!state.columns.some((c) => c.name === column)) {
      throw notFound(
        `dataset ${JSON.stringify(dataset)} has no column ${JSON.stringify(column)}`,
        `run \`flagscope columns ${dataset}\` to list its columns`,
      );
    }
    throw invalidInput(
      'the ClickHouse event store cannot change a column\u2019s type',
      'send the values under a new field name, or keep this dataset in a DuckDB event store (docs/storage.md, "ClickHouse")',
    );
  }

  tableOf(dataset: string): string | undefined {
    return this.datasets.get(dataset)?.table;
  }

  /**
   * Runs a statement compiled in {@link clickhouseDialect}: `params[n - 1]` is the value of its
   * `{pN:String}` placeholder, handed to ClickHouse as text (the statement casts it).
   */
  async execute(sql: string, params: readonly SqlParam[] = [], options: ExecuteOptions = {}): Promise<SqlRow[]> {
    if (this.closed) throw new FlagscopeError('server_error', 'the event store is closed', 'restart the server');
    const { text, values } = bindParams(sql, params);
    try {
      return await this.executor.query(text, values, options.signal);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const table = /Table \S*?`?(ds_[0-9a-f]+)`? does(?:n't| not) exist|UNKNOWN_TABLE.*?(ds_[0-9a-f]+)/.exec(message);
      const name = table?.[1] ?? table?.[2];
      if (name !== undefined && ![...this.datasets.values()].some((s) => s.table === name)) {
        throw new FlagscopeError('conflict', 'the dataset was deleted while this request ran', 'run `flagscope datasets` to list datasets');
      }
      throw error;
    }
  }

  ingest(dataset: string, events: IncomingEvent[]): Promise<IngestOutcome[]> {
    const refused = this.refusal(dataset);
    if (refused !== undefined) return Promise.reject(refused);
    if (events.length === 0) return Promise.resolve([]);
    if (this.queuedEvents > 0 && this.queuedEvents + events.length > this.limits.maxQueuedEvents) {
      return Promise.reject(
        new FlagscopeError(
          'overloaded',
          `the ingest queue is full (${this.queuedEvents} events waiting, limit ${this.limits.maxQueuedEvents})`,
          'retry after a second, or send smaller batches',
        ),
      );
    }
    return new Promise<IngestOutcome[]>((resolve, reject) => {
      this.queue.push({ dataset, events, resolve, reject });
      this.queuedEvents += events.length;
      this.scheduleFlush();
    });
  }

  /** The object path: ClickHouse parses nothing for us here, so the body is parsed on the main thread. */
  ingestBatchBody(dataset: string, body: Buffer, options: BatchBodyOptions): Promise<IngestOutcome[]> {
    return ingestBatchAsObjects(this, dataset, body, options);
  }

  /** OTLP traces: decoded and flattened on the main thread (no ingest workers here), then stored as `ingest` stores. */
  ingestOtlpTraces(body: Buffer, options: OtlpTraceOptions): Promise<OtlpTraceOutcome> {
    return ingestOtlpOnThread(this, body, options);
  }

  takeBatchBody(_bytes: number): Buffer | undefined {
    return undefined;
  }

  releaseBatchBody(_body: Buffer): void {}

  pressure(): IngestPressure {
    return { queuedEvents: this.queuedEvents, max: this.limits.maxQueuedEvents };
  }

  async describeDatasets(): Promise<{ datasets: DatasetInfo[]; storage: StorageInfo }> {
    const listed = await this.listDatasets();
    const parts = await this.executor.query(
      'SELECT table, sum(bytes_on_disk) FROM system.parts WHERE database = currentDatabase() AND active GROUP BY table',
    );
    const bytesByTable = new Map(parts.map(([table, bytes]) => [String(table), Number(bytes)]));
    const datasets: DatasetInfo[] = [];
    for (const info of listed) {
      const state = this.datasets.get(info.name);
      if (state === undefined) continue;
      let first: string | null = null;
      try {
        const [span] = await this.executor.query(
          `SELECT min(toUnixTimestamp64Micro(_time)), count() FROM ${this.dialect.quoteIdent(state.table)}`,
        );
        if (Number(span?.[1] ?? 0) > 0) first = new Date(Number(BigInt(span?.[0] as bigint) / 1000n)).toISOString();
      } catch (error) {
        if (this.datasets.get(info.name) !== state) continue; // deleted meanwhile
        throw error;
      }
      datasets.push({ ...info, first_event_time: first, size_bytes: bytesByTable.get(state.table) ?? 0, retention_ms: state.retentionMs });
    }
    const total = [...bytesByTable.values()].reduce((sum, bytes) => sum + bytes, 0);
    return { datasets, storage: { file_bytes: total, wal_bytes: 0, free_bytes: 0 } };
  }

  async deleteDataset(dataset: string): Promise<{ rows: number }> {
    const problem = this.refusal(dataset);
    if (problem !== undefined) throw problem;
    this.known(dataset);
    return this.exclusive(async () => {
      const state = this.known(dataset);
      const [count] = await this.executor.query(`SELECT count() FROM ${this.dialect.quoteIdent(state.table)}`);
      await this.writeCatalog(state, { deleted: true });
      this.datasets.delete(dataset);
      await this.executor.command(`DROP TABLE IF EXISTS ${this.dialect.quoteIdent(state.table)}`);
      return { rows: Number(count?.[0] ?? 0) };
    });
  }

  /**
   * Sets the dataset's own retention; a positive one is also the table's TTL, so ClickHouse drops
   * expired parts itself between the server's retention passes (docs/storage.md, "ClickHouse").
   */
  async setRetention(dataset: string, retentionMs: number | null): Promise<void> {
    const problem = this.refusal(dataset);
    if (problem !== undefined) throw problem;
    this.known(dataset);
    await this.exclusive(async () => {
      const state = this.known(dataset);
      const table = this.dialect.quoteIdent(state.table);
      if (retentionMs !== null && retentionMs > 0) {
        const seconds = Math.max(1, Math.ceil(retentionMs / 1000));
        await this.executor.command(`ALTER TABLE ${table} MODIFY TTL toDateTime(_time) + toIntervalSecond(${seconds})`);
      } else if (state.retentionMs !== null && state.retentionMs > 0) {
        await this.executor.command(`ALTER TABLE ${table} REMOVE TTL`);
      }
      state.retentionMs = retentionMs === null ? null : Math.round(retentionMs);
      await this.writeCatalog(state, {});
    });
  }

  async deleteEventsBefore(dataset: string, beforeMs: number): Promise<{ rows: number }> {
    const problem = this.refusal(dataset);
    if (problem !== undefined) throw problem;
    this.known(dataset);
    return this.exclusive(async () => {
      const state = this.known(dataset);
      const table = this.dialect.quoteIdent(state.table);
      const cutoff: ClickHouseParams = { cutoff: (BigInt(Math.round(beforeMs)) * 1000n).toString() };
      const before = "_time < fromUnixTimestamp64Micro(CAST({cutoff:String} AS Int64), 'UTC')";
      const [count] = await this.executor.query(`SELECT count() FROM ${table} WHERE ${before}`, cutoff);
      const rows = Number(count?.[0] ?? 0);
      if (rows === 0) return { rows };
      state.deletions++;
      try {
        await this.executor.command(`ALTER TABLE ${table} DELETE WHERE ${before}`, cutoff);
        const [figures] = await this.executor.query(`SELECT count(), max(toUnixTimestamp64Micro(_time)) FROM ${table}`);
        state.rows = Number(figures?.[0] ?? 0);
        state.lastEventMicros = state.rows === 0 ? null : BigInt(figures?.[1] as bigint);
      } finally {
        state.deletions++;
      }
      return { rows };
    });
  }

  /** ClickHouse merges parts (and frees deleted rows' space) in the background: nothing to do now. */
  async reclaimSpace(): Promise<boolean> {
    return false;
  }

  /**
   * `_pos` never changes once written (a deletion renumbers nothing), so there is one epoch, 0;
   * its version counts deletions so that a read overlapping one is done again.
   */
  async storageEpoch(dataset: string): Promise<StorageEpoch> {
    await this.writes.catch(() => undefined);
    return this.storageEpochNow(dataset);
  }

  storageEpochNow(dataset: string): StorageEpoch {
    return { epoch: 0, version: this.datasets.get(dataset)?.deletions ?? 0 };
  }

  translatePosition(_dataset: string, epoch: number, position: bigint): { position: bigint; gap: bigint; floor: bigint } | undefined {
    return epoch === 0 ? { position, gap: 0n, floor: 0n } : undefined;
  }

  /** Stops taking events, writes what is queued and closes the connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      // After the writes before it, as one of them: two flushes never plan the same dataset at once.
      await this.exclusive(() => this.flushNow()).catch(() => undefined);
      await this.executor.close();
    })();
    return this.closing;
  }

  private refusal(dataset: string): unknown {
    try {
      validateDatasetName(dataset);
    } catch (error) {
      return error;
    }
    return this.closed ? new FlagscopeError('server_error', 'the event store is closed', 'restart the server') : undefined;
  }

  private known(dataset: string): DatasetState {
    const state = this.datasets.get(dataset);
    if (state !== undefined) return state;
    const closest = closestName(dataset, [...this.datasets.keys()]);
    throw notFound(
      `dataset ${JSON.stringify(dataset)} does not exist`,
      closest === undefined
        ? 'run `flagscope datasets` to list datasets'
        : `did you mean ${JSON.stringify(closest)}? run \`flagscope datasets\` to list datasets`,
    );
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writes.then(work, work);
    this.writes = run.catch(() => undefined);
    return run;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    void this.exclusive(() => this.flushNow()).catch(() => undefined);
  }

  /** Writes every queued request: per dataset its schema changes, then one INSERT; then answers them. */
  private async flushNow(): Promise<void> {
    this.flushScheduled = false;
    while (this.queue.length > 0) {
      const batch: PendingIngest[] = [];
      let events = 0;
      while (
        this.queue.length > 0 &&
        (batch.length === 0 || events + this.queue[0]!.events.length <= this.limits.maxEventsPerTransaction)
      ) {
        const request = this.queue.shift()!;
        batch.push(request);
        events += request.events.length;
      }
      const byDataset = new Map<string, PendingIngest[]>();
      for (const request of batch) byDataset.set(request.dataset, [...(byDataset.get(request.dataset) ?? []), request]);
      for (const [dataset, requests] of byDataset) {
        try {
          const outcomes = await this.writeDataset(dataset, requests);
          requests.forEach((request, i) => request.resolve(outcomes[i]!));
        } catch (error) {
          const failure =
            error instanceof FlagscopeError
              ? error
              : new FlagscopeError(
                  'server_error',
                  `ClickHouse did not store the events: ${error instanceof Error ? error.message : String(error)}`,
                  'retry; nothing of this batch was acknowledged',
                  { cause: error },
                );
          for (const request of requests) request.reject(failure);
        } finally {
          for (const request of requests) this.queuedEvents -= request.events.length;
        }
      }
    }
  }

  /** Plans, alters and inserts the requests of one dataset; resolves with each request's outcomes once ClickHouse accepted the rows. */
  private async writeDataset(dataset: string, requests: PendingIngest[]): Promise<IngestOutcome[][]> {
    const existing = this.datasets.get(dataset) ?? (await this.discover(dataset));
    const state = existing ?? emptyState(dataset, `ds_${randomBytes(8).toString('hex')}`, this.now());
    const plan = new RowPlan(state, this.limits, this.now());
    const outcomes = requests.map((request) => request.events.map((event) => plan.add(event)));
    if (plan.rows.length === 0) return outcomes;
    const table = this.dialect.quoteIdent(state.table);
    if (existing === undefined) {
      await this.executor.command(
        `CREATE TABLE IF NOT EXISTS ${table} (_time DateTime64(6, 'UTC'), _samplerate Int64, _pos UInt64) ENGINE = MergeTree PARTITION BY toDate(_time) ORDER BY (_time, _pos)`,
      );
      await this.writeCatalog(state, {});
    }
    for (const column of plan.added) {
      await this.executor.command(
        `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${this.dialect.quoteIdent(column.name)} ${CLICKHOUSE_TYPE[column.type]} COMMENT '${column.createdAt}'`,
      );
    }
    for (const name of plan.widened) {
      await this.executor.command(`ALTER TABLE ${table} MODIFY COLUMN ${this.dialect.quoteIdent(name)} ${CLICKHOUSE_TYPE.float}`);
    }
    // The columns exist now: the plan's changes are the dataset's, whether or not the insert succeeds.
    if (existing === undefined) this.datasets.set(dataset, state);
    plan.applyColumns();
    await this.executor.insert(state.table, plan.rows);
    plan.applyRows();
    return outcomes;
  }

  private async writeCatalog(state: DatasetState, change: { deleted?: boolean }): Promise<void> {
    state.version++;
    await this.executor.insert(CATALOG_TABLE, [
      {
        name: state.name,
        tbl: state.table,
        created_at: state.createdAt,
        retention_ms: state.retentionMs,
        deleted: change.deleted === true ? 1 : 0,
        version: state.version,
      },
    ]);
  }
}

/**
 * The rows of one insert into one dataset and the column changes they need, decided by the same
 * rules as the DuckDB store (src/ingest/value-rules.ts): a new field's first value types its column,
 * an integer column meeting a fraction becomes float, a value that fits no column goes to `meta.mistyped`.
 */
class RowPlan {
  readonly rows: Record<string, unknown>[] = [];
  readonly added: ColumnState[] = [];
  readonly widened = new Set<string>();
  private readonly types = new Map<string, ColumnType>();
  private readonly lowerCase = new Map<string, string>();
  private nextPosition: bigint;
  private lastEventMicros: bigint | null;
  private hasSampling: boolean;
  private readonly mistyped = new Map<string, number>();

  constructor(
    private readonly state: DatasetState,
    private readonly limits: StoreLimits,
    private readonly now: number,
  ) {
    for (const column of state.columns) this.types.set(column.name, column.type);
    for (const [lower, name] of state.lowerCase) this.lowerCase.set(lower, name);
    this.nextPosition = state.nextPosition;
    this.lastEventMicros = state.lastEventMicros;
    this.hasSampling = state.hasSampling;
  }

  /** Plans one event: its outcome, and its row when it is stored. */
  add(event: IncomingEvent): IngestOutcome {
    const problem =
      eventProblem(event) ?? (event.time < 0 || event.time > MAX_TIME_MS ? 'event time is out of range (1970 to 2262)' : undefined);
    if (problem !== undefined) return { status: 400, error: problem };
    const micros = BigInt(Math.round(event.time * 1000));
    const row: Record<string, unknown> = { _time: timeText(micros), _samplerate: event.samplerate };
    const addedHere: ColumnState[] = [];
    const widenedHere: string[] = [];
    const kept: Array<[column: string, type: ColumnType, value: unknown]> = [];
    for (const field in event.data) {
      const value = event.data[field];
      const valueType = typeOfValue(value);
      if (valueType === undefined) continue;
      const column = storedFieldName(field);
      if (Object.hasOwn(row, column)) {
        return {
          status: 400,
          error: `fields ${JSON.stringify(column.slice(5))} and ${JSON.stringify(column)} would both be stored as ${JSON.stringify(column)}`,
        };
      }
      let type = this.types.get(column);
      if (type === undefined) {
        const nameProblem = fieldNameProblem(field, this.limits.maxFieldNameLength);
        if (nameProblem !== undefined) return this.undo(addedHere, widenedHere, { status: 400, error: nameProblem });
        const clash = this.lowerCase.get(column.toLowerCase());
        if (clash !== undefined && clash !== column) {
          return this.undo(addedHere, widenedHere, {
            status: 400,
            error: `field ${JSON.stringify(column)} differs only in letter case from column ${JSON.stringify(clash)}, and column names are case-insensitive: rename one of them`,
          });
        }
        type = valueType;
        const created = { name: column, type, createdAt: this.now };
        addedHere.push(created);
        this.types.set(column, type);
        this.lowerCase.set(column.toLowerCase(), column);
      } else {
        const after = columnTypeAfter(type, value);
        if (after === undefined) {
          kept.push([column, type, value]);
          continue;
        }
        if (after !== type) {
          widenedHere.push(column);
          this.types.set(column, after);
          type = after;
        }
      }
      row[column] = storedValue(type, value);
    }
    if (kept.length > 0 && !this.types.has(MISTYPED_COLUMN)) {
      addedHere.push({ name: MISTYPED_COLUMN, type: 'string', createdAt: this.now });
      this.types.set(MISTYPED_COLUMN, 'string');
      this.lowerCase.set(MISTYPED_COLUMN, MISTYPED_COLUMN);
    }
    const userColumns = this.types.size;
    if (addedHere.length > 0 && userColumns > this.limits.maxColumnsPerDataset) {
      return this.undo(addedHere, widenedHere, {
        status: 400,
        error: `event would add ${addedHere.length} new column(s) to dataset ${JSON.stringify(this.state.name)}, exceeding the limit of ${this.limits.maxColumnsPerDataset} columns per dataset: send these fields to another dataset or drop unused fields`,
      });
    }
    this.added.push(...addedHere);
    for (const name of widenedHere) if (!this.added.some((c) => c.name === name)) this.widened.add(name);
    for (const column of this.added) column.type = this.types.get(column.name) ?? column.type;
    row._pos = this.nextPosition++;
    if (this.lastEventMicros === null || micros > this.lastEventMicros) this.lastEventMicros = micros;
    if (event.samplerate !== 1) this.hasSampling = true;
    this.rows.push(row);
    if (kept.length === 0) return { status: 202 };
    const text: Record<string, unknown> = {};
    for (const [column, , value] of kept) {
      text[column] = value;
      this.mistyped.set(column, (this.mistyped.get(column) ?? 0) + 1);
    }
    row[MISTYPED_COLUMN] = JSON.stringify(text, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    return { status: 202, warning: mistypedWarning(kept) };
  }

  /** Forgets the columns an event refused as a whole had planned, and answers its outcome. */
  private undo(added: ColumnState[], widened: string[], outcome: IngestOutcome): IngestOutcome {
    for (const column of added) {
      this.types.delete(column.name);
      this.lowerCase.delete(column.name.toLowerCase());
    }
    for (const name of widened) this.types.set(name, 'integer');
    return outcome;
  }

  /** The planned columns, once ClickHouse has them. */
  applyColumns(): void {
    for (const column of this.added) if (!this.state.columns.some((c) => c.name === column.name)) addColumn(this.state, column);
    for (const column of this.state.columns) if (this.widened.has(column.name)) column.type = 'float';
    this.state.schema = undefined;
  }

  /** The inserted rows' figures, once ClickHouse has accepted them. */
  applyRows(): void {
    this.state.rows += this.rows.length;
    this.state.nextPosition = this.nextPosition;
    this.state.lastEventMicros = this.lastEventMicros;
    if (this.hasSampling !== this.state.hasSampling) {
      this.state.hasSampling = this.hasSampling;
      this.state.schema = undefined;
    }
    for (const [column, count] of this.mistyped) this.state.mistyped.set(column, (this.state.mistyped.get(column) ?? 0) + count);
    if (this.mistyped.size > 0) this.state.schema = undefined;
  }
}

/** A value as its column stores it: text in a string column, a number in a float column. */
function storedValue(type: ColumnType, value: unknown): unknown {
  switch (type) {
    case 'string':
      return textOf(value);
    case 'float':
      return Number(value);
    default:
      return value;
  }
}

/** A DateTime64(6) value as text ClickHouse reads exactly: seconds and microseconds since 1970. */
function timeText(micros: bigint): string {
  const seconds = micros / 1_000_000n;
  const fraction = (micros % 1_000_000n).toString().padStart(6, '0');
  return `${seconds}.${fraction}`;
}

/** The logical type of a user column's ClickHouse type, or undefined for a type this store did not make. */
function logicalType(type: string): ColumnType | undefined {
  for (const [logical, clickhouse] of Object.entries(CLICKHOUSE_TYPE)) if (clickhouse === type) return logical as ColumnType;
  return undefined;
}

function emptyState(name: string, table: string, createdAt: number): DatasetState {
  return {
    name,
    table,
    createdAt,
    columns: [],
    lowerCase: new Map(),
    rows: 0,
    lastEventMicros: null,
    hasSampling: false,
    retentionMs: null,
    nextPosition: 0n,
    version: 0,
    schema: undefined,
    mistyped: new Map(),
    deletions: 0,
    columnsReadAt: performance.now(),
  };
}

function addColumn(state: DatasetState, column: ColumnState): void {
  state.columns.push(column);
  state.lowerCase.set(column.name.toLowerCase(), column.name);
  state.schema = undefined;
}

function schemaOf(state: DatasetState): DatasetSchema {
  state.schema ??= freezeSchema(state);
  return state.schema;
}

/**
 * A compiled statement's positional values as ClickHouse parameters: `params[n - 1]` is `pN`,
 * as text (the statement casts each placeholder to its type); a null's placeholder becomes
 * `Nullable(String)`.
 */
export function bindParams(sql: string, params: readonly SqlParam[]): { text: string; values: Record<string, string | null> } {
  const values: Record<string, string | null> = {};
  let text = sql;
  params.forEach((value, i) => {
    const name = `p${i + 1}`;
    if (value === null) {
      values[name] = null;
      text = text.replaceAll(`{${name}:String}`, `{${name}:Nullable(String)}`);
    } else {
      values[name] = typeof value === 'boolean' ? (value ? 'true' : 'false') : String(value);
    }
  });
  return { text, values };
}

/** Opens the ClickHouse event store over `executor`: creates the catalog when missing and loads it. */
export async function openClickHouseEventStore(options: ClickHouseEventStoreOptions): Promise<ClickHouseEventStore> {
  const store = new ClickHouseEventStore(options);
  try {
    await store.load();
  } catch (error) {
    await options.executor.close().catch(() => undefined);
    throw new FlagscopeError(
      'server_error',
      `cannot open the ClickHouse event store at ${options.executor.description}: ${error instanceof Error ? error.message : String(error)}`,
      'check that ClickHouse is running and the URL, user and database are right',
      { cause: error },
    );
  }
  return store;
}
