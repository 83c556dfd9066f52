/**
 * OTLP/HTTP JSON bodies (`Content-Type: application/json`) to the intermediate form: an
 * `ExportTraceServiceRequest` in the protobuf JSON mapping as the OTLP specification narrows it
 * (lowerCamelCase names, also the proto names; trace and span ids as hex, not base64; 64-bit
 * integers as strings or numbers; enums as integers, also their names; `bytesValue` as base64).
 * Pure; malformed input throws `invalid_input` naming the path of the offending field.
 */
import { invalidInput } from '../../errors.js';
import { nonFiniteProblem, parseJsonBody } from '../json-text.js';
import { firstInvalidUtf8, isUtf8, notUtf8Message } from '../utf8.js';
import {
  type AnyValue,
  type Attribute,
  MAX_VALUE_DEPTH,
  type OtlpLink,
  type OtlpResourceSpans,
  type OtlpScopeSpans,
  type OtlpSpan,
  type OtlpSpanEvent,
  type OtlpTraceRequest,
} from './model.js';

const WHAT = 'OTLP JSON body';
const HINT = 'send an ExportTraceServiceRequest in the OTLP/JSON encoding (opentelemetry-proto, docs/api.md "OTLP")';

const SPAN_KIND_NAMES: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODE_NAMES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

type Json = Record<string, unknown>;

/** Decodes an OTLP/JSON trace export. An empty body, like `{}`, is an empty request. */
export function decodeTraceJson(body: Buffer): OtlpTraceRequest {
  if (body.length === 0) return { resourceSpans: [] };
  if (!isUtf8(body)) {
    const at = firstInvalidUtf8(body);
    throw invalidInput(notUtf8Message(WHAT, at), 'send UTF-8 JSON', { position: at });
  }
  const value = parseJsonBody(body.toString('utf8'), WHAT);
  const infinite = nonFiniteProblem(value, WHAT);
  if (infinite !== undefined) throw infinite;
  const request = object(value, '');
  return { resourceSpans: list(field(request, 'resourceSpans', 'resource_spans'), 'resourceSpans', readResourceSpans) };
}

function readResourceSpans(value: unknown, path: string): OtlpResourceSpans {
  const o = object(value, path);
  const resource = field(o, 'resource');
  const resourceAttributes =
    resource === undefined ? [] : attributes(field(object(resource, `${path}.resource`), 'attributes'), `${path}.resource.attributes`);
  const scopeSpans = list(field(o, 'scopeSpans', 'scope_spans'), `${path}.scopeSpans`, readScopeSpans);
  return { resourceAttributes, scopeSpans };
}

function readScopeSpans(value: unknown, path: string): OtlpScopeSpans {
  const o = object(value, path);
  const out: OtlpScopeSpans = { scopeName: '', scopeVersion: '', scopeAttributes: [], spans: [] };
  const scope = field(o, 'scope');
  if (scope !== undefined) {
    const s = object(scope, `${path}.scope`);
    out.scopeName = text(field(s, 'name'), `${path}.scope.name`);
    out.scopeVersion = text(field(s, 'version'), `${path}.scope.version`);
    out.scopeAttributes = attributes(field(s, 'attributes'), `${path}.scope.attributes`);
  }
  out.spans = list(field(o, 'spans'), `${path}.spans`, readSpan);
  return out;
}

function readSpan(value: unknown, path: string): OtlpSpan {
  const o = object(value, path);
  const status = field(o, 'status');
  const s = status === undefined ? {} : object(status, `${path}.status`);
  return {
    traceId: id(field(o, 'traceId', 'trace_id'), `${path}.traceId`),
    spanId: id(field(o, 'spanId', 'span_id'), `${path}.spanId`),
    parentSpanId: id(field(o, 'parentSpanId', 'parent_span_id'), `${path}.parentSpanId`),
    traceState: text(field(o, 'traceState', 'trace_state'), `${path}.traceState`),
    name: text(field(o, 'name'), `${path}.name`),
    kind: enumValue(field(o, 'kind'), SPAN_KIND_NAMES, `${path}.kind`),
    startTimeUnixNano: nanos(field(o, 'startTimeUnixNano', 'start_time_unix_nano'), `${path}.startTimeUnixNano`),
    endTimeUnixNano: nanos(field(o, 'endTimeUnixNano', 'end_time_unix_nano'), `${path}.endTimeUnixNano`),
    attributes: attributes(field(o, 'attributes'), `${path}.attributes`),
    events: list(field(o, 'events'), `${path}.events`, readEvent),
    links: list(field(o, 'links'), `${path}.links`, readLink),
    statusCode: enumValue(field(s, 'code'), STATUS_CODE_NAMES, `${path}.status.code`),
    statusMessage: text(field(s, 'message'), `${path}.status.message`),
  };
}

function readEvent(value: unknown, path: string): OtlpSpanEvent {
  const o = object(value, path);
  return {
    timeUnixNano: nanos(field(o, 'timeUnixNano', 'time_unix_nano'), `${path}.timeUnixNano`),
    name: text(field(o, 'name'), `${path}.name`),
    attributes: attributes(field(o, 'attributes'), `${path}.attributes`),
  };
}

