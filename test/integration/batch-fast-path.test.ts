/**
 * Differential test of the batch fast path: the same sequence of random batch bodies goes
 * through the real ingest service (src/server/ingest/ingest-service.ts) to two real DuckDB
 * stores. Store A has no scanner, so every body takes the object path (`JSON.parse` →
 * `batchItems` → `ingest` → `mergeOutcomes`, src/store/batch-objects.ts); store B scans every
 * body of a dataset that exists (src/store/duckdb/batch-ingest.ts) and appends the prepared
 * chunks (`ingestPrepared`), falling back to the object path when the scan does. Its scanner runs
 * `scanBatch` in this thread, as the ingest worker does, and can be made to scan against an older
 * snapshot. Every per-item outcome, the schemas, the dataset listings and the full table
 * contents must be identical.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../src/errors.js';
import { IngestService } from '../../src/server/ingest/ingest-service.js';
import { DEFAULT_SERVER_LIMITS } from '../../src/server/limits.js';
import { openEventStore, type DuckDbEventStore } from '../../src/store/duckdb/event-store.js';
import type { BatchItemStatus } from '../../src/api/ingest.js';
import { mulberry32 } from '../fixtures/random.js';
import { InThreadScanner } from '../support/in-thread-scanner.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const DATASET = 'diff';
const MAX_EVENT_BYTES = 1500;

type Outcomes = BatchItemStatus[] | { bodyError: string };

let dir: string;
const open: DuckDbEventStore[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-fast-path-'));
});

afterEach(async () => {
  for (const store of open.splice(0)) await store.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// The two paths

/** A real DuckDB store behind the real ingest service; `scanner` given for store B. */
async function openSide(
  name: string,
  scanner?: InThreadScanner,
): Promise<{ store: DuckDbEventStore; send: (body: Buffer) => Promise<Outcomes> }> {
  const store = await openEventStore({
    path: join(dir, `${name}.duckdb`),
    now: () => T0,
    ...(scanner === undefined ? {} : { bodyScanner: scanner, ingestWorkerMinBytes: 0 }),
  });
  open.push(store);
  if (scanner !== undefined) {
    // Count the batches the store had to store the object way (the columns changed since their scan).
    const ingestPrepared = store.ingestPrepared.bind(store);
    store.ingestPrepared = (dataset, batch) =>
      ingestPrepared(dataset, {
        ...batch,
        materialize: () => {
          scanner.counters.materialized++;
          return batch.materialize();
        },
      });
  }
  const service = new IngestService({ events: store, limits: { ...DEFAULT_SERVER_LIMITS, maxEventBytes: MAX_EVENT_BYTES }, now: () => T0 });
  // Called synchronously, so that two calls in one tick share a group commit.
  const send = (body: Buffer): Promise<Outcomes> =>
    service.ingestBatch(DATASET, body).catch((error: unknown) => {
      if (error instanceof FlagscopeError) return { bodyError: error.message };
      throw error;
    });
  return { store, send };
}

// ---------------------------------------------------------------------------
// Random bodies

/** Builds random batch bodies as bytes (they may hold invalid UTF-8 on purpose). */
class BodyGenerator {
  private readonly random: () => number;
  private newFields = 0;
  /** Long strings that come back again and again (deduplicated in the chunks). */
  private readonly repeated: string[];

