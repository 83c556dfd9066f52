/**
 * OTLP spans to wide events, the way Honeycomb's open-source OTLP translator names their fields
 * (docs/api.md, "OTLP"): one event per span, one per span event (`meta.annotation_type:
 * span_event`) and one per link (`meta.annotation_type: link`); resource, then scope, then the
 * span's own attributes merged, key-value lists flattened with dots, arrays as JSON text; the
 * dataset is the service name. Pure: the caller passes `now` (for the event-time window).
 */
import type { IncomingEvent } from '../event.js';
import { eventTimeWindowProblem } from '../honeycomb.js';
import { type AnyValue, type Attribute, type OtlpSpan, type OtlpTraceRequest, SPAN_KINDS, STATUS_CODE_ERROR } from './model.js';

/** The dataset of spans whose service has no name (or `unknown_service…`) and no dataset header. */
export const DEFAULT_OTLP_DATASET = 'unknown_service';

/** Key-value lists nest this deep as dotted fields; deeper ones are stored as JSON text. */
export const MAX_FLATTEN_DEPTH = 5;

export interface FlattenOptions {
  /** The dataset of spans without a service name: the request's dataset header, else {@link DEFAULT_OTLP_DATASET}. */
  fallbackDataset: string;
  /** Unix milliseconds, for the accepted window of event times. */
  now: number;
}

/** The events of one dataset, and for each the index (in request order) of the span it came from. */
export interface DatasetEvents {
  dataset: string;
  events: IncomingEvent[];
  /** `spans[i]` is the span of `events[i]`; `annotation[i]` is true for span events and links. */
  spans: number[];
  annotation: boolean[];
}

export interface FlattenedTraces {
  /** Spans in the request. */
  spanCount: number;
  byDataset: DatasetEvents[];
  /** Spans refused before storing, with why (in request order). */
  rejected: Array<{ span: number; reason: string }>;
}

/** Flattens every span of a request into events grouped by dataset. */
export function flattenTraces(request: OtlpTraceRequest, options: FlattenOptions): FlattenedTraces {
  const datasets = new Map<string, DatasetEvents>();
  const rejected: FlattenedTraces['rejected'] = [];
  let index = 0;
  for (const resource of request.resourceSpans) {
    const resourceFields: Record<string, unknown> = {};
    addAttributes(resourceFields, resource.resourceAttributes);
    const service = serviceName(resourceFields['service.name']);
    const dataset = service === undefined ? options.fallbackDataset : datasetName(service, options.fallbackDataset);
    if (resourceFields['service.name'] === undefined) resourceFields['service.name'] = DEFAULT_OTLP_DATASET;
    let target = datasets.get(dataset);
    if (target === undefined) {
      target = { dataset, events: [], spans: [], annotation: [] };
      datasets.set(dataset, target);
    }
    for (const scope of resource.scopeSpans) {
      const shared: Record<string, unknown> = { ...resourceFields };
      if (scope.scopeName !== '') shared['library.name'] = scope.scopeName;
      if (scope.scopeVersion !== '') shared['library.version'] = scope.scopeVersion;
      addAttributes(shared, scope.scopeAttributes);
      for (const span of scope.spans) {
        const problem = spanProblem(span, options);
        if (problem !== undefined) rejected.push({ span: index, reason: problem });
        else addSpan(target, index, span, shared);
        index++;
      }
    }
  }
  return { spanCount: index, byDataset: [...datasets.values()].filter((d) => d.events.length > 0), rejected };
}

function addSpan(target: DatasetEvents, index: number, span: OtlpSpan, shared: Record<string, unknown>): void {
  const startMs = nanosToMs(span.startTimeUnixNano);
  const durationNs = span.endTimeUnixNano - span.startTimeUnixNano;
  const kind = SPAN_KINDS[span.kind] ?? 'unspecified';
  const isError = span.statusCode === STATUS_CODE_ERROR;
  const data: Record<string, unknown> = {
    'trace.trace_id': span.traceId,
    'trace.span_id': span.spanId,
    name: span.name,
    'span.kind': kind,
    type: kind,
    duration_ms: durationNs < 0n ? 0 : Number(durationNs) / 1e6,
    status_code: span.statusCode,
    'span.num_events': span.events.length,
    'span.num_links': span.links.length,
    'meta.signal_type': 'trace',
  };
  if (span.parentSpanId !== '') data['trace.parent_id'] = span.parentSpanId;
  if (span.statusMessage !== '') data.status_message = span.statusMessage;
  if (isError) data.error = true;
  if (durationNs < 0n) data['meta.invalid_duration'] = true;
  Object.assign(data, shared);
  addAttributes(data, span.attributes);
  const exception = span.events.find((event) => event.name === 'exception');
  if (exception !== undefined) {
    const fields: Record<string, unknown> = {};
    addAttributes(fields, exception.attributes);
    for (const key in fields) if (!(key in data)) data[key] = fields[key];
  }
  const samplerate = takeSampleRate(data);
  push(target, index, false, { time: startMs, samplerate, data });

  for (const event of span.events) {
    const fields: Record<string, unknown> = {
      'trace.trace_id': span.traceId,
      'trace.parent_id': span.spanId,
      name: event.name,
      parent_name: span.name,
      'meta.annotation_type': 'span_event',
      'meta.signal_type': 'trace',
      'meta.time_since_span_start_ms': Number(event.timeUnixNano - span.startTimeUnixNano) / 1e6,
      ...shared,
    };
    addAttributes(fields, event.attributes);
    if (isError) fields.error = true;
    delete fields.sampleRate;
    const time = event.timeUnixNano === 0n ? startMs : nanosToMs(event.timeUnixNano);
    push(target, index, true, { time, samplerate, data: fields });
  }
  for (const link of span.links) {
    const fields: Record<string, unknown> = {
      'trace.trace_id': span.traceId,
      'trace.parent_id': span.spanId,
      'trace.link.trace_id': link.traceId,
      'trace.link.span_id': link.spanId,
      parent_name: span.name,
      'meta.annotation_type': 'link',
      'meta.signal_type': 'trace',
      ...shared,
    };
    if (link.traceState !== '') fields['trace.link.trace_state'] = link.traceState;
    addAttributes(fields, link.attributes);
    if (isError) fields.error = true;
    delete fields.sampleRate;
    push(target, index, true, { time: startMs, samplerate, data: fields });
  }
}

