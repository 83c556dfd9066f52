/**
 * A small protobuf wire-format reader (https://protobuf.dev/programming-guides/encoding/):
 * varints, fixed32/fixed64, length-delimited fields, and skipping of unknown fields. One cursor
 * walks the whole body; every read takes the end of the message it is in, so nothing is read past
 * a message's bounds, and an embedded message is entered by reading its end ({@link
 * ProtobufReader.enter}) rather than by allocating a reader. Pure: it throws {@link
 * ProtobufError} on anything malformed (a truncated varint, a length past the end of its message,
 * a wire type that is not allowed).
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

/** A cursor over one body. */
export class ProtobufReader {
  pos = 0;
  /** The low and high 32 bits of the last varint read. */
  private lo = 0;
  private hi = 0;

  constructor(readonly bytes: Buffer) {}

  /** The end of the whole body (the top-level message). */
  get length(): number {
    return this.bytes.length;
  }

  /**
   * Reads a field's key (`field << 3 | wire`) in a message ending at `end`, refusing field 0 and
   * wire types that do not exist. `key >>> 3` is the field, `key & 7` the wire type.
   */
  key(end: number): number {
    const at = this.pos;
    const key = this.uint(end);
    const wire = key & 7;
    if (key < 8) throw new ProtobufError('field number 0 is not allowed', at);
    if (key >= TWO_32) throw new ProtobufError('field number is larger than 2^29 - 1', at);
    if (wire !== WIRE_VARINT && wire !== WIRE_FIXED64 && wire !== WIRE_LENGTH && wire !== WIRE_FIXED32) {
      const field = Math.floor(key / 8);
      const what = wire === 3 || wire === 4 ? 'a deprecated group' : 'not a wire type';
      throw new ProtobufError(`field ${field} has wire type ${wire}, which is ${what}`, at);
    }
    return key;
  }

  /** Reads a varint as an unsigned number; refuses one past 2^53 (lengths, keys, counts). */
  uint(end: number): number {
    if (this.pos < end) {
      const first = this.bytes[this.pos] as number;
      if (first < 0x80) {
        this.pos++;
        return first;
      }
    }
    const at = this.pos;
    this.varint64(end);
    if (this.hi > 0x1fffff) throw new ProtobufError('varint is larger than 2^53 where a length, tag or count was expected', at);
    return this.hi * TWO_32 + this.lo;
  }

  /** Reads an `int64` varint (two's complement): a number when it is safe, else a bigint. */
  int64(end: number): number | bigint {
    this.varint64(end);
    if (this.hi < 0x200000) return this.hi * TWO_32 + this.lo;
    const value = BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo));
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }

  /** Reads an enum or `int32` varint (negative values are sign-extended to 10 bytes on the wire). */
  int32(end: number): number {
    this.varint64(end);
    return this.lo | 0;
  }

  /** Reads a `bool` varint. */
  bool(end: number): boolean {
    this.varint64(end);
    return this.lo !== 0 || this.hi !== 0;
  }

  /** Reads a varint of up to 10 bytes into `lo` and `hi` (unsigned). */
  private varint64(end: number): void {
    const bytes = this.bytes;
    const start = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) throw new ProtobufError('varint is cut off by the end of its message', start);
      const b = bytes[this.pos++] as number;
      const bits = b & 0x7f;
      const shift = 7 * i;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >> 4;
      } else hi |= bits << (shift - 32);
      if (b < 0x80) {
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return;
      }
    }
    throw new ProtobufError('varint is longer than 10 bytes', start);
  }

  /** Reads a `fixed64` as an unsigned bigint. */
  fixed64(end: number): bigint {
    this.need(8, end);
    const value = this.bytes.readBigUInt64LE(this.pos);
    this.pos += 8;
    return value;
  }

  /** Reads a `double`. */
  double(end: number): number {
    this.need(8, end);
    const value = this.bytes.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  /**
   * Reads the length of a length-delimited field and returns where its bytes end; the cursor is
   * then at their start (to read an embedded message up to that end).
   */
  enter(end: number): number {
    const at = this.pos;
    const length = this.uint(end);
    if (length > end - this.pos) {
      throw new ProtobufError(`length-delimited field of ${length} bytes runs past the end of its message (${end - this.pos} left)`, at);
    }
    return this.pos + length;
  }

  /** Reads a `string` (bytes that are not UTF-8 become U+FFFD). */
  string(end: number): string {
    const stop = this.enter(end);
    const text = utf8Slice(this.bytes, this.pos, stop);
    this.pos = stop;
    return text;
  }

  /** Reads a `bytes` field (a copy). */
  bytesField(end: number): Uint8Array {
    const stop = this.enter(end);
    const copy = Uint8Array.prototype.slice.call(this.bytes, this.pos, stop);
    this.pos = stop;
    return copy;
  }

  /** Reads a `bytes` field as lowercase hex (trace and span ids). */
  hex(end: number): string {
    const stop = this.enter(end);
    const text = this.bytes.toString('hex', this.pos, stop);
    this.pos = stop;
    return text;
  }

  /** Skips a field of wire type `wire` (unknown fields, span flags). */
  skip(wire: number, end: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint64(end);
        return;
      case WIRE_FIXED64:
        this.need(8, end);
        this.pos += 8;
        return;
      case WIRE_LENGTH:
        this.pos = this.enter(end);
        return;
      default:
        this.need(4, end);
        this.pos += 4;
    }
  }

  /** Refuses a field read with the wrong wire type (`key` as read by {@link key}). */
  expect(key: number, expected: number, message: string): void {
    if ((key & 7) !== expected) {
      throw new ProtobufError(`${message} field ${Math.floor(key / 8)} has wire type ${key & 7}, expected ${expected}`, this.pos);
    }
  }

  private need(bytes: number, end: number): void {
    if (end - this.pos < bytes) throw new ProtobufError(`a ${bytes}-byte field is cut off by the end of its message`, this.pos);
  }
}

/** Node's native slice decoder behind `Buffer#toString('utf8', …)`, without its argument handling (a hot path: every key). */
const nativeUtf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (start: number, end: number) => string }).utf8Slice;

function utf8Slice(bytes: Buffer, start: number, end: number): string {
  return nativeUtf8Slice === undefined ? bytes.toString('utf8', start, end) : nativeUtf8Slice.call(bytes, start, end);
}
