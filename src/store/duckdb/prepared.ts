/**
 * Events prepared for the store off its thread: a batch already laid out as
 * DuckDB data chunks against a snapshot of the dataset's columns. The store
 * appends the chunks as they are when the dataset's columns are still those of
 * the snapshot, and otherwise stores the batch's events the ordinary way.
 */
import type { BuiltColumn } from './column-builder.js';
import type { ColumnType, IncomingEvent } from '../types.js';

/**
 * A dataset's columns as a batch scanner needs them. `version` changes with
 * every change of the columns (and differs between datasets and between two
 * lives of one dataset name).
 */
export interface DatasetSnapshot {
  dataset: string;
  version: number;
  /** Column types by position among the user columns. */
  types: ColumnType[];
  /** Field name → its column position; `_time` and `data._time` both name `data._time`'s column. */
  fields: Array<[field: string, index: number]>;
}

/** One chunk: `_time`, `_samplerate`, then the user columns in position order (undefined: NULL in every row). */
export interface PreparedChunk {
  rows: number;
  columns: Array<BuiltColumn | undefined>;
}

/** A batch prepared against the snapshot of version `version`. */
export interface PreparedBatch {
  version: number;
  chunks: PreparedChunk[];
  /** Events in the chunks. */
  events: number;
  /** Newest event time, Unix milliseconds (null when no event). */
  lastEventMs: number | null;
  /** True when some event has a sample rate other than 1. */
  hasSampling: boolean;
  /** The same events as objects, in the same order: used when the dataset's columns changed since the snapshot. */
  materialize(): IncomingEvent[];
}

/** Optional capability of an event store: taking prepared batches. */
export interface PreparedIngest {
  /** The dataset's columns now, or undefined when the dataset does not exist. */
  snapshot(dataset: string): DatasetSnapshot | undefined;
  /** Stores a prepared batch; resolves after commit with one outcome per event. */
  ingestPrepared(dataset: string, batch: PreparedBatch): Promise<import('../types.js').IngestOutcome[]>;
}
