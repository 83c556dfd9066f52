/**
 * Column builders that fill DuckDB data chunks directly from JavaScript
 * values, for `DuckDBAppender.appendDataChunk`. Numbers, booleans, timestamps
 * and short strings are written into typed arrays and copied into each vector
 * with one native call per column; only strings longer than 12 UTF-8 bytes
 * (DuckDB's inline limit) cost one native call each. This is several times
 * cheaper than the per-value appender (see docs/storage.md).
 */
import bindings from '@duckdb/node-bindings';
import { BIGINT, BOOLEAN, DOUBLE, TIMESTAMP, VARCHAR } from '@duckdb/node-api';
import type { DuckDBType } from '@duckdb/node-api';
import type { ColumnType } from './types.js';

/** Rows per data chunk: DuckDB's standard vector size. */
export const CHUNK_ROWS = 2048;

/** Physical kinds of the columns a chunk holds. */
export type ChunkColumnKind = ColumnType | 'timestamp';

const TWO_32 = 4294967296;
const INLINE_STRING_BYTES = 12;
/** Long strings looked at before deciding whether a column repeats enough to deduplicate. */
const DEDUPE_PROBE = 256;
const STRING_T_BYTES = 16;

function duckdbTypeFor(kind: ChunkColumnKind): DuckDBType {
  switch (kind) {
    case 'string':
      return VARCHAR;
    case 'integer':
      return BIGINT;
    case 'float':
      return DOUBLE;
    case 'boolean':
      return BOOLEAN;
    case 'timestamp':
      return TIMESTAMP;
  }
}

/**
 * One column of one chunk being filled. Values are set by row; `writeTo`
 * copies everything into the DuckDB vector. Rows never set stay NULL.
 */
export class ColumnBuilder {
  readonly kind: ChunkColumnKind;
  private readonly rows: number;
  private validity: Uint32Array | undefined;
  private validCount = 0;
  private readonly int64Words: Int32Array | undefined;
  private readonly doubles: Float64Array | undefined;
  private readonly bytes: Uint8Array | undefined;
  private readonly longRows: number[] = [];
  private readonly longTexts: string[] = [];
  /** Long strings seen in this chunk → their first row; repeats reuse its string slot. */
  private firstRowOfText: Map<string, number> | undefined;
  private readonly repeatRows: number[] = [];
  private readonly repeatSources: number[] = [];
  private dedupeLongStrings = true;

  constructor(kind: ChunkColumnKind, rows: number) {
    this.kind = kind;
    this.rows = rows;
    if (kind === 'integer' || kind === 'timestamp') this.int64Words = new Int32Array(rows * 2);
    else if (kind === 'float') this.doubles = new Float64Array(rows);
    else if (kind === 'boolean') this.bytes = new Uint8Array(rows);
    else this.bytes = new Uint8Array(rows * STRING_T_BYTES);
  }

  private markValid(row: number): void {
    if (this.validity === undefined) this.validity = new Uint32Array(Math.ceil(this.rows / 64) * 2);
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

  setString(row: number, value: string): void {
    const length = value.length;
    if (length <= INLINE_STRING_BYTES) {
      const bytes = this.bytes!;
      const base = row * STRING_T_BYTES;
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
    }
    if (this.dedupeLongStrings) {
      const seen = (this.firstRowOfText ??= new Map()).get(value);
      if (seen !== undefined) {
        this.repeatRows.push(row);
        this.repeatSources.push(seen);
        this.markValid(row);
        return;
      }
      this.firstRowOfText.set(value, row);
      // Mostly distinct values (ids, trace ids): stop paying for the lookups.
      if (this.longRows.length === DEDUPE_PROBE && this.repeatRows.length < DEDUPE_PROBE / 8) {
        this.dedupeLongStrings = false;
        this.firstRowOfText = undefined;
      }
    }
    this.longRows.push(row);
    this.longTexts.push(value);
    this.markValid(row);
  }

  /** Copies the column into `vector`, which belongs to a chunk of `rows` rows. */
  writeTo(vector: bindings.Vector): void {
    if (this.validCount === 0) {
      bindings.vector_ensure_validity_writable(vector);
      const none = new Uint32Array(Math.ceil(this.rows / 64) * 2);
      bindings.copy_data_to_vector_validity(vector, 0, none.buffer, 0, none.byteLength);
      return;
    }
    const data = this.int64Words ?? this.doubles ?? this.bytes!;
    bindings.copy_data_to_vector(vector, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    const longRows = this.longRows;
    const longTexts = this.longTexts;
    for (let i = 0; i < longRows.length; i++) {
      const text = longTexts[i]!;
      // The plain variant takes a C string, which would end at a NUL character.
      if (text.includes('\u0000')) bindings.vector_assign_string_element_len(vector, longRows[i]!, textEncoder.encode(text));
      else bindings.vector_assign_string_element(vector, longRows[i]!, text);
    }
    if (this.repeatRows.length > 0) {
      // A repeated long string points at the same bytes in the vector's string heap as its
      // first occurrence: copy the 16-byte slot instead of crossing into native code again.
      const slots = bindings.vector_get_data(vector, this.rows * STRING_T_BYTES);
      const repeatRows = this.repeatRows;
      const repeatSources = this.repeatSources;
      for (let i = 0; i < repeatRows.length; i++) {
        const from = repeatSources[i]! * STRING_T_BYTES;
        slots.copyWithin(repeatRows[i]! * STRING_T_BYTES, from, from + STRING_T_BYTES);
      }
      bindings.copy_data_to_vector(vector, 0, slots.buffer as ArrayBuffer, slots.byteOffset, slots.byteLength);
    }
    if (this.validCount < this.rows) {
      bindings.vector_ensure_validity_writable(vector);
      const validity = this.validity!;
      bindings.copy_data_to_vector_validity(vector, 0, validity.buffer as ArrayBuffer, validity.byteOffset, validity.byteLength);
    }
  }
}

const textEncoder = new TextEncoder();

/** Builds a native data chunk of `rows` rows from the builders, in column order. */
export function buildDataChunk(builders: readonly ColumnBuilder[], rows: number): bindings.DataChunk {
  const logicalTypes = builders.map((builder) => duckdbTypeFor(builder.kind).toLogicalType().logical_type);
  const chunk = bindings.create_data_chunk(logicalTypes);
  bindings.data_chunk_set_size(chunk, rows);
  for (let i = 0; i < builders.length; i++) {
    builders[i]!.writeTo(bindings.data_chunk_get_vector(chunk, i));
  }
  return chunk;
}

/** The SQL type of a logical column type. */
export function sqlTypeFor(type: ColumnType): 'VARCHAR' | 'BIGINT' | 'DOUBLE' | 'BOOLEAN' {
  switch (type) {
    case 'string':
      return 'VARCHAR';
    case 'integer':
      return 'BIGINT';
    case 'float':
      return 'DOUBLE';
    case 'boolean':
      return 'BOOLEAN';
  }
}
