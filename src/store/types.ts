/**
 * The storage interfaces, declared together: the event store (events and the SQL that reads
 * them) and the control store (API keys, flags and their audit history). The embedded server
 * implements both on DuckDB (`src/store/duckdb/`); ClickHouse (events) and PostgreSQL (control
 * data) implement the same interfaces beside it.
 */
import type { FlagAction, FlagHistoryEntry, LastPress } from '../api/flags.js';
import type { ApiKeyInfo, ApiKeyScope } from '../api/keys.js';
import type { Flag } from '../flags/model.js';
import type { IncomingEvent, IngestOutcome } from '../ingest/event.js';
import type { OtlpEncoding } from '../ingest/otlp/decode.js';
import type { SqlDialect, SqlParam } from '../query/dialect.js';
import type { ColumnType, DatasetInfo, DatasetSchema, StorageInfo } from '../query/schema.js';

export type { ColumnInfo, ColumnType, DatasetInfo, DatasetSchema, StorageInfo } from '../query/schema.js';
export type { IncomingEvent, IngestOutcome } from '../ingest/event.js';

/** How full a store's ingest queue is, so the server can answer 429 with `Retry-After` before queuing. */
export interface IngestPressure {
  /** Events accepted but not yet committed. */
  queuedEvents: number;
  /** The bound beyond which `ingest` throws `overloaded`. */
  max: number;
}

/** What a store needs besides the bytes to store a Honeycomb batch body. */
export interface BatchBodyOptions {
  /** Unix milliseconds: the time of items sent without one. */
  now: number;
  /** Items larger than this many bytes of JSON are refused on their own (400). */
  maxEventBytes: number;
  /**
   * Called once with the number of events about to be queued, before they are; throws (e.g.
   * `overloaded`) to refuse the whole batch.
   */
  admit(events: number): void;
}

/** What a store needs besides the bytes to store an OTLP trace export (`POST /v1/traces`). */
export interface OtlpTraceOptions extends BatchBodyOptions {
  encoding: OtlpEncoding;
  /** The dataset of spans whose service has no name (or `unknown_service…`): the dataset header, else the default. */
  fallbackDataset: string;
}

/** What became of an OTLP export's spans: the refused ones with why (an empty list when all were stored). */
export interface OtlpTraceOutcome {
  /** Spans refused (by their index in request order, each once), with why: before storing (ids, time), then by the store. */
  refused: Array<{ span: number; reason: string }>;
  /** Span events and links the store refused. */
  refusedAnnotations: number;
  /** Datasets that got at least one event. */
  stored: string[];
}

/**
 * One value of a result row, in JavaScript terms whatever the engine: integers of 64 bits and
 * more as `bigint`, smaller integers and floating point as `number`, text as `string`, lists as
 * arrays, timestamps as `Date`, SQL NULL as `null`. Decoders (`compileQuery`'s, `src/compare/`'s)
 * read these.
 */
export type SqlValue = null | boolean | number | bigint | string | Date | readonly SqlValue[] | { readonly [field: string]: SqlValue };

/** How a caller of {@link EventStore.execute} may stop its statement. */
export interface ExecuteOptions {
  /** Aborts the statement (the caller has gone, or its deadline passed). */
  signal?: AbortSignal | undefined;
}

/** One result row: the values of the statement's output columns, in order. */
export type SqlRow = readonly SqlValue[];

/**
 * Where events live and how to read them. The store stores and executes; validating a query
 * and compiling it to SQL happen above it (`src/server/query/`), in the store's `dialect`.
 */
/** What `setColumnType` did: the column's types before and after, and the values moved each way. */
export interface ColumnTypeChange {
  dataset: string;
  column: string;
  from: ColumnType;
  to: ColumnType;
  /** Values that did not convert, now kept in `meta.mistyped`. */
  kept: number;
  /** Values kept in `meta.mistyped` for this column that now convert, back in the column. */
  restored: number;
}

/** The epoch of a dataset's storage order, and a counter that changes (twice) with every deletion that may change it. */
export interface StorageEpoch {
  epoch: number;
  version: number;
}

