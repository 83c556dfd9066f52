/**
 * `ColumnBuilder` (src/store/column-builder.ts): DuckDB's memory layout for each kind of
 * column, the two ways of writing a string, deduplication of repeated long strings,
 * `unset` of a refused item's row, and `RecycledBuffers`.
 */
import { describe, expect, it } from 'vitest';
import {
  ColumnBuilder,
  RecycledBuffers,
  transferablesOf,
  type BufferSource,
  type BuiltColumn,
  type ChunkColumnKind,
} from '../../../src/store/duckdb/column-builder.js';
import { mulberry32 } from '../../fixtures/random.js';

// ---------------------------------------------------------------------------
// Helpers

/** A cell as DuckDB would read it: bigint for int64 words, number, boolean, string, or null. */
type Cell = bigint | number | boolean | string | null;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isValid(column: BuiltColumn, row: number): boolean {
  return column.validity === undefined || (column.validity[row >>> 5]! & (1 << (row & 31))) !== 0;
}

/** The values of a built column, row by row, read from its buffers as DuckDB would. */
function decode(column: BuiltColumn): Cell[] {
  const longIndex = new Map<number, number>();
  column.longRows.forEach((row, i) => longIndex.set(row, i));
  const repeatOf = new Map<number, number>();
  column.repeatRows.forEach((row, i) => repeatOf.set(row, column.repeatSources[i]!));
  const text = (row: number): string => {
    const source = repeatOf.get(row);
    if (source !== undefined) {
      expect(longIndex.has(source), `repeat of row ${row} points at row ${source}, which holds no long string`).toBe(true);
      return text(source);
    }
    const long = longIndex.get(row);
    if (long !== undefined) return utf8.decode(column.heap.subarray(column.heapOffsets[long]!, column.heapOffsets[long + 1]!));
    const slots = column.data as Uint8Array;
    const length = new DataView(slots.buffer, slots.byteOffset).getUint32(row * 16, true);
    expect(length).toBeLessThanOrEqual(12);
    return utf8.decode(slots.subarray(row * 16 + 4, row * 16 + 4 + length));
  };
  const cells: Cell[] = [];
  for (let row = 0; row < column.rows; row++) {
    if (!isValid(column, row)) cells.push(null);
    else if (column.kind === 'integer' || column.kind === 'timestamp') {
      const words = column.data as Int32Array;
      cells.push(BigInt.asIntN(64, (BigInt(words[row * 2 + 1]!) << 32n) | BigInt(words[row * 2]! >>> 0)));
    } else if (column.kind === 'float') cells.push((column.data as Float64Array)[row]!);
    else if (column.kind === 'boolean') cells.push((column.data as Uint8Array)[row] === 1);
    else cells.push(text(row));
  }
  return cells;
}

/** Everything `finish()` hands over, as plain arrays (views of different buffers compare by content). */
function layout(column: BuiltColumn): Record<string, unknown> {
  return {
    kind: column.kind,
    rows: column.rows,
    data: Array.from(column.data as ArrayLike<number>),
    validity: column.validity === undefined ? undefined : Array.from(column.validity),
    longRows: Array.from(column.longRows),
    heapOffsets: Array.from(column.heapOffsets),
    heap: Buffer.from(column.heap).toString('latin1'),
    repeatRows: Array.from(column.repeatRows),
    repeatSources: Array.from(column.repeatSources),
  };
}

function ascii(builder: ColumnBuilder, row: number, text: string, padding = 0): void {
  // The bytes sit inside a larger buffer, as in a request body.
  const bytes = Buffer.from(`${'x'.repeat(padding)}${text}"`, 'latin1');
  builder.setAsciiBytes(row, bytes, padding, padding + text.length);
}

/** A string value written either way. */
type Write = { text: string; as: 'string' | 'bytes' };

function write(builder: ColumnBuilder, row: number, value: Write): void {
  if (value.as === 'string') builder.setString(row, value.text);
  else ascii(builder, row, value.text, row % 7);
}

const long = (n: number): string => `a long string number ${n}`;

// ---------------------------------------------------------------------------

