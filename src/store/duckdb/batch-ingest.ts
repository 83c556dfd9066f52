/**
 * The DuckDB store's way with a batch body (`EventStore.ingestBatchBody`): a large body for a
 * dataset that exists is scanned in an ingest worker into DuckDB data chunks against a snapshot
 * of the dataset's columns and appended as it is (`ingestPrepared`); any other body takes the
 * object path (src/store/batch-objects.ts). Owns the worker pool and the shared-memory buffers
 * bodies are read into, so nothing above the store knows of them (docs/storage.md).
 */
import { invalidInput } from '../../errors.js';
import { eventProblem } from '../../ingest/value-rules.js';
import { acceptedEvents, decodeBatchBody, mergeOutcomes, withWarning } from '../../ingest/honeycomb.js';
import type { OtlpEncoding } from '../../ingest/otlp/decode.js';
import { ingestBatchAsObjects } from '../batch-objects.js';
import { datasetBatchBody, type FlatDataset, ingestOtlpOnThread, otlpOutcomeOf, sizeChecked, spansOfFlat } from '../otlp-objects.js';
import type { BatchBodyOptions, EventStore, IncomingEvent, IngestOutcome, OtlpTraceOptions, OtlpTraceOutcome } from '../types.js';
import { IngestPool, type OtlpReply, type PreparedScan, type ScanReply } from './ingest-pool.js';
import type { DatasetSnapshot, PreparedIngest } from './prepared.js';

/** Default of {@link BatchIngestOptions.ingestWorkerMinBytes}. */
export const DEFAULT_INGEST_WORKER_MIN_BYTES = 16 * 1024;

/** What scans batch bodies into data chunks: the {@link IngestPool} of worker threads (or a test's own). */
export interface BodyScanner {
  /** A buffer of `bytes` bytes to read a body into (shared memory, so a worker reads it in place). */
  takeBody(bytes: number): Buffer;
  releaseBody(body: Uint8Array): void;
  /** Scans `body` against `snapshot`; the reply carries the body back. */
  scan(dataset: string, snapshot: DatasetSnapshot, body: Uint8Array, now: number, maxEventBytes: number): Promise<ScanReply>;
  /** Takes back a reply's column buffers once they are appended. */
  recycle(reply: ScanReply): void;
  /**
   * Decodes and flattens an OTLP export, laying out each dataset of `snapshots` (their current
   * columns) in column buffers, any other as its batch body; without it, the store does all that
   * on its thread.
   */
  flattenOtlp?(
    body: Uint8Array,
    options: { encoding: OtlpEncoding; fallbackDataset: string; now: number; maxEventBytes: number },
    snapshots: readonly DatasetSnapshot[],
  ): Promise<OtlpReply>;
  close(): Promise<void>;
}

/** How a store scans batch bodies beside its thread. */
export interface BatchIngestOptions {
  /** Worker threads that scan batch bodies; 0 (the default) parses every batch on the calling thread. */
  ingestWorkers?: number;
  /** Batch bodies smaller than this are parsed on the calling thread (a worker round trip would cost more). Default 16 KiB. */
  ingestWorkerMinBytes?: number;
  /** Receives a line when a worker fails or stops. Default: nowhere. */
  log?: (line: string) => void;
  /** @internal a scanner to use instead of a pool of `ingestWorkers` (tests); closed with the store. */
  bodyScanner?: BodyScanner;
}

/** What the batch path needs of the store: the object path, the batch path (for OTLP on the thread) and the prepared path. */
export type BatchTarget = Pick<EventStore, 'ingest' | 'ingestBatchBody' | 'takeBatchBody' | 'releaseBatchBody'> & PreparedIngest;

/** One dataset of an OTLP export, ready to store: its events, how to store them, and what to do after. */
interface OtlpPlan {
  events: number;
  store(): Promise<IngestOutcome[]>;
  /** Called once the store has them (or failed): gives scanned buffers back. */
  done(): void;
}

const EMPTY_BODY = new Uint8Array(0);

/** OTLP datasets remembered, at most, to have a worker lay out their next exports against their columns. */
const MAX_OTLP_DATASETS = 64;

/** The batch-body path of one DuckDB event store, with its ingest workers. */
export class BatchBodyIngest {
  private readonly store: BatchTarget;
  /** Datasets of recent OTLP exports, oldest first. */
  private readonly otlpDatasets = new Set<string>();
  private readonly scanner: BodyScanner | undefined;
  private readonly minBytes: number;
  private readonly log: (line: string) => void;

  constructor(store: BatchTarget, options: BatchIngestOptions = {}) {
    this.store = store;
    this.log = options.log ?? (() => undefined);
    this.minBytes = options.ingestWorkerMinBytes ?? DEFAULT_INGEST_WORKER_MIN_BYTES;
    this.scanner = options.bodyScanner ?? IngestPool.create(options.ingestWorkers ?? 0, this.log);
  }

