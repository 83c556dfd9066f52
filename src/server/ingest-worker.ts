/**
 * An ingest worker thread: scans batch bodies into column buffers
 * (batch-scanner.ts) so the server's main thread only appends them. Started by
 * {@link IngestPool}; keeps the latest column snapshot of each dataset it saw.
 */
import { parentPort } from 'node:worker_threads';
import { scanBatch, scanSchemaOf, transferablesOfScan, type ScanResult, type ScanSchema } from './batch-scanner.js';
import type { ScanJob, ScanReply } from './ingest-pool.js';

/** Datasets remembered at most; past it the cache starts over (snapshots are sent again when needed). */
const MAX_SCHEMAS = 1000;

const schemas = new Map<string, ScanSchema>();

parentPort!.on('message', (job: ScanJob) => {
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
        : scanBatch(job.body, schema, { now: job.now, maxEventBytes: job.maxEventBytes });
  } catch (error) {
    result = { kind: 'fallback', reason: `scanner failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  const reply: ScanReply = { id: job.id, result, body: job.body };
  parentPort!.postMessage(reply, [job.body.buffer as ArrayBuffer, ...transferablesOfScan(result)]);
});
