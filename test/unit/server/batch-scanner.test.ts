/**
 * The batch scanner (src/store/duckdb/batch-scanner.ts) must decide every item of a
 * `POST /1/batch` body exactly as the object path does (`JSON.parse` →
 * `batchItems` → the store's rules), or give up with `fallback`. These tests
 * build column snapshots by hand, scan bodies, decode the built column buffers
 * and compare them with what the object path makes of the same body.
 */
import { describe, expect, it } from 'vitest';
import { scanBatch, scanSchemaOf, transferablesOfScan, type ScanResult, type ScanSchema } from '../../../src/store/duckdb/batch-scanner.js';
import { arrayItemByteLengths, batchItems } from '../../../src/ingest/honeycomb.js';
import { CHUNK_ROWS, type BuiltColumn } from '../../../src/store/duckdb/column-builder.js';
import type { IncomingEvent } from '../../../src/store/types.js';
import type { ColumnType } from '../../../src/query/schema.js';
import { eventProblem, textOf } from '../../../src/ingest/value-rules.js';
import { mulberry32 } from '../../fixtures/random.js';

type Prepared = Extract<ScanResult, { kind: 'prepared' }>;

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const BIG_LIMIT = 1_000_000;

/** The user columns of the hand-made snapshot, in position order. */
const COLUMNS: Array<[name: string, type: ColumnType]> = [
  ['s', 'string'],
  ['i', 'integer'],
  ['f', 'float'],
  ['b', 'boolean'],
  ['data._time', 'integer'],
  ['t2', 'string'],
];

/** A fresh schema (the scanner caches the last event's shape in it). */
function schema(columns = COLUMNS): ScanSchema {
  const fieldIndex = new Map<string, number>();
  columns.forEach(([name], index) => {
    fieldIndex.set(name, index);
    // The store registers `data._time` under `_time` too (one column for both fields).
    if (name === 'data._time' || name === 'data._samplerate') fieldIndex.set(name.slice(5), index);
  });
  return { version: 1, types: columns.map(([, type]) => type), fieldIndex, shapeKeys: [], shapeSlots: [] };
}

function bytes(body: string | Uint8Array): Uint8Array {
  return typeof body === 'string' ? new Uint8Array(Buffer.from(body, 'utf8')) : body;
}

function scan(body: string | Uint8Array, options: { now?: number; maxEventBytes?: number; schema?: ScanSchema } = {}): ScanResult {
  return scanBatch(bytes(body), options.schema ?? schema(), { now: options.now ?? NOW, maxEventBytes: options.maxEventBytes ?? BIG_LIMIT });
}

function prepared(body: string | Uint8Array, options: { now?: number; maxEventBytes?: number; schema?: ScanSchema } = {}): Prepared {
  const result = scan(body, options);
  if (result.kind !== 'prepared') throw new Error(`expected a prepared scan, got fallback: ${result.reason}`);
  return result;
}

function fallbackReason(body: string | Uint8Array, options: { maxEventBytes?: number; schema?: ScanSchema } = {}): string {
  const result = scan(body, options);
  if (result.kind !== 'fallback') throw new Error(`expected a fallback for ${Buffer.from(bytes(body)).toString('latin1')}`);
  return result.reason;
}

// ---------------------------------------------------------------------------
// Decoding built columns

/** A decoded cell: bigint for int64 words, number for doubles, boolean, string, or null when invalid. */
type Cell = bigint | number | boolean | string | null;