  /** A shared-memory buffer for a body a worker will scan, or undefined when no worker would. */
  takeBody(bytes: number): Buffer | undefined {
    return this.scanner !== undefined && bytes >= this.minBytes ? this.scanner.takeBody(bytes) : undefined;
  }

  /** Takes back a body from {@link takeBody} for reuse (other buffers are ignored). */
  releaseBody(body: Buffer): void {
    this.scanner?.releaseBody(body);
  }

  /** Stores a batch body and resolves with one outcome per item (see `EventStore.ingestBatchBody`). */
  async ingest(dataset: string, original: Buffer, options: BatchBodyOptions): Promise<IngestOutcome[]> {
    const scanner = this.scanner;
    const reply = scanner === undefined ? undefined : await this.scanInWorker(scanner, dataset, original, options);
    if (scanner === undefined || reply === undefined) return ingestBatchAsObjects(this.store, dataset, original, options);
    // A transferred body came back with the reply; a shared one never left.
    const body = Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength);
    if (reply.result.kind !== 'prepared') return ingestBatchAsObjects(this.store, dataset, body, options);
    try {
      return await this.storePrepared(dataset, reply.result, body, options);
    } finally {
      scanner.recycle(reply);
    }
  }

  /**
   * Scans a large batch body in an ingest worker against the dataset's columns, or returns
   * undefined to leave it to the object path: a small body, an unknown dataset, or a worker that
   * failed while the body is still at hand (in shared memory; a transferred one is gone with the
   * worker, and that request fails with `server_error`).
   */
  private async scanInWorker(
    scanner: BodyScanner,
    dataset: string,
    body: Buffer,
    options: BatchBodyOptions,
  ): Promise<ScanReply | undefined> {
    if (body.length < this.minBytes) return undefined;
    const snapshot = this.store.snapshot(dataset);
    if (snapshot === undefined) return undefined;
    try {
      return await scanner.scan(dataset, snapshot, body, options.now, options.maxEventBytes);
    } catch (error) {
      if (!(body.buffer instanceof SharedArrayBuffer)) throw error;
      this.log(`ingest worker failed (${error instanceof Error ? error.message : String(error)}); parsing the batch on the main thread`);
      return undefined;
    }
  }

  /**
   * Stores an OTLP export (`EventStore.ingestOtlpTraces`). With workers, a large body is decoded
   * and flattened in one, down to each dataset's batch body, which is then scanned like a
   * `/1/batch` body: the main thread only admits and appends. Every dataset is scanned first and
   * admitted together, then all are queued in the same turn. Without workers, a small body, or a
   * worker that failed: {@link ingestOtlpOnThread}.
   */
  async ingestOtlp(body: Buffer, options: OtlpTraceOptions): Promise<OtlpTraceOutcome> {
    const scanner = this.scanner;
    const reply =
      scanner?.flattenOtlp === undefined || body.length < this.minBytes ? undefined : await this.flattenInWorker(scanner, body, options);
    if (scanner === undefined || reply?.otlp === undefined) return ingestOtlpOnThread(this.store, body, options);
    const flat = reply.otlp;
    if (flat.kind === 'invalid') throw invalidInput(flat.message, flat.hint, flat.details);
    for (const { dataset } of flat.datasets) this.rememberOtlpDataset(dataset);
    const plans = await Promise.all(flat.datasets.map((dataset) => this.planOtlp(scanner, reply, dataset, body, options)));
    let results: PromiseSettledResult<IngestOutcome[]>[];
    try {
      let total = 0;
      for (const plan of plans) total += plan.events;
      if (plans.length > 0) options.admit(total);
      results = await Promise.allSettled(plans.map((plan) => plan.store()));
    } finally {
      for (const plan of plans) plan.done();
    }
    const stored = results.map((result) => {
      if (result.status === 'rejected') throw result.reason;
      return result.value;
    });
    return otlpOutcomeOf(flat.rejected, flat.datasets.map(spansOfFlat), stored);
  }

  private rememberOtlpDataset(dataset: string): void {
    this.otlpDatasets.delete(dataset);
    this.otlpDatasets.add(dataset);
    if (this.otlpDatasets.size > MAX_OTLP_DATASETS) this.otlpDatasets.delete(this.otlpDatasets.values().next().value as string);
  }

  private async flattenInWorker(scanner: BodyScanner, body: Buffer, options: OtlpTraceOptions): Promise<OtlpReply | undefined> {
    const snapshots: DatasetSnapshot[] = [];
    for (const dataset of this.otlpDatasets) {
      const snapshot = this.store.snapshot(dataset);
      if (snapshot !== undefined) snapshots.push(snapshot);
    }
    try {
      const reply = await scanner.flattenOtlp?.(body, options, snapshots);
      if (reply?.failure !== undefined)
        this.log(`ingest worker could not flatten an OTLP export (${reply.failure}); doing it on the main thread`);
      return reply;
    } catch (error) {
      this.log(
        `ingest worker failed (${error instanceof Error ? error.message : String(error)}); flattening the OTLP export on the main thread`,
      );
      return undefined;
    }
  }

  /**
   * One dataset of a flattened export: laid out by the worker already, or its batch body scanned
   * into chunks when that pays, else its events as objects.
   */
  private async planOtlp(
    scanner: BodyScanner,
    answer: OtlpReply,
    flat: FlatDataset<PreparedScan>,
    original: Buffer,
    options: OtlpTraceOptions,
  ): Promise<OtlpPlan> {
    const nothing = (): void => undefined;
    const laidOut = flat.prepared;
    if (laidOut !== undefined) {
      // Should the columns change before the append, the store takes the events as objects: from this body flattened again.
      const bodyOf = (): Buffer => datasetBatchBody(original, options.encoding, options.fallbackDataset, options.now, flat.dataset);
      const recycle = (): void => scanner.recycle({ id: answer.id, result: laidOut, body: EMPTY_BODY, worker: answer.worker });
      return { events: laidOut.events, store: () => this.enqueuePrepared(flat.dataset, laidOut, bodyOf, options), done: recycle };
    }
    if (flat.text === undefined) {
      const [checked] = sizeChecked([{ dataset: flat.dataset, events: flat.events ?? [] }], options.maxEventBytes);
      const events = checked?.events ?? [];
      const store = async (): Promise<IngestOutcome[]> =>
        checked?.outcomes(events.length > 0 ? await this.store.ingest(flat.dataset, events) : []) ?? [];
      return { events: events.length, store, done: nothing };
    }
    const text = Buffer.from(flat.text.buffer, flat.text.byteOffset, flat.text.byteLength);
    const reply = await this.scanInWorker(scanner, flat.dataset, text, options);
    const body = reply === undefined ? text : Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength);
    if (reply === undefined || reply.result.kind !== 'prepared') {
      const items = decodeBatchBody(body, options.maxEventBytes, options.now);
      const events = acceptedEvents(items);
      const store = async (): Promise<IngestOutcome[]> =>
        mergeOutcomes(items, events.length > 0 ? await this.store.ingest(flat.dataset, events) : []);
      return { events: events.length, store, done: nothing };
    }
    const scan = reply.result;
    return {
      events: scan.events,
      store: () => this.enqueuePrepared(flat.dataset, scan, () => body, options),
      done: () => scanner.recycle(reply),
    };
  }

  /** Stores a batch a worker scanned, and answers for every item in order. */
  private storePrepared(dataset: string, scan: PreparedScan, body: Buffer, options: BatchBodyOptions): Promise<IngestOutcome[]> {
    options.admit(scan.events);
    return this.enqueuePrepared(dataset, scan, () => body, options);
  }

  /** Queues a batch a worker scanned (already admitted), and answers for every item in order. */
  private async enqueuePrepared(
    dataset: string,
    scan: PreparedScan,
    bodyOf: () => Buffer,
    options: Pick<BatchBodyOptions, 'maxEventBytes' | 'now'>,
  ): Promise<IngestOutcome[]> {
    // The object path's events for the same body, for when the dataset's columns changed meanwhile.
    const materialize = (): IncomingEvent[] => {
      const events: IncomingEvent[] = [];
      for (const item of decodeBatchBody(bodyOf(), options.maxEventBytes, options.now)) {
        if (item.ok && eventProblem(item.event) === undefined) events.push(item.event);
      }
      if (events.length !== scan.events) throw new Error(`the batch holds ${events.length} events, its scan ${scan.events}`);
      return events;
    };
    const stored =
      scan.events > 0
        ? await this.store.ingestPrepared(dataset, {
            version: scan.version,
            chunks: scan.chunks,
            events: scan.events,
            lastEventMs: scan.lastEventMs,
            hasSampling: scan.hasSampling,
            materialize,
          })
        : [];
    return outcomesOfScan(scan, stored);
  }

  /** Stops the workers (a scan in flight fails with `server_error`). */
  close(): Promise<void> {
    return this.scanner?.close() ?? Promise.resolve();
  }
}

/** Puts the store's outcomes for the scanned events back among the items the scan refused, in request order. */
export function outcomesOfScan(scan: PreparedScan, stored: IngestOutcome[]): IngestOutcome[] {
  const outcomes: IngestOutcome[] = new Array(scan.items);
  let next = 0;
  let rejected = 0;
  let warned = 0;
  for (let index = 0; index < scan.items; index++) {
    const refusal = scan.rejected[rejected];
    if (refusal !== undefined && refusal[0] === index) {
      outcomes[index] = { status: 400, error: refusal[1] };
      rejected++;
    } else {
      const outcome = stored[next++] ?? { status: 400, error: 'event was not stored' };
      const warning = scan.warnings[warned];
      if (warning !== undefined && warning[0] === index) {
        outcomes[index] = withWarning(outcome, warning[1]);
        warned++;
      } else outcomes[index] = outcome;
    }
  }
  return outcomes;
}
