/**
 * Turns the bytes of a `POST /1/batch` body straight into DuckDB column
 * buffers for one dataset, without building an object per event: keys are
 * matched as bytes against the fields of the previous event, ASCII strings
 * are copied byte for byte, and numbers are read digit by digit.
 *
 * It decides every item exactly as the object path does (`JSON.parse`, then
 * `batchItems`, then the store's rules), and where it would have to decide
 * something the object path decides with more context (a new field, a value
 * that needs a wider column, a duplicate key, malformed JSON, an item that is
 * not an object, ...) it gives up with `fallback`, and the caller takes the
 * object path. Pure and synchronous: it runs in the ingest worker threads.
 */
import { CHUNK_ROWS, ColumnBuilder, NEW_BUFFERS, transferablesOf, type BufferSource, type BuiltColumn } from './column-builder.js';
import type { DatasetSnapshot, PreparedChunk } from './prepared.js';
import type { ColumnType } from '../types.js';
import { eventProblem, INT64_LIMIT_AS_NUMBER } from '../../ingest/value-rules.js';
import { eventTimeWindowProblem, nonFiniteFieldMessage, parseEventTime, parseSampleRate, VALUE_NOT_UTF8 } from '../../ingest/honeycomb.js';
import { hasNonFiniteNumber, MAX_JSON_DEPTH } from '../../ingest/json-text.js';
import { isUtf8 } from '../../ingest/utf8.js';

/** A dataset's columns as the scanner uses them, with the byte-level shape of the last event seen. */
export interface ScanSchema {
  version: number;
  types: ColumnType[];
  fieldIndex: Map<string, number>;
  /** Keys of the last event, as bytes, and their column positions (-1: not a column). */
  shapeKeys: Uint8Array[];
  shapeSlots: number[];
}

export function scanSchemaOf(snapshot: DatasetSnapshot): ScanSchema {
  return { version: snapshot.version, types: snapshot.types, fieldIndex: new Map(snapshot.fields), shapeKeys: [], shapeSlots: [] };
}

export interface ScanOptions {
  /** Unix milliseconds, the time of items without one. */
  now: number;
  maxEventBytes: number;
  /** Where column buffers come from (default: new ones). */
  buffers?: BufferSource;
}

/** The outcome of a scan: the chunks of the accepted items, or a reason to take the object path. */
export type ScanResult =
  | {
      kind: 'prepared';
      version: number;
      /** Items in the body. */
      items: number;
      /** Items refused, with the error the object path gives them; every other item is in the chunks, in order. */
      rejected: Array<[index: number, error: string]>;
      /** Items in the chunks whose 202 carries a warning (values that were not UTF-8), in order. */
      warnings: Array<[index: number, warning: string]>;
      chunks: PreparedChunk[];
      events: number;
      lastEventMs: number | null;
      hasSampling: boolean;
    }
  | { kind: 'fallback'; reason: string };

/** The buffers of a prepared result, to transfer rather than copy between threads. */
export function transferablesOfScan(result: ScanResult): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  if (result.kind === 'prepared') {
    for (const chunk of result.chunks) for (const column of chunk.columns) if (column !== undefined) transferablesOf(column, buffers);
  }
  return buffers;
}

/** Thrown inside the scanner to give up; caught by {@link scanBatch}. */
class Fallback {
  constructor(readonly reason: string) {}
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const DOT = 0x2e;

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => 10 ** k);
const MAX_EXACT_DIGITS = 15;

/**
 * Scans `body` (a whole batch body, inflated) against the dataset's columns.
 * `schema` is updated with the shape of the events seen (a cache only).
 */
export function scanBatch(body: Uint8Array, schema: ScanSchema, options: ScanOptions): ScanResult {
  try {
    return new BatchScanner(body, schema, options).scan();
  } catch (error) {
    if (error instanceof Fallback) return { kind: 'fallback', reason: error.reason };
    throw error;
  }
}

