/**
 * The embedded event store: one DuckDB table per dataset, a column per field (created the first
 * time the field is seen, widened when a later value disagrees), group commit of concurrent
 * ingests, and read-only SQL for the query layer above it. This module assembles the parts:
 * the catalog (`catalog.ts`), the writer (`writer.ts`, `ingest-plan.ts`, `append.ts`) and the
 * reader (`reader.ts`). The rules are written down in docs/storage.md.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FlagscopeError, invalidInput, notFound } from '../../errors.js';
import { MISTYPED_COLUMN } from '../../ingest/value-rules.js';
import { duckdbDialect, type SqlDialect, type SqlParam } from '../../query/dialect.js';
import { BatchBodyIngest, type BatchIngestOptions } from './batch-ingest.js';
import {
  COLUMNS_TABLE,
  DATASETS_TABLE,
  DatasetCatalog,
  DEFAULT_STORE_LIMITS,
  quoteIdentifier,
  validateDatasetName,
  type DatasetState,
  type StoreLimits,
} from './catalog.js';
import { closestName } from '../../query/suggest.js';
import { statSync } from 'node:fs';
import type { DatasetSnapshot, PreparedBatch, PreparedIngest } from './prepared.js';
import { EventReader } from './reader.js';
import { readOrderWindow, StorageOrderEpochs, type TranslatedPosition } from './storage-order.js';
import { GroupCommitWriter, type IngestPressure, type IngestStats } from './writer.js';
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
  OtlpTraceOptions,
  OtlpTraceOutcome,
  SqlRow,
  StorageEpoch,
  StorageInfo,
} from '../types.js';

export {
  DEFAULT_STORE_LIMITS,
  fieldNameProblem,
  INTERNAL_COLUMNS,
  quoteIdentifier,
  storedFieldName,
  validateDatasetName,
  type StoreLimits,
} from './catalog.js';
export type { IngestPressure, IngestStats } from './writer.js';

/** Options of {@link openEventStore}; the ingest workers' options are those of src/store/duckdb/batch-ingest.ts. */
export interface EventStoreOptions extends BatchIngestOptions {
  /** The `.duckdb` file, e.g. `<data-dir>/events.duckdb`; created when missing. */
  path: string;
  limits?: Partial<StoreLimits>;
  /** Unix milliseconds; used for catalog timestamps. */
  now?: () => number;
  /**
   * Connections reserved for read statements (default 2): at most this many run at once, the
   * others wait in the store without holding a thread of libuv's pool (reader.ts).
   */
  queryConnections?: number;
  /**
   * WAL size that triggers an automatic checkpoint (DuckDB's `checkpoint_threshold`), default
   * `256MB`: checkpointing ~100k wide events at once instead of DuckDB's 16 MB default avoids
   * rewriting the same partly filled row group again and again (docs/storage.md).
   */
  checkpointThreshold?: string;
  /**
   * @internal called before a schema change of `dataset` (a new dataset, new columns) begins its
   * transaction; the change waits for the promise. Tests hold a change open with it.
   */
  beforeSchemaChange?: (dataset: string) => Promise<void> | void;
}

export const DEFAULT_CHECKPOINT_THRESHOLD = '256MB';

/**
 * The DuckDB implementation of {@link EventStore}. Create it with
 * {@link openEventStore}.
 */
export class DuckDbEventStore implements EventStore, PreparedIngest {
  readonly dialect: SqlDialect = duckdbDialect;
  private readonly catalog: DatasetCatalog;
  private readonly writer: GroupCommitWriter;
  private readonly reader: EventReader;
  private readonly batches: BatchBodyIngest;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Idle connections for schema changes (each change takes one of its own). */
  private readonly schemaConnections: DuckDBConnection[] = [];
  /** The epochs of each table's storage order across deletions (raw-event cursors). */
  private readonly orders = new StorageOrderEpochs();
  /** Tables a dataset delete is dropping: gone for DuckDB once it commits, still in the catalog until just after. */
  private readonly dropping = new Set<string>();

