/**
 * The ingest worker pool (src/store/duckdb/ingest-pool.ts) on its own: bodies in shared memory and
 * plain buffers, column buffers sent back for reuse, a worker that dies, and close(). The
 * workers load dist/store/duckdb/ingest-worker.js: run `npm run build` first.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../src/errors.js';
import { scanBatch, scanSchemaOf, type ScanResult } from '../../src/store/duckdb/batch-scanner.js';
import { IngestPool, type ScanReply } from '../../src/store/duckdb/ingest-pool.js';
import type { BuiltColumn } from '../../src/store/duckdb/column-builder.js';
import type { DatasetSnapshot } from '../../src/store/duckdb/prepared.js';
import { mulberry32 } from '../fixtures/random.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MAX_EVENT_BYTES = 4000;

const SNAPSHOT: DatasetSnapshot = {
  dataset: 'd',
  version: 7,
  types: ['string', 'integer', 'float', 'boolean', 'string'],
  fields: [
    ['s', 0],
    ['i', 1],
    ['f', 2],
    ['b', 3],
    ['t', 4],
  ],
};

/** A body of `count` items; `seed` varies the values (and which fields are null), not the size much. */
function body(count: number, seed: number): Buffer {
  const random = mulberry32(seed);
  const items = Array.from({ length: count }, (_, n) => {
    const data: Record<string, unknown> = {
      s: random() < 0.2 ? null : `service number ${Math.floor(random() * 20)} of seed ${seed}`,
      i: random() < 0.2 ? null : Math.floor(random() * 2 ** 40) - 2 ** 39,
      f: random() < 0.2 ? null : random() * 1000,
      b: random() < 0.2 ? null : random() < 0.5,
      t: random() < 0.2 ? null : random() < 0.5 ? `short${n % 10}` : `a long, unique text ${n} ${random()}`,
    };
    return {
      data,
      ...(n % 17 === 0 ? { time: '2026-01-01T11:59:00.123Z' } : {}),
      ...(n % 29 === 0 ? { samplerate: 0 } : n % 13 === 0 ? { samplerate: 5 } : {}),
    };
  });
  return Buffer.from(JSON.stringify(items));
}

/** The scan of `bytes` in this thread, with new buffers: what a worker must answer. */
function localScan(bytes: Buffer): ScanResult {
  return scanBatch(new Uint8Array(bytes), scanSchemaOf({ ...SNAPSHOT, types: [...SNAPSHOT.types] }), {
    now: T0,
    maxEventBytes: MAX_EVENT_BYTES,
  });
}

type Cell = bigint | number | boolean | string | null;

/** The rows of a prepared scan, read from its buffers as DuckDB would (bigint for int64). */
function decodeRows(result: ScanResult): Cell[][] {
  expect(result.kind).toBe('prepared');
  if (result.kind !== 'prepared') return [];
  const rows: Cell[][] = [];
  for (const chunk of result.chunks) {
    const columns = chunk.columns.map((column) => (column === undefined ? new Array<Cell>(chunk.rows).fill(null) : decodeColumn(column)));
    for (let row = 0; row < chunk.rows; row++) rows.push(columns.map((cells) => cells[row]!));
  }
  return rows;
}

function decodeColumn(column: BuiltColumn): Cell[] {
  const long = new Map<number, number>();
  column.longRows.forEach((row, i) => long.set(row, i));
  const repeats = new Map<number, number>();
  column.repeatRows.forEach((row, i) => repeats.set(row, column.repeatSources[i]!));
  const text = (row: number): string => {
    const source = repeats.get(row);
    if (source !== undefined) return text(source);
    const index = long.get(row);
    if (index !== undefined)
      return Buffer.from(column.heap.subarray(column.heapOffsets[index]!, column.heapOffsets[index + 1]!)).toString();
    const slots = column.data as Uint8Array;
    const length = new DataView(slots.buffer, slots.byteOffset).getUint32(row * 16, true);
    return Buffer.from(slots.subarray(row * 16 + 4, row * 16 + 4 + length)).toString();
  };
  const cells: Cell[] = [];
  for (let row = 0; row < column.rows; row++) {
    if (column.validity !== undefined && (column.validity[row >>> 5]! & (1 << (row & 31))) === 0) cells.push(null);
    else if (column.kind === 'integer' || column.kind === 'timestamp') {
      const words = column.data as Int32Array;
      cells.push(BigInt.asIntN(64, (BigInt(words[row * 2 + 1]!) << 32n) | BigInt(words[row * 2]! >>> 0)));
    } else if (column.kind === 'float') cells.push((column.data as Float64Array)[row]!);
    else if (column.kind === 'boolean') cells.push((column.data as Uint8Array)[row] === 1);
    else cells.push(text(row));
  }
  return cells;
}

/** The pool's workers. Tests reach them to kill one, as nothing else can; the pool keeps them private. */
function workersOf(pool: IngestPool): Array<{ worker: import('node:worker_threads').Worker }> {
  return (pool as unknown as { workers: Array<{ worker: import('node:worker_threads').Worker }> }).workers;
}

async function expectServerError(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the scan was expected to fail').toBeInstanceOf(FlagscopeError);
  expect((error as FlagscopeError).code).toBe('server_error');
}

let pool: IngestPool | undefined;

afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

function create(size: number): IngestPool {
  expect(existsSync(fileURLToPath(new URL('../../dist/store/duckdb/ingest-worker.js', import.meta.url))), 'run npm run build first').toBe(
    true,
  );
  pool = IngestPool.create(size);
  expect(pool).toBeDefined();
  return pool!;
}