function readLink(value: unknown, path: string): OtlpLink {
  const o = object(value, path);
  return {
    traceId: id(field(o, 'traceId', 'trace_id'), `${path}.traceId`),
    spanId: id(field(o, 'spanId', 'span_id'), `${path}.spanId`),
    traceState: text(field(o, 'traceState', 'trace_state'), `${path}.traceState`),
    attributes: attributes(field(o, 'attributes'), `${path}.attributes`),
  };
}

function attributes(value: unknown, path: string, depth = 0): Attribute[] {
  return list(value, path, (item, at) => keyValue(item, at, depth));
}

function keyValue(value: unknown, path: string, depth: number): Attribute {
  const o = object(value, path);
  const v = field(o, 'value');
  return { key: text(field(o, 'key'), `${path}.key`), value: v === undefined ? null : anyValue(v, `${path}.value`, depth) };
}

function anyValue(value: unknown, path: string, depth: number): AnyValue {
  if (depth >= MAX_VALUE_DEPTH) throw invalidInput(`${WHAT}: ${path}: attribute values nest deeper than ${MAX_VALUE_DEPTH} levels`, HINT);
  const o = object(value, path);
  for (const name in o) {
    const v = o[name];
    if (v === null || v === undefined) continue;
    switch (name) {
      case 'stringValue':
      case 'string_value':
        return text(v, `${path}.stringValue`);
      case 'boolValue':
      case 'bool_value':
        if (typeof v !== 'boolean') throw wrongType(`${path}.boolValue`, 'true or false', v);
        return v;
      case 'intValue':
      case 'int_value':
        return int64(v, `${path}.intValue`);
      case 'doubleValue':
      case 'double_value':
        return double(v, `${path}.doubleValue`);
      case 'arrayValue':
      case 'array_value': {
        const values = field(object(v, `${path}.arrayValue`), 'values');
        return list(values, `${path}.arrayValue.values`, (item, at) => anyValue(item, at, depth + 1));
      }
      case 'kvlistValue':
      case 'kvlist_value': {
        const values = field(object(v, `${path}.kvlistValue`), 'values');
        return { kvlist: attributes(values, `${path}.kvlistValue.values`, depth + 1) };
      }
      case 'bytesValue':
      case 'bytes_value':
        if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) throw wrongType(`${path}.bytesValue`, 'base64 text', v);
        return Buffer.from(v, 'base64');
    }
  }
  return null;
}

/** A field by its JSON name or its proto name; null is absent, as in the protobuf JSON mapping. */
function field(o: Json, name: string, protoName?: string): unknown {
  const v = o[name] ?? (protoName === undefined ? undefined : o[protoName]);
  return v === null ? undefined : v;
}

function object(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw wrongType(path || 'the body', 'an object', value);
  return value as Json;
}

function list<T>(value: unknown, path: string, read: (item: unknown, path: string) => T): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw wrongType(path, 'an array', value);
  const out: T[] = new Array(value.length);
  for (let i = 0; i < value.length; i++) out[i] = read(value[i], `${path}[${i}]`);
  return out;
}

function text(value: unknown, path: string): string {
  if (value === undefined) return '';
  if (typeof value !== 'string') throw wrongType(path, 'a string', value);
  return value;
}

/** A trace or span id: hex text (lowercased); its length and digits are checked per span by the flattener. */
function id(value: unknown, path: string): string {
  return text(value, path).toLowerCase();
}

function enumValue(value: unknown, names: Record<string, number>, path: string): number {
  if (value === undefined) return 0;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && names[value] !== undefined) return names[value] as number;
  throw wrongType(path, `an enum number (or one of ${Object.keys(names).join(', ')})`, value);
}

const UNSIGNED = /^\d{1,20}$/;
const MAX_UINT64 = 18_446_744_073_709_551_615n;

/** A `fixed64` time in Unix nanoseconds, as a decimal string or an integer number. */
function nanos(value: unknown, path: string): bigint {
  if (value === undefined) return 0n;
  let n: bigint | undefined;
  if (typeof value === 'string' && UNSIGNED.test(value)) n = BigInt(value);
  else if (typeof value === 'number' && Number.isInteger(value) && value >= 0) n = BigInt(value);
  if (n === undefined || n > MAX_UINT64)
    throw wrongType(path, 'Unix nanoseconds (an unsigned 64-bit integer, as a string or number)', value);
  return n;
}

const SIGNED = /^-?\d{1,20}$/;
const MIN_INT64 = -9_223_372_036_854_775_808n;
const MAX_INT64 = 9_223_372_036_854_775_807n;

function int64(value: unknown, path: string): number | bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && SIGNED.test(value)) {
    const n = BigInt(value);
    if (n >= MIN_INT64 && n <= MAX_INT64)
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  }
  throw wrongType(path, 'a 64-bit integer (as a string or number)', value);
}

function double(value: unknown, path: string): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return Number.NaN;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  throw wrongType(path, 'a number', value);
}

function wrongType(path: string, expected: string, value: unknown) {
  const got = Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value === 'object' ? 'an object' : JSON.stringify(value);
  return invalidInput(`${WHAT}: ${path} must be ${expected}, not ${String(got).slice(0, 60)}`, HINT, { field: path });
}
