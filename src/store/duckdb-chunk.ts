/**
 * Copies built columns (src/store/column-builder.ts) into native DuckDB data
 * chunks for `DuckDBAppender.appendDataChunk`: one native call per column for
 * the fixed-size values, plus one per distinct string longer than 12 UTF-8
 * bytes (DuckDB's inline limit). This is several times cheaper than the
 * per-value appender (see docs/storage.md).
 */
import bindings from '@duckdb/node-bindings';
import { BIGINT, BOOLEAN, DOUBLE, TIMESTAMP, VARCHAR } from '@duckdb/node-api';
import type { DuckDBType } from '@duckdb/node-api';
import type { BuiltColumn, ChunkColumnKind } from './column-builder.js';
import type { ColumnType } from './types.js';

export { CHUNK_ROWS, ColumnBuilder, type BuiltColumn, type ChunkColumnKind } from './column-builder.js';

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

/** Copies `column` into `vector`, which belongs to a chunk of `column.rows` rows. */
function writeColumn(vector: bindings.Vector, column: BuiltColumn): void {
  const { data, rows } = column;
  bindings.copy_data_to_vector(vector, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  const { longRows, heapOffsets, heap } = column;
  for (let i = 0; i < longRows.length; i++) {
    bindings.vector_assign_string_element_len(vector, longRows[i]!, heap.subarray(heapOffsets[i]!, heapOffsets[i + 1]!));
  }
  const { repeatRows, repeatSources } = column;
  if (repeatRows.length > 0) {
    // A repeated long string points at the same bytes in the vector's string heap as its
    // first occurrence: copy the 16-byte slot instead of crossing into native code again.
    const slots = bindings.vector_get_data(vector, rows * STRING_T_BYTES);
    for (let i = 0; i < repeatRows.length; i++) {
      const from = repeatSources[i]! * STRING_T_BYTES;
      slots.copyWithin(repeatRows[i]! * STRING_T_BYTES, from, from + STRING_T_BYTES);
    }
    bindings.copy_data_to_vector(vector, 0, slots.buffer as ArrayBuffer, slots.byteOffset, slots.byteLength);
  }
  if (column.validity !== undefined) writeValidity(vector, column.validity);
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
export function buildDataChunk(kinds: readonly ChunkColumnKind[], columns: ReadonlyArray<BuiltColumn | undefined>, rows: number): bindings.DataChunk {
  const logicalTypes = kinds.map((kind) => duckdbTypeFor(kind).toLogicalType().logical_type);
  const chunk = bindings.create_data_chunk(logicalTypes);
  bindings.data_chunk_set_size(chunk, rows);
  for (let i = 0; i < kinds.length; i++) {
    const vector = bindings.data_chunk_get_vector(chunk, i);
    const column = columns[i];
    if (column !== undefined) {
      if (column.kind !== kinds[i] || column.rows !== rows) throw new Error(`column ${i} is ${column.kind} × ${column.rows}, expected ${kinds[i]} × ${rows}`);
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
