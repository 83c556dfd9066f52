/**
 * Copies built columns (src/store/column-builder.ts) into native DuckDB data
 * chunks for `DuckDBAppender.appendDataChunk`: one native call per column for
 * the fixed-size values, and one more for all of a column's strings longer than
 * 12 UTF-8 bytes (DuckDB's inline limit). This is several times cheaper than the
 * per-value appender (see docs/storage.md).
 */
import bindings from '@duckdb/node-bindings';
import { BIGINT, BOOLEAN, DOUBLE, TIMESTAMP, VARCHAR } from '@duckdb/node-api';
import type { DuckDBType } from '@duckdb/node-api';
import type { BuiltColumn, ChunkColumnKind } from './column-builder.js';
import type { ColumnType } from '../types.js';

export { CHUNK_ROWS, ColumnBuilder, type BuiltColumn, type ChunkColumnKind } from './column-builder.js';

const STRING_T_BYTES = 16;
const TWO_32 = 4294967296;

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

const logicalTypes = new Map<ChunkColumnKind, bindings.LogicalType>();

/** The native logical type of a kind, made once (a chunk copies the types it is created with). */
function logicalTypeOf(kind: ChunkColumnKind): bindings.LogicalType {
  let type = logicalTypes.get(kind);
  if (type === undefined) logicalTypes.set(kind, (type = duckdbTypeFor(kind).toLogicalType().logical_type));
  return type;
}

/** Copies `column` into `vector`, which belongs to a chunk of `column.rows` rows. */
function writeColumn(vector: bindings.Vector, column: BuiltColumn): void {
  const { data } = column;
  if (column.longRows.length > 0) pointIntoOneString(vector, column);
  bindings.copy_data_to_vector(vector, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  if (column.validity !== undefined) writeValidity(vector, column.validity);
}

/**
 * Long strings (over 12 bytes) live in the vector's string heap, and a slot holds their length,
 * first 4 bytes and address. Rather than one native call per string, the column's whole heap is
 * copied in as one string (at the first long row), and every long row's slot is written here to
 * point into that copy: DuckDB reads a string by address and length only.
 */
function pointIntoOneString(vector: bindings.Vector, column: BuiltColumn): void {
  const { longRows, heapOffsets, heap } = column;
  const data = column.data as Uint8Array;
  const count = longRows.length;
  const first = longRows[0]! * STRING_T_BYTES;
  bindings.vector_assign_string_element_len(vector, longRows[0]!, heap.subarray(0, heapOffsets[count]!));
  const written = bindings.vector_get_data(vector, first + STRING_T_BYTES);
  const blob = new DataView(written.buffer, written.byteOffset + first, STRING_T_BYTES);
  const low = blob.getUint32(8, true);
  const high = blob.getUint32(12, true);
  const slots = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < count; i++) {
    const start = heapOffsets[i]!;
    const slot = longRows[i]! * STRING_T_BYTES;
    slots.setUint32(slot, heapOffsets[i + 1]! - start, true);
    data[slot + 4] = heap[start]!;
    data[slot + 5] = heap[start + 1]!;
    data[slot + 6] = heap[start + 2]!;
    data[slot + 7] = heap[start + 3]!;
    const address = low + start;
    const carry = address >= TWO_32 ? 1 : 0;
    slots.setUint32(slot + 8, address - carry * TWO_32, true);
    slots.setUint32(slot + 12, high + carry, true);
  }
  copyRepeats(column, data);
}

/** A repeated long string takes the slot of its first occurrence (same bytes in the heap). */
function copyRepeats(column: BuiltColumn, slots: Uint8Array): void {
  const { repeatRows, repeatSources } = column;
  for (let i = 0; i < repeatRows.length; i++) {
    const from = repeatSources[i]! * STRING_T_BYTES;
    slots.copyWithin(repeatRows[i]! * STRING_T_BYTES, from, from + STRING_T_BYTES);
  }
}

function writeValidity(vector: bindings.Vector, validity: Uint32Array): void {
  bindings.vector_ensure_validity_writable(vector);
  bindings.copy_data_to_vector_validity(vector, 0, validity.buffer as ArrayBuffer, validity.byteOffset, validity.byteLength);
}

const noneValid = new Map<number, Uint32Array>();

/**
 * Builds a native data chunk of `rows` rows whose columns have `kinds`;
 * `columns[i]` undefined leaves column i NULL in every row.
 */
export function buildDataChunk(
  kinds: readonly ChunkColumnKind[],
  columns: ReadonlyArray<BuiltColumn | undefined>,
  rows: number,
): bindings.DataChunk {
  const logicalTypes = kinds.map(logicalTypeOf);
  const chunk = bindings.create_data_chunk(logicalTypes);
  bindings.data_chunk_set_size(chunk, rows);
  for (let i = 0; i < kinds.length; i++) {
    const vector = bindings.data_chunk_get_vector(chunk, i);
    const column = columns[i];
    if (column !== undefined) {
      if (column.kind !== kinds[i] || column.rows !== rows)
        throw new Error(`column ${i} is ${column.kind} × ${column.rows}, expected ${kinds[i]} × ${rows}`);
      writeColumn(vector, column);
      continue;
    }
    let none = noneValid.get(rows);
    if (none === undefined) noneValid.set(rows, (none = new Uint32Array(Math.ceil(rows / 64) * 2)));
    writeValidity(vector, none);
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