class BatchScanner {
  private readonly b: Uint8Array;
  private readonly buffer: Buffer;
  private i = 0;
  private readonly schema: ScanSchema;
  private readonly types: ColumnType[];
  private readonly options: ScanOptions;
  private readonly checkSizes: boolean;
  private readonly buffers: BufferSource;
  /** Last event in which each column was given a value (duplicate keys). */
  private readonly seen: Int32Array;
  private stamp = 0;
  // Columns given a value in the row being read, to clear them if the item is refused.
  private written = new Int32Array(128);
  private writtenCount = 0;
  // The chunk being filled.
  private chunks: PreparedChunk[] = [];
  private capacity = 0;
  private row = 0;
  private time: ColumnBuilder | undefined;
  private samplerate: ColumnBuilder | undefined;
  private builders: Array<ColumnBuilder | undefined> = [];
  private events = 0;
  private lastEventMs: number | null = null;
  private hasSampling = false;
  /** Set by {@link stringEnd}: the string just read is ASCII without escapes. */
  private plain = true;
  /** The item's time when {@link plainUtcTime} read it. */
  private fastTime: number | undefined;
  /** The whole body is UTF-8 (else each string that is not plain ASCII is checked). */
  private readonly utf8: boolean;
  /** Set by {@link value}: the value just read holds a number that is not finite (the item is refused). */
  private nonFinite = false;
  /** The field of the item's number that is not finite, once one is seen. */
  private nonFiniteField: string | undefined;
  /** The item's `data` holds a value that is not UTF-8 (stored with U+FFFD, its 202 warns). */
  private badUtf8 = false;

  constructor(body: Uint8Array, schema: ScanSchema, options: ScanOptions) {
    this.b = body;
    this.buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    this.schema = schema;
    this.types = schema.types;
    this.options = options;
    this.checkSizes = body.length > options.maxEventBytes;
    this.buffers = options.buffers ?? NEW_BUFFERS;
    this.seen = new Int32Array(schema.types.length);
    this.utf8 = isUtf8(body);
  }

  scan(): ScanResult {
    const b = this.b;
    const rejected: Array<[number, string]> = [];
    const warnings: Array<[number, string]> = [];
    this.skipBlank();
    if (b[this.i] !== OPEN_BRACKET) throw new Fallback('the body is not a JSON array');
    this.i++;
    this.skipBlank();
    let items = 0;
    if (b[this.i] === CLOSE_BRACKET) {
      this.i++;
    } else {
      for (;;) {
        const error = this.item();
        if (error !== undefined) rejected.push([items, error]);
        else if (this.badUtf8) warnings.push([items, VALUE_NOT_UTF8]);
        items++;
        this.skipBlank();
        const c = b[this.i];
        this.i++;
        if (c === COMMA) {
          this.skipBlank();
          continue;
        }
        if (c === CLOSE_BRACKET) break;
        throw new Fallback('malformed JSON between items');
      }
    }
    this.skipBlank();
    if (this.i !== b.length) throw new Fallback('text after the array');
    this.finishChunk();
    return {
      kind: 'prepared',
      version: this.schema.version,
      items,
      rejected,
      warnings,
      chunks: this.chunks,
      events: this.events,
      lastEventMs: this.lastEventMs,
      hasSampling: this.hasSampling,
    };
  }

