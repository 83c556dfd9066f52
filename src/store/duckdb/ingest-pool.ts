/**
 * A small pool of worker threads that scan batch bodies into column buffers
 * (src/store/duckdb/batch-scanner.ts), so that parsing a batch and laying it out
 * for DuckDB runs beside the main thread instead of on it. Bodies and column
 * buffers are transferred, not copied. A worker that dies is replaced and its
 * jobs fail with `server_error`; nothing is stored for them.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FlagscopeError } from '../../errors.js';
import type { OtlpEncoding } from '../../ingest/otlp/decode.js';
import type { FlatOtlp } from '../otlp-objects.js';
import type { DatasetSnapshot } from './prepared.js';
import { transferablesOfScan, type ScanResult } from './batch-scanner.js';

/** What a worker is asked to do: scan a body, flatten an OTLP export, or take back column buffers for reuse. */
export type WorkerMessage = ScanJob | OtlpJob | { kind: 'recycle'; buffers: ArrayBuffer[] };

/** Decode and flatten an OTLP trace export down to each dataset's batch body (src/store/otlp-objects.ts). */
export interface OtlpJob {
  kind: 'otlp';
  id: number;
  /** The request body in shared memory, or a copy (the caller keeps its own, to fall back on). */
  body: Uint8Array;
  encoding: OtlpEncoding;
  fallbackDataset: string;
  now: number;
  maxEventBytes: number;
  /**
   * The current column snapshot version of datasets the export is likely to hold (its datasets
   * laid out against them); the snapshot itself only when this worker has not seen that version.
   */
  snapshots: Array<{ dataset: string; version: number; snapshot: DatasetSnapshot | undefined }>;
}

/** A worker's answer to an {@link OtlpJob}: the flattened export, or why the worker could not make it. */
export interface OtlpReply {
  id: number;
  otlp: FlatOtlp<PreparedScan> | undefined;
  failure: string | undefined;
  /** Set by the pool: which worker answered (to send the buffers back to). */
  worker?: number;
}

/** A dataset of an export laid out in a worker. */
export type PreparedScan = Extract<ScanResult, { kind: 'prepared' }>;

export interface ScanJob {
  kind: 'scan';
  id: number;
  dataset: string;
  /** The snapshot version to scan against; the snapshot itself only when this worker has not seen it. */
  version: number;
  snapshot: DatasetSnapshot | undefined;
  body: Uint8Array;
  now: number;
  maxEventBytes: number;
}

/** A worker's answer; `body` comes back with it. */
export interface ScanReply {
  id: number;
  result: ScanResult;
  body: Uint8Array;
  /** Set by the pool: which worker answered (to send the buffers back to). */
  worker?: number;
}

interface PoolWorker {
  worker: Worker;
  /** Distinguishes this worker from the one it may replace. */
  generation: number;
  /** Snapshot version each dataset was last sent to this worker with. */
  sent: Map<string, number>;
  pending: Map<number, { resolve: (reply: ScanReply & OtlpReply) => void; reject: (error: unknown) => void }>;
}

/**
 * The compiled worker script. Under the test runner this module runs from `src/` as
 * TypeScript, which a worker thread cannot load, so it uses the build in `dist/`.
 */
function workerScript(): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts') ? new URL('../../../dist/store/duckdb/ingest-worker.js', here) : new URL('./ingest-worker.js', here);
}

/** Bytes of request bodies kept for reuse in shared memory. */
const SHARED_BODY_BYTES = 64 * 1024 * 1024;
/** Body buffers are kept in sizes of whole multiples of this. */
const BODY_SIZE_STEP = 64 * 1024;

/**
 * Request bodies in shared memory, reused from one request to the next: a worker reads a
 * body where the main thread wrote it (nothing copied or transferred), and a steady stream
 * of batches stops allocating (fresh buffers of megabytes made V8 collect garbage often).
 */
