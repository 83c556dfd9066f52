/**
 * OTLP/HTTP protobuf bodies (`Content-Type: application/x-protobuf`) to the intermediate form:
 * an `ExportTraceServiceRequest` read field by field with the wire-format reader. Field numbers
 * are those of opentelemetry-proto (`trace/v1/trace.proto`, `common/v1/common.proto`,
 * `resource/v1/resource.proto`); unknown fields are skipped, so newer senders still work.
 * Pure; a malformed body throws `ProtobufError`.
 */
import type {
  AnyValue,
  Attribute,
  OtlpLink,
  OtlpResourceSpans,
  OtlpScopeSpans,
  OtlpSpan,
  OtlpSpanEvent,
  OtlpTraceRequest,
} from './model.js';
import { MAX_VALUE_DEPTH } from './model.js';
import { ProtobufError, ProtobufReader, WIRE_FIXED32, WIRE_FIXED64, WIRE_LENGTH, WIRE_VARINT } from './protobuf-reader.js';

/** Decodes an `ExportTraceServiceRequest`. An empty body is an empty request. */
export function decodeTraceProtobuf(body: Uint8Array): OtlpTraceRequest {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const r = new ProtobufReader(bytes);
  const end = r.length;
  const resourceSpans: OtlpResourceSpans[] = [];
  while (r.pos < end) {
    const key = r.key(end);
    if (key >>> 3 === 1) {
      r.expect(key, WIRE_LENGTH, 'ExportTraceServiceRequest');
      resourceSpans.push(readResourceSpans(r, r.enter(end)));
    } else r.skip(key & 7, end);
  }
  return { resourceSpans };
}

/** Reads the repeated `KeyValue` field whose key was just read, into `into`. */
function pushKeyValue(r: ProtobufReader, key: number, end: number, into: Attribute[], message: string, depth: number): void {
  r.expect(key, WIRE_LENGTH, message);
  into.push(readKeyValue(r, r.enter(end), depth));
}

function readResourceSpans(r: ProtobufReader, end: number): OtlpResourceSpans {
  const out: OtlpResourceSpans = { resourceAttributes: [], scopeSpans: [] };
  while (r.pos < end) {
    const key = r.key(end);
    const field = key >>> 3;
    if (field === 1) {
      r.expect(key, WIRE_LENGTH, 'ResourceSpans');
      readResource(r, r.enter(end), out.resourceAttributes);
    } else if (field === 2) {
      r.expect(key, WIRE_LENGTH, 'ResourceSpans');
      out.scopeSpans.push(readScopeSpans(r, r.enter(end)));
    } else r.skip(key & 7, end);
  }
  return out;
}

function readResource(r: ProtobufReader, end: number, attributes: Attribute[]): void {
  while (r.pos < end) {
    const key = r.key(end);
    if (key >>> 3 === 1) pushKeyValue(r, key, end, attributes, 'Resource', 0);
    else r.skip(key & 7, end);
  }
}

function readScopeSpans(r: ProtobufReader, end: number): OtlpScopeSpans {
  const out: OtlpScopeSpans = { scopeName: '', scopeVersion: '', scopeAttributes: [], spans: [] };
  while (r.pos < end) {
    const key = r.key(end);
    const field = key >>> 3;
    if (field === 1) {
      r.expect(key, WIRE_LENGTH, 'ScopeSpans');
      readScope(r, r.enter(end), out);
    } else if (field === 2) {
      r.expect(key, WIRE_LENGTH, 'ScopeSpans');
      out.spans.push(readSpan(r, r.enter(end)));
    } else r.skip(key & 7, end);
  }
  return out;
}

function readScope(r: ProtobufReader, end: number, out: OtlpScopeSpans): void {
  while (r.pos < end) {
    const key = r.key(end);
    const field = key >>> 3;
    if (field === 1) {
      r.expect(key, WIRE_LENGTH, 'InstrumentationScope');
      out.scopeName = r.string(end);
    } else if (field === 2) {
      r.expect(key, WIRE_LENGTH, 'InstrumentationScope');
      out.scopeVersion = r.string(end);
    } else if (field === 3) pushKeyValue(r, key, end, out.scopeAttributes, 'InstrumentationScope', 0);
    else r.skip(key & 7, end);
  }
}

function readSpan(r: ProtobufReader, end: number): OtlpSpan {
  const span: OtlpSpan = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    traceState: '',
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: [],
    events: [],
    links: [],
    statusCode: 0,
    statusMessage: '',
  };
  while (r.pos < end) {
    const key = r.key(end);
    const field = key >>> 3;
    switch (field) {
      case 1:
      case 2:
      case 4:
        r.expect(key, WIRE_LENGTH, 'Span');
        if (field === 1) span.traceId = r.hex(end);
        else if (field === 2) span.spanId = r.hex(end);
        else span.parentSpanId = r.hex(end);
        break;
      case 3:
      case 5:
        r.expect(key, WIRE_LENGTH, 'Span');
        if (field === 3) span.traceState = r.string(end);
        else span.name = r.string(end);
        break;
      case 6:
        r.expect(key, WIRE_VARINT, 'Span');
        span.kind = r.int32(end);
        break;
      case 7:
      case 8:
        r.expect(key, WIRE_FIXED64, 'Span');
        if (field === 7) span.startTimeUnixNano = r.fixed64(end);
        else span.endTimeUnixNano = r.fixed64(end);
        break;
      case 9:
        pushKeyValue(r, key, end, span.attributes, 'Span', 0);
        break;
      case 11:
        r.expect(key, WIRE_LENGTH, 'Span');
        span.events.push(readEvent(r, r.enter(end)));
        break;
      case 13:
        r.expect(key, WIRE_LENGTH, 'Span');
        span.links.push(readLink(r, r.enter(end)));
        break;
      case 15:
        r.expect(key, WIRE_LENGTH, 'Span');
        readStatus(r, r.enter(end), span);
        break;
      case 16:
        r.expect(key, WIRE_FIXED32, 'Span');
        r.skip(WIRE_FIXED32, end);
        break;
      default:
        r.skip(key & 7, end);
    }
  }
  return span;
}