describe('ColumnBuilder: layout of each kind', () => {
  it('integer and timestamp: int64 as little-endian pairs of 32-bit words', () => {
    for (const kind of ['integer', 'timestamp'] as const) {
      const builder = new ColumnBuilder(kind, 8);
      const values = [0, 1, -1, 2 ** 32 + 5, -(2 ** 32) - 5, 2 ** 53 - 1, -(2 ** 53)];
      values.forEach((value, row) => builder.setInteger(row, value));
      builder.setBigInt(7, 2n ** 63n - 1n);
      const column = builder.finish();
      expect(column.kind).toBe(kind);
      expect(column.data).toBeInstanceOf(Int32Array);
      expect(Array.from(column.data).slice(0, 8)).toEqual([0, 0, 1, 0, -1, -1, 5, 1]);
      expect(Array.from(column.data).slice(14, 16)).toEqual([-1, 0x7fffffff]);
      expect(decode(column)).toEqual([...values.map(BigInt), 2n ** 63n - 1n]);
      expect(column.validity, 'every row valid: no validity mask').toBeUndefined();
    }
    const smallest = new ColumnBuilder('integer', 1);
    smallest.setBigInt(0, -(2n ** 63n));
    expect(decode(smallest.finish())).toEqual([-(2n ** 63n)]);
  });

  it('float: doubles; boolean: one byte per row', () => {
    const floats = new ColumnBuilder('float', 3);
    [1.5, -0, Number.MAX_VALUE].forEach((value, row) => floats.setFloat(row, value));
    const column = floats.finish();
    expect(column.data).toBeInstanceOf(Float64Array);
    expect(Array.from(column.data)).toEqual([1.5, -0, Number.MAX_VALUE]);
    expect(Object.is(column.data[1], -0)).toBe(true);

    const booleans = new ColumnBuilder('boolean', 3);
    booleans.setBoolean(0, true);
    booleans.setBoolean(1, false);
    booleans.setBoolean(2, true);
    const bools = booleans.finish();
    expect(bools.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(bools.data)).toEqual([1, 0, 1]);
  });

  it('string: 16-byte slots, at most 12 UTF-8 bytes inline, longer ones in the heap', () => {
    const builder = new ColumnBuilder('string', 5);
    builder.setString(0, 'abc');
    builder.setString(1, 'twelve bytes');
    builder.setString(2, 'thirteen byte');
    builder.setString(3, 'é€');
    builder.setString(4, 'éééééé€'); // 7 characters, 15 UTF-8 bytes: long
    const column = builder.finish();
    const slots = column.data as Uint8Array;
    expect(slots.length).toBe(5 * 16);
    expect(Array.from(slots.subarray(0, 16))).toEqual([3, 0, 0, 0, 0x61, 0x62, 0x63, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(slots[16]).toBe(12);
    expect(Buffer.from(slots.subarray(20, 32)).toString()).toBe('twelve bytes');
    expect(slots[48]).toBe(5);
    expect(Buffer.from(slots.subarray(52, 57)).toString()).toBe('é€');
    // Long rows leave their slot to duckdb-chunk.ts, which points it into the vector's copy of the heap.
    expect(Array.from(slots.subarray(32, 48))).toEqual(new Array(16).fill(0));
    expect(Array.from(column.longRows)).toEqual([2, 4]);
    expect(Array.from(column.heapOffsets)).toEqual([0, 13, 28]);
    expect(Buffer.from(column.heap).toString()).toBe('thirteen byteéééééé€');
    expect(decode(column)).toEqual(['abc', 'twelve bytes', 'thirteen byte', 'é€', 'éééééé€']);
  });

  it('rows never set are NULL in the validity mask; finish(rows) cuts the chunk short', () => {
    const builder = new ColumnBuilder('integer', 100);
    builder.setInteger(0, 7);
    builder.setInteger(33, 8);
    builder.setInteger(64, 9);
    const column = builder.finish(70);
    expect(column.rows).toBe(70);
    // 64-bit words as pairs of 32-bit words: ceil(100 / 64) words.
    expect(Array.from(column.validity!)).toEqual([1, 2, 1, 0]);
    const cells = decode(column);
    expect(cells.filter((cell) => cell !== null)).toEqual([7n, 8n, 9n]);
    expect(cells[33]).toBe(8n);

    const empty = new ColumnBuilder('string', 3).finish();
    expect(Array.from(empty.validity!)).toEqual([0, 0]);
    expect(decode(empty)).toEqual([null, null, null]);
    expect(empty.heap.length + empty.longRows.length + empty.repeatRows.length).toBe(0);

    const full = new ColumnBuilder('boolean', 4);
    for (let row = 0; row < 2; row++) full.setBoolean(row, true);
    expect(full.finish(2).validity, 'every row of the cut chunk is valid').toBeUndefined();
  });
});

describe('ColumnBuilder: strings from JS strings and from ASCII bytes', () => {
  it('setString and setAsciiBytes lay out ASCII text identically', () => {
    const random = mulberry32(11);
    for (let round = 0; round < 20; round++) {
      const rows = 1 + Math.floor(random() * 600);
      const pool = Array.from({ length: 1 + Math.floor(random() * 400) }, (_, n) => 'k'.repeat(Math.floor(random() * 30)) + String(n));
      const fromString = new ColumnBuilder('string', rows);
      const fromBytes = new ColumnBuilder('string', rows);
      for (let row = 0; row < rows; row++) {
        if (random() < 0.1) continue;
        const text = pool[Math.floor(random() * pool.length)]!;
        fromString.setString(row, text);
        ascii(fromBytes, row, text, row % 5);
      }
      expect(layout(fromBytes.finish())).toEqual(layout(fromString.finish()));
    }
  });

  it('repeats of a long string point at its first row instead of copying it', () => {
    for (const as of ['string', 'bytes'] as const) {
      const builder = new ColumnBuilder('string', 6);
      write(builder, 0, { text: long(1), as });
      write(builder, 1, { text: long(2), as });
      write(builder, 2, { text: long(1), as });
      write(builder, 3, { text: 'short', as });
      write(builder, 4, { text: long(2), as });
      write(builder, 5, { text: long(1), as });
      const column = builder.finish();
      expect(Array.from(column.longRows), as).toEqual([0, 1]);
      expect(Buffer.from(column.heap).toString(), as).toBe(long(1) + long(2));
      expect(Array.from(column.repeatRows), as).toEqual([2, 4, 5]);
      expect(Array.from(column.repeatSources), as).toEqual([0, 1, 0]);
      expect(decode(column)).toEqual([long(1), long(2), long(1), 'short', long(2), long(1)]);
    }
  });

  it('stops looking for repeats when the first 256 long strings are mostly distinct', () => {
    for (const as of ['string', 'bytes'] as const) {
      const builder = new ColumnBuilder('string', 300);
      for (let row = 0; row < 256; row++) write(builder, row, { text: long(row), as });
      write(builder, 256, { text: long(0), as });
      const column = builder.finish(257);
      expect(column.repeatRows.length, as).toBe(0);
      expect(column.longRows.length, as).toBe(257);
      expect(decode(column)[256]).toBe(long(0));
    }
  });
});

describe('ColumnBuilder: unset(row) takes back a refused item', () => {
  /**
   * Writes `before`, then at the next row each refused value followed by unset, then `next`;
   * the result must be what writing `before` and `next` alone gives, buffer for buffer.
   */
  function expectUnsetRestores(
    kind: ChunkColumnKind,
    before: Array<(b: ColumnBuilder, row: number) => void>,
    refused: Array<(b: ColumnBuilder, row: number) => void>,
    next: Array<(b: ColumnBuilder, row: number) => void>,
  ): void {
    const rows = before.length + next.length + 1;
    const withRefusal = new ColumnBuilder(kind, rows);
    const without = new ColumnBuilder(kind, rows);
    before.forEach((set, row) => {
      set(withRefusal, row);
      set(without, row);
    });
    const row = before.length;
    for (const set of refused) {
      set(withRefusal, row);
      withRefusal.unset(row);
      expect(withRefusal.valueCount).toBe(without.valueCount);
    }
    next.forEach((set, n) => {
      set(withRefusal, row + n);
      set(without, row + n);
    });
    expect(layout(withRefusal.finish())).toEqual(layout(without.finish()));
  }

  const s = (text: string) => (b: ColumnBuilder, row: number) => b.setString(row, text);
  const a = (text: string) => (b: ColumnBuilder, row: number) => ascii(b, row, text, 3);

  it('numbers and booleans', () => {
    expectUnsetRestores(
      'integer',
      [(b, r) => b.setInteger(r, 1)],
      [(b, r) => b.setInteger(r, -5), (b, r) => b.setBigInt(r, 2n ** 62n)],
      [(b, r) => b.setInteger(r, 2)],
    );
    expectUnsetRestores('timestamp', [], [(b, r) => b.setInteger(r, 123)], [(b, r) => b.setInteger(r, 456)]);
    expectUnsetRestores('float', [(b, r) => b.setFloat(r, 1.5)], [(b, r) => b.setFloat(r, NaN)], [(b, r) => b.setFloat(r, 2.5)]);
    expectUnsetRestores(
      'boolean',
      [(b, r) => b.setBoolean(r, false)],
      [(b, r) => b.setBoolean(r, true)],
      [(b, r) => b.setBoolean(r, false)],
    );
  });

  it('an inline string, a long string and a repeat, given either way', () => {
    for (const set of [s, a]) {
      expectUnsetRestores('string', [set('x')], [set('refused')], [set('y')]);
      expectUnsetRestores('string', [set(long(1))], [set(long(2))], [set('short'), set(long(3))]);
      expectUnsetRestores('string', [set(long(1))], [set(long(2))], [set(long(2)), set(long(2))]);
      // A refused repeat: the next rows still repeat the first row.
      expectUnsetRestores('string', [set(long(1))], [set(long(1))], [set(long(1)), set(long(1))]);
      // A long string refused where a short one comes next, and the other way round.
      expectUnsetRestores('string', [set('a')], [set(long(1))], [set('b'), set(long(1))]);
      expectUnsetRestores('string', [], [set('a')], [set(long(1))]);
      // A non-ASCII text that is long only in UTF-8.
      expectUnsetRestores('string', [s('ü')], [s('üüüüüüü')], [s('üüüüüüü'), set(long(1))]);
    }
  });

  it('a JS string whose first occurrence was unset is not taken for a repeat of that row later', () => {
    // Row 0 first holds L (refused), then M; L at row 1 must be a long string of its own.
    expectUnsetRestores('string', [], [s(long(1))], [s(long(2)), s(long(1)), s(long(1))]);
    expectUnsetRestores('string', [], [a(long(1))], [a(long(2)), a(long(1)), a(long(1))]);
    // Several refusals in a row at the same row, mixing both ways.
    expectUnsetRestores(
      'string',
      [s(long(9))],
      [s(long(1)), a(long(2)), s(long(9)), a(long(9)), s('z')],
      [a(long(1)), s(long(2)), s(long(1)), a(long(9))],
    );
  });

  it('many refused long strings leave the repeat table as it was (a lookup always ends)', () => {
    // The repeat table of the bytes path is back to empty after each refusal. Checked on the
    // private table first: were entries left in it, they would fill it and a later lookup would
    // never end, and the test timeout cannot stop a synchronous loop.
    const builder = new ColumnBuilder('string', 64);
    for (let n = 0; n < 3000; n++) {
      ascii(builder, 0, `refused value ${n}`);
      builder.unset(0);
      const table = (builder as unknown as { byteTable: Int32Array }).byteTable;
      expect(
        table.some((entry) => entry !== 0),
        `entries left after refusal ${n}`,
      ).toBe(false);
    }
    ascii(builder, 0, 'accepted value A');
    ascii(builder, 1, 'accepted value B');
    ascii(builder, 2, 'accepted value A');
    expect(decode(builder.finish(3))).toEqual(['accepted value A', 'accepted value B', 'accepted value A']);
    for (const set of [s, a]) {
      const refused = Array.from({ length: 3000 }, (_, n) => set(`refused value ${n}`));
      expectUnsetRestores('string', [set(long(0))], refused, [set(long(1)), set(long(2)), set(long(0)), set(long(2))]);
    }
  });

  it('random sequences of refusals give the layout of the accepted values alone', () => {
    const random = mulberry32(3);
    for (let round = 0; round < 30; round++) {
      const rows = 1 + Math.floor(random() * 300);
      const texts = Array.from({ length: 1 + Math.floor(random() * 40) }, (_, n) =>
        random() < 0.3 ? `s${n}` : random() < 0.2 ? `ü${long(n)}` : long(n),
      );
      const pick = (): Write => {
        const text = texts[Math.floor(random() * texts.length)]!;
        // Bytes only for ASCII text, as the scanner does.
        return { text, as: /^[\x20-\x7e]*$/.test(text) && random() < 0.5 ? 'bytes' : 'string' };
      };
      const withRefusal = new ColumnBuilder('string', rows);
      const without = new ColumnBuilder('string', rows);
      for (let row = 0; row < rows; row++) {
        while (random() < 0.3) {
          write(withRefusal, row, pick());
          withRefusal.unset(row);
        }
        if (random() < 0.1) continue; // NULL
        const value = pick();
        write(withRefusal, row, value);
        write(without, row, value);
      }
      expect(layout(withRefusal.finish())).toEqual(layout(without.finish()));
    }
  });

  // The decision to stop deduplicating is taken before the next lookup, not when the 256th long
  // string is added, so unset of that string leaves nothing to take back.
  it('a refused 256th long string does not switch deduplication off (layout)', () => {
    const distinct = Array.from({ length: 255 }, (_, n) => s(long(n)));
    expectUnsetRestores('string', distinct, [s('a refused distinct long string')], [s(long(0))]);
  });

  it('a refused 256th long string leaves the values as they would be without it', () => {
    const withRefusal = new ColumnBuilder('string', 257);
    const without = new ColumnBuilder('string', 257);
    for (let row = 0; row < 255; row++) {
      withRefusal.setString(row, long(row));
      without.setString(row, long(row));
    }
    withRefusal.setString(255, 'a refused distinct long string');
    withRefusal.unset(255);
    for (const builder of [withRefusal, without]) {
      builder.setString(255, long(0));
      builder.setString(256, long(1));
    }
    expect(decode(withRefusal.finish())).toEqual(decode(without.finish()));
  });
});

describe('RecycledBuffers', () => {
  it('hands back a returned buffer of the asked size, zeroed', () => {
    const buffers = new RecycledBuffers(1024);
    const first = buffers.take(64);
    expect(first.byteLength).toBe(64);
    new Uint8Array(first).fill(0xab);
    buffers.give(first);
    expect(buffers.heldBytes).toBe(64);
    const other = buffers.take(128);
    expect(other).not.toBe(first);
    expect(other.byteLength).toBe(128);
    expect(buffers.heldBytes).toBe(64);
    const again = buffers.take(64);
    expect(again).toBe(first);
    expect(new Uint8Array(again).every((byte) => byte === 0)).toBe(true);
    expect(buffers.heldBytes).toBe(0);
    expect(buffers.take(64)).not.toBe(first);
  });

  it('holds at most its byte cap, and ignores empty buffers', () => {
    const buffers = new RecycledBuffers(100);
    const a = new ArrayBuffer(64);
    const b = new ArrayBuffer(64);
    buffers.give(a);
    buffers.give(b);
    expect(buffers.heldBytes).toBe(64);
    buffers.give(new ArrayBuffer(36));
    expect(buffers.heldBytes).toBe(100);
    buffers.give(new ArrayBuffer(1));
    expect(buffers.heldBytes).toBe(100);
    expect(buffers.take(64)).toBe(a);
    expect(buffers.take(64)).not.toBe(b);

    const empty = new ArrayBuffer(0);
    buffers.give(empty);
    expect(buffers.heldBytes).toBe(36);
    const taken = buffers.take(0);
    expect(taken).not.toBe(empty);
    expect(taken.byteLength).toBe(0);
  });

  it('builders on recycled, dirty buffers build the same columns as on new ones', () => {
    const buffers = new RecycledBuffers(1 << 20);
    const build = (source: BufferSource | undefined): BuiltColumn[] => {
      const kinds: ChunkColumnKind[] = ['integer', 'timestamp', 'float', 'boolean', 'string'];
      return kinds.map((kind) => {
        const builder = new ColumnBuilder(kind, 200, source);
        for (let row = 0; row < 200; row += 3) {
          if (kind === 'integer' || kind === 'timestamp') builder.setInteger(row, row * 1000);
          else if (kind === 'float') builder.setFloat(row, row / 7);
          else if (kind === 'boolean') builder.setBoolean(row, row % 2 === 0);
          else builder.setString(row, row % 9 === 0 ? 'inline' : long(row % 20) + 'x'.repeat(row));
        }
        return builder.finish();
      });
    };
    const expected = build(undefined).map(layout);
    for (let round = 0; round < 3; round++) {
      const columns = build(buffers);
      expect(columns.map(layout)).toEqual(expected);
      // Dirty every buffer, then hand them back as the main thread does after an append.
      const transferable: ArrayBuffer[] = [];
      for (const column of columns) transferablesOf(column, transferable);
      for (const buffer of transferable) {
        new Uint8Array(buffer).fill(0xff);
        buffers.give(buffer);
      }
      expect(buffers.heldBytes).toBeGreaterThan(0);
    }
  });
});