export interface EventStore {
  /** The SQL dialect `execute` understands. */
  readonly dialect: SqlDialect;
  listDatasets(): Promise<DatasetInfo[]>;
  getSchema(dataset: string): Promise<DatasetSchema | undefined>;
  /**
   * Changes a column's type, converting its values (docs/storage.md, "Changing a column's type").
   * Throws `not_found` for an unknown dataset or column, `invalid_input` for the side column.
   */
  setColumnType(dataset: string, column: string, type: ColumnType): Promise<ColumnTypeChange>;
  /**
   * The name of the table that holds a dataset's events (not quoted: quote it with
   * `dialect.quoteIdent`), or undefined for an unknown dataset.
   */
  tableOf(dataset: string): string | undefined;
  /**
   * Runs one read-only statement with its bound parameters (`dialect.placeholder(n)` is
   * `params[n - 1]`) and resolves to its rows. Never pass user text as SQL: user values go in
   * `params`. Rejects with `server_error` once the store is closed.
   *
   * When `options.signal` aborts, the statement stops: it leaves the wait for a connection, or the
   * engine interrupts it, within about a second; the call then rejects with the signal's reason.
   * Reads run on connections of their own, so a running statement never delays a write.
   */
  execute(sql: string, params: readonly SqlParam[], options?: ExecuteOptions): Promise<SqlRow[]>;
  /**
   * Stores events; resolves only after they are committed. Events that cannot
   * be stored (e.g. too many columns) get a 400 outcome; the rest are stored.
   */
  ingest(dataset: string, events: IncomingEvent[]): Promise<IngestOutcome[]>;
  /**
   * Stores a Honeycomb batch body (`POST /1/batch`: a JSON array of `{data, time?, samplerate?}`)
   * and resolves after commit with one outcome per item, in order: bytes in, outcomes out. A store
   * without a faster way uses `ingestBatchAsObjects` (src/store/batch-objects.ts). Throws
   * `invalid_input` for a body that is not a JSON array.
   */
  ingestBatchBody(dataset: string, body: Buffer, options: BatchBodyOptions): Promise<IngestOutcome[]>;
  /**
   * Stores an OTLP trace export (decompressed; `options.encoding` says protobuf or JSON): one wide
   * event per span, span event and link (src/ingest/otlp/flatten.ts), one dataset per service,
   * admitted together by one `options.admit`. Resolves after commit with what was refused. A store
   * without a faster way uses `ingestOtlpOnThread` (src/store/otlp-objects.ts). Throws
   * `invalid_input` for a body that does not decode (nothing stored).
   */
  ingestOtlpTraces(body: Buffer, options: OtlpTraceOptions): Promise<OtlpTraceOutcome>;
  /**
   * A buffer of exactly `bytes` bytes to read a batch body into, or undefined for an ordinary one.
   * Give it back with {@link releaseBatchBody} once the batch is answered.
   */
  takeBatchBody(bytes: number): Buffer | undefined;
  /** Takes back a body read into a buffer from {@link takeBatchBody} (any other buffer is ignored). */
  releaseBatchBody(body: Buffer): void;
  /** How full the ingest queue is (backpressure). */
  pressure(): IngestPressure;
  /**
   * Every dataset with its oldest event, size on disk and retention, and the file as a whole
   * (reads the data: not from memory like {@link listDatasets}).
   */
  describeDatasets(): Promise<{ datasets: DatasetInfo[]; storage: StorageInfo }>;
  /**
   * Deletes a dataset: its events, columns and retention, in one transaction that waits for the
   * commits before it; ingest of the dataset that arrives meanwhile waits and then creates it
   * anew. Throws `not_found` for an unknown dataset. Resolves with the events deleted.
   */
  deleteDataset(dataset: string): Promise<{ rows: number }>;
  /** Sets a dataset's own retention (milliseconds, 0 = forever) or, with null, makes it follow the server's default. */
  setRetention(dataset: string, retentionMs: number | null): Promise<void>;
  /** Deletes a dataset's events older than `beforeMs` (Unix milliseconds); resolves with how many. */
  deleteEventsBefore(dataset: string, beforeMs: number): Promise<{ rows: number }>;
  /** Folds the write-ahead log into the file so deleted rows' blocks become free; false when it could not run now. */
  reclaimSpace(): Promise<boolean>;
  /**
   * The epoch of a dataset's storage order (`dialect.storageOrder`), once no deletion is changing
   * it: positions compare only within one epoch. A deletion of events starts a new one (a
   * compaction may renumber the rows after it; docs/storage.md, "Retention and the storage order").
   */
  storageEpoch(dataset: string): Promise<StorageEpoch>;
  /** The epoch now, without waiting: a read that saw another `version` overlapped a deletion and is done again. */
  storageEpochNow(dataset: string): StorageEpoch;
  /**
   * A storage position of the epoch before the current one (the last row a cursor covers) in the
   * current epoch's order right after the deletion that began it, with the order's gap and floor
   * then, or undefined when it cannot be told (an older epoch, or a position too far behind).
   */
  translatePosition(dataset: string, epoch: number, position: bigint): { position: bigint; gap: bigint; floor: bigint } | undefined;
  close(): Promise<void>;
}