function readEvent(r: ProtobufReader, end: number): OtlpSpanEvent {
  const event: OtlpSpanEvent = { timeUnixNano: 0n, name: '', attributes: [] };
  while (r.pos < end) {
    const key = r.key(end);
    const field = key >>> 3;
    if (field === 1) {
      r.expect(key, WIRE_FIXED64, 'Span.Event');
      event.timeUnixNano = r.fixed64(end);
    } else if (field === 2) {
      r.expect(key, WIRE_LENGTH, 'Span.Event');
      event.name = r.string(end);
    } else if (field === 3) pushKeyValue(r, key, end, event.attributes, 'Span.Event', 0);
    else r.skip(key & 7, end);
  }
  return event;
}

function readLink(r: ProtobufReader, end: number): OtlpLink {
  const link: OtlpLink = { traceId: '', spanId: '', traceState: '', attributes: [] };
  while (r.pos < end) {
    const key = r.key(end);
    const field = key >>> 3;
    if (field === 1 || field === 2) {
      r.expect(key, WIRE_LENGTH, 'Span.Link');
      if (field === 1) link.traceId = r.hex(end);
      else link.spanId = r.hex(end);
    } else if (field === 3) {
      r.expect(key, WIRE_LENGTH, 'Span.Link');
      link.traceState = r.string(end);
    } else if (field === 4) pushKeyValue(r, key, end, link.attributes, 'Span.Link', 0);
    else r.skip(key & 7, end);
  }
  return link;
}

function readStatus(r: ProtobufReader, end: number, span: OtlpSpan): void {
  while (r.pos < end) {
    const key = r.key(end);
    const field = key >>> 3;
    if (field === 2) {
      r.expect(key, WIRE_LENGTH, 'Status');
      span.statusMessage = r.string(end);
    } else if (field === 3) {
      r.expect(key, WIRE_VARINT, 'Status');
      span.statusCode = r.int32(end);
    } else r.skip(key & 7, end);
  }
}

function readKeyValue(r: ProtobufReader, end: number, depth: number): Attribute {
  let key = '';
  let value: AnyValue = null;
  while (r.pos < end) {
    const tag = r.key(end);
    const field = tag >>> 3;
    if (field === 1) {
      r.expect(tag, WIRE_LENGTH, 'KeyValue');
      key = r.string(end);
    } else if (field === 2) {
      r.expect(tag, WIRE_LENGTH, 'KeyValue');
      value = readAnyValue(r, r.enter(end), depth);
    } else r.skip(tag & 7, end);
  }
  return { key, value };
}

function readAnyValue(r: ProtobufReader, end: number, depth: number): AnyValue {
  if (depth >= MAX_VALUE_DEPTH) throw new ProtobufError(`attribute values nest deeper than ${MAX_VALUE_DEPTH} levels`, r.pos);
  let value: AnyValue = null;
  while (r.pos < end) {
    const key = r.key(end);
    switch (key >>> 3) {
      case 1:
        r.expect(key, WIRE_LENGTH, 'AnyValue');
        value = r.string(end);
        break;
      case 2:
        r.expect(key, WIRE_VARINT, 'AnyValue');
        value = r.bool(end);
        break;
      case 3:
        r.expect(key, WIRE_VARINT, 'AnyValue');
        value = r.int64(end);
        break;
      case 4:
        r.expect(key, WIRE_FIXED64, 'AnyValue');
        value = r.double(end);
        break;
      case 5:
        r.expect(key, WIRE_LENGTH, 'AnyValue');
        value = readArray(r, r.enter(end), depth + 1);
        break;
      case 6: {
        r.expect(key, WIRE_LENGTH, 'AnyValue');
        const stop = r.enter(end);
        const kvlist: Attribute[] = [];
        while (r.pos < stop) {
          const item = r.key(stop);
          if (item >>> 3 === 1) pushKeyValue(r, item, stop, kvlist, 'KeyValueList', depth + 1);
          else r.skip(item & 7, stop);
        }
        value = { kvlist };
        break;
      }
      case 7:
        r.expect(key, WIRE_LENGTH, 'AnyValue');
        value = r.bytesField(end);
        break;
      default:
        r.skip(key & 7, end);
    }
  }
  return value;
}

function readArray(r: ProtobufReader, end: number, depth: number): AnyValue[] {
  const values: AnyValue[] = [];
  while (r.pos < end) {
    const key = r.key(end);
    if (key >>> 3 === 1) {
      r.expect(key, WIRE_LENGTH, 'ArrayValue');
      values.push(readAnyValue(r, r.enter(end), depth));
    } else r.skip(key & 7, end);
  }
  return values;
}