function isValid(column: BuiltColumn, row: number): boolean {
  if (column.validity === undefined) return true;
  return (column.validity[row >>> 5]! & (1 << (row & 31))) !== 0;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The values of one built column, row by row, as DuckDB would read its buffers. */
function decodeColumn(column: BuiltColumn): Cell[] {
  const cells: Cell[] = [];
  const longIndex = new Map<number, number>();
  column.longRows.forEach((row, i) => longIndex.set(row, i));
  const repeatOf = new Map<number, number>();
  column.repeatRows.forEach((row, i) => repeatOf.set(row, column.repeatSources[i]!));
  const stringAt = (row: number): string => {
    const source = repeatOf.get(row);
    if (source !== undefined) {
      // A repeat points at an earlier row of the chunk that holds a long string itself.
      expect(longIndex.has(source), `repeat of row ${row} points at row ${source}, which holds no long string`).toBe(true);
      expect(source).toBeLessThan(row);
      return stringAt(source);
    }
    const long = longIndex.get(row);
    if (long !== undefined) {
      const text = column.heap.subarray(column.heapOffsets[long]!, column.heapOffsets[long + 1]!);
      expect(text.length, 'a long string holds more than 12 bytes').toBeGreaterThan(12);
      return strictUtf8.decode(text);
    }
    const slot = column.data as Uint8Array;
    const view = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
    const length = view.getUint32(row * 16, true);
    expect(length, 'an inline string holds at most 12 bytes').toBeLessThanOrEqual(12);
    return strictUtf8.decode(slot.subarray(row * 16 + 4, row * 16 + 4 + length));
  };
  for (let row = 0; row < column.rows; row++) {
    if (!isValid(column, row)) {
      cells.push(null);
      continue;
    }
    switch (column.kind) {
      case 'integer':
      case 'timestamp': {
        const words = column.data as Int32Array;
        const low = BigInt(words[row * 2]! >>> 0);
        const high = BigInt(words[row * 2 + 1]!);
        cells.push(BigInt.asIntN(64, (high << 32n) | low));
        break;
      }
      case 'float':
        cells.push((column.data as Float64Array)[row]!);
        break;
      case 'boolean': {
        const byte = (column.data as Uint8Array)[row]!;
        expect([0, 1]).toContain(byte);
        cells.push(byte === 1);
        break;
      }
      case 'string':
        cells.push(stringAt(row));
        break;
    }
  }
  return cells;
}

/** Every row of a prepared scan: [_time µs, _samplerate, ...user columns]. */
function decodeRows(result: Prepared, types: ColumnType[]): Cell[][] {
  const rows: Cell[][] = [];
  for (const chunk of result.chunks) {
    expect(chunk.rows).toBeGreaterThan(0);
    expect(chunk.rows).toBeLessThanOrEqual(CHUNK_ROWS);
    expect(chunk.columns).toHaveLength(2 + types.length);
    expect(chunk.columns[0]?.kind).toBe('timestamp');
    expect(chunk.columns[1]?.kind).toBe('integer');
    const decoded = chunk.columns.map((column, index) => {
      if (column === undefined) return new Array<Cell>(chunk.rows).fill(null);
      expect(column.rows).toBe(chunk.rows);
      if (index >= 2) expect(column.kind).toBe(types[index - 2]);
      return decodeColumn(column);
    });
    // _time and _samplerate are never NULL.
    expect(decoded[0]!.every((cell) => cell !== null)).toBe(true);
    expect(decoded[1]!.every((cell) => cell !== null)).toBe(true);
    for (let row = 0; row < chunk.rows; row++) rows.push(decoded.map((cells) => cells[row]!));
  }
  return rows;
}

// ---------------------------------------------------------------------------
// The object path, as reference

/** What the object path makes of a body whose fields all fit `columns`: per-item errors and the rows stored. */
function objectPath(
  body: string | Uint8Array,
  options: { now?: number; maxEventBytes?: number; columns?: Array<[string, ColumnType]> } = {},
): { items: number; rejected: Array<[number, string]>; rows: Cell[][]; events: number; lastEventMs: number | null; hasSampling: boolean } {
  const buffer = Buffer.from(bytes(body));
  const maxEventBytes = options.maxEventBytes ?? BIG_LIMIT;
  const value = JSON.parse(buffer.toString('utf8')) as unknown;
  const itemBytes = buffer.length > maxEventBytes ? arrayItemByteLengths(buffer) : undefined;
  const items = batchItems(value, itemBytes, maxEventBytes, options.now ?? NOW);
  const columns = options.columns ?? COLUMNS;
  const s = schema(columns);
  const rejected: Array<[number, string]> = [];
  const accepted: IncomingEvent[] = [];
  items.forEach((item, index) => {
    if (!item.ok) return void rejected.push([index, item.error]);
    const problem = eventProblem(item.event);
    if (problem !== undefined) return void rejected.push([index, problem]);
    accepted.push(item.event);
  });
  const rows = accepted.map((event) => {
    const row: Cell[] = [BigInt(Math.round(event.time * 1000)), BigInt(event.samplerate), ...columns.map((): Cell => null)];
    for (const field in event.data) {
      const value = event.data[field];
      if (value === null || value === undefined) continue;
      const index = s.fieldIndex.get(field);
      if (index === undefined) throw new Error(`reference: field ${field} has no column`);
      const type = s.types[index]!;
      row[2 + index] =
        type === 'string'
          ? strictUtf8.decode(new TextEncoder().encode(textOf(value)))
          : type === 'integer'
            ? BigInt(value as number)
            : type === 'float'
              ? Number(value)
              : (value as boolean);
    }
    return row;
  });
  let lastEventMs: number | null = null;
  for (const event of accepted) if (lastEventMs === null || event.time > lastEventMs) lastEventMs = event.time;
  return {
    items: items.length,
    rejected,
    rows,
    events: accepted.length,
    lastEventMs,
    hasSampling: accepted.some((e) => e.samplerate !== 1),
  };
}

/** Scans `body` and checks that it is prepared exactly as the object path stores it. */
function expectSameAsObjectPath(
  body: string | Uint8Array,
  options: { now?: number; maxEventBytes?: number; columns?: Array<[string, ColumnType]> } = {},
): Prepared {
  const columns = options.columns ?? COLUMNS;
  const result = prepared(body, { ...options, schema: schema(columns) });
  const reference = objectPath(body, options);
  expect(result.items).toBe(reference.items);
  expect(result.rejected).toEqual(reference.rejected);
  expect(result.events).toBe(reference.events);
  expect(result.lastEventMs).toBe(reference.lastEventMs);
  expect(result.hasSampling).toBe(reference.hasSampling);
  expect(
    decodeRows(
      result,
      columns.map(([, type]) => type),
    ),
  ).toEqual(reference.rows);
  return result;
}

// ---------------------------------------------------------------------------

describe('scanBatch: bodies it takes', () => {
  it('lays out a simple batch as the object path stores it', () => {
    const body = JSON.stringify([
      { data: { s: 'short', i: 42, f: 1.5, b: true } },
      { data: { s: 'a string longer than twelve bytes', i: -7, f: 2, b: false, t2: 'x' }, time: 1_700_000_000, samplerate: 4 },
      { data: { i: null, f: null, s: null } },
      { data: {} },
    ]);
    const result = expectSameAsObjectPath(body);
    expect(result.items).toBe(4);
    expect(result.events).toBe(4);
    expect(result.hasSampling).toBe(true);
    expect(result.lastEventMs).toBe(NOW);
    expect(result.chunks).toHaveLength(1);
    const rows = decodeRows(
      result,
      COLUMNS.map(([, type]) => type),
    );
    expect(rows[0]).toEqual([BigInt(NOW) * 1000n, 1n, 'short', 42n, 1.5, true, null, null]);
    expect(rows[1]).toEqual([1_700_000_000_000_000n, 4n, 'a string longer than twelve bytes', -7n, 2, false, null, 'x']);
    expect(rows[2]).toEqual([BigInt(NOW) * 1000n, 1n, null, null, null, null, null, null]);
    // A column nobody gave a value in this chunk is left out (NULL in every row).
    const chunk = result.chunks[0]!;
    expect(chunk.columns[2 + 4]).toBeUndefined();
    // Every buffer can be transferred, none twice.
    const transfer = transferablesOfScan(result);
    expect(new Set(transfer).size).toBe(transfer.length);
  });

  it('takes an empty array, blank text around tokens, and keys of items in any order', () => {
    expect(expectSameAsObjectPath('[]').items).toBe(0);
    expect(expectSameAsObjectPath(' \n\t[ \r\n ] \n').items).toBe(0);
    const body =
      ' [ { "samplerate" : 2 ,\n"data"\t:\r{ "i" : 1 , "s":"x" } , "time" : "2026-01-01T00:00:00Z" , "other" : [1, {"a": "}"}] } ,{"data":{ }} ] ';
    const result = expectSameAsObjectPath(body);
    expect(result.events).toBe(2);
    expect(result.lastEventMs).toBe(NOW);
  });

  it('ignores other keys of an item, whatever their values', () => {
    const body = '[{"x":{"y":[1,2,{"z":"\\u00e9"}]},"n":null,"t":true,"f":false,"num":-1.5e3,"str":"caf\\u00e9","data":{"i":1}}]';
    expect(expectSameAsObjectPath(body).events).toBe(1);
  });

  it('skips null fields, including fields that have no column', () => {
    const result = expectSameAsObjectPath('[{"data":{"unknown":null,"i":null,"s":"v","unknown":null}}]');
    expect(result.events).toBe(1);
  });

  it('stores `_time` in the `data._time` column when the snapshot maps it there', () => {
    const result = expectSameAsObjectPath('[{"data":{"_time":5}},{"data":{"data._time":6}}]');
    const rows = decodeRows(
      result,
      COLUMNS.map(([, type]) => type),
    );
    expect(rows.map((row) => row[2 + 4])).toEqual([5n, 6n]);
  });

  it('writes numbers, booleans and nested values into string columns as their text', () => {
    const body =
      '[{"data":{"s":1.50,"t2":true}},{"data":{"s":-0,"t2":1e21}},{"data":{"s": { "b" : [ 1 , "x\\"y" ] , "a" : null } ,"t2":[ ]}},{"data":{"s":{"2":1,"1":2,"a":{"a":1,"a":2}}}}]';
    const result = expectSameAsObjectPath(body);
    const rows = decodeRows(
      result,
      COLUMNS.map(([, type]) => type),
    );
    expect(rows.map((row) => [row[2], row[7]])).toEqual([
      ['1.5', 'true'],
      ['0', '1e+21'],
      ['{"b":[1,"x\\"y"],"a":null}', '[]'],
      ['{"1":2,"2":1,"a":{"a":2}}', null],
    ]);
  });

  it('decodes escapes, non-ASCII text and invalid UTF-8 as the object path does', () => {
    const invalid = Buffer.concat([
      Buffer.from('[{"data":{"s":"bad '),
      Buffer.from([0xc3, 0x28, 0xff, 0xe2, 0x82]),
      Buffer.from(' end"}},{"data":{"s":"'),
      Buffer.from([0xf0, 0x9f, 0x98]),
      Buffer.from('"}},{"data":{"s":"caf'),
      Buffer.from([0xc3, 0xa9]),
      Buffer.from('"}}]'),
    ]);
    expectSameAsObjectPath(new Uint8Array(invalid));
    const body = JSON.stringify([
      { data: { s: 'quote " backslash \\ slash / tab \t newline \n nul \u0000 del \u007f' } },
      { data: { s: 'é' } },
      { data: { s: 'ééééééé' } }, // 14 UTF-8 bytes from 7 characters: a long string
      { data: { s: '😀😀😀' } },
      { data: { s: '\ud83d lone high and lone low \ude00' } },
      { data: { s: '' } },
    ]).replace('é"', '\\u00e9"');
    const result = expectSameAsObjectPath(body);
    const rows = decodeRows(
      result,
      COLUMNS.map(([, type]) => type),
    );
    expect(rows[1]![2]).toBe('é');
    expect(rows[2]![2]).toBe('ééééééé');
    expect(rows[4]![2]).toBe('\ufffd lone high and lone low \ufffd');
    expect(rows[5]![2]).toBe('');
    expectSameAsObjectPath('[{"data":{"s":"\\ud83d\\ude00 \\u00e9\\n\\"\\\\\\/\\b\\f\\r\\t"}}]');
  });

  it('keeps 12-byte strings inline and deduplicates repeated long strings', () => {
    const long = 'x'.repeat(40);
    const escaped = 'é'.repeat(20);
    const items = [];
    for (let n = 0; n < 10; n++) items.push({ data: { s: n % 2 === 0 ? long : 'y'.repeat(12), t2: escaped } });
    const result = expectSameAsObjectPath(JSON.stringify(items));
    const s = result.chunks[0]!.columns[2]!;
    expect(s.longRows.length).toBe(1);
    expect(s.repeatRows.length).toBe(4);
    const t2 = result.chunks[0]!.columns[2 + 5]!;
    expect(t2.longRows.length).toBe(1);
    expect(t2.repeatRows.length).toBe(9);
  });

  it('fills chunks of at most CHUNK_ROWS rows and keeps the validity of every row', () => {
    const items = [];
    for (let n = 0; n < 5000; n++) {
      items.push({
        data: n % 3 === 0 ? { i: n, s: `v${n % 7}` } : { i: null, s: `value number ${n % 5} long` },
        time: 1_700_000_000 + n,
        samplerate: n % 10 === 0 ? 10 : 1,
      });
    }
    const result = expectSameAsObjectPath(JSON.stringify(items));
    expect(result.events).toBe(5000);
    expect(result.chunks.reduce((sum, chunk) => sum + chunk.rows, 0)).toBe(5000);
    expect(result.chunks.slice(0, 2).map((chunk) => chunk.rows)).toEqual([2048, 2048]);
    expect(result.lastEventMs).toBe((1_700_000_000 + 4999) * 1000);
    expect(result.hasSampling).toBe(true);
    const i = result.chunks[0]!.columns[2 + 1]!;
    expect(i.validity).toBeDefined();
    const s = result.chunks[0]!.columns[2]!;
    expect(s.validity).toBeUndefined();
  });

  it('cuts a body of same-sized items into full chunks', () => {
    const items = Array.from({ length: 5000 }, (_, n) => ({ data: { i: 10_000 + n, b: true }, time: 1_700_000_000 + n }));
    const result = expectSameAsObjectPath(JSON.stringify(items));
    expect(result.chunks.map((chunk) => chunk.rows)).toEqual([2048, 2048, 904]);
  });

  it('sizes chunks by estimate and still holds every row when items grow', () => {
    const items = [];
    for (let n = 0; n < 3000; n++) items.push({ data: { s: n < 10 ? 'a' : 'b'.repeat(200 + (n % 50)), i: n } });
    const result = expectSameAsObjectPath(JSON.stringify(items));
    expect(result.chunks.reduce((sum, chunk) => sum + chunk.rows, 0)).toBe(3000);
  });

  it('leaves hasSampling false and lastEventMs at the newest time', () => {
    const body = JSON.stringify([
      { data: {}, time: '2026-01-01T00:00:00Z' },
      { data: {}, time: 1_767_225_600_500 },
      { data: {}, time: 1_767_225_599.25 },
      { data: {}, samplerate: 1 },
      { data: {}, samplerate: '1' },
    ]);
    // Items without a time take `now`, just before the newest time given.
    const result = expectSameAsObjectPath(body, { now: 1_767_225_600_400 });
    expect(result.hasSampling).toBe(false);
    expect(result.lastEventMs).toBe(1_767_225_600_500);
  });

  it('takes the shape cache of a previous scan with the same schema into account', () => {
    const s = schema();
    const first = prepared('[{"data":{"s":"a","i":1,"f":2.5}}]', { schema: s });
    expect(first.events).toBe(1);
    expect(s.shapeKeys.map((key) => Buffer.from(key).toString())).toEqual(['s', 'i', 'f']);
    // Same names in other positions, fewer and more fields.
    const body = '[{"data":{"i":2,"s":"b"}},{"data":{"s":"c","i":3,"f":1,"b":false}},{"data":{"f":0.5}}]';
    const second = prepared(body, { schema: s });
    expect(decodeRows(second, s.types)).toEqual(objectPath(body).rows);
    expect(fallbackReason('[{"data":{"s":"x","i":1,"g":2}}]', { schema: s })).toBe('a new field');
  });
});

describe('scanBatch: numbers decode to the doubles of JSON.parse', () => {
  const forms = [
    '0',
    '-0',
    '-0.0',
    '0.0',
    '1',
    '-1',
    '1.0',
    '1.50',
    '0.1',
    '0.2',
    '0.3',
    '-0.1',
    '1e3',
    '1E3',
    '1e+3',
    '1e-3',
    '-1.5E-7',
    '2.5e0',
    '123456789012345',
    '12345678901234.5',
    '1.23456789012345',
    '0.00000000000001',
    '999999999999999',
    '-999999999999999',
    '1234567890123456',
    '12345678901234567',
    '1.234567890123456789',
    '0.1000000000000000055511151231257827',
    '9007199254740991',
    '9007199254740992',
    '9007199254740993',
    '-9007199254740993',
    '9223372036854774784',
    '9223372036854775807',
    '9223372036854775808',
    '-9223372036854775808',
    '-9223372036854774784',
    '18446744073709551616',
    '1e-400',
    '4.9e-324',
    '2.2250738585072014e-308',
    '1.7976931348623157e308',
    '0.30000000000000004',
    '100000000000000000000000',
    '1e22',
    '1e23',
    '123456789.123456',
    '0.000001',
    '3.141592653589793',
  ];

  it.each(forms)('%s in a float column', (text) => {
    const result = expectSameAsObjectPath(`[{"data":{"f":${text}}}]`);
    const [row] = decodeRows(
      result,
      COLUMNS.map(([, type]) => type),
    );
    expect(Object.is(row![2 + 2], JSON.parse(text))).toBe(true);
  });

  it.each(forms)('%s in a string column', (text) => {
    const result = expectSameAsObjectPath(`[{"data":{"s":${text}}}]`);
    const [row] = decodeRows(
      result,
      COLUMNS.map(([, type]) => type),
    );
    expect(row![2]).toBe(String(JSON.parse(text)));
  });

  it.each(forms)('%s in an integer column: stored exactly, or left to the object path', (text) => {
    const value = JSON.parse(text) as number;
    const fits = Number.isInteger(value) && Math.abs(value) < 2 ** 63;
    const body = `[{"data":{"i":${text}}}]`;
    if (fits) {
      const [row] = decodeRows(
        expectSameAsObjectPath(body),
        COLUMNS.map(([, type]) => type),
      );
      expect(row![2 + 1]).toBe(BigInt(value));
    } else {
      expect(fallbackReason(body)).toBe('a fraction in an integer column');
    }
  });

  it('decodes 20 000 random numbers of every JSON form as JSON.parse does', () => {
    const random = mulberry32(20260101);
    const digits = (n: number): string => Array.from({ length: n }, () => String(Math.floor(random() * 10))).join('');
    const texts: string[] = [];
    for (let n = 0; n < 20_000; n++) {
      let text = random() < 0.3 ? '-' : '';
      const intDigits = 1 + Math.floor(random() * (random() < 0.8 ? 10 : 25));
      const first = random() < 0.1 ? '0' : String(1 + Math.floor(random() * 9));
      text += first === '0' ? '0' : first + digits(intDigits - 1);
      if (random() < 0.6) text += `.${digits(1 + Math.floor(random() * (random() < 0.8 ? 8 : 22)))}`;
      if (random() < 0.2) text += `${random() < 0.5 ? 'e' : 'E'}${['', '+', '-'][Math.floor(random() * 3)]}${Math.floor(random() * 330)}`;
      // Numbers past ±1.8e308 refuse their item (see below).
      if (Number.isFinite(JSON.parse(text))) texts.push(text);
    }
    const body = `[${texts.map((text) => `{"data":{"f":${text},"s":${text}}}`).join(',')}]`;
    const result = expectSameAsObjectPath(body);
    const rows = decodeRows(
      result,
      COLUMNS.map(([, type]) => type),
    );
    const mismatches = texts.filter((text, n) => !Object.is(rows[n]![2 + 2], JSON.parse(text)));
    expect(mismatches).toEqual([]);
  });
});

describe("scanBatch: per-item rejections carry the object path's errors", () => {
  it('rejects bad times, with the message of parseEventTime', () => {
    const body = JSON.stringify([
      { data: { i: 1 }, time: 'yesterday' },
      { data: { i: 2 }, time: -1 },
      { data: { i: 3 }, time: true },
      { data: { i: 4 }, time: { at: 1 } },
      { data: { i: 5 }, time: [1] },
      { data: { i: 6 }, time: '2026-13-45T99:99:99Z' },
      { data: { i: 7 }, time: 'a'.repeat(60) },
      { data: { i: 8 }, time: '' },
      { data: { i: 9 }, time: null },
      { data: { i: 10 }, time: ' 1700000000.5 ' },
      { data: { i: 11 }, time: '2026-01-01 10:00' },
      { data: { i: 12 }, time: '2026-01-01T10:00:00+02:00' },
      { data: { i: 13 }, time: 'caf\u00e9' },
    ]);
    const result = expectSameAsObjectPath(body);
    expect(result.rejected.map(([index]) => index)).toEqual([0, 1, 2, 3, 4, 5, 6, 12]);
    expect(result.rejected[0]).toEqual([0, 'time "yesterday" is not RFC 3339 (e.g. 2024-05-01T12:00:00.000Z) or a Unix timestamp']);
    expect(result.rejected[1]).toEqual([1, 'time -1 is not a valid timestamp']);
    expect(result.rejected[2]).toEqual([2, 'time must be an RFC 3339 string or a Unix timestamp, not boolean true']);
    expect(result.rejected[3]).toEqual([3, 'time must be an RFC 3339 string or a Unix timestamp, not an object']);
    expect(result.rejected[4]).toEqual([4, 'time must be an RFC 3339 string or a Unix timestamp, not an array']);
    expect(result.events).toBe(5);
  });

  it('reads RFC 3339 and numeric times of every form as parseEventTime does', () => {
    const times = [
      '2026-01-01T00:00:00Z',
      '2026-01-01T00:00:00.5Z',
      '2026-01-01T00:00:00.123Z',
      '2026-01-01T00:00:00.9999Z',
      '2026-01-01T00:00:00.123456789Z',
      '2026-01-01T00:00:00.1234567891Z',
      '2026-01-01T00:00:00.Z',
      '2026-01-01T00:00:00z',
      '2026-01-01t00:00:00Z',
      '2026-01-01 00:00:00Z',
      '2026-01-01T00:00Z',
      '2026-01-01T00:00:00',
      '2026-01-01T00:00:00+00:00',
      '2026-01-01T00:00:00-0130',
      '2026-01-01T23:59:59.999Z',
      '2026-12-31T23:59:59Z',
      '2024-02-29T12:00:00Z',
      '2026-02-29T12:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T00:60:00Z',
      '2026-01-01T00:00:60Z',
      '2026-00-10T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-01-00T00:00:00Z',
      '1974-12-31T23:59:59Z',
      '1975-01-01T00:00:00Z',
      '1970-01-01T00:00:00Z',
      '1969-12-31T23:59:59.999Z',
      '0000-01-01T00:00:00Z',
      '9999-12-31T23:59:59.999Z',
      ' 2026-01-01T00:00:00Z',
      '2026-01-01T00:00:00Z ',
      '+2026-01-01T00:00:00Z',
      '2026-1-01T00:00:00Z',
      '2026-01-01T00:00:00ZZ',
      '1767225600',
      '1767225600.25',
      '1767225600123',
      '0',
      '01767225600',
      '1e9',
      '-1',
      '',
    ];
    const body = `[${times.map((time) => `{"data":{},"time":${JSON.stringify(time)}}`).join(',')}]`;
    const result = expectSameAsObjectPath(body);
    expect(result.events).toBeGreaterThan(20);
    expect(result.rejected.length).toBeGreaterThan(5);
    const numeric =
      '[{"data":{},"time":1767225600},{"data":{},"time":1767225600.123456},{"data":{},"time":1767225600123},{"data":{},"time":0},{"data":{},"time":1e11},{"data":{},"time":99999999999.9}]';
    expectSameAsObjectPath(numeric);
  });

  it("rejects times the store refuses (out of range) with the store's message", () => {
    const body =
      '[{"data":{},"time":1e16},{"data":{},"time":"99999999999999999"},{"data":{},"time":8.64e15},{"data":{},"time":1e400},{"data":{},"time":1e11}]';
    const result = expectSameAsObjectPath(body);
    const window = `is outside the accepted window, 1970-01-01T00:00:00Z to 1 day after the server's clock (now ${new Date(NOW).toISOString()})`;
    expect(result.rejected).toEqual([
      [0, `event time 10000000000000000 ms ${window}`],
      [1, `event time 100000000000000000 ms ${window}`],
      [2, `event time +275760-09-13T00:00:00.000Z ${window}`],
      [3, 'time Infinity is not a valid timestamp'],
    ]);
    expect(result.lastEventMs).toBe(1e11);
  });

  it('refuses times outside the window, before 1970 or more than a day after now, and takes its edges', () => {
    const times = [
      '"1969-12-31T23:59:59.999Z"',
      '0',
      `${NOW + 86_400_000}`,
      `${NOW + 86_400_001}`,
      '"2100-01-01T00:00:00Z"',
      '"1970-01-01T00:00:00Z"',
    ];
    const result = expectSameAsObjectPath(`[${times.map((time) => `{"data":{},"time":${time}}`).join(',')}]`);
    expect(result.rejected.map(([index]) => index)).toEqual([0, 3, 4]);
    expect(result.rejected[0]![1]).toMatch(
      /^event time 1969-12-31T23:59:59.999Z is outside the accepted window, 1970-01-01T00:00:00Z to 1 day after/,
    );
    expect(result.lastEventMs).toBe(NOW + 86_400_000);
  });

  it('refuses an event with a number beyond ±1.8e308 (infinity to JSON.parse) in any column or nested value, naming the field', () => {
    const body = [
      '{"data":{"f":1e400}}',
      '{"data":{"s":"ok","i":-1e400}}',
      '{"data":{"s":1e999}}',
      '{"data":{"b":1e400}}',
      '{"data":{"t2":{"deep":[1,2,1e400]}}}',
      '{"data":{"f":1.7976931348623157e308,"s":"fine"}}',
      '{"data":{"f":1e400},"time":"nope"}',
    ].join(',');
    const result = expectSameAsObjectPath(`[${body}]`);
    const message = (field: string): string =>
      `field "${field}" holds a number beyond ±1.8e308, which no column can store: send a finite number, or the value as a string`;
    expect(result.rejected).toEqual([
      [0, message('f')],
      [1, message('i')],
      [2, message('s')],
      [3, message('b')],
      [4, message('t2')],
      [6, 'time "nope" is not RFC 3339 (e.g. 2024-05-01T12:00:00.000Z) or a Unix timestamp'],
    ]);
    expect(result.events).toBe(1);
    // Two such fields in one event: the object path names the first in its key order.
    expect(fallbackReason('[{"data":{"f":1e400,"i":1e400}}]')).toBe('two numbers that are not finite in one event');
  });

  it('rejects bad sample rates', () => {
    const body =
      '[{"data":{},"samplerate":0},{"data":{},"samplerate":-3},{"data":{},"samplerate":1.5},{"data":{},"samplerate":"2x"},{"data":{},"samplerate":9007199254740992},{"data":{},"samplerate":true},{"data":{},"samplerate":{}},{"data":{},"samplerate":" 7 "},{"data":{},"samplerate":1.0},{"data":{},"samplerate":null},{"data":{},"samplerate":""},{"data":{},"samplerate":"caf\\u00e9"}]';
    const result = expectSameAsObjectPath(body);
    expect(result.rejected.map(([index]) => index)).toEqual([0, 1, 2, 3, 4, 5, 6, 10, 11]);
    expect(result.rejected[0]).toEqual([0, 'samplerate must be a positive integer, not number 0']);
    expect(result.rejected[3]).toEqual([3, 'samplerate must be a positive integer, not the string "2x"']);
    expect(result.hasSampling).toBe(true);
  });

  it('rejects a bad time before a bad sample rate, as batchItems does', () => {
    const result = expectSameAsObjectPath('[{"data":{},"samplerate":0,"time":"nope"}]');
    expect(result.rejected).toEqual([[0, 'time "nope" is not RFC 3339 (e.g. 2024-05-01T12:00:00.000Z) or a Unix timestamp']]);
  });

  it('rejects items over maxEventBytes when the body is over it, measuring as arrayItemByteLengths does', () => {
    const big = 'z'.repeat(80);
    const body = `[ {"data":{"s":"ok"}} ,\n {"data": {"s":"${big}"} , "time": 1700000000}\t, {"data":{"s":"\\u00e9\\n${'q'.repeat(30)}"}} ,{ "data" : { } } ]`;
    const result = expectSameAsObjectPath(body, { maxEventBytes: 60 });
    const size = Buffer.byteLength(`{"data": {"s":"${big}"} , "time": 1700000000}`);
    expect(result.rejected).toEqual([[1, `event is ${size} bytes, over the 60-byte limit per event`]]);
    // The size is checked before the time, as in batchItems.
    const second = expectSameAsObjectPath(`[{"data":{"s":"${big}"},"time":"bad"},{"data":{}}]`, { maxEventBytes: 60 });
    expect(second.rejected[0]![1]).toMatch(/^event is \d+ bytes, over the 60-byte limit per event$/);
  });

  it('does not measure items when the whole body is within maxEventBytes', () => {
    const body = '[{"data":{"s":"0123456789"}}]';
    const result = expectSameAsObjectPath(body, { maxEventBytes: body.length });
    expect(result.rejected).toEqual([]);
    expect(result.events).toBe(1);
  });

  it('puts only the accepted items in the chunks, in order', () => {
    const body = JSON.stringify([
      { data: { i: 1 } },
      { data: { i: 2 }, time: 'x' },
      { data: { i: 3 } },
      { data: { i: 4 }, samplerate: 0 },
      { data: { i: 5 } },
    ]);
    const result = expectSameAsObjectPath(body);
    expect(
      decodeRows(
        result,
        COLUMNS.map(([, type]) => type),
      ).map((row) => row[3]),
    ).toEqual([1n, 3n, 5n]);
  });
});

describe('scanBatch: falls back whenever the object path decides with more context', () => {
  const cases: Array<[string, string, RegExp | string]> = [
    ['a new field', '[{"data":{"i":1,"new":2}}]', 'a new field'],
    ['a new field given a nested value', '[{"data":{"new":{}}}]', 'a new field'],
    ['an integer column given 1.5', '[{"data":{"i":1.5}}]', 'a fraction in an integer column'],
    ['an integer column given 2^63', '[{"data":{"i":9223372036854775808}}]', 'a fraction in an integer column'],
    ['a string in a boolean column', '[{"data":{"b":"true"}}]', 'a string in a non-string column'],
    ['a string in an integer column', '[{"data":{"i":"1"}}]', 'a string in a non-string column'],
    ['a number in a boolean column', '[{"data":{"b":1}}]', 'a number in a boolean column'],
    ['a boolean in a float column', '[{"data":{"f":true}}]', 'a boolean in a numeric column'],
    ['a nested value in an integer column', '[{"data":{"i":[1]}}]', 'a nested value in a non-string column'],
    ['a duplicate key', '[{"data":{"i":1}},{"data":{"i":1,"i":2}}]', 'a field given twice'],
    ['a duplicate key {"a":1,"a":null}', '[{"data":{"s":"x","s":null}}]', 'a field given twice'],
    ['a duplicate key whose second value is null', '[{"data":{"i":1,"i":null}}]', 'a field given twice'],
    ['a duplicate key whose first value is null', '[{"data":{"s":null,"s":"x"}}]', 'a field given twice'],
    ['`_time` and `data._time` in one event', '[{"data":{"_time":1,"data._time":2}}]', 'a field given twice'],
    ['`data._time` then `_time` with null', '[{"data":{"data._time":1,"_time":null}}]', 'a field given twice'],
    ['"data" twice', '[{"data":{},"data":{}}]', '"data" given twice'],
    ['"time" twice', '[{"data":{},"time":1,"time":2}]', '"time" given twice'],
    ['"samplerate" twice', '[{"data":{},"samplerate":1,"samplerate":2}]', '"samplerate" given twice'],
    ['an item without "data"', '[{"time":1}]', 'an item has no "data"'],
    ['an empty item', '[{}]', 'an item has no "data"'],
    ['"data" null', '[{"data":null}]', '"data" is not an object'],
    ['"data" an array', '[{"data":[]}]', '"data" is not an object'],
    ['"data" a string', '[{"data":"x"}]', '"data" is not an object'],
    ['an item that is an array', '[[]]', 'an item is not an object'],
    ['an item that is null', '[{"data":{}},null]', 'an item is not an object'],
    ['an item that is a number', '[1]', 'an item is not an object'],
    ['a body that is an object', '{"data":{}}', 'the body is not a JSON array'],
    ['an empty body', '', 'the body is not a JSON array'],
    ['a BOM before the array', '\ufeff[]', 'the body is not a JSON array'],
    ['an escaped key in data', '[{"data":{"\\u0069":1}}]', 'an escaped key'],
    ['an escaped key in an item', '[{"d\\u0061ta":{}}]', 'an escaped key'],
    ['a trailing comma between items', '[{"data":{}},]', 'an item is not an object'],
    ['a trailing comma in data', '[{"data":{"i":1,}}]', 'expected a field name'],
    ['a trailing comma in an item', '[{"data":{},}]', 'expected a key'],
    ['a leading zero', '[{"data":{"i":01}}]', 'malformed JSON in "data"'],
    ['a lone minus', '[{"data":{"i":-}}]', 'malformed number'],
    ['a minus before blank', '[{"data":{"i":- 1}}]', 'malformed number'],
    ['a fraction without digits', '[{"data":{"f":1.}}]', 'malformed number'],
    ['a fraction without integer part', '[{"data":{"f":.5}}]', 'malformed value'],
    ['a plus sign', '[{"data":{"f":+1}}]', 'malformed value'],
    ['an exponent without digits', '[{"data":{"f":1e}}]', 'malformed number'],
    ['an exponent sign without digits', '[{"data":{"f":1e+}}]', 'malformed number'],
    ['a hexadecimal number', '[{"data":{"i":0x10}}]', 'malformed JSON in "data"'],
    ['NaN', '[{"data":{"f":NaN}}]', 'malformed value'],
    ['Infinity', '[{"data":{"f":Infinity}}]', 'malformed value'],
    ['a malformed number in time', '[{"data":{},"time":01}]', 'malformed JSON in an item'],
    ['a malformed number in samplerate', '[{"data":{},"samplerate":1.}]', 'malformed number'],
    ['an unterminated string', '[{"data":{"s":"abc}}]', 'malformed string'],
    ['an unterminated key', '[{"data":{"s', 'malformed string'],
    ['an unterminated string in a nested value', '[{"data":{"s":{"a":"b}}]', /unterminated|malformed/],
    ['an unterminated nested value', '[{"data":{"s":[1,2', 'unterminated value'],
    ['a control character in a string', '[{"data":{"s":"a\tb"}}]', 'malformed string'],
    ['a newline in a string', '[{"data":{"s":"a\nb"}}]', 'malformed string'],
    ['a NUL byte in a string', '[{"data":{"s":"a\u0000b"}}]', 'malformed string'],
    ['a control character in a time string', '[{"data":{},"time":"a\u0001"}]', 'malformed string'],
    ['a control character in a nested string', '[{"data":{"s":{"a":"\u0001"}}}]', 'malformed JSON value'],
    ['a control character in a key', '[{"data":{"a\u0001":1}}]', 'malformed string'],
    ['a bad escape', '[{"data":{"s":"\\x41"}}]', 'malformed JSON value'],
    ['a short unicode escape', '[{"data":{"s":"\\u12"}}]', 'malformed JSON value'],
    ['mismatched brackets in a nested value', '[{"data":{"s":{"a":[1}]}}]', 'malformed JSON value'],
    ['a trailing comma in a nested value', '[{"data":{"s":[1,]}}]', 'malformed JSON value'],
    ['a single-quoted string', '[{"data":{"s":\'x\'}}]', 'malformed value'],
    ['a misspelled literal', '[{"data":{"b":ture}}]', 'malformed literal'],
    ['a misspelled null', '[{"data":{"i":nul}}]', 'malformed literal'],
    ['a literal run into a word', '[{"data":{"b":truex}}]', 'malformed JSON in "data"'],
    ['a missing colon', '[{"data":{"i" 1}}]', "expected ':'"],
    ['a missing comma between fields', '[{"data":{"i":1 "s":"x"}}]', 'malformed JSON in "data"'],
    ['a missing comma between items', '[{"data":{}} {"data":{}}]', 'malformed JSON between items'],
    ['a missing closing bracket', '[{"data":{}}', 'malformed JSON between items'],
    ['text after the array', '[{"data":{}}] x', 'text after the array'],
    ['a second array', '[][]', 'text after the array'],
    ['a NUL after the array', '[]\u0000', 'text after the array'],
    ['a vertical tab as blank', '[\u000b]', 'an item is not an object'],
    ['a non-breaking space as blank', '[\u00a0]', 'an item is not an object'],
    ['an unquoted key', '[{data:{}}]', 'expected a key'],
    ['a comment', '[/* x */]', 'an item is not an object'],
  ];

  it.each(cases)('%s', (_name, body, reason) => {
    const got = fallbackReason(body);
    if (typeof reason === 'string') expect(got).toBe(reason);
    else expect(got).toMatch(reason);
  });

  it('falls back on every malformed body that JSON.parse refuses', () => {
    // Whatever the reason, a body the object path cannot parse must never be prepared.
    for (const [, body] of cases) {
      let parses = true;
      try {
        JSON.parse(body);
      } catch {
        parses = false;
      }
      if (!parses) expect(scan(body).kind, body).toBe('fallback');
    }
  });

  it('falls back on invalid UTF-8 outside strings and inside keys that name no column', () => {
    expect(scan(new Uint8Array([0x5b, 0xc3, 0xa9, 0x5d])).kind).toBe('fallback');
    expect(scan(Buffer.concat([Buffer.from('[{"data":{"'), Buffer.from([0xff]), Buffer.from('":1}}]')])).kind).toBe('fallback');
  });

  it('takes a duplicate of a field that has no column only when every value is null', () => {
    expect(scan('[{"data":{"x":null,"x":null}}]').kind).toBe('prepared');
    expect(fallbackReason('[{"data":{"x":null,"x":1}}]')).toBe('a new field');
  });

  it('falls back on an empty field name with a value (the store rejects it)', () => {
    expect(fallbackReason('[{"data":{"":1}}]')).toBe('a new field');
  });

  it('falls back on a field that differs from a column only in letter case', () => {
    expect(fallbackReason('[{"data":{"S":"x"}}]')).toBe('a new field');
  });

  it('an item that would fall back makes the whole body fall back, wherever it is', () => {
    const items = Array.from({ length: 100 }, (_, n) => ({ data: { i: n } }));
    const good = JSON.stringify(items);
    expect(scan(good).kind).toBe('prepared');
    expect(scan(`${good.slice(0, -1)},{"data":{"i":0.5}}]`).kind).toBe('fallback');
    expect(scan(`[{"data":{"i":0.5}},${good.slice(1)}`).kind).toBe('fallback');
  });
});

describe('scanSchemaOf', () => {
  it('builds the scan schema of a store snapshot', () => {
    const s = scanSchemaOf({
      dataset: 'd',
      version: 7,
      types: ['integer', 'string'],
      fields: [
        ['a', 0],
        ['data._time', 1],
        ['_time', 1],
      ],
    });
    expect(s.version).toBe(7);
    expect(s.fieldIndex.get('_time')).toBe(1);
    const result = scanBatch(bytes('[{"data":{"a":1,"_time":"x"}}]'), s, { now: NOW, maxEventBytes: BIG_LIMIT });
    expect(result.kind).toBe('prepared');
    expect((result as Prepared).version).toBe(7);
  });
});