/** One stored API key. Only the hash of the secret is ever stored. */
export interface ApiKeyRecord extends ApiKeyInfo {
  /** Hex sha256 of the secret key text. */
  hash: string;
  /** The config version of the key's last change (its creation or revocation); 0 for keys older than the change feed. */
  configVersion: number;
}

export interface NewApiKey {
  id: string;
  name: string;
  hash: string;
  scopes: ApiKeyScope[];
  created_at: number;
  created_by: string | null;
}

/**
 * One committed change of the control store, at its place on the change feed. A flag change
 * comes whole (before, after, who, why); a key change as the key's record after it.
 */
export type ControlChange =
  | { kind: 'flag'; configVersion: number; change: FlagChange }
  | { kind: 'key'; configVersion: number; key: ApiKeyRecord };

/** What the store tells its listeners after each commit (the embedded analogue of PostgreSQL's NOTIFY). */
export interface ControlChangeNotice {
  /** The config version the commit reached. */
  configVersion: number;
  /**
   * The committed changes, oldest first, when the store hands them over in-process; without them
   * (a notification from another process) a listener reads them with `changesSince`.
   */
  changes?: readonly ControlChange[];
  /**
   * True when notices may have been lost before this one (a PostgreSQL store whose LISTEN
   * connection dropped and came back): a listener re-reads everything it keeps from the store,
   * not only the feed (`changesSince` still covers keys and flags).
   */
  reload?: boolean;
}

/**
 * The control store's change feed. Every committed change (a flag write, a key created or
 * revoked) advances the store's config version by one, in the same transaction; a replica keeps
 * its key ring, flag snapshot and press history by applying the feed from the version it loaded.
 */
export interface ControlChangeFeed {
  /** The config version of the last committed change (0 on an empty store): one cheap read, for a fallback poll. */
  currentVersion(): Promise<number>;
  /**
   * The changes committed after `configVersion`, oldest first. Every flag change is listed; a key
   * changed twice appears once, as it is now, at the version of its last change.
   */
  changesSince(configVersion: number): Promise<ControlChange[]>;
  /** Calls `listener` after every commit of this store, in commit order; returns its removal. */
  listen(listener: (notice: ControlChangeNotice) => void): () => void;
}

/** API keys (and, through `flagStore()`, flags): everything the server keeps besides events. */
export interface ControlStore extends ControlChangeFeed {
  /** Every key, revoked ones included, oldest first. */
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /**
   * Stores a new key (a change on the feed); throws FlagscopeError('conflict') if the id or hash
   * already exists, FlagscopeError('name_taken') if a valid (unrevoked) key has the same name.
   */
  createApiKey(key: NewApiKey): Promise<ApiKeyRecord>;
  /**
   * Marks a key revoked (a change on the feed); resolves to the updated record, or undefined when
   * no key has that id. Revoking a revoked key changes nothing.
   */
  revokeApiKey(id: string, at: number): Promise<ApiKeyRecord | undefined>;
  /** The flags, their history and kill-switch presses, in the same database and on the same feed. */
  flagStore(): FlagStore;
  /** The canaries' plans, states and timelines, in the same database. */
  canaryStore(): CanaryStore;
  /** Datasets' beacon settings, in the same database. */
  beaconSettingsStore(): BeaconSettingsStore;
  /** Leases (one holder at a time, with a fencing epoch), in the same database. */
  leaseStore(): LeaseStore;
  /** Finishes pending writes and closes the store. */
  close(): Promise<void>;
}

