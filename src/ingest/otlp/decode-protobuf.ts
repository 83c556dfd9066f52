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
  const reader = new ProtobufReader(body);
  const resourceSpans: OtlpResourceSpans[] = [];
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1) {
      reader.expect(wire, WIRE_LENGTH, 1, 'ExportTraceServiceRequest');
      resourceSpans.push(readResourceSpans(reader.message()));
    } else reader.skip(wire);
  }
  return { resourceSpans };
}

function readResourceSpans(reader: ProtobufReader): OtlpResourceSpans {
  let resourceAttributes: Attribute[] = [];
  const scopeSpans: OtlpScopeSpans[] = [];
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1) {
      reader.expect(wire, WIRE_LENGTH, 1, 'ResourceSpans');
      resourceAttributes = readResource(reader.message());
    } else if (field === 2) {
      reader.expect(wire, WIRE_LENGTH, 2, 'ResourceSpans');
      scopeSpans.push(readScopeSpans(reader.message()));
    } else reader.skip(wire);
  }
  return { resourceAttributes, scopeSpans };
}

function readResource(reader: ProtobufReader): Attribute[] {
  const attributes: Attribute[] = [];
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1) {
      reader.expect(wire, WIRE_LENGTH, 1, 'Resource');
      attributes.push(readKeyValue(reader.message(), 0));
    } else reader.skip(wire);
  }
  return attributes;
}

function readScopeSpans(reader: ProtobufReader): OtlpScopeSpans {
  const out: OtlpScopeSpans = { scopeName: '', scopeVersion: '', scopeAttributes: [], spans: [] };
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1) {
      reader.expect(wire, WIRE_LENGTH, 1, 'ScopeSpans');
      readScope(reader.message(), out);
    } else if (field === 2) {
      reader.expect(wire, WIRE_LENGTH, 2, 'ScopeSpans');
      out.spans.push(readSpan(reader.message()));
    } else reader.skip(wire);
  }
  return out;
}

function readScope(reader: ProtobufReader, out: OtlpScopeSpans): void {
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1) {
      reader.expect(wire, WIRE_LENGTH, 1, 'InstrumentationScope');
      out.scopeName = reader.string();
    } else if (field === 2) {
      reader.expect(wire, WIRE_LENGTH, 2, 'InstrumentationScope');
      out.scopeVersion = reader.string();
    } else if (field === 3) {
      reader.expect(wire, WIRE_LENGTH, 3, 'InstrumentationScope');
      out.scopeAttributes.push(readKeyValue(reader.message(), 0));
    } else reader.skip(wire);
  }
}

function readSpan(reader: ProtobufReader): OtlpSpan {
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
  while (!reader.done) {
    const { field, wire } = reader.tag();
    switch (field) {
      case 1:
        reader.expect(wire, WIRE_LENGTH, 1, 'Span');
        span.traceId = reader.hex();
        break;
      case 2:
        reader.expect(wire, WIRE_LENGTH, 2, 'Span');
        span.spanId = reader.hex();
        break;
      case 3:
        reader.expect(wire, WIRE_LENGTH, 3, 'Span');
        span.traceState = reader.string();
        break;
      case 4:
        reader.expect(wire, WIRE_LENGTH, 4, 'Span');
        span.parentSpanId = reader.hex();
        break;
      case 5:
        reader.expect(wire, WIRE_LENGTH, 5, 'Span');
        span.name = reader.string();
        break;
      case 6:
        reader.expect(wire, WIRE_VARINT, 6, 'Span');
        span.kind = reader.int32();
        break;
      case 7:
        reader.expect(wire, WIRE_FIXED64, 7, 'Span');
        span.startTimeUnixNano = reader.fixed64();
        break;
      case 8:
        reader.expect(wire, WIRE_FIXED64, 8, 'Span');
        span.endTimeUnixNano = reader.fixed64();
        break;
      case 9:
        reader.expect(wire, WIRE_LENGTH, 9, 'Span');
        span.attributes.push(readKeyValue(reader.message(), 0));
        break;
      case 11:
        reader.expect(wire, WIRE_LENGTH, 11, 'Span');
        span.events.push(readEvent(reader.message()));
        break;
      case 13:
        reader.expect(wire, WIRE_LENGTH, 13, 'Span');
        span.links.push(readLink(reader.message()));
        break;
      case 15:
        reader.expect(wire, WIRE_LENGTH, 15, 'Span');
        readStatus(reader.message(), span);
        break;
      case 16:
        reader.expect(wire, WIRE_FIXED32, 16, 'Span');
        reader.advance(4);
        break;
      default:
        reader.skip(wire);
    }
  }
  return span;
}