describe('IngestPool', () => {
  it('is not made for 0 workers (nor fewer)', () => {
    expect(IngestPool.create(0)).toBeUndefined();
    expect(IngestPool.create(-1)).toBeUndefined();
  });

  it('scans a body in takeBody memory and a plain Buffer alike', async () => {
    const pool = create(2);
    const bytes = body(1500, 1);
    const expected = localScan(bytes);
    expect(expected.kind).toBe('prepared');

    const shared = pool.takeBody(bytes.length);
    expect(shared.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(shared.length).toBe(bytes.length);
    bytes.copy(shared);
    const fromShared = await pool.scan('d', SNAPSHOT, shared, T0, MAX_EVENT_BYTES);
    expect(fromShared.result).toEqual(expected);
    // The worker read the body where it was: the reply's body is the same shared memory.
    expect(fromShared.body.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Buffer.from(fromShared.body).equals(bytes)).toBe(true);
    shared[0] = 0x20;
    expect(fromShared.body[0]).toBe(0x20);
    // Once released, the same memory serves the next body of that size.
    pool.releaseBody(fromShared.body);
    const next = pool.takeBody(bytes.length);
    expect(next.buffer).toBe(fromShared.body.buffer);

    const plain = Buffer.from(bytes);
    const fromPlain = await pool.scan('d', SNAPSHOT, plain, T0, MAX_EVENT_BYTES);
    expect(fromPlain.result).toEqual(expected);
    // A buffer of its own is transferred there and back: the caller's is emptied.
    expect(plain.buffer.byteLength).toBe(0);
    expect(Buffer.from(fromPlain.body).equals(bytes)).toBe(true);

    // A small Buffer from Node's shared pool is copied, not taken from the caller.
    const small = Buffer.from('[{"data":{"s":"x","i":1}}]');
    expect(small.buffer.byteLength).toBeGreaterThan(small.length);
    const fromSmall = await pool.scan('d', SNAPSHOT, small, T0, MAX_EVENT_BYTES);
    expect(decodeRows(fromSmall.result)).toEqual([[BigInt(T0) * 1000n, 1n, 'x', 1n, null, null, null]]);
    expect(small.toString()).toBe('[{"data":{"s":"x","i":1}}]');
  });

  it('after recycle(reply), scans give identical columns: reused buffers are clean', async () => {
    // One worker, so the recycled buffers go back to the worker that scans next.
    const pool = create(1);
    const bodies = [body(1200, 1), body(1200, 2), body(1200, 1), body(1200, 3), body(1200, 1)];
    let first: Cell[][] | undefined;
    for (const [round, bytes] of bodies.entries()) {
      const reply: ScanReply = await pool.scan('d', SNAPSHOT, Buffer.from(bytes), T0, MAX_EVENT_BYTES);
      const expected = localScan(bytes);
      const rows = decodeRows(reply.result);
      expect(rows, `round ${round}`).toEqual(decodeRows(expected));
      // Buffer for buffer, including rows that are NULL and bytes past the used heap.
      expect(reply.result, `round ${round}`).toEqual(expected);
      if (round === 0) first = rows;
      if (bytes === bodies[0]) expect(rows).toEqual(first);
      const column = reply.result.kind === 'prepared' ? reply.result.chunks[0]!.columns[2]! : undefined;
      pool.recycle(reply);
      // The buffers were transferred back to the worker.
      expect(column?.data.byteLength).toBe(0);
    }
  });

  it('when a worker dies, its pending scans fail with server_error and later scans use its replacement', async () => {
    const lines: string[] = [];
    pool = IngestPool.create(1, (line) => lines.push(line));
    expect(pool).toBeDefined();
    const big = body(15_000, 4);
    const before = workersOf(pool!)[0]!.worker;
    const pending = pool!.scan('d', SNAPSHOT, Buffer.from(big), T0, MAX_EVENT_BYTES);
    // Nothing in the pool's interface kills a worker; terminating it from outside stands for a
    // crash (an out-of-memory abort, a native fault), which the pool sees the same way: an exit.
    const terminated = before.terminate();
    // Sent to the dying worker before its exit is noticed: pending as well.
    const alsoPending = pool!.scan('d', SNAPSHOT, Buffer.from(big), T0, MAX_EVENT_BYTES);
    await Promise.all([expectServerError(pending), expectServerError(alsoPending)]);
    await terminated;
    expect(lines.some((line) => line.includes('ingest worker stopped'))).toBe(true);

    const after = workersOf(pool!)[0]!.worker;
    expect(after).not.toBe(before);
    // The replacement has not seen the snapshot: the pool sends it again.
    const bytes = body(500, 5);
    const reply = await pool!.scan('d', SNAPSHOT, Buffer.from(bytes), T0, MAX_EVENT_BYTES);
    expect(reply.result).toEqual(localScan(bytes));
    expect(pool!.size).toBe(1);
  });

  it('close() rejects pending scans with server_error and terminates the workers', async () => {
    const pool = create(2);
    const workers = workersOf(pool).map((entry) => entry.worker);
    const exits = workers.map((worker) => new Promise<number>((resolve) => worker.once('exit', resolve)));
    const big = body(15_000, 6);
    const pending = [
      pool.scan('d', SNAPSHOT, Buffer.from(big), T0, MAX_EVENT_BYTES),
      pool.scan('d', SNAPSHOT, Buffer.from(big), T0, MAX_EVENT_BYTES),
    ];
    const closed = pool.close();
    await Promise.all(pending.map(expectServerError));
    await closed;
    await Promise.all(exits);
    for (const worker of workers) expect(worker.threadId).toBe(-1);
    // No replacement was started, and a scan after close fails at once.
    expect(workersOf(pool).map((entry) => entry.worker)).toEqual(workers);
    await expectServerError(pool.scan('d', SNAPSHOT, Buffer.from(big), T0, MAX_EVENT_BYTES));
    // Closing twice is harmless.
    await pool.close();
  });
});
