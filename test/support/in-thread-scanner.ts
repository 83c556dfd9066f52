/**
 * A body scanner for tests of the DuckDB store's batch path: `scanBatch` in the test's own thread
 * (no worker, no build needed), on a copy of the body as an ingest worker scans it, answering in
 * a microtask. It counts what it prepared and why it fell back, and can be told to scan the next
 * body against an older snapshot, as a worker does when the columns change while it scans.
 */
import type { BodyScanner } from '../../src/store/duckdb/batch-ingest.js';
import { scanBatch, scanSchemaOf, type ScanResult, type ScanSchema } from '../../src/store/duckdb/batch-scanner.js';
import type { OtlpEncoding } from '../../src/ingest/otlp/decode.js';
import { scanEvents } from '../../src/store/duckdb/event-scanner.js';
import type { OtlpReply, PreparedScan, ScanReply } from '../../src/store/duckdb/ingest-pool.js';
import type { IncomingEvent } from '../../src/store/types.js';
import { flattenOtlpBody } from '../../src/store/otlp-objects.js';
import type { DatasetSnapshot } from '../../src/store/duckdb/prepared.js';

/** What a scanner saw. */
export interface ScanCounters {
  /** Bodies scanned into chunks. */
  prepared: number;
  /** Bodies left to the object path, and why (`reasons`). */
  fallback: number;
  reasons: Map<string, number>;
  /** Prepared batches the store had to store the object way; counted by a test that watches `ingestPrepared`. */
  materialized: number;
}

/** Pass it as `openEventStore({ bodyScanner })`; the scan schema is kept while its version holds. */
export class InThreadScanner implements BodyScanner {
  readonly counters: ScanCounters = { prepared: 0, fallback: 0, materialized: 0, reasons: new Map() };
  /** The result of the latest scan. */
  last: ScanResult | undefined;
  /** Each dataset's scan schema (as a worker keeps them). */
  private readonly cached = new Map<string, ScanSchema>();
  private stale: DatasetSnapshot | undefined;

  scanNextAgainst(snapshot: DatasetSnapshot): void {
    this.stale = snapshot;
  }

  scan(dataset: string, current: DatasetSnapshot, body: Uint8Array, now: number, maxEventBytes: number): Promise<ScanReply> {
    const snapshot = this.stale ?? current;
    this.stale = undefined;
    let schema = this.cached.get(dataset);
    if (schema === undefined || schema.version !== snapshot.version) this.cached.set(dataset, (schema = scanSchemaOf(snapshot)));
    // The worker gets its own copy of the body: the scan must not depend on the caller's buffer.
    const own = new Uint8Array(body);
    const result = scanBatch(own, schema, { now, maxEventBytes });
    this.last = result;
    if (result.kind === 'prepared') this.counters.prepared++;
    else {
      this.counters.fallback++;
      this.counters.reasons.set(result.reason, (this.counters.reasons.get(result.reason) ?? 0) + 1);
    }
    return Promise.resolve({ id: 0, result, body: own });
  }

  private otlpStale: readonly DatasetSnapshot[] | undefined;

  /** Lays out the next OTLP export against these snapshots, as a worker does when the columns change meanwhile. */
  flattenNextAgainst(snapshots: readonly DatasetSnapshot[]): void {
    this.otlpStale = snapshots;
  }

  /** OTLP exports flattened here, as a worker does: on a copy of the body. */
  flattened = 0;
  /** Datasets of OTLP exports laid out here in column buffers (not written as batch bodies). */
  laidOut = 0;

  flattenOtlp(
    body: Uint8Array,
    options: { encoding: OtlpEncoding; fallbackDataset: string; now: number; maxEventBytes: number },
    snapshots: readonly DatasetSnapshot[],
  ): Promise<OtlpReply> {
    this.flattened++;
    const against = this.otlpStale ?? snapshots;
    this.otlpStale = undefined;
    const prepare = (dataset: string, events: IncomingEvent[]): PreparedScan | undefined => {
      const snapshot = against.find((candidate) => candidate.dataset === dataset);
      if (snapshot === undefined) return undefined;
      const result = scanEvents(events, scanSchemaOf(snapshot), { now: options.now, maxEventBytes: options.maxEventBytes });
      if (result.kind !== 'prepared') return undefined;
      this.laidOut++;
      return result;
    };
    const copy = Buffer.from(new Uint8Array(body));
    const otlp = flattenOtlpBody(copy, options.encoding, options.fallbackDataset, options.now, prepare);
    return Promise.resolve({ id: 0, otlp, failure: undefined });
  }

  takeBody(bytes: number): Buffer {
    return Buffer.allocUnsafe(bytes);
  }

  releaseBody(): void {}

  recycle(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}