class SharedBodies {
  private readonly free = new Map<number, SharedArrayBuffer[]>();
  private bytes = 0;

  take(bytes: number): Buffer {
    const size = Math.ceil(bytes / BODY_SIZE_STEP) * BODY_SIZE_STEP;
    const reused = this.free.get(size)?.pop();
    if (reused !== undefined) this.bytes -= size;
    return Buffer.from(reused ?? new SharedArrayBuffer(size), 0, bytes);
  }

  give(body: Uint8Array): void {
    const buffer = body.buffer;
    if (!(buffer instanceof SharedArrayBuffer) || this.bytes + buffer.byteLength > SHARED_BODY_BYTES) return;
    let list = this.free.get(buffer.byteLength);
    if (list === undefined) this.free.set(buffer.byteLength, (list = []));
    list.push(buffer);
    this.bytes += buffer.byteLength;
  }
}

export class IngestPool {
  private readonly bodies = new SharedBodies();
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;
  private nextGeneration = 1;
  private closed = false;
  private readonly script: URL;
  private readonly log: (line: string) => void;

  private constructor(size: number, script: URL, log: (line: string) => void) {
    this.script = script;
    this.log = log;
    for (let i = 0; i < size; i++) this.workers.push(this.spawn());
  }

  /** A pool of `size` workers, or undefined when `size` is 0 or the worker script is missing. */
  static create(size: number, log: (line: string) => void = () => undefined): IngestPool | undefined {
    if (size <= 0) return undefined;
    const script = workerScript();
    if (!existsSync(fileURLToPath(script))) {
      log(`ingest workers disabled: ${fileURLToPath(script)} is missing (run npm run build)`);
      return undefined;
    }
    return new IngestPool(size, script, log);
  }

  get size(): number {
    return this.workers.length;
  }

  /** A buffer of `bytes` bytes in shared memory to read a request body into; give it back with {@link releaseBody}. */
  takeBody(bytes: number): Buffer {
    return this.bodies.take(bytes);
  }

  /** Returns a body from {@link takeBody} for reuse, once nothing reads it any more (other bodies are ignored). */
  releaseBody(body: Uint8Array): void {
    this.bodies.give(body);
  }

