/**
 * Lays out event objects (OTLP spans flattened in an ingest worker) in DuckDB column buffers for
 * one dataset, as the batch scanner (batch-scanner.ts) lays out a `/1/batch` body, without
 * writing the events as JSON text and reading it back. It decides every event as that body of
 * the same events would be decided (`batchTextOf`, then the batch scanner or the object path): the
 * same size of each item, the same time window and sample rate rules, the same values per
 * column; where the body would need more context (a new field, a value its column's type does not
 * take, a 64-bit integer or a time JSON text cannot say exactly) it gives up with `fallback`, and
 * the caller writes the body. Pure and synchronous: it runs in the ingest worker threads.
 */
import { eventTimeWindowProblem, parseEventTime, parseSampleRate } from '../../ingest/honeycomb.js';
import { eventProblem, INT64_LIMIT_AS_NUMBER } from '../../ingest/value-rules.js';
import type { IncomingEvent } from '../types.js';
import type { ScanOptions, ScanResult, ScanSchema } from './batch-scanner.js';
import { type BuiltColumn, CHUNK_ROWS, ColumnBuilder, NEW_BUFFERS } from './column-builder.js';
import type { PreparedChunk } from './prepared.js';

/** Event times from here on are written as Unix milliseconds in a batch body (otlp-objects.ts). */
const MILLISECONDS_FROM = 1e11;

/** Bytes of an item's JSON text besides its data's fields, at most (`{"time":…,"samplerate":…,"data":{}}`). */
const ITEM_OVERHEAD_BYTES = 96;

const EMPTY_DATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

class Fallback {
  constructor(readonly reason: string) {}
}

/** Lays out `events` against `schema`: the chunks of the accepted ones, each refusal with its error, or a fallback. */
export function scanEvents(events: readonly IncomingEvent[], schema: ScanSchema, options: ScanOptions): ScanResult {
  try {
    return new EventScanner(schema, options).scan(events);
  } catch (error) {
    if (error instanceof Fallback) return { kind: 'fallback', reason: error.reason };
    throw error;
  }
}

class EventScanner {
  private readonly types: ScanSchema['types'];
  private readonly fieldIndex: Map<string, number>;
  private readonly buffers;
  private chunks: PreparedChunk[] = [];
  private capacity = 0;
  private row = 0;
  private time: ColumnBuilder | undefined;
  private samplerate: ColumnBuilder | undefined;
  private builders: Array<ColumnBuilder | undefined> = [];
  private accepted = 0;
  private lastEventMs: number | null = null;
  private hasSampling = false;

  constructor(
    private readonly schema: ScanSchema,
    private readonly options: ScanOptions,
  ) {
    this.types = schema.types;
    this.fieldIndex = schema.fieldIndex;
    this.buffers = options.buffers ?? NEW_BUFFERS;
  }

  scan(events: readonly IncomingEvent[]): ScanResult {
    const rejected: Array<[number, string]> = [];
    for (let index = 0; index < events.length; index++) {
      const event = events[index] as IncomingEvent;
      const decided = this.decide(event);
      if (typeof decided === 'string') {
        rejected.push([index, decided]);
        continue;
      }
      if (this.row === this.capacity) this.startChunk(events.length - index);
      this.writeRow(event.data);
      this.completeRow(decided.time, decided.samplerate);
    }
    this.finishChunk();
    return {
      kind: 'prepared',
      version: this.schema.version,
      items: events.length,
      rejected,
      warnings: [],
      chunks: this.chunks,
      events: this.accepted,
      lastEventMs: this.lastEventMs,
      hasSampling: this.hasSampling,
    };
  }

  /** The event's time and sample rate, or why its item is refused; falls back where its text would not say it exactly. */
  private decide(event: IncomingEvent): { time: number; samplerate: number } | string {
    if (typeof event.time !== 'number' || !Number.isFinite(event.time) || event.time < MILLISECONDS_FROM)
      throw new Fallback('a time a batch body cannot say');
    const max = this.options.maxEventBytes;
    if (boundOfItemBytes(event.data) > max) {
      const size = itemBytes(event);
      if (size > max) return `event is ${size} bytes, over the ${max}-byte limit per event`;
    }
    const time = parseEventTime(event.time);
    if (typeof time === 'string') return time;
    if (time !== this.options.now) {
      const outside = eventTimeWindowProblem(time, this.options.now);
      if (outside !== undefined) return outside;
    }
    const samplerate = parseSampleRate(event.samplerate);
    if (typeof samplerate === 'string') return samplerate;
    return eventProblem({ time, samplerate, data: EMPTY_DATA }) ?? { time, samplerate };
  }