/** One committed change of one flag. */
export interface FlagChange {
  action: FlagAction;
  /** The flag as it was; null for a flag that did not exist. */
  before: Flag | null;
  /** The flag as it is now (its `version` is `before.version + 1`, or 1). */
  after: Flag;
  /** Name of the API key that made the change. */
  who: string;
  /** Why, as the writer said it ('' when not given). */
  why: string;
  /** Unix milliseconds. */
  at: number;
}

/** Flags, their audit history and kill-switch presses; its feed is the control store's. */
export interface FlagStore extends ControlChangeFeed {
  /** Every flag, archived ones included, and the config version they are at (read together). */
  loadFlags(): Promise<{ flags: Flag[]; configVersion: number }>;
  /**
   * Commits changes atomically (one transaction) and resolves to the config version of the last
   * one: the store gives each change the next version. Each change's `before.version` (or
   * absence) must match what is stored, else nothing is written and it throws `conflict`.
   */
  commitFlagChanges(changes: readonly FlagChange[]): Promise<number>;
  /** The history of one flag, newest first. */
  flagHistory(key: string, limit: number): Promise<FlagHistoryEntry[]>;
  /** The most recent press of every kill switch ever pressed. */
  lastPresses(): Promise<Map<string, LastPress>>;
}

/** One canary as the control store keeps it: the canary service's JSON, and the revision that guards writes to it. */
export interface StoredCanary {
  /** Unique per canary (a flag has one canary in flight, and any number that have ended). */
  id: string;
  flag: string;
  revision: number;
  body: string;
}

/** Canaries in the control database. The store keeps them; the canary service reads and judges them. */
export interface CanaryStore {
  /** Every canary, ended ones included, oldest first. */
  listCanaries(): Promise<StoredCanary[]>;
  /**
   * Stores a new canary (`expectedRevision` null) or replaces the stored one whose revision is
   * `expectedRevision`; otherwise writes nothing and throws `FlagscopeError('conflict')`.
   */
  saveCanary(canary: StoredCanary, expectedRevision: number | null, fence?: LeaseFence): Promise<void>;
}

/** A lease as stored: who holds it, its epoch (the fencing token) and until when (Unix milliseconds). */
export interface Lease {
  name: string;
  holder: string;
  /** Grows by one every time the lease changes holder; a holder keeps its epoch while it renews. */
  epoch: number;
  expiresAt: number;
}

/**
 * The epoch a write was decided under: the store refuses the write (`conflict`, nothing written)
 * unless the named lease still has this epoch, checked in the write's own transaction.
 */
export interface LeaseFence {
  lease: string;
  epoch: number;
}

/**
 * Named leases, one holder at a time (the canary controller's, so exactly one replica runs it).
 * A lease's time is the callers' clock: replicas' clocks must agree well within the lease time.
 */
export interface LeaseStore {
  /**
   * In one transaction: renews the lease for `holder` until `now + ttlMs` when it holds it (same
   * epoch), takes it with the next epoch when it is free or expired (`expiresAt <= now`), and
   * otherwise leaves it as it is. Resolves to the lease as stored afterwards: the caller leads
   * when its `holder` is the caller's.
   */
  acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<Lease>;
  /** The lease as stored, or undefined when nobody has ever held it. */
  readLease(name: string): Promise<Lease | undefined>;
  /** Lets the lease go at once when `holder` holds it (its epoch stays; the next holder takes the next one). */
  releaseLease(name: string, holder: string): Promise<void>;
}

/** Datasets' beacon settings (allowed origins, execution id field) as JSON rows, one per dataset. */
export interface BeaconSettingsStore {
  /** Every dataset's stored settings. */
  listBeaconSettings(): Promise<Array<{ dataset: string; body: string }>>;
  /** Stores a dataset's settings, replacing what it had. */
  saveBeaconSettings(dataset: string, body: string): Promise<void>;
}
