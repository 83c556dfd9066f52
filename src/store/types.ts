/**
 * The storage interfaces. The embedded server uses DuckDB; the same interfaces
 * will be implemented over ClickHouse (events) and PostgreSQL (control data).
 */
import type { QueryResult, QuerySpec } from '../query/spec.js';

/** The logical type of a column (Honeycomb's names). */
export type ColumnType = 'string' | 'integer' | 'float' | 'boolean';

export interface ColumnInfo {
  name: string;
  type: ColumnType;
  /** Unix milliseconds when the column was first seen. */
  created_at?: number;
}

export interface DatasetInfo {
  name: string;
  /** Weighted-free row count (stored events). */
  rows: number;
  columns: number;
  /** ISO-8601 of the newest event, if any. */
  last_event_time?: string | null;
}

export interface DatasetSchema {
  dataset: string;
  columns: ColumnInfo[];
  /** True when some stored event has a sample rate other than 1 (weighted percentiles needed). */
  hasSampling: boolean;
}

/** One event ready to store: already validated JSON object, resolved time and sample rate. */
export interface IncomingEvent {
  /** Unix milliseconds. */
  time: number;
  samplerate: number;
  data: Record<string, unknown>;
}

/** Per-event outcome of an ingest call, in input order. */
export type IngestOutcome = { status: 202 } | { status: 400; error: string };

export interface EventStore {
  listDatasets(): Promise<DatasetInfo[]>;
  getSchema(dataset: string): Promise<DatasetSchema | undefined>;
  /**
   * Stores events; resolves only after they are committed. Events that cannot
   * be stored (e.g. too many columns) get a 400 outcome; the rest are stored.
   */
  ingest(dataset: string, events: IncomingEvent[]): Promise<IngestOutcome[]>;
  /** Runs a validated query spec; throws FlagscopeError for unknown dataset/columns. */
  query(dataset: string, spec: QuerySpec, now: number): Promise<QueryResult>;
  close(): Promise<void>;
}
