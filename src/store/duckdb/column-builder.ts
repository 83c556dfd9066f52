/**
 * Builders of one column of one DuckDB data chunk, in DuckDB's own memory
 * layout, from JavaScript values or straight from ASCII bytes of a request
 * body. Pure: no DuckDB here, so the batch scanner can build columns in a
 * worker thread and hand the buffers over; `duckdb-chunk.ts` copies a
 * {@link BuiltColumn} into a native vector with a few native calls per column.
 */
import type { ColumnType } from '../types.js';

/** Rows per data chunk: DuckDB's standard vector size. */
export const CHUNK_ROWS = 2048;

/** Physical kinds of the columns a chunk holds. */
export type ChunkColumnKind = ColumnType | 'timestamp';

/**
 * One column of a chunk, ready to copy into a DuckDB vector. Every typed array
 * owns its whole buffer, so the column can be transferred between threads.
 */
export interface BuiltColumn {
  kind: ChunkColumnKind;
  rows: number;
  /** int64 as pairs of 32-bit words (integer, timestamp), doubles, booleans as bytes, or 16-byte `string_t` slots. */
  data: Int32Array | Float64Array | Uint8Array;
  /** DuckDB validity bits (64-bit words as pairs of 32-bit words); undefined when every row is valid. */
  validity: Uint32Array | undefined;
  /** Rows holding a string longer than 12 bytes, and its UTF-8 bytes: `heap[heapOffsets[i] .. heapOffsets[i + 1]]`. */
  longRows: Int32Array;
  heapOffsets: Int32Array;
  heap: Uint8Array;
  /** Rows that repeat the long string of an earlier row of the chunk (`repeatSources[i]`). */
  repeatRows: Int32Array;
  repeatSources: Int32Array;
}

const TWO_32 = 4294967296;
const INLINE_STRING_BYTES = 12;
const STRING_T_BYTES = 16;
/** Long strings looked at before deciding whether a column repeats enough to deduplicate. */
const DEDUPE_PROBE = 256;
/** Slots of the open-addressing table that finds repeated long strings given as bytes. */
const BYTE_TABLE_SLOTS = 4096;

const textEncoder = new TextEncoder();

/**
 * Where a builder's buffers come from. A source may hand out buffers used before (a worker
 * gets its buffers back once the main thread has appended them), zeroed like new ones.
 */
export interface BufferSource {
  /** A zeroed buffer of exactly `bytes` bytes. */
  take(bytes: number): ArrayBuffer;
  /** A buffer the builder no longer needs (a heap it outgrew). */
  give(buffer: ArrayBuffer): void;
}

/** Fresh buffers every time. */
export const NEW_BUFFERS: BufferSource = {
  take: (bytes) => new ArrayBuffer(bytes),
  give: () => undefined,
};

/**
 * Keeps returned buffers by size for reuse, up to `maxBytes` in all, so that a steady stream
 * of batches stops allocating (each new buffer is memory the garbage collector must account for).
 */
export class RecycledBuffers implements BufferSource {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private bytes = 0;
  constructor(private readonly maxBytes: number) {}

  take(bytes: number): ArrayBuffer {
    const buffer = this.free.get(bytes)?.pop();
    if (buffer === undefined) return new ArrayBuffer(bytes);
    this.bytes -= bytes;
    new Uint8Array(buffer).fill(0);
    return buffer;
  }

  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength === 0 || this.bytes + buffer.byteLength > this.maxBytes) return;
    let list = this.free.get(buffer.byteLength);
    if (list === undefined) this.free.set(buffer.byteLength, (list = []));
    list.push(buffer);
    this.bytes += buffer.byteLength;
  }

  /** Bytes held for reuse. */
  get heldBytes(): number {
    return this.bytes;
  }
}
const EMPTY_INT32 = new Int32Array(0);
const EMPTY_BYTES = new Uint8Array(0);

/**
 * Fills one column of a chunk of `rows` rows. Values are set by row, each row
 * at most once; rows never set stay NULL. `finish` hands the buffers over.
 */