function push(target: DatasetEvents, span: number, annotation: boolean, event: IncomingEvent): void {
  target.events.push(event);
  target.spans.push(span);
  target.annotation.push(annotation);
}

/** Why a span cannot be stored at all (its ids, its time), or undefined. */
function spanProblem(span: OtlpSpan, options: FlattenOptions): string | undefined {
  if (!isId(span.traceId, 32))
    return `span with trace id ${JSON.stringify(span.traceId)}: a trace id is 16 bytes (32 hex digits), not all zero`;
  if (!isId(span.spanId, 16)) return `span with span id ${JSON.stringify(span.spanId)}: a span id is 8 bytes (16 hex digits), not all zero`;
  if (span.parentSpanId !== '' && !isHex(span.parentSpanId))
    return `span ${span.spanId}: parent span id ${JSON.stringify(span.parentSpanId)} is not hex`;
  const outside = eventTimeWindowProblem(nanosToMs(span.startTimeUnixNano), options.now);
  return outside === undefined ? undefined : `span ${span.spanId}: start ${outside}`;
}

const HEX = /^[0-9a-f]*$/;
const ZEROS = /^0*$/;

function isHex(id: string): boolean {
  return id.length % 2 === 0 && HEX.test(id);
}

function isId(id: string, digits: number): boolean {
  return id.length === digits && HEX.test(id) && !ZEROS.test(id);
}

function nanosToMs(nanos: bigint): number {
  return Number(nanos) / 1e6;
}

/** The service name of a resource, unless it is missing, blank or `unknown_service…` (the SDKs' placeholder). */
function serviceName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const name = value.trim();
  return name === '' || name.startsWith('unknown_service') ? undefined : name;
}

/**
 * A service name as a dataset name (1–128 letters, digits, `.`, `_`, `-`, starting with a letter
 * or digit): other characters become `_`, leading punctuation is dropped, the rest cut at 128.
 */
export function datasetName(service: string, fallback: string): string {
  const name = service
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 128);
  return name === '' ? fallback : name;
}

/**
 * Removes a `sampleRate` (or `SampleRate`) field and gives the sample rate it says: a positive
 * integer (a number or integer text), else 1.
 */
function takeSampleRate(data: Record<string, unknown>): number {
  const key = 'sampleRate' in data ? 'sampleRate' : 'SampleRate' in data ? 'SampleRate' : undefined;
  if (key === undefined) return 1;
  const value = data[key];
  delete data[key];
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 1) return 1;
  return Math.min(Math.floor(n), 2_147_483_647);
}

/** Adds attributes to `fields`, later keys replacing earlier ones; empty keys and empty values are skipped. */
export function addAttributes(fields: Record<string, unknown>, attributes: readonly Attribute[]): void {
  for (const { key, value } of attributes) if (key !== '' && value !== null) addValue(fields, key, value, 0);
}

function addValue(fields: Record<string, unknown>, key: string, value: AnyValue, depth: number): void {
  if (value === null) return;
  if (typeof value === 'number') fields[key] = Number.isFinite(value) ? value : String(value);
  else if (typeof value !== 'object') fields[key] = value;
  else if (value instanceof Uint8Array) fields[key] = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  else if (Array.isArray(value)) fields[key] = jsonText(value);
  else if (depth < MAX_FLATTEN_DEPTH) {
    for (const entry of value.kvlist) if (entry.key !== '') addValue(fields, `${key}.${entry.key}`, entry.value, depth + 1);
  } else fields[key] = jsonText(value);
}

/** An attribute value as JSON text: key-value lists as objects, bytes as base64, 64-bit integers exact, NaN and infinities as strings. */
export function jsonText(value: AnyValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
  }
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'));
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  return `{${value.kvlist.map((entry) => `${JSON.stringify(entry.key)}:${jsonText(entry.value)}`).join(',')}}`;
}