function readEvent(reader: ProtobufReader): OtlpSpanEvent {
  const event: OtlpSpanEvent = { timeUnixNano: 0n, name: '', attributes: [] };
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1) {
      reader.expect(wire, WIRE_FIXED64, 1, 'Span.Event');
      event.timeUnixNano = reader.fixed64();
    } else if (field === 2) {
      reader.expect(wire, WIRE_LENGTH, 2, 'Span.Event');
      event.name = reader.string();
    } else if (field === 3) {
      reader.expect(wire, WIRE_LENGTH, 3, 'Span.Event');
      event.attributes.push(readKeyValue(reader.message(), 0));
    } else reader.skip(wire);
  }
  return event;
}

function readLink(reader: ProtobufReader): OtlpLink {
  const link: OtlpLink = { traceId: '', spanId: '', traceState: '', attributes: [] };
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1) {
      reader.expect(wire, WIRE_LENGTH, 1, 'Span.Link');
      link.traceId = reader.hex();
    } else if (field === 2) {
      reader.expect(wire, WIRE_LENGTH, 2, 'Span.Link');
      link.spanId = reader.hex();
    } else if (field === 3) {
      reader.expect(wire, WIRE_LENGTH, 3, 'Span.Link');
      link.traceState = reader.string();
    } else if (field === 4) {
      reader.expect(wire, WIRE_LENGTH, 4, 'Span.Link');
      link.attributes.push(readKeyValue(reader.message(), 0));
    } else reader.skip(wire);
  }
  return link;
}

function readStatus(reader: ProtobufReader, span: OtlpSpan): void {
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 2) {
      reader.expect(wire, WIRE_LENGTH, 2, 'Status');
      span.statusMessage = reader.string();
    } else if (field === 3) {
      reader.expect(wire, WIRE_VARINT, 3, 'Status');
      span.statusCode = reader.int32();
    } else reader.skip(wire);
  }
}

function readKeyValue(reader: ProtobufReader, depth: number): Attribute {
  let key = '';
  let value: AnyValue = null;
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1) {
      reader.expect(wire, WIRE_LENGTH, 1, 'KeyValue');
      key = reader.string();
    } else if (field === 2) {
      reader.expect(wire, WIRE_LENGTH, 2, 'KeyValue');
      value = readAnyValue(reader.message(), depth);
    } else reader.skip(wire);
  }
  return { key, value };
}

function readAnyValue(reader: ProtobufReader, depth: number): AnyValue {
  if (depth >= MAX_VALUE_DEPTH) {
    throw new ProtobufError(`attribute values nest deeper than ${MAX_VALUE_DEPTH} levels`, reader.pos);
  }
  let value: AnyValue = null;
  while (!reader.done) {
    const { field, wire } = reader.tag();
    switch (field) {
      case 1:
        reader.expect(wire, WIRE_LENGTH, 1, 'AnyValue');
        value = reader.string();
        break;
      case 2:
        reader.expect(wire, WIRE_VARINT, 2, 'AnyValue');
        value = reader.bool();
        break;
      case 3:
        reader.expect(wire, WIRE_VARINT, 3, 'AnyValue');
        value = reader.int64();
        break;
      case 4:
        reader.expect(wire, WIRE_FIXED64, 4, 'AnyValue');
        value = reader.double();
        break;
      case 5: {
        reader.expect(wire, WIRE_LENGTH, 5, 'AnyValue');
        const array = reader.message();
        const values: AnyValue[] = [];
        while (!array.done) {
          const item = array.tag();
          if (item.field === 1) {
            array.expect(item.wire, WIRE_LENGTH, 1, 'ArrayValue');
            values.push(readAnyValue(array.message(), depth + 1));
          } else array.skip(item.wire);
        }
        value = values;
        break;
      }
      case 6: {
        reader.expect(wire, WIRE_LENGTH, 6, 'AnyValue');
        const list = reader.message();
        const kvlist: Attribute[] = [];
        while (!list.done) {
          const item = list.tag();
          if (item.field === 1) {
            list.expect(item.wire, WIRE_LENGTH, 1, 'KeyValueList');
            kvlist.push(readKeyValue(list.message(), depth + 1));
          } else list.skip(item.wire);
        }
        value = { kvlist };
        break;
      }
      case 7:
        reader.expect(wire, WIRE_LENGTH, 7, 'AnyValue');
        value = reader.bytesField();
        break;
      default:
        reader.skip(wire);
    }
  }
  return value;
}