export class ColumnBuilder {
  readonly kind: ChunkColumnKind;
  private readonly rows: number;
  private validity: Uint32Array | undefined;
  private validCount = 0;
  private readonly int64Words: Int32Array | undefined;
  private readonly doubles: Float64Array | undefined;
  private readonly bytes: Uint8Array | undefined;
  // Typed arrays of one slot per row at most, made when the first long string comes.
  private longRows: Int32Array = EMPTY_INT32;
  private longCount = 0;
  private heapOffsets: Int32Array = EMPTY_INT32;
  private heap: Uint8Array = EMPTY_BYTES;
  private heapUsed = 0;
  private repeatRows: Int32Array = EMPTY_INT32;
  private repeatSources: Int32Array = EMPTY_INT32;
  private repeatCount = 0;
  private dedupe = true;
  /** Long strings given as JS strings → their first row. */
  private firstRowOfText: Map<string, number> | undefined;
  /** Long strings given as bytes: hash table of (index into longRows + 1), 0 = empty. */
  private byteTable: Int32Array | undefined;

  private readonly source: BufferSource;

  constructor(kind: ChunkColumnKind, rows: number, source: BufferSource = NEW_BUFFERS) {
    this.kind = kind;
    this.rows = rows;
    this.source = source;
    if (kind === 'integer' || kind === 'timestamp') this.int64Words = new Int32Array(source.take(rows * 8));
    else if (kind === 'float') this.doubles = new Float64Array(source.take(rows * 8));
    else if (kind === 'boolean') this.bytes = new Uint8Array(source.take(rows));
    else this.bytes = new Uint8Array(source.take(rows * STRING_T_BYTES));
  }

  private validityWords(): Uint32Array {
    return new Uint32Array(this.source.take(Math.ceil(this.rows / 64) * 8));
  }

  /** Rows given a value so far. */
  get valueCount(): number {
    return this.validCount;
  }

  private markValid(row: number): void {
    if (this.validity === undefined) this.validity = this.validityWords();
    this.validity[row >>> 5]! |= 1 << (row & 31);
    this.validCount++;
  }

  /** Sets an integer that is exactly representable as a JS number (|v| < 2^63). */
  setInteger(row: number, value: number): void {
    const words = this.int64Words!;
    const high = Math.floor(value / TWO_32);
    words[row * 2] = (value - high * TWO_32) | 0;
    words[row * 2 + 1] = high | 0;
    this.markValid(row);
  }

  /** Sets a 64-bit integer given as a bigint (the caller checked the range). */
  setBigInt(row: number, value: bigint): void {
    const words = this.int64Words!;
    words[row * 2] = Number(BigInt.asIntN(32, value));
    words[row * 2 + 1] = Number(BigInt.asIntN(32, value >> 32n));
    this.markValid(row);
  }

  setFloat(row: number, value: number): void {
    this.doubles![row] = value;
    this.markValid(row);
  }

  setBoolean(row: number, value: boolean): void {
    this.bytes![row] = value ? 1 : 0;
    this.markValid(row);
  }