  private spawn(): PoolWorker {
    const entry: PoolWorker = { worker: new Worker(this.script), generation: this.nextGeneration++, sent: new Map(), pending: new Map() };
    const fail = (cause: unknown): void => {
      const index = this.workers.indexOf(entry);
      const reason = cause instanceof Error ? cause.message : String(cause);
      const error = new FlagscopeError(
        'server_error',
        `an ingest worker stopped while scanning the batch (${reason})`,
        'send the batch again',
        { cause },
      );
      for (const { reject } of entry.pending.values()) reject(error);
      entry.pending.clear();
      if (index >= 0 && !this.closed) {
        this.log(`ingest worker stopped (${reason}); starting another`);
        this.workers[index] = this.spawn();
      }
    };
    entry.worker.on('message', (reply: ScanReply & OtlpReply) => {
      const waiting = entry.pending.get(reply.id);
      if (waiting === undefined) return;
      entry.pending.delete(reply.id);
      reply.worker = entry.generation;
      waiting.resolve(reply);
    });
    entry.worker.on('error', (error) => fail(error));
    entry.worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`exit code ${code}`));
    });
    // Idle workers must not keep the process alive.
    entry.worker.unref();
    return entry;
  }

  /**
   * Scans `body` against `snapshot` in the least busy worker. `body` is handed
   * over to the worker (the caller's buffer is emptied) and comes back in the reply.
   */
  scan(dataset: string, snapshot: DatasetSnapshot, body: Uint8Array, now: number, maxEventBytes: number): Promise<ScanReply> {
    if (this.closed)
      return Promise.reject(new FlagscopeError('server_error', 'the server is shutting down', 'retry against the restarted server'));
    const entry = this.leastBusy();
    // A body in shared memory is read in place; any other is transferred, which needs a buffer
    // of its own (not a slice of Node's shared pool).
    const shared = body.buffer instanceof SharedArrayBuffer;
    const own = shared || (body.byteOffset === 0 && body.buffer.byteLength === body.byteLength) ? body : new Uint8Array(body);
    const sendSnapshot = entry.sent.get(dataset) !== snapshot.version;
    if (sendSnapshot) entry.sent.set(dataset, snapshot.version);
    const job: ScanJob = {
      kind: 'scan',
      id: this.nextId++,
      dataset,
      version: snapshot.version,
      snapshot: sendSnapshot ? snapshot : undefined,
      body: own,
      now,
      maxEventBytes,
    };
    return new Promise<ScanReply>((resolve, reject) => {
      entry.pending.set(job.id, { resolve, reject });
      entry.worker.ref();
      entry.worker.postMessage(job, shared ? [] : [own.buffer as ArrayBuffer]);
    }).finally(() => {
      if (entry.pending.size === 0) entry.worker.unref();
    });
  }

  /**
   * Decodes and flattens an OTLP export in the least busy worker, down to each dataset's batch
   * body. The worker reads a copy of `body`; the caller's stays as it is.
   */
  flattenOtlp(
    body: Uint8Array,
    options: { encoding: OtlpEncoding; fallbackDataset: string; now: number; maxEventBytes: number },
    snapshots: readonly DatasetSnapshot[],
  ): Promise<OtlpReply> {
    if (this.closed)
      return Promise.reject(new FlagscopeError('server_error', 'the server is shutting down', 'retry against the restarted server'));
    const entry = this.leastBusy();
    // A body in shared memory is read in place; any other is copied into a buffer of its own and
    // transferred (cloning a view clones the whole buffer under it). The caller keeps its body either way.
    const shared = body.buffer instanceof SharedArrayBuffer;
    const own = shared ? body : new Uint8Array(body);
    const versions = snapshots.map((snapshot) => {
      const send = entry.sent.get(snapshot.dataset) !== snapshot.version;
      if (send) entry.sent.set(snapshot.dataset, snapshot.version);
      return { dataset: snapshot.dataset, version: snapshot.version, snapshot: send ? snapshot : undefined };
    });
    const { encoding, fallbackDataset, now, maxEventBytes } = options;
    const job: OtlpJob = { kind: 'otlp', id: this.nextId++, body: own, encoding, fallbackDataset, now, maxEventBytes, snapshots: versions };
    return new Promise<OtlpReply>((resolve, reject) => {
      entry.pending.set(job.id, { resolve, reject });
      entry.worker.ref();
      entry.worker.postMessage(job, shared ? [] : [own.buffer as ArrayBuffer]);
    }).finally(() => {
      if (entry.pending.size === 0) entry.worker.unref();
    });
  }

  private leastBusy(): PoolWorker {
    let entry = this.workers[0]!;
    for (const candidate of this.workers) if (candidate.pending.size < entry.pending.size) entry = candidate;
    return entry;
  }

  /**
   * Gives the column buffers of a scan back to the worker that made them, once they are no
   * longer read (after the append), so that it can reuse them. They are transferred: the
   * caller's views become empty.
   */
  recycle(reply: ScanReply): void {
    const entry = this.workers.find((candidate) => candidate.generation === reply.worker);
    if (entry === undefined || this.closed) return;
    const buffers = transferablesOfScan(reply.result);
    if (buffers.length > 0) entry.worker.postMessage({ kind: 'recycle', buffers } satisfies WorkerMessage, buffers);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new FlagscopeError('server_error', 'the server is shutting down', 'retry against the restarted server');
    for (const entry of this.workers) {
      for (const { reject } of entry.pending.values()) reject(error);
      entry.pending.clear();
    }
    await Promise.all(this.workers.map((entry) => entry.worker.terminate()));
  }
}