  constructor(seed: number) {
    this.random = mulberry32(seed);
    this.repeated = [0, 1, 2].map((n) => `repeated-long-value-${n}-`.repeat(2 + n));
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  pick<T>(values: readonly T[]): T {
    return values[this.int(values.length)]!;
  }

  /** Blank text between two tokens: usually none, sometimes odd. */
  ws(): string {
    if (this.random() < 0.75) return '';
    return this.pick([' ', '  ', '\n', '\t', '\r\n', ' \t\n ', '\n\n    ']);
  }

  digits(n: number): string {
    let text = '';
    for (let k = 0; k < n; k++) text += String(this.int(10));
    return text;
  }

  /** A JSON number text of any form. */
  anyNumber(): string {
    if (this.chance(0.3)) {
      return this.pick([
        '0',
        '-0',
        '-0.0',
        '1.0',
        '0.1',
        '0.3',
        '1e3',
        '1E-3',
        '2.5e+2',
        '-1.5E-7',
        '123456789012345',
        '1234567890123456',
        '12345678901234567890',
        '0.1000000000000000055511151231257827',
        '9007199254740993',
        '1e400',
        '-1e400',
        '1e-400',
        '4.9e-324',
        '1.7976931348623157e308',
        '9223372036854775807',
        '9223372036854774784',
        '-9223372036854775808',
        '3.141592653589793',
      ]);
    }
    let text = this.chance(0.3) ? '-' : '';
    const intDigits = 1 + this.int(this.chance(0.85) ? 8 : 22);
    text += this.chance(0.1) ? '0' : String(1 + this.int(9)) + this.digits(intDigits - 1);
    if (this.chance(0.6)) text += `.${this.digits(1 + this.int(this.chance(0.8) ? 6 : 20))}`;
    if (this.chance(0.15)) text += `${this.pick(['e', 'E'])}${this.pick(['', '+', '-'])}${this.int(40)}`;
    return text;
  }

  /** A JSON number text whose value is an integer below 2^63 (in any form). */
  integerNumber(): string {
    if (this.chance(0.2))
      return this.pick([
        '0',
        '-0',
        '1.0',
        '-7.000',
        '1e3',
        '150e-1',
        '1.5e1',
        '12345678901234567',
        '9223372036854774784',
        '-9223372036854774784',
        '1E18',
        '42e0',
      ]);
    const n = this.int(2_000_000) - 1_000_000;
    return String(n);
  }

  /** The bytes between the quotes of a JSON string: ASCII, escapes, raw UTF-8, invalid UTF-8, long and repeated text. */
  stringBody(): Buffer {
    const roll = this.random();
    if (roll < 0.15) return Buffer.from(this.pick(this.repeated));
    if (roll < 0.35) {
      // Plain ASCII of every length around the 12-byte inline limit.
      const length = this.pick([0, 1, 5, 11, 12, 13, 14, 30, 100]);
      let text = '';
      for (let k = 0; k < length; k++) text += String.fromCharCode(0x20 + this.int(0x5f)).replace(/["\\]/, 'x');
      return Buffer.from(text);
    }
    const parts: Buffer[] = [];
    const pieces = 1 + this.int(6);
    for (let k = 0; k < pieces; k++) {
      parts.push(
        this.pick<() => Buffer>([
          () => Buffer.from(this.pick(['abc', 'x', 'service-name', '/api/v1/items', 'GET', 'ok', '  spaced  ', '\u007f'])),
          () =>
            Buffer.from(
              this.pick([
                '\\"',
                '\\\\',
                '\\/',
                '\\n',
                '\\t',
                '\\r',
                '\\b',
                '\\f',
                '\\u00e9',
                '\\ud83d\\ude00',
                '\\u0000',
                '\\ud83d',
                '\\ude00',
                '\\u20AC',
              ]),
            ),
          () => Buffer.from(this.pick(['é', 'naïve', '😀', '日本語', 'Ω', '\u00a0'])),
          () => Buffer.from(this.pick([[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf0, 0x9f, 0x98], [0x80, 0x80]])),
          () => Buffer.from('long-'.repeat(5 + this.int(30))),
        ])(),
      );
    }
    return Buffer.concat(parts);
  }

  string(): Buffer {
    return Buffer.concat([Buffer.from('"'), this.stringBody(), Buffer.from('"')]);
  }

  /** A nested object or array with odd spacing (stored as its JSON text). */
  nested(depth = 0): Buffer {
    const parts: Buffer[] = [];
    const put = (text: string | Buffer): void => void parts.push(typeof text === 'string' ? Buffer.from(text) : text);
    const value = (): void => {
      const roll = this.random();
      if (depth < 3 && roll < 0.25) put(this.nested(depth + 1));
      else if (roll < 0.5) put(this.string());
      else if (roll < 0.75) put(this.anyNumber());
      else put(this.pick(['true', 'false', 'null']));
    };
    const count = this.int(4);
    if (this.chance(0.5)) {
      put(`[${this.ws()}`);
      for (let k = 0; k < count; k++) {
        if (k > 0) put(`${this.ws()},${this.ws()}`);
        value();
      }
      put(`${this.ws()}]`);
    } else {
      put(`{${this.ws()}`);
      for (let k = 0; k < count; k++) {
        if (k > 0) put(`${this.ws()},${this.ws()}`);
        // Nested keys may repeat and be any text: JSON.parse decides, in both paths.
        put(this.chance(0.2) ? '"k"' : this.string());
        put(`${this.ws()}:${this.ws()}`);
        value();
      }
      put(`${this.ws()}}`);
    }
    return Buffer.concat(parts);
  }

  /** A data field: [key text with quotes, value text]. */
  field(name: string): [Buffer, Buffer] {
    const key = Buffer.from(JSON.stringify(name));
    if (this.chance(0.06)) return [key, Buffer.from('null')];
    // Rare values of another type in the `v*` fields: the column is widened (the object path decides).
    const odd = name.startsWith('v') && this.chance(0.004);
    switch (name) {
      case 'svc':
      case 'msg':
      case 'u':
        if (this.chance(0.05)) return [key, Buffer.from(this.pick([this.anyNumber(), 'true', 'false']))];
        if (this.chance(0.03)) return [key, this.nested()];
        if (this.chance(0.002)) return [key, Buffer.from(`"${'huge'.repeat(500)}"`)];
        return [key, this.string()];
      case 'dur':
      case 'vf':
        return [key, Buffer.from(odd ? '"slow"' : this.anyNumber())];
      case 'n':
      case '_time':
      case 'vi':
        return [key, Buffer.from(odd ? '2.5' : this.integerNumber())];
      case 'big':
      case 'vbig':
        return [
          key,
          Buffer.from(
            odd ? '9223372036854775807' : this.pick(['9223372036854774784', '-9223372036854774784', '1', '-1', '4611686018427387904']),
          ),
        ];
      case 'ok':
      case 'vb':
        return [key, Buffer.from(odd ? '"maybe"' : this.pick(['true', 'false']))];
      case 'nested':
        return [key, this.nested()];
      default:
        return [key, this.chance(0.5) ? this.string() : Buffer.from(this.anyNumber())];
    }
  }

  data(): Buffer {
    const names = ['svc', 'msg', 'u', 'dur', 'n', 'big', 'ok', 'nested', '_time', 'vf', 'vi', 'vbig', 'vb'];
    const chosen = names.filter(() => this.chance(0.6));
    // Shuffle: events of one client usually share an order, but not always.
    if (this.chance(0.3)) {
      for (let k = chosen.length - 1; k > 0; k--) {
        const j = this.int(k + 1);
        [chosen[k], chosen[j]] = [chosen[j]!, chosen[k]!];
      }
    }
    const fields: Array<[Buffer, Buffer]> = chosen.map((name) => this.field(name));
    if (this.chance(0.004)) fields.push(this.field(`new_${this.newFields++}`));
    if (this.chance(0.003)) fields.push([Buffer.from('"data._time"'), Buffer.from('7')]);
    if (this.chance(0.002)) fields.push([Buffer.from('"SVC"'), Buffer.from('"case clash"')]);
    if (this.chance(0.003)) fields.push([Buffer.from('"sv\\u0063"'), Buffer.from('"escaped key"')]);
    if (this.chance(0.003) && fields.length > 0) fields.push([fields[0]![0], this.chance(0.5) ? Buffer.from('null') : fields[0]![1]]);
    if (this.chance(0.02)) fields.push([Buffer.from(JSON.stringify(`gone_${this.int(3)}`)), Buffer.from('null')]);
    return this.object(fields);
  }

  object(fields: Array<[Buffer, Buffer]>): Buffer {
    const parts: Buffer[] = [Buffer.from(`{${this.ws()}`)];
    fields.forEach(([key, value], k) => {
      if (k > 0) parts.push(Buffer.from(`${this.ws()},${this.ws()}`));
      parts.push(key, Buffer.from(`${this.ws()}:${this.ws()}`), value);
    });
    parts.push(Buffer.from(`${this.ws()}}`));
    return Buffer.concat(parts);
  }

  time(): string {
    const seconds = Math.floor(T0 / 1000) - this.int(86_400);
    return this.pick([
      String(seconds),
      `${seconds}.${this.digits(1 + this.int(6))}`,
      String(seconds * 1000 + this.int(1000)),
      JSON.stringify(new Date(seconds * 1000 + this.int(1000)).toISOString()),
      JSON.stringify(new Date(seconds * 1000).toISOString().replace('Z', '+02:00')),
      JSON.stringify(new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ')),
      JSON.stringify(new Date(seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z')),
      JSON.stringify(new Date(seconds * 1000).toISOString().replace(/\.\d+Z$/, `.${this.digits(1 + this.int(11))}Z`)),
      JSON.stringify(new Date(seconds * 1000).toISOString().replace('T', this.pick(['t', ' ']))),
      this.pick([
        '"2024-02-29T12:00:00Z"',
        '"2026-02-29T12:00:00Z"',
        '"2026-04-31T00:00:00Z"',
        '"2026-01-01T24:00:00Z"',
        '"1970-01-01T00:00:00Z"',
        '"1969-12-31T23:59:59.999Z"',
        '"2026-01-01T00:00:60Z"',
        '"2026-01-01T00:00:00.Z"',
      ]),
      `" ${seconds} "`,
      `"${seconds}.5"`,
      'null',
      '""',
      // Refused.
      '"soon"',
      '-5',
      'true',
      '{"at":1}',
      '1e16',
      '"99999999999999999"',
      '"2026-01-01T25:00:00Z"',
      '"caf\\u00e9"',
    ]);
  }

  samplerate(): string {
    return this.pick(['1', '1', '2', '10', '"3"', '" 4 "', '1.0', 'null', '0', '-1', '1.5', '"x"', 'true', '9007199254740993', '[]']);
  }

  item(): Buffer {
    const roll = this.random();
    // Rare items the object path refuses one by one (the scanner leaves the whole body to it).
    if (roll < 0.002)
      return Buffer.from(this.pick(['null', '[]', '5', '"item"', '{}', '{"time":1}', '{"data":null}', '{"data":[1]}', '{"data":"x"}']));
    const fields: Array<[Buffer, Buffer]> = [[Buffer.from('"data"'), this.data()]];
    if (this.chance(0.3)) fields.push([Buffer.from('"time"'), Buffer.from(this.time())]);
    if (this.chance(0.2)) fields.push([Buffer.from('"samplerate"'), Buffer.from(this.samplerate())]);
    if (this.chance(0.05)) fields.push([Buffer.from('"extra"'), this.chance(0.5) ? this.nested() : this.string()]);
    for (let k = fields.length - 1; k > 0; k--) {
      const j = this.int(k + 1);
      [fields[k], fields[j]] = [fields[j]!, fields[k]!];
    }
    return this.object(fields);
  }

  body(): Buffer {
    const count = this.chance(0.05) ? 0 : 1 + this.int(this.chance(0.8) ? 25 : 120);
    const parts: Buffer[] = [Buffer.from(`${this.ws()}[${this.ws()}`)];
    for (let k = 0; k < count; k++) {
      if (k > 0) parts.push(Buffer.from(`${this.ws()},${this.ws()}`));
      parts.push(this.item());
    }
    parts.push(Buffer.from(`${this.ws()}]${this.ws()}`));
    let body = Buffer.concat(parts);
    // Rarely, a body JSON.parse refuses as a whole.
    if (this.chance(0.01)) {
      const text = body.toString('latin1');
      body = Buffer.from(
        this.pick([
          () => text.replace(/\]\s*$/, ',]'),
          () => text.replace(/\]\s*$/, '] x'),
          () => text.replace(/"n":(\s*)-?\d/, '"n":$101'),
          () => text.replace(/\]\s*$/, ''),
          () => `{${text}}`,
        ])(),
        'latin1',
      );
    }
    return body;
  }

  /** A body of one item with a field the dataset has never seen: it changes the columns. */
  schemaChangingBody(): Buffer {
    const fields: Array<[Buffer, Buffer]> = [[Buffer.from(JSON.stringify(`added_${this.newFields++}`)), this.string()]];
    fields.push(this.field('n'));
    return Buffer.concat([Buffer.from('['), this.object([[Buffer.from('"data"'), this.object(fields)]]), Buffer.from(']')]);
  }
}

// ---------------------------------------------------------------------------
// Comparing stores

function cellText(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (value instanceof Date) return `date:${value.getTime()}`;
  return JSON.stringify(value);
}

/** Every row of the dataset's table, serialised and sorted (`_time` in microseconds). */
async function tableRows(store: DuckDbEventStore): Promise<string[]> {
  const table = store.tableOf(DATASET);
  if (table === undefined) return [];
  const rows = await store.execute(`SELECT epoch_us(_time) AS _time_us, * EXCLUDE (_time) FROM ${table}`);
  return rows.map((row) => row.map(cellText).join('|')).sort();
}

async function expectSameStores(a: DuckDbEventStore, b: DuckDbEventStore): Promise<void> {
  expect(await b.getSchema(DATASET)).toEqual(await a.getSchema(DATASET));
  expect(await b.listDatasets()).toEqual(await a.listDatasets());
  const [rowsA, rowsB] = await Promise.all([tableRows(a), tableRows(b)]);
  expect(rowsB.length).toBe(rowsA.length);
  const firstDifference = rowsA.findIndex((row, n) => rowsB[n] !== row);
  expect(firstDifference === -1 ? undefined : { a: rowsA[firstDifference], b: rowsB[firstDifference] }).toBeUndefined();
}

function describeBody(body: Buffer): string {
  const text = body.toString('utf8');
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}

// ---------------------------------------------------------------------------

describe('the batch fast path stores exactly what the object path stores', () => {
  it.each(process.env.FAST_PATH_SEEDS ? process.env.FAST_PATH_SEEDS.split(',').map(Number) : [1, 2, 3])(
    'random bodies, seed %i',
    async (seed) => {
      const scanner = new InThreadScanner();
      const { store: a, send: sendA } = await openSide(`a${seed}`);
      const { store: b, send: sendB } = await openSide(`b${seed}`, scanner);
      const generate = new BodyGenerator(seed * 7919);
      let staleRuns = 0;
      let concurrentRuns = 0;
      const scannedPrepared = (): boolean => scanner.last?.kind === 'prepared' && scanner.last.events > 0;

      const step = async (body: Buffer): Promise<void> => {
        const [outA, outB] = await Promise.all([sendA(body), sendB(body)]);
        expect(outB, describeBody(body)).toEqual(outA);
      };

      // The first batch creates the dataset and its columns with their first types.
      await step(
        Buffer.from(
          JSON.stringify([
            {
              data: {
                svc: 'api',
                msg: 'hello',
                u: 'é',
                dur: 1.5,
                n: 1,
                big: 1,
                ok: true,
                nested: '[]',
                _time: 1,
                vf: 0.5,
                vi: 2,
                vbig: 3,
                vb: false,
              },
            },
          ]),
        ),
      );
      const firstTypes = (await a.getSchema(DATASET))!.columns.map((column) => column.type);

      for (let round = 0; round < 260; round++) {
        if (round % 13 === 5) {
          // A scan against a snapshot taken before the columns changed: the store must store the
          // batch the object way (materialize), with the same outcomes.
          const old = b.snapshot(DATASET)!;
          await step(generate.schemaChangingBody());
          expect(b.snapshot(DATASET)!.version).not.toBe(old.version);
          const body = generate.body();
          const materializedBefore = scanner.counters.materialized;
          scanner.scanNextAgainst(old);
          const [outA, outB] = await Promise.all([sendA(body), sendB(body)]);
          expect(outB, describeBody(body)).toEqual(outA);
          if (scannedPrepared()) {
            expect(scanner.counters.materialized).toBe(materializedBefore + 1);
            staleRuns++;
          }
          continue;
        }
        if (round % 13 === 9) {
          // A body that changes the columns and a body scanned before, committed in one group.
          const changing = generate.schemaChangingBody();
          const body = generate.body();
          const materializedBefore = scanner.counters.materialized;
          const [outA1, outA2, outB1, outB2] = await Promise.all([sendA(changing), sendA(body), sendB(changing), sendB(body)]);
          expect(outB1).toEqual(outA1);
          expect(outB2, describeBody(body)).toEqual(outA2);
          if (scannedPrepared()) {
            expect(scanner.counters.materialized).toBe(materializedBefore + 1);
            concurrentRuns++;
          }
          continue;
        }
        if (round % 13 === 11) {
          // Several prepared bodies in one group commit.
          const bodies = [generate.body(), generate.body(), generate.body()];
          const outA = await Promise.all(bodies.map((body) => sendA(body)));
          const outB = await Promise.all(bodies.map((body) => sendB(body)));
          expect(outB).toEqual(outA);
          continue;
        }
        await step(generate.body());
        if (round % 50 === 49) await expectSameStores(a, b);
      }

      await expectSameStores(a, b);
      const { prepared, fallback, reasons } = scanner.counters;
      // The fast path must really have been taken, and the fallback too.
      expect(prepared, `prepared ${prepared}, fallback ${fallback}: ${JSON.stringify([...reasons])}`).toBeGreaterThan(
        0.5 * (prepared + fallback),
      );
      expect(fallback).toBeGreaterThan(0);
      expect(staleRuns + concurrentRuns).toBeGreaterThan(5);
      expect(staleRuns).toBeGreaterThan(0);
      expect(concurrentRuns).toBeGreaterThan(0);
      // Many rows were stored, in columns of every type, some widened.
      const schema = (await a.getSchema(DATASET))!;
      expect((await a.listDatasets())[0]!.rows).toBeGreaterThan(2000);
      expect(schema.columns.slice(0, firstTypes.length).map((column) => column.type)).not.toEqual(firstTypes);
      // The stable fields kept their types, so integer, float, boolean and string columns all took the fast path.
      expect(schema.columns.slice(0, 9).map((column) => `${column.name}:${column.type}`)).toEqual([
        'svc:string',
        'msg:string',
        'u:string',
        'dur:float',
        'n:integer',
        'big:integer',
        'ok:boolean',
        'nested:string',
        'data._time:integer',
      ]);
      expect(schema.hasSampling).toBe(true);
    },
  );

  it('a body of only refused items, an empty body and a body of only null fields', async () => {
    const scanner = new InThreadScanner();
    const { store: a, send: sendA } = await openSide('a');
    const { store: b, send: sendB } = await openSide('b', scanner);
    const bodies = [
      '[{"data":{"k":1,"s":"x"}}]',
      '[{"data":{"k":2},"time":"nope"},{"data":{"k":3},"samplerate":0},{"data":{},"time":1e16}]',
      '[]',
      '[{"data":{"k":null,"s":null,"other":null}}]',
      '[{"data":{"k":9,"s":"yy"},"samplerate":3,"time":1767225600}]',
    ];
    for (const text of bodies) {
      const body = Buffer.from(text);
      const [outA, outB] = await Promise.all([sendA(body), sendB(body)]);
      expect(outB, text).toEqual(outA);
    }
    expect(scanner.counters.prepared).toBe(4);
    await expectSameStores(a, b);
    expect((await b.listDatasets())[0]).toMatchObject({ rows: 3, last_event_time: new Date(T0).toISOString() });
  });

  it('hostile items: too deep, infinite numbers, times outside the window, bytes that are not UTF-8 (issue 9)', async () => {
    const scanner = new InThreadScanner();
    const { store: a, send: sendA } = await openSide('a');
    const { store: b, send: sendB } = await openSide('b', scanner);
    const deep = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;
    const bytes = (...parts: Array<string | number[]>): Buffer =>
      Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : Buffer.from(part))));
    const bodies: Buffer[] = [
      Buffer.from('[{"data":{"k":1,"s":"x","f":0.5,"n":"[]"}}]'),
      // data is level 1: a field's value may open 63 more levels.
      Buffer.from(`[{"data":{"k":2,"n":${deep(63)}}},{"data":{"k":3,"n":${deep(64)}}},{"data":{"k":4}}]`),
      Buffer.from(`[{"data":{"k":5,"n":${deep(10_000)}}},{"data":{"k":6}},{"data":{"k":7},"extra":${deep(100_000)}}]`),
      Buffer.from('[{"data":{"k":8,"f":1e400}},{"data":{"k":9,"s":-1e400}},{"data":{"k":10,"n":{"x":[1e999]}}},{"data":{"k":11,"f":1.5}}]'),
      Buffer.from(
        `[{"data":{"k":12},"time":"1969-12-31T23:59:59Z"},{"data":{"k":13},"time":${T0 + 86_400_001}},{"data":{"k":14},"time":8.64e15},{"data":{"k":15},"time":${T0 + 86_400_000}}]`,
      ),
      bytes('[{"data":{"k":16,"s":"bad ', [0xff, 0xfe], ' value"}},{"data":{"k":17,"s":"fine"}},{"data":{"k":18,"n":{"', [0xc3], '":1}}}]'),
      bytes('[{"data":{"k":19,"s', [0xe2, 0x82], '":"bad name"}},{"data":{"k":20,"s":"after"}}]'),
    ];
    const all: Outcomes[] = [];
    for (const body of bodies) {
      const [outA, outB] = await Promise.all([sendA(body), sendB(body)]);
      expect(outB, describeBody(body)).toEqual(outA);
      all.push(outA);
    }
    await expectSameStores(a, b);
    const errorOf = (outcomes: Outcomes, index: number): string | undefined => {
      const outcome = (outcomes as BatchItemStatus[])[index]!;
      return outcome.status === 400 ? outcome.error : undefined;
    };
    expect((all[1] as BatchItemStatus[]).map((o) => o.status)).toEqual([202, 400, 202]);
    expect(errorOf(all[1]!, 1)).toMatch(/deeper than 64 levels/);
    expect((all[2] as BatchItemStatus[]).map((o) => o.status)).toEqual([400, 202, 400]);
    expect((all[3] as BatchItemStatus[]).map((o) => o.status)).toEqual([400, 400, 400, 202]);
    expect(errorOf(all[3]!, 0)).toMatch(/^field "f" holds a number beyond ±1\.8e308/);
    expect((all[4] as BatchItemStatus[]).map((o) => o.status)).toEqual([400, 400, 400, 202]);
    expect(errorOf(all[4]!, 2)).toMatch(/outside the accepted window, 1970-01-01T00:00:00Z to 1 day after the server's clock/);
    expect(all[5]).toEqual([
      { status: 202, warning: expect.stringMatching(/not valid UTF-8.*U\+FFFD/), err: expect.stringMatching(/not valid UTF-8/) },
      { status: 202 },
      { status: 202, warning: expect.stringMatching(/not valid UTF-8/), err: expect.stringMatching(/not valid UTF-8/) },
    ]);
    expect(all[6]).toEqual([{ status: 400, error: expect.stringMatching(/field name is not valid UTF-8/) }, { status: 202 }]);
    // The fast path took these bodies itself, except where it leaves the decision to the object path.
    expect([...scanner.counters.reasons.keys()].sort()).toEqual(['a field name that is not UTF-8', 'nested deeper than an event may']);
    expect(scanner.counters.prepared).toBe(3);
    const rows = await b.execute(`SELECT k, s FROM ${b.tableOf(DATASET)} WHERE k = 16`);
    expect(rows[0]![1]).toBe('bad \ufffd\ufffd value');
    expect((await b.listDatasets())[0]).toMatchObject({ last_event_time: new Date(T0 + 86_400_000).toISOString() });
  });
});
