/**
 * An ingest worker thread: scans batch bodies into column buffers
 * (batch-scanner.ts) so the server's main thread only appends them. Started by
 * {@link IngestPool}; keeps the latest column snapshot of each dataset it saw.
 */
import { parentPort } from 'node:worker_threads';
import type { IncomingEvent } from '../types.js';
import { RecycledBuffers } from './column-builder.js';
import { scanBatch, scanSchemaOf, transferablesOfScan, type ScanResult, type ScanSchema } from './batch-scanner.js';
import { flattenOtlpBody } from '../otlp-objects.js';
import { scanEvents } from './event-scanner.js';
import type { OtlpJob, OtlpReply, PreparedScan, ScanReply, WorkerMessage } from './ingest-pool.js';

/** Datasets remembered at most; past it the cache starts over (snapshots are sent again when needed). */
const MAX_SCHEMAS = 1000;

/** Column buffers the main thread sent back after appending them. */
const RECYCLED_BYTES = 64 * 1024 * 1024;

const schemas = new Map<string, ScanSchema>();
const buffers = new RecycledBuffers(RECYCLED_BYTES);

parentPort!.on('message', (message: WorkerMessage) => {
  if (message.kind === 'recycle') {
    for (const buffer of message.buffers) buffers.give(buffer);
    return;
  }
  if (message.kind === 'otlp') {
    flattenOtlp(message);
    return;
  }
  const job = message;
  let result: ScanResult;
  try {
    if (job.snapshot !== undefined) {
      if (schemas.size >= MAX_SCHEMAS) schemas.clear();
      schemas.set(job.dataset, scanSchemaOf(job.snapshot));
    }
    const schema = schemas.get(job.dataset);
    result =
      schema === undefined || schema.version !== job.version
        ? { kind: 'fallback', reason: 'no column snapshot for this version' }
        : scanBatch(job.body, schema, { now: job.now, maxEventBytes: job.maxEventBytes, buffers });
  } catch (error) {
    result = { kind: 'fallback', reason: `scanner failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  const reply: ScanReply = { id: job.id, result, body: job.body };
  // A body in shared memory stays where it is; a transferred one goes back.
  const body = job.body.buffer instanceof SharedArrayBuffer ? [] : [job.body.buffer];
  parentPort!.postMessage(reply, [...body, ...transferablesOfScan(result)]);
});

/**
 * Decodes and flattens an OTLP export; lays out each dataset whose current columns it knows in
 * column buffers, else writes its batch body. Buffers are transferred back, not copied.
 */
function flattenOtlp(job: OtlpJob): void {
  const current = new Map<string, number>();
  for (const { dataset, version, snapshot } of job.snapshots) {
    current.set(dataset, version);
    if (snapshot === undefined) continue;
    if (schemas.size >= MAX_SCHEMAS) schemas.clear();
    schemas.set(dataset, scanSchemaOf(snapshot));
  }
  const prepare = (dataset: string, events: IncomingEvent[]): PreparedScan | undefined => {
    const schema = schemas.get(dataset);
    if (schema === undefined || schema.version !== current.get(dataset)) return undefined;
    const result = scanEvents(events, schema, { now: job.now, maxEventBytes: job.maxEventBytes, buffers });
    return result.kind === 'prepared' ? result : undefined;
  };
  let reply: OtlpReply;
  try {
    const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength);
    reply = { id: job.id, otlp: flattenOtlpBody(body, job.encoding, job.fallbackDataset, job.now, prepare), failure: undefined };
  } catch (error) {
    reply = { id: job.id, otlp: undefined, failure: error instanceof Error ? error.message : String(error) };
  }
  const transfer: ArrayBuffer[] = [];
  if (reply.otlp?.kind === 'flat') {
    for (const dataset of reply.otlp.datasets) {
      if (dataset.text !== undefined) transfer.push(dataset.text.buffer as ArrayBuffer);
      if (dataset.prepared !== undefined) transfer.push(...transferablesOfScan(dataset.prepared));
    }
  }
  parentPort!.postMessage(reply, transfer);
}