  private skipBlank(): void {
    const b = this.b;
    let i = this.i;
    for (;;) {
      const c = b[i];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  private expect(byte: number, what: string): void {
    this.skipBlank();
    if (this.b[this.i] !== byte) throw new Fallback(`expected ${what}`);
    this.i++;
    this.skipBlank();
  }

  /** Reads one item; returns why it is refused, or undefined once it is in the chunk. */
  private item(): string | undefined {
    const b = this.b;
    const itemStart = this.i;
    if (b[itemStart] !== OPEN_BRACE) throw new Fallback('an item is not an object');
    this.i++;
    this.skipBlank();
    let hasData = false;
    let hasTime = false;
    let hasSamplerate = false;
    let time: unknown;
    let samplerate: unknown;
    if (this.row === this.capacity) this.startChunk(itemStart);
    this.writtenCount = 0;
    this.fastTime = undefined;
    this.nonFiniteField = undefined;
    this.badUtf8 = false;
    if (b[this.i] !== CLOSE_BRACE) {
      for (;;) {
        if (b[this.i] !== QUOTE) throw new Fallback('expected a key');
        const keyStart = this.i + 1;
        const keyEnd = this.plainStringEnd(keyStart);
        this.i = keyEnd + 1;
        this.expect(COLON, "':'");
        const length = keyEnd - keyStart;
        if (length === 4 && b[keyStart] === 0x64 && b[keyStart + 1] === 0x61 && b[keyStart + 2] === 0x74 && b[keyStart + 3] === 0x61) {
          if (hasData) throw new Fallback('"data" given twice');
          hasData = true;
          if (b[this.i] !== OPEN_BRACE) throw new Fallback('"data" is not an object');
          this.data();
        } else if (
          length === 4 &&
          b[keyStart] === 0x74 &&
          b[keyStart + 1] === 0x69 &&
          b[keyStart + 2] === 0x6d &&
          b[keyStart + 3] === 0x65
        ) {
          if (hasTime) throw new Fallback('"time" given twice');
          hasTime = true;
          if (!this.plainUtcTime()) time = this.anyValue();
        } else if (length === 10 && sameAscii(b, keyStart, 'samplerate')) {
          if (hasSamplerate) throw new Fallback('"samplerate" given twice');
          hasSamplerate = true;
          samplerate = this.anyValue();
        } else {
          this.anyValue();
        }
        this.skipBlank();
        const c = b[this.i];
        if (c === COMMA) {
          this.i++;
          this.skipBlank();
          continue;
        }
        if (c === CLOSE_BRACE) break;
        throw new Fallback('malformed JSON in an item');
      }
    }
    const itemEnd = this.i; // the closing brace
    this.i++;
    if (!hasData) throw new Fallback('an item has no "data"');
    const refusal = this.decide(itemStart, itemEnd, time, samplerate);
    if (refusal !== undefined) this.clearRow();
    return refusal;
  }

  /** Why the item just read is refused, or undefined once its row is complete. */
  private decide(itemStart: number, itemEnd: number, time: unknown, samplerate: unknown): string | undefined {
    if (this.checkSizes) {
      const size = itemEnd - itemStart + 1;
      if (size > this.options.maxEventBytes) return `event is ${size} bytes, over the ${this.options.maxEventBytes}-byte limit per event`;
    }
    let eventTime = this.options.now;
    if (this.fastTime !== undefined) {
      eventTime = this.fastTime;
      this.fastTime = undefined;
    } else if (time !== undefined && time !== null && time !== '') {
      const parsed = parseEventTime(time);
      if (typeof parsed === 'string') return parsed;
      eventTime = parsed;
    }
    if (eventTime !== this.options.now) {
      const outside = eventTimeWindowProblem(eventTime, this.options.now);
      if (outside !== undefined) return outside;
    }
    let eventSamplerate = 1;
    if (samplerate !== undefined && samplerate !== null) {
      const parsed = parseSampleRate(samplerate);
      if (typeof parsed === 'string') return parsed;
      eventSamplerate = parsed;
    }
    if (this.nonFiniteField !== undefined) return nonFiniteFieldMessage(this.nonFiniteField);
    const problem = eventProblem({ time: eventTime, samplerate: eventSamplerate, data: EMPTY_DATA });
    if (problem !== undefined) return problem;
    this.completeRow(eventTime, eventSamplerate);
    return undefined;
  }

  /** Takes back the values written for the current row of a refused item. */
  private clearRow(): void {
    const row = this.row;
    for (let n = 0; n < this.writtenCount; n++) this.builders[this.written[n]!]!.unset(row);
    this.writtenCount = 0;
  }

  /**
   * Reads the commonest time, `"YYYY-MM-DDTHH:MM:SS[.fraction]Z"`, from its bytes, when every
   * part is in range (so `Date.parse` could not read it differently), into `fastTime`. Returns
   * false, leaving the cursor, for anything else.
   */
  private plainUtcTime(): boolean {
    const b = this.b;
    const at = this.i;
    if (b[at] !== QUOTE) return false;
    const year = digits(b, at + 1, 4);
    const month = digits(b, at + 6, 2);
    const day = digits(b, at + 9, 2);
    const hour = digits(b, at + 12, 2);
    const minute = digits(b, at + 15, 2);
    const second = digits(b, at + 18, 2);
    if (b[at + 5] !== MINUS || b[at + 8] !== MINUS || b[at + 11] !== 0x54 || b[at + 14] !== COLON || b[at + 17] !== COLON) return false;
    if (year < 1975 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
      return false;
    let j = at + 20;
    let millis = 0;
    if (b[j] === DOT) {
      let count = 0;
      for (j++; b[j]! >= ZERO && b[j]! <= NINE; j++) {
        // Date.parse keeps milliseconds and drops finer digits.
        if (count < 3) millis = millis * 10 + (b[j]! - ZERO);
        count++;
      }
      if (count === 0 || count > 9) return false;
      for (; count < 3; count++) millis *= 10;
    }
    if (b[j] !== 0x5a || b[j + 1] !== QUOTE) return false;
    this.fastTime = Date.UTC(year, month - 1, day, hour, minute, second, millis);
    this.i = j + 2;
    return true;
  }

  /** Reads the `data` object into the staged fields. */
  private data(): void {
    const b = this.b;
    const schema = this.schema;
    const types = this.types;
    const stamp = ++this.stamp;
    this.i++;
    this.skipBlank();
    if (b[this.i] === CLOSE_BRACE) {
      this.i++;
      return;
    }
    let position = 0;
    for (;;) {
      if (b[this.i] !== QUOTE) throw new Fallback('expected a field name');
      const keyStart = this.i + 1;
      // Usually the key is the one the previous event had at this position.
      let keyEnd = this.sameKeyEnd(position, keyStart);
      let column: number;
      if (keyEnd >= 0) {
        column = schema.shapeSlots[position]!;
      } else {
        keyEnd = this.plainStringEnd(keyStart);
        column = this.columnOf(position, keyStart, keyEnd);
      }
      position++;
      this.i = keyEnd + 1;
      if (b[this.i] === COLON && b[this.i + 1]! > 0x20) this.i++;
      else this.expect(COLON, "':'");
      if (column >= 0) {
        // JSON.parse keeps the last of duplicate keys: leave such events to it.
        if (this.seen[column] === stamp) throw new Fallback('a field given twice');
        this.seen[column] = stamp;
      }
      if (b[this.i] === 0x6e) {
        this.literal('null');
      } else {
        if (column < 0) throw new Fallback('a new field');
        this.value(column, types[column]!);
        if (this.nonFinite) {
          this.nonFinite = false;
          // The object path names the first such field in its key order: leave two to it.
          if (this.nonFiniteField !== undefined) throw new Fallback('two numbers that are not finite in one event');
          this.nonFiniteField = this.buffer.toString('utf8', keyStart, keyEnd);
        }
      }
      this.skipBlank();
      const next = b[this.i];
      this.i++;
      if (next === COMMA) {
        this.skipBlank();
        continue;
      }
      if (next === CLOSE_BRACE) break;
      throw new Fallback('malformed JSON in "data"');
    }
    if (position < schema.shapeKeys.length) {
      schema.shapeKeys.length = position;
      schema.shapeSlots.length = position;
    }
  }

  /**
   * Where the key opening at `keyStart` ends (its closing quote) when it is the key the last
   * event had at `position`, byte for byte; -1 otherwise. Those bytes held no escape then.
   */
  private sameKeyEnd(position: number, keyStart: number): number {
    const expected = this.schema.shapeKeys[position];
    if (expected === undefined) return -1;
    const b = this.b;
    const length = expected.length;
    if (b[keyStart + length] !== QUOTE) return -1;
    for (let k = 0; k < length; k++) if (expected[k] !== b[keyStart + k]) return -1;
    return keyStart + length;
  }

  /** The column of the field whose name is `b[keyStart, keyEnd)`, the `position`-th of its event; -1 when none. */
  private columnOf(position: number, keyStart: number, keyEnd: number): number {
    const schema = this.schema;
    const expected = schema.shapeKeys[position];
    const length = keyEnd - keyStart;
    if (expected !== undefined && expected.length === length) {
      const b = this.b;
      let same = true;
      for (let k = 0; k < length; k++) {
        if (expected[k] !== b[keyStart + k]) {
          same = false;
          break;
        }
      }
      if (same) return schema.shapeSlots[position]!;
    }
    if (!this.utf8 && !isUtf8(this.b.subarray(keyStart, keyEnd))) throw new Fallback('a field name that is not UTF-8');
    const name = this.buffer.toString('utf8', keyStart, keyEnd);
    const column = schema.fieldIndex.get(name) ?? -1;
    schema.shapeKeys[position] = this.b.slice(keyStart, keyEnd);
    schema.shapeSlots[position] = column;
    schema.shapeKeys.length = position + 1;
    schema.shapeSlots.length = position + 1;
    return column;
  }

  /** Index of the quote that ends a string opening before `start`, which must hold no escape. */
  private plainStringEnd(start: number): number {
    const b = this.b;
    let j = start;
    for (;;) {
      const c = b[j];
      if (c === QUOTE) return j;
      if (c === BACKSLASH) throw new Fallback('an escaped key');
      if (c === undefined || c < 0x20) throw new Fallback('malformed string');
      j++;
    }
  }

  /** Stages the value at the cursor for `column` of `type`, or falls back when it does not fit. */
  private value(column: number, type: ColumnType): void {
    const b = this.b;
    const c = b[this.i]!;
    if (c === QUOTE) {
      if (type !== 'string') throw new Fallback('a string in a non-string column');
      const start = this.i + 1;
      const j = this.stringEnd(start);
      this.i = j + 1;
      if (this.plain) this.builder(column).setAsciiBytes(this.row, b, start, j);
      else {
        if (!this.utf8 && !isUtf8(b.subarray(start, j))) this.badUtf8 = true;
        this.builder(column).setString(this.row, this.parseSlice(start - 1, j + 1) as string);
      }
      return;
    }
    if (c === MINUS || (c >= ZERO && c <= NINE)) {
      const value = this.number();
      if (!Number.isFinite(value)) {
        this.nonFinite = true;
        return;
      }
      const integer = Number.isInteger(value) && Math.abs(value) < INT64_LIMIT_AS_NUMBER;
      if (type === 'integer') {
        if (!integer) throw new Fallback('a fraction in an integer column');
        this.builder(column).setInteger(this.row, value);
      } else if (type === 'float') {
        this.builder(column).setFloat(this.row, value);
      } else if (type === 'string') {
        this.builder(column).setString(this.row, String(value));
      } else {
        throw new Fallback('a number in a boolean column');
      }
      return;
    }
    if (c === 0x74 || c === 0x66) {
      const value = c === 0x74;
      this.literal(value ? 'true' : 'false');
      if (type === 'boolean') this.builder(column).setBoolean(this.row, value);
      else if (type === 'string') this.builder(column).setString(this.row, String(value));
      else throw new Fallback('a boolean in a numeric column');
      return;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (type !== 'string') throw new Fallback('a nested value in a non-string column');
      const start = this.i;
      // The item is level 1 and its data level 2: a field's value may open MAX_JSON_DEPTH - 1 more.
      this.skipNested(MAX_JSON_DEPTH - 1);
      if (!this.utf8 && !isUtf8(b.subarray(start, this.i))) this.badUtf8 = true;
      const nested = this.parseSlice(start, this.i);
      if (hasNonFiniteNumber(nested)) {
        this.nonFinite = true;
        return;
      }
      this.builder(column).setString(this.row, JSON.stringify(nested));
      return;
    }
    throw new Fallback('malformed value');
  }

  /** The builder of `column` in the current chunk, noting that the current row writes it. */
  private builder(column: number): ColumnBuilder {
    let n = this.writtenCount;
    if (n === this.written.length) {
      const grown = new Int32Array(n * 2);
      grown.set(this.written);
      this.written = grown;
    }
    this.written[n] = column;
    this.writtenCount = ++n;
    return (this.builders[column] ??= new ColumnBuilder(this.types[column]!, this.capacity, this.buffers));
  }

  /** Starts a chunk sized by how many items like the one at `itemStart` the rest of the body holds. */
  private startChunk(itemStart: number): void {
    this.finishChunk();
    const saved = this.i;
    let estimate = CHUNK_ROWS;
    try {
      this.i = itemStart;
      this.skipNested();
      estimate = Math.ceil((this.b.length - itemStart) / (this.i - itemStart)) + 2;
    } catch (error) {
      // A malformed item: reading it gives up with the precise reason.
      if (!(error instanceof Fallback)) throw error;
    }
    this.i = saved;
    // Rounded up to a multiple of 64 rows, so that batches of similar size reuse buffers of one size.
    this.capacity = Math.min(CHUNK_ROWS, Math.ceil(estimate / 64) * 64);
    this.time = new ColumnBuilder('timestamp', this.capacity, this.buffers);
    this.samplerate = new ColumnBuilder('integer', this.capacity, this.buffers);
    this.builders = new Array(this.types.length);
  }

  /** Ends the current row of an accepted item with its time and sample rate. */
  private completeRow(time: number, samplerate: number): void {
    const row = this.row++;
    this.time!.setInteger(row, Math.round(time * 1000));
    this.samplerate!.setInteger(row, samplerate);
    if (samplerate !== 1) this.hasSampling = true;
    if (this.lastEventMs === null || time > this.lastEventMs) this.lastEventMs = time;
    this.events++;
  }

  private finishChunk(): void {
    const rows = this.row;
    if (rows === 0) return;
    const columns: Array<BuiltColumn | undefined> = [this.time!.finish(rows), this.samplerate!.finish(rows)];
    const chunk: PreparedChunk = { rows, columns };
    for (let column = 0; column < this.types.length; column++) columns.push(this.builders[column]?.finish(rows));
    this.chunks.push(chunk);
    this.row = 0;
    this.capacity = 0;
  }

  /** Reads a JSON number (strictly by JSON's grammar) and returns the value `JSON.parse` gives it. */
  private number(): number {
    const b = this.b;
    const start = this.i;
    let j = start;
    const negative = b[j] === MINUS;
    if (negative) j++;
    let mantissa = 0;
    let digits = 0;
    let c = b[j];
    if (c === ZERO) {
      j++;
      digits = 1;
    } else if (c !== undefined && c > ZERO && c <= NINE) {
      do {
        mantissa = mantissa * 10 + (c - ZERO);
        digits++;
        c = b[++j];
      } while (c !== undefined && c >= ZERO && c <= NINE);
    } else {
      throw new Fallback('malformed number');
    }
    let fraction = 0;
    if (b[j] === DOT) {
      c = b[++j];
      if (c === undefined || c < ZERO || c > NINE) throw new Fallback('malformed number');
      do {
        mantissa = mantissa * 10 + (c - ZERO);
        fraction++;
        c = b[++j];
      } while (c !== undefined && c >= ZERO && c <= NINE);
    }
    let exponent = false;
    c = b[j];
    if (c === 0x65 || c === 0x45) {
      exponent = true;
      c = b[++j];
      if (c === 0x2b || c === MINUS) c = b[++j];
      if (c === undefined || c < ZERO || c > NINE) throw new Fallback('malformed number');
      do c = b[++j];
      while (c !== undefined && c >= ZERO && c <= NINE);
    }
    this.i = j;
    if (!exponent && digits + fraction <= MAX_EXACT_DIGITS) {
      // Both operands are exact doubles and the division rounds correctly: the same double as parsing the text.
      const magnitude = fraction === 0 ? mantissa : mantissa / POWERS_OF_TEN[fraction]!;
      return negative ? -magnitude : magnitude;
    }
    return Number(this.buffer.toString('latin1', start, j));
  }

  private literal(word: 'null' | 'true' | 'false'): void {
    const b = this.b;
    for (let k = 0; k < word.length; k++) {
      if (b[this.i + k] !== word.charCodeAt(k)) throw new Fallback('malformed literal');
    }
    this.i += word.length;
  }

  /**
   * Moves past an object or array (validated later by `JSON.parse` of its text); one that opens
   * more than `limit` levels is left to the object path, which refuses its item.
   */
  private skipNested(limit = Number.POSITIVE_INFINITY): void {
    const b = this.b;
    let depth = 0;
    let j = this.i;
    for (;;) {
      const c = b[j];
      if (c === undefined) throw new Fallback('unterminated value');
      if (c === QUOTE) {
        j++;
        for (;;) {
          const d = b[j];
          if (d === undefined) throw new Fallback('unterminated string');
          if (d === QUOTE) break;
          j += d === BACKSLASH ? 2 : 1;
        }
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (++depth > limit) throw new Fallback('nested deeper than an event may');
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) {
          this.i = j + 1;
          return;
        }
      }
      j++;
    }
  }

  /**
   * Index of the quote that ends the string whose text starts at `start`; sets `plain` to
   * whether the text is ASCII without escapes (then its bytes are the string).
   */
  private stringEnd(start: number): number {
    const b = this.b;
    let j = start;
    let plain = true;
    for (;;) {
      const d = b[j];
      if (d === QUOTE) break;
      if (d === undefined || d < 0x20) throw new Fallback('malformed string');
      if (d === BACKSLASH) {
        plain = false;
        j += 2;
        continue;
      }
      if (d > 0x7f) plain = false;
      j++;
    }
    this.plain = plain;
    return j;
  }

  /** Reads any JSON value at the cursor and returns it as `JSON.parse` would. */
  private anyValue(): unknown {
    const b = this.b;
    const c = b[this.i]!;
    const start = this.i;
    if (c === QUOTE) {
      const j = this.stringEnd(start + 1);
      this.i = j + 1;
      return this.plain ? this.buffer.toString('latin1', start + 1, j) : this.parseSlice(start, j + 1);
    }
    if (c === MINUS || (c >= ZERO && c <= NINE)) return this.number();
    if (c === 0x74) {
      this.literal('true');
      return true;
    }
    if (c === 0x66) {
      this.literal('false');
      return false;
    }
    if (c === 0x6e) {
      this.literal('null');
      return null;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      // A value of the item (level 1) may open MAX_JSON_DEPTH more levels.
      this.skipNested(MAX_JSON_DEPTH);
      return this.parseSlice(start, this.i);
    }
    throw new Fallback('malformed value');
  }

  /** `JSON.parse` of the UTF-8 text `b[start, end)`; malformed text gives up the scan. */
  private parseSlice(start: number, end: number): unknown {
    try {
      return JSON.parse(this.buffer.toString('utf8', start, end));
    } catch {
      throw new Fallback('malformed JSON value');
    }
  }
}

/** The value of `count` decimal digits at `at`, or -1 when one is not a digit. */
function digits(b: Uint8Array, at: number, count: number): number {
  let value = 0;
  for (let k = 0; k < count; k++) {
    const c = b[at + k];
    if (c === undefined || c < ZERO || c > NINE) return -1;
    value = value * 10 + (c - ZERO);
  }
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** True when `b[at ..]` holds the ASCII `text`. */
function sameAscii(b: Uint8Array, at: number, text: string): boolean {
  for (let k = 0; k < text.length; k++) if (b[at + k] !== text.charCodeAt(k)) return false;
  return true;
}

const EMPTY_DATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;
