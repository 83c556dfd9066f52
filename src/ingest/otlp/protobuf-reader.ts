/**
 * A small protobuf wire-format reader (https://protobuf.dev/programming-guides/encoding/):
 * varints, fixed32/fixed64, length-delimited fields, and skipping of unknown fields. Pure: it
 * reads a byte array and throws {@link ProtobufError} on anything malformed (a truncated
 * varint, a length past the end of its message, a wire type that is not allowed), never
 * reading outside the bytes it was given.
 */

/** Wire types of the encoding. Groups (3, 4) are deprecated and refused. */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH = 2;
export const WIRE_FIXED32 = 5;

/** A body that is not a well-formed protobuf message; `offset` is the byte where reading failed. */
export class ProtobufError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ProtobufError';
  }
}

const TWO_32 = 4_294_967_296;

/** A cursor over `bytes[pos, end)`: one message, or the part of one a length-delimited field holds. */
export class ProtobufReader {
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  /** True once the whole message is read. */
  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads a field's tag: its number (1 or more) and wire type. */
  tag(): { field: number; wire: number } {
    const at = this.pos;
    const key = this.uint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) throw new ProtobufError('field number 0 is not allowed', at);
    if (wire !== WIRE_VARINT && wire !== WIRE_FIXED64 && wire !== WIRE_LENGTH && wire !== WIRE_FIXED32) {
      throw new ProtobufError(
        `field ${field} has wire type ${wire}, which is ${wire === 3 || wire === 4 ? 'a deprecated group' : 'not a wire type'}`,
        at,
      );
    }
    return { field, wire };
  }

  /** Reads a varint as an unsigned number; refuses one past 2^53 (lengths, tags, enums, counts). */
  uint(): number {
    const bytes = this.bytes;
    if (this.pos < this.end) {
      const first = bytes[this.pos] as number;
      if (first < 0x80) {
        this.pos++;
        return first;
      }
    }
    const at = this.pos;
    const [lo, hi] = this.varint64();
    if (hi > 0x1fffff) throw new ProtobufError('varint is larger than 2^53 where a length, tag or count was expected', at);
    return hi * TWO_32 + lo;
  }

  /** Reads an `int64` varint (two's complement): a number when it is safe, else a bigint. */
  int64(): number | bigint {
    const [lo, hi] = this.varint64();
    if (hi < 0x200000) return hi * TWO_32 + lo;
    const value = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }

  /** Reads an enum or `int32` varint (negative values are sign-extended to 10 bytes on the wire). */
  int32(): number {
    const [lo] = this.varint64();
    return lo | 0;
  }

  /** Reads a `bool` varint. */
  bool(): boolean {
    const [lo, hi] = this.varint64();
    return lo !== 0 || hi !== 0;
  }

  /** Reads a varint of up to 10 bytes as its low and high 32 bits, unsigned. */
  private varint64(): [number, number] {
    const bytes = this.bytes;
    const start = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError('varint is cut off by the end of its message', start);
      const b = bytes[this.pos++] as number;
      const bits = b & 0x7f;
      const shift = 7 * i;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >> 4;
      } else hi |= bits << (shift - 32);
      if (b < 0x80) return [lo >>> 0, hi >>> 0];
    }
    throw new ProtobufError('varint is longer than 10 bytes', start);
  }

  /** Reads a `fixed64` as an unsigned bigint. */
  fixed64(): bigint {
    const [lo, hi] = this.fixed64Parts();
    return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** Reads a `double`. */
  double(): number {
    this.need(8);
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 8);
    this.pos += 8;
    return view.getFloat64(0, true);
  }

  private fixed64Parts(): [number, number] {
    this.need(8);
    const b = this.bytes;
    const p = this.pos;
    const lo = ((b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16) | ((b[p + 3] as number) << 24)) >>> 0;
    const hi = ((b[p + 4] as number) | ((b[p + 5] as number) << 8) | ((b[p + 6] as number) << 16) | ((b[p + 7] as number) << 24)) >>> 0;
    this.pos += 8;
    return [lo, hi];
  }

  /** Reads a length-delimited field's extent and moves past it: `[start, end)` of its bytes. */
  span(): [number, number] {
    const at = this.pos;
    const length = this.uint();
    if (length > this.end - this.pos) {
      throw new ProtobufError(
        `length-delimited field of ${length} bytes runs past the end of its message (${this.end - this.pos} left)`,
        at,
      );
    }
    const start = this.pos;
    this.pos += length;
    return [start, this.pos];
  }

  /** A reader of the embedded message of a length-delimited field. */
  message(): ProtobufReader {
    const [start, end] = this.span();
    return new ProtobufReader(this.bytes, start, end);
  }

  /** Reads a `string` (bytes that are not UTF-8 become U+FFFD). */
  string(): string {
    const [start, end] = this.span();
    if (end - start < 24) return asciiOrUtf8(this.bytes, start, end);
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, end - start).toString('utf8');
  }

  /** Reads a `bytes` field (a view of the body, not a copy). */
  bytesField(): Uint8Array {
    const [start, end] = this.span();
    return this.bytes.subarray(start, end);
  }

  /** Reads a `bytes` field as lowercase hex (trace and span ids). */
  hex(): string {
    const [start, end] = this.span();
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, end - start).toString('hex');
  }

  /** Skips a field of wire type `wire` (unknown fields). */
  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint64();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_LENGTH:
        this.span();
        return;
      default:
        this.advance(4);
    }
  }

  /** Skips a `fixed32` (span flags). */
  advance(bytes: number): void {
    this.need(bytes);
    this.pos += bytes;
  }

  /** Refuses a field read with the wrong wire type. */
  expect(wire: number, expected: number, field: number, message: string): void {
    if (wire !== expected) {
      throw new ProtobufError(`${message} field ${field} has wire type ${wire}, expected ${expected}`, this.pos);
    }
  }

  private need(bytes: number): void {
    if (this.end - this.pos < bytes) throw new ProtobufError(`a ${bytes}-byte field is cut off by the end of its message`, this.pos);
  }
}

/** Short strings: plain ASCII decoded by hand (cheaper than a Buffer for keys), anything else as UTF-8. */
function asciiOrUtf8(bytes: Uint8Array, start: number, end: number): string {
  let text = '';
  for (let i = start; i < end; i++) {
    const b = bytes[i] as number;
    if (b >= 0x80) return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
    text += String.fromCharCode(b);
  }
  return text;
}