  /** Sets a string given as a JS string. */
  setString(row: number, value: string): void {
    const length = value.length;
    const bytes = this.bytes!;
    const base = row * STRING_T_BYTES;
    if (length <= INLINE_STRING_BYTES) {
      let ascii = true;
      for (let i = 0; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code > 0x7f) {
          ascii = false;
          break;
        }
        bytes[base + 4 + i] = code;
      }
      if (ascii) {
        bytes[base] = length;
        this.markValid(row);
        return;
      }
      const encoded = textEncoder.encode(value);
      if (encoded.length <= INLINE_STRING_BYTES) {
        bytes.fill(0, base + 4, base + STRING_T_BYTES);
        bytes.set(encoded, base + 4);
        bytes[base] = encoded.length;
        this.markValid(row);
        return;
      }
      bytes.fill(0, base + 4, base + STRING_T_BYTES);
      this.addLong(row, encoded, 0, encoded.length);
      return;
    }
    if (this.dedupe) this.checkDedupe();
    if (this.dedupe) {
      const seen = (this.firstRowOfText ??= new Map()).get(value);
      if (seen !== undefined) {
        this.addRepeat(row, seen);
        return;
      }
      this.firstRowOfText.set(value, row);
    }
    // At most 3 UTF-8 bytes per UTF-16 code unit.
    this.reserveHeap(length * 3);
    const { written } = textEncoder.encodeInto(value, this.heap.subarray(this.heapUsed));
    this.heapUsed += written;
    this.pushLong(row);
  }

  /**
   * Sets a string given as bytes `source[start, end)`, which the caller
   * checked are ASCII without escapes (so they are the string's UTF-8 bytes).
   */
  setAsciiBytes(row: number, source: Uint8Array, start: number, end: number): void {
    const length = end - start;
    const bytes = this.bytes!;
    const base = row * STRING_T_BYTES;
    if (length <= INLINE_STRING_BYTES) {
      bytes[base] = length;
      for (let i = 0; i < length; i++) bytes[base + 4 + i] = source[start + i]!;
      this.markValid(row);
      return;
    }
    if (this.dedupe) this.checkDedupe();
    if (this.dedupe) {
      const table = (this.byteTable ??= new Int32Array(tableSlotsFor(this.rows)));
      const mask = table.length - 1;
      let hash = length;
      for (let i = start; i < end; i++) hash = Math.imul(hash ^ source[i]!, 0x01000193);
      let slot = (hash ^ (hash >>> 15)) & mask;
      // Bounded, so that no state of the table can make a lookup run forever.
      for (let probes = 0; probes <= mask; probes++) {
        const entry = table[slot]!;
        // An entry past the last long string was left by `unset`: the slot is free again.
        if (entry === 0 || entry > this.longCount) {
          // Keep the table at most half full: past that, stop recording new strings.
          if (this.longCount < table.length / 2) table[slot] = this.longCount + 1;
          break;
        }
        const from = this.heapOffsets[entry - 1]!;
        if (this.heapOffsets[entry]! - from === length && sameBytes(this.heap, from, source, start, length)) {
          this.addRepeat(row, this.longRows[entry - 1]!);
          return;
        }
        slot = (slot + 1) & mask;
      }
    }
    this.addLong(row, source, start, end);
  }

  private addLong(row: number, source: Uint8Array, start: number, end: number): void {
    this.reserveHeap(end - start);
    const heap = this.heap;
    let at = this.heapUsed;
    for (let i = start; i < end; i++) heap[at++] = source[i]!;
    this.heapUsed = at;
    this.pushLong(row);
  }

  /** Records that the string just added to the heap belongs to `row`. */
  private pushLong(row: number): void {
    if (this.longCount === 0 && this.longRows.length === 0) {
      this.longRows = new Int32Array(this.source.take(this.rows * 4));
      this.heapOffsets = new Int32Array(this.source.take((this.rows + 1) * 4));
    }
    this.longRows[this.longCount++] = row;
    this.heapOffsets[this.longCount] = this.heapUsed;
    this.markValid(row);
  }

  private addRepeat(row: number, source: number): void {
    if (this.repeatRows.length === 0) {
      this.repeatRows = new Int32Array(this.source.take(this.rows * 4));
      this.repeatSources = new Int32Array(this.source.take(this.rows * 4));
    }
    this.repeatRows[this.repeatCount] = row;
    this.repeatSources[this.repeatCount++] = source;
    this.markValid(row);
  }

  /** Mostly distinct values (ids, trace ids): stop paying for the lookups. */
  /**
   * Called before looking up a long string, not after adding one, so that `unset` of the string
   * that reached the probe count leaves no decision to take back.
   */
  private checkDedupe(): void {
    if (this.longCount >= DEDUPE_PROBE && this.repeatCount < DEDUPE_PROBE / 8) {
      this.dedupe = false;
      this.firstRowOfText = undefined;
      this.byteTable = undefined;
    }
  }

  private reserveHeap(extra: number): void {
    const needed = this.heapUsed + extra;
    if (needed <= this.heap.length) return;
    const grown = new Uint8Array(this.source.take(Math.max(needed, this.heap.length * 2, this.rows * STRING_T_BYTES)));
    grown.set(this.heap.subarray(0, this.heapUsed));
    if (this.heap.byteLength > 0) this.source.give(this.heap.buffer as ArrayBuffer);
    this.heap = grown;
  }

  /**
   * Takes back the value of `row`, the last row given one (a scanner refusing an item it had
   * begun to write). Long strings are dropped from the heap; a repeat table entry that still
   * points at a dropped string counts as free.
   */
  unset(row: number): void {
    const word = row >>> 5;
    const bit = 1 << (row & 31);
    if (this.validity !== undefined && (this.validity[word]! & bit) !== 0) {
      this.validity[word]! &= ~bit;
      this.validCount--;
    }
    if (this.longCount > 0 && this.longRows[this.longCount - 1] === row) {
      this.longCount--;
      this.heapUsed = this.heapOffsets[this.longCount]!;
      if (this.byteTable !== undefined) this.forgetBytes(this.heapUsed, this.heapOffsets[this.longCount + 1]!, this.longCount + 1);
    }
    if (this.repeatCount > 0 && this.repeatRows[this.repeatCount - 1] === row) this.repeatCount--;
    if (this.firstRowOfText !== undefined) {
      for (const [text, first] of this.firstRowOfText) if (first === row) this.firstRowOfText.delete(text);
    }
    if (this.kind === 'string') this.bytes!.fill(0, row * STRING_T_BYTES, (row + 1) * STRING_T_BYTES);
  }

  /**
   * Empties the repeat table slot holding `entry`, the long string `heap[from, to)` just taken
   * back, so that the table is as before it was written. Left in place, such entries pile up
   * over many refused items (each later string takes the number again) until no slot is empty
   * and a lookup never ends. Hashes as {@link setAsciiBytes} does.
   */
  private forgetBytes(from: number, to: number, entry: number): void {
    const table = this.byteTable!;
    const mask = table.length - 1;
    const heap = this.heap;
    let hash = to - from;
    for (let i = from; i < to; i++) hash = Math.imul(hash ^ heap[i]!, 0x01000193);
    let slot = (hash ^ (hash >>> 15)) & mask;
    for (let probes = 0; probes <= mask; probes++) {
      const found = table[slot]!;
      if (found === 0) return;
      if (found === entry) {
        table[slot] = 0;
        return;
      }
      slot = (slot + 1) & mask;
    }
  }

  /**
   * The column's buffers, for a chunk of `rows` rows (at most the builder's capacity; rows past
   * it were never set). The builder must not be used afterwards.
   */
  finish(rows = this.rows): BuiltColumn {
    return {
      kind: this.kind,
      rows,
      data: (this.int64Words ?? this.doubles ?? this.bytes)!,
      validity: this.validCount === rows ? undefined : (this.validity ?? this.validityWords()),
      longRows: this.longRows.subarray(0, this.longCount),
      heapOffsets: this.longCount === 0 ? EMPTY_INT32 : this.heapOffsets.subarray(0, this.longCount + 1),
      heap: this.heapUsed === 0 ? EMPTY_BYTES : this.heap.subarray(0, this.heapUsed),
      repeatRows: this.repeatRows.subarray(0, this.repeatCount),
      repeatSources: this.repeatSources.subarray(0, this.repeatCount),
    };
  }
}

/** Slots of the repeat table for a chunk of `rows` rows: a power of two, about twice the rows, at most 4,096. */
function tableSlotsFor(rows: number): number {
  let slots = 64;
  while (slots < rows * 2 && slots < BYTE_TABLE_SLOTS) slots *= 2;
  return slots;
}

function sameBytes(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

/** The buffers of `column` that can be transferred to another thread (shared empty arrays left out). */
export function transferablesOf(column: BuiltColumn, into: ArrayBuffer[]): void {
  for (const array of [
    column.data,
    column.validity,
    column.longRows,
    column.heapOffsets,
    column.heap,
    column.repeatRows,
    column.repeatSources,
  ]) {
    if (array === undefined || array.byteLength === 0) continue;
    // Each builder allocates its own arrays, so no buffer is listed twice.
    into.push(array.buffer as ArrayBuffer);
  }
}