  /** @internal use {@link openEventStore}. */
  constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    private readonly path: string,
    private readonly lanes: DuckDBConnection[],
    readers: DuckDBConnection[],
    limits: StoreLimits,
    now: () => number,
    batchOptions: BatchIngestOptions & Pick<EventStoreOptions, 'beforeSchemaChange'> = {},
  ) {
    this.batches = new BatchBodyIngest(this, batchOptions);
    this.catalog = new DatasetCatalog(now);
    this.writer = new GroupCommitWriter(connection, lanes, this.catalog, limits, now, {
      takeConnection: async () => this.schemaConnections.pop() ?? (await this.instance.connect()),
      giveConnection: (schemaConnection) => {
        if (this.closed) schemaConnection.closeSync();
        else this.schemaConnections.push(schemaConnection);
      },
      beforeSchemaChange: batchOptions.beforeSchemaChange,
    });
    this.reader = new EventReader(readers);
  }

  /** @internal loads the catalog; called once by {@link openEventStore}. */
  async load(): Promise<void> {
    await this.catalog.load(this.connection);
    await this.orders.load(this.connection);
  }

  /** The epoch of a dataset's storage order, once no deletion is changing it (docs/storage.md, "Retention and the storage order"). */
  async storageEpoch(dataset: string): Promise<StorageEpoch> {
    await this.orders.settled(dataset);
    return this.orders.current(dataset);
  }

  /** The epoch of a dataset's storage order now (a read compares it with the one it started with). */
  storageEpochNow(dataset: string): StorageEpoch {
    return this.orders.current(dataset);
  }

  /** A storage position of the epoch before in the current one, or undefined when it cannot be told. */
  translatePosition(dataset: string, epoch: number, position: bigint): TranslatedPosition | undefined {
    return this.orders.translate(dataset, epoch, position);
  }

  /** Datasets with their row count, column count and newest event time, from memory. */
  async listDatasets(): Promise<DatasetInfo[]> {
    return this.catalog.list();
  }

  /** The cached schema of a dataset (frozen; rebuilt when its columns change), or undefined. */
  async getSchema(dataset: string): Promise<DatasetSchema | undefined> {
    return this.catalog.schema(dataset);
  }

  /**
   * Changes a column's type as a schema change of its dataset: the dataset's ingest waits for it,
   * other datasets go on. Values that do not convert move to `meta.mistyped`; values kept there
   * for the column that now convert come back (docs/storage.md).
   */
  async setColumnType(dataset: string, column: string, type: ColumnType): Promise<ColumnTypeChange> {
    const problem = this.refusal(dataset);
    if (problem !== undefined) throw problem;
    const find = (): { state: DatasetState; index: number } => {
      const state = this.catalog.get(dataset);
      if (state === undefined)
        throw notFound(`dataset ${JSON.stringify(dataset)} does not exist`, 'run `flagscope datasets` to list datasets');
      const index = state.columns.findIndex((c) => c.name === column);
      if (index < 0) {
        throw notFound(
          `dataset ${JSON.stringify(dataset)} has no column ${JSON.stringify(column)}`,
          `run \`flagscope columns ${dataset}\` to list its columns`,
        );
      }
      if (column === MISTYPED_COLUMN) {
        throw invalidInput(
          `${MISTYPED_COLUMN} keeps values that did not fit their columns; its type cannot change`,
          'change the type of the column the values belong to',
        );
      }
      return { state, index };
    };
    const { state, index } = find();
    const from = state.columns[index]!.type;
    if (from === type) return { dataset, column, from, to: type, kept: 0, restored: 0 };
    const { kept, restored } = await this.writer.exclusive(
      dataset,
      async (connection) => {
        const current = find();
        return this.catalog.convertColumn(connection, current.state, current.index, type);
      },
      async (result, connection) => {
        this.catalog.applyCommitted(result.change);
        await this.catalog.countMistyped(connection, result.change.state);
      },
    );
    return { dataset, column, from, to: type, kept, restored };
  }

  /**
   * Every dataset with its oldest and newest event, the blocks its checkpointed events occupy, and
   * its retention; and the file's size, WAL and free blocks (docs/storage.md, "Size on disk").
   * Runs on a reader connection, so it never waits behind ingest.
   */
  async describeDatasets(): Promise<{ datasets: DatasetInfo[]; storage: StorageInfo }> {
    const listed = this.catalog.list();
    const [sizes] = await this.execute(
      'SELECT block_size, free_blocks FROM pragma_database_size() WHERE database_name = current_database()',
    );
    const blockSize = Number(sizes?.[0] ?? 262_144);
    const datasets: DatasetInfo[] = [];
    for (const info of listed) {
      const table = this.catalog.tableOf(info.name);
      if (table === undefined) continue;
      let first: string | null = null;
      let blocks = 0;
      try {
        const [span] = await this.execute(`SELECT min(epoch_us(_time)) FROM ${quoteIdentifier(table)}`);
        const firstMicros = span?.[0];
        first = firstMicros == null ? null : new Date(Number(BigInt(firstMicros as bigint) / 1000n)).toISOString();
        // pragma_storage_info names its table by a constant: the store's own name (`ds_<n>`), never user text.
        const [used] = await this.execute(
          `SELECT count(DISTINCT block_id) FROM pragma_storage_info('${table}') WHERE persistent AND block_id >= 0`,
        );
        blocks = Number(used?.[0] ?? 0);
      } catch (error) {
        if (this.catalog.tableOf(info.name) !== table) continue; // deleted meanwhile
        throw error;
      }
      const state = this.catalog.get(info.name);
      datasets.push({ ...info, first_event_time: first, size_bytes: blocks * blockSize, retention_ms: state?.retentionMs ?? null });
    }
    return {
      datasets,
      storage: {
        file_bytes: fileBytes(this.path),
        wal_bytes: fileBytes(`${this.path}.wal`),
        free_bytes: Number(sizes?.[1] ?? 0) * blockSize,
      },
    };
  }

  /**
   * Deletes a dataset: drops its table and catalog rows in one transaction, after every commit
   * taken before it; the dataset's ingest waits meanwhile and then creates the dataset anew
   * (docs/storage.md, "Deleting a dataset"). Throws `not_found` (with the closest name) for an
   * unknown dataset.
   */
  async deleteDataset(dataset: string): Promise<{ rows: number }> {
    const problem = this.refusal(dataset);
    if (problem !== undefined) throw problem;
    this.known(dataset);
    let dropped: string | undefined;
    try {
      return await this.writer.exclusive(
        dataset,
        async (connection) => {
          const state = this.known(dataset);
          const [row] = (await connection.runAndReadAll(`SELECT count(*) FROM ${quoteIdentifier(state.table)}`)).getRows();
          dropped = state.table;
          this.dropping.add(dropped);
          await connection.run(`DROP TABLE ${quoteIdentifier(state.table)}`);
          await connection.run(`DELETE FROM ${COLUMNS_TABLE} WHERE dataset = $1`, [dataset]);
          await connection.run(`DELETE FROM ${DATASETS_TABLE} WHERE name = $1`, [dataset]);
          return { rows: Number(row?.[0] ?? 0) };
        },
        async () => {
          this.catalog.remove(dataset);
          this.orders.forget(dataset);
        },
      );
    } finally {
      if (dropped !== undefined) this.dropping.delete(dropped);
    }
  }

  /** Sets a dataset's own retention in milliseconds (0 keeps its events forever), or with null makes it follow the server's default. */
  async setRetention(dataset: string, retentionMs: number | null): Promise<void> {
    const problem = this.refusal(dataset);
    if (problem !== undefined) throw problem;
    this.known(dataset);
    await this.writer.exclusive(
      dataset,
      async (connection) => {
        this.known(dataset);
        await connection.run(`UPDATE ${DATASETS_TABLE} SET retention_ms = $1 WHERE name = $2`, [
          retentionMs === null ? null : BigInt(Math.round(retentionMs)),
          dataset,
        ]);
      },
      async () => {
        const state = this.catalog.get(dataset);
        if (state !== undefined) state.retentionMs = retentionMs;
      },
    );
  }

  /** Deletes a dataset's events older than `beforeMs` (Unix milliseconds); the dataset's ingest waits meanwhile. */
  async deleteEventsBefore(dataset: string, beforeMs: number): Promise<{ rows: number }> {
    const problem = this.refusal(dataset);
    if (problem !== undefined) throw problem;
    this.known(dataset);
    // The first checkpoint after a delete may compact the table and renumber its storage order, so
    // the delete starts a new epoch of it, compacted while the dataset's ingest is held
    // (storage-order.ts): raw-event cursors of the epoch before are translated, never skipped.
    let settle: (() => void) | undefined;
    try {
      const { rows } = await this.writer.exclusive(
        dataset,
        async (connection) => {
          settle = this.orders.begin(dataset);
          const state = this.known(dataset);
          const cutoff = [BigInt(Math.round(beforeMs)) * 1000n];
          const window = await readOrderWindow(connection, state.table, '_time < make_timestamp($1::BIGINT)', cutoff);
          const result = await connection.run(
            `DELETE FROM ${quoteIdentifier(state.table)} WHERE _time < make_timestamp($1::BIGINT)`,
            cutoff,
          );
          const deleted = Number(result.rowsChanged);
          if (deleted > 0) {
            await connection.run(`UPDATE ${DATASETS_TABLE} SET cursor_epoch = $1 WHERE name = $2`, [
              BigInt(this.orders.current(dataset).epoch + 1),
              dataset,
            ]);
          }
          return { rows: deleted, window };
        },
        async ({ rows, window }, connection) => {
          const state = this.catalog.get(dataset);
          if (state === undefined) return;
          const table = quoteIdentifier(state.table);
          if (rows > 0) {
            await this.orders.recordDeletion(dataset, window, {
              compact: () => checkpoint(connection),
              newest: async (count) =>
                (await connection.runAndReadAll(`SELECT rowid FROM ${table} ORDER BY rowid DESC LIMIT ${Math.max(0, count)}`))
                  .getRows()
                  .map((row) => BigInt(row[0] as bigint))
                  .reverse(),
              shape: async () => {
                const [row] = (await connection.runAndReadAll(`SELECT coalesce(max(rowid), -1), count(*) FROM ${table}`)).getRows();
                return { newest: BigInt(row?.[0] as bigint), rows: BigInt(row?.[1] as bigint) };
              },
              lastBelow: async (position) => {
                const [row] = (
                  await connection.runAndReadAll(
                    `SELECT coalesce(max(rowid), -1) FROM ${table}${position === undefined ? '' : ' WHERE rowid < $1'}`,
                    position === undefined ? [] : [position],
                  )
                ).getRows();
                return BigInt(row?.[0] as bigint);
              },
            });
          }
          const [row] = (await connection.runAndReadAll(`SELECT count(*), max(epoch_us(_time)) FROM ${table}`)).getRows();
          state.rows = Number(row?.[0] ?? 0);
          state.lastEventMicros = row?.[1] == null ? null : BigInt(row[1] as bigint);
        },
      );
      return { rows };
    } finally {
      settle?.();
    }
  }

  /**
   * Runs a `CHECKPOINT`: DuckDB folds the WAL into the file, and blocks whose rows were all deleted
   * become free blocks that later writes reuse (the file itself does not shrink; docs/storage.md).
   * Resolves false when DuckDB refuses because other write transactions are open: the next
   * automatic checkpoint (or the one at close) frees them then.
   */
  async reclaimSpace(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.connection.run('CHECKPOINT');
      return true;
    } catch {
      return false;
    }
  }

  /** The dataset's state, or `not_found` naming the closest dataset. */
  private known(dataset: string): DatasetState {
    const state = this.catalog.get(dataset);
    if (state !== undefined) return state;
    const closest = closestName(dataset, this.catalog.names());
    throw notFound(
      `dataset ${JSON.stringify(dataset)} does not exist`,
      closest === undefined
        ? 'run `flagscope datasets` to list datasets'
        : `did you mean ${JSON.stringify(closest)}? run \`flagscope datasets\` to list datasets`,
    );
  }

  /** The name of the table that holds a dataset's events (`ds_<n>`, not quoted), or undefined. */
  tableOf(dataset: string): string | undefined {
    return this.catalog.tableOf(dataset);
  }

  /**
   * Runs read-only SQL with bound parameters on a reader connection. Rows hold BIGINT and
   * HUGEINT as bigint, lists as arrays, TIMESTAMP as Date (see {@link SqlRow}). An aborted
   * `options.signal` interrupts the statement (reader.ts).
   */
  execute(sql: string, params: readonly SqlParam[] = [], options: ExecuteOptions = {}): Promise<SqlRow[]> {
    return this.reader.execute(sql, params, options.signal).catch((error: unknown) => {
      // A statement compiled against a dataset deleted before it ran (docs/storage.md, "Deleting a dataset").
      const table = /Table with name (ds_\d+) does not exist/.exec(error instanceof Error ? error.message : '')?.[1];
      if (table !== undefined && (!this.catalog.hasTable(table) || this.dropping.has(table))) {
        throw new FlagscopeError('conflict', 'the dataset was deleted while this request ran', 'run `flagscope datasets` to list datasets');
      }
      throw error;
    });
  }

  /** Read statements running on the reader connections and waiting for one. */
  readLoad(): { running: number; waiting: number } {
    return this.reader.load();
  }

  /** How many events wait for a commit, and the bound beyond which `ingest` throws `overloaded`. */
  pressure(): IngestPressure {
    return this.writer.pressure();
  }

  /** Counters of committed work (a copy). */
  stats(): IngestStats {
    return this.writer.stats();
  }

  /**
   * Queues events for the single writer and resolves with one outcome per
   * event once they are committed. Rejects with `invalid_input` for a bad
   * dataset name, `overloaded` when the queue is full (see {@link pressure}),
   * `server_error` after `close()` or when the commit fails.
   */
  ingest(dataset: string, events: IncomingEvent[]): Promise<IngestOutcome[]> {
    const refused = this.refusal(dataset);
    if (refused !== undefined) return Promise.reject(refused);
    if (events.length === 0) return Promise.resolve([]);
    return this.writer.enqueue({ dataset, events, prepared: undefined, count: events.length });
  }

  /** Why a write to `dataset` cannot be taken now (an invalid name, a closed store), if it cannot. */
  private refusal(dataset: string): unknown {
    try {
      validateDatasetName(dataset);
    } catch (error) {
      return error;
    }
    return this.closed ? new FlagscopeError('server_error', 'the event store is closed', 'restart the server') : undefined;
  }

  /**
   * Like {@link ingest} for a batch prepared against {@link snapshot}: its chunks are appended
   * as they are when the dataset's columns are unchanged, else its events are stored as by
   * `ingest`. Resolves with one outcome per event.
   */
  ingestPrepared(dataset: string, batch: PreparedBatch): Promise<IngestOutcome[]> {
    const refused = this.refusal(dataset);
    if (refused !== undefined) return Promise.reject(refused);
    if (batch.events === 0) return Promise.resolve([]);
    return this.writer.enqueue({ dataset, events: [], prepared: batch, count: batch.events });
  }

  /** Stores a Honeycomb batch body: scanned by an ingest worker when that pays, else the object way (batch-ingest.ts). */
  ingestBatchBody(dataset: string, body: Buffer, options: BatchBodyOptions): Promise<IngestOutcome[]> {
    return this.batches.ingest(dataset, body, options);
  }

  /** Stores an OTLP trace export: decoded and flattened by an ingest worker when that pays, else on this thread (batch-ingest.ts). */
  ingestOtlpTraces(body: Buffer, options: OtlpTraceOptions): Promise<OtlpTraceOutcome> {
    return this.batches.ingestOtlp(body, options);
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
    return this.catalog.snapshot(dataset);
  }

  /** Stops accepting events and the ingest workers, commits everything queued, checkpoints and closes the file. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await this.batches.close();
      await this.writer.drain();
      // A query begun before close() reaches `execute` within the current turn of the event
      // loop (after the schema lookup's promise); let it in before refusing statements.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await this.reader.stop();
      try {
        await this.connection.run('CHECKPOINT');
      } finally {
        this.reader.closeSync();
        for (const lane of this.lanes) lane.closeSync();
        for (const schemaConnection of this.schemaConnections.splice(0)) schemaConnection.closeSync();
        this.connection.closeSync();
        this.instance.closeSync();
      }
    })();
    return this.closing;
  }
}

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
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
  const store = new DuckDbEventStore(instance, writer, options.path, lanes, readers, limits, options.now ?? (() => Date.now()), options);
  await store.load();
  return store;
}

/** A checkpoint on `connection` (outside a transaction); when DuckDB refuses it for open writes, one that waits for them. */
async function checkpoint(connection: DuckDBConnection): Promise<boolean> {
  try {
    await connection.run('CHECKPOINT');
    return true;
  } catch {
    try {
      await connection.run('FORCE CHECKPOINT');
      return true;
    } catch {
      return false;
    }
  }
}