  /** Writes the data's values into the current row as its JSON text would be read into columns. */
  private writeRow(data: Record<string, unknown>): void {
    const row = this.row;
    for (const key in data) {
      let value = data[key];
      if (value === null || value === undefined) continue;
      const kind = typeof value;
      // JSON text has neither: JSON.stringify writes them as null.
      if (kind === 'number' && !Number.isFinite(value as number)) continue;
      const column = this.fieldIndex.get(key) ?? -1;
      if (column < 0) throw new Fallback('a new field');
      const type = this.types[column];
      if (kind === 'string') {
        if (type !== 'string') throw new Fallback('a string in a non-string column');
        this.builder(column).setString(row, value as string);
      } else if (kind === 'number') {
        // JSON text says -0 as 0.
        if (Object.is(value, -0)) value = 0;
        const n = value as number;
        if (type === 'integer') {
          if (!(Number.isInteger(n) && Math.abs(n) < INT64_LIMIT_AS_NUMBER)) throw new Fallback('a fraction in an integer column');
          this.builder(column).setInteger(row, n);
        } else if (type === 'float') this.builder(column).setFloat(row, n);
        else if (type === 'string') this.builder(column).setString(row, String(n));
        else throw new Fallback('a number in a boolean column');
      } else if (kind === 'boolean') {
        if (type === 'boolean') this.builder(column).setBoolean(row, value as boolean);
        else if (type === 'string') this.builder(column).setString(row, String(value));
        else throw new Fallback('a boolean in a numeric column');
      } else {
        throw new Fallback(`a ${kind} value`);
      }
    }
  }

  private builder(column: number): ColumnBuilder {
    return (this.builders[column] ??= new ColumnBuilder(this.types[column]!, this.capacity, this.buffers));
  }

  /** Starts a chunk for the `remaining` events, rounded up to 64 rows as the batch scanner does (so buffers are reused). */
  private startChunk(remaining: number): void {
    this.finishChunk();
    this.capacity = Math.min(CHUNK_ROWS, Math.ceil((remaining + 2) / 64) * 64);
    this.time = new ColumnBuilder('timestamp', this.capacity, this.buffers);
    this.samplerate = new ColumnBuilder('integer', this.capacity, this.buffers);
    this.builders = new Array(this.types.length);
  }

  /** Ends the current row of an accepted event with its time and sample rate. */
  private completeRow(time: number, samplerate: number): void {
    const row = this.row++;
    this.time!.setInteger(row, Math.round(time * 1000));
    this.samplerate!.setInteger(row, samplerate);
    if (samplerate !== 1) this.hasSampling = true;
    if (this.lastEventMs === null || time > this.lastEventMs) this.lastEventMs = time;
    this.accepted++;
  }

  private finishChunk(): void {
    const rows = this.row;
    if (rows === 0) return;
    const columns: Array<BuiltColumn | undefined> = [this.time!.finish(rows), this.samplerate!.finish(rows)];
    for (let column = 0; column < this.types.length; column++) columns.push(this.builders[column]?.finish(rows));
    this.chunks.push({ rows, columns });
    this.row = 0;
    this.capacity = 0;
  }
}

/**
 * At least the bytes of the event's item as JSON text, cheaply: each UTF-16 unit of a key or a
 * string is at most 6 bytes (`\uXXXX`), a number at most 25 characters.
 */
function boundOfItemBytes(data: Record<string, unknown>): number {
  let bound = ITEM_OVERHEAD_BYTES;
  for (const key in data) {
    const value = data[key];
    bound += 6 * key.length + 4;
    bound += typeof value === 'string' ? 6 * value.length + 2 : 25;
  }
  return bound;
}

/** The bytes of the event's item in a batch body (`batchTextOf`); falls back when JSON cannot say the event (a bigint). */
function itemBytes(event: IncomingEvent): number {
  let data: string;
  try {
    data = JSON.stringify(event.data);
  } catch {
    throw new Fallback('a value JSON cannot say');
  }
  return Buffer.byteLength(`{"time":${event.time},"samplerate":${event.samplerate},"data":${data}}`);
}
