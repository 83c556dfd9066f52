import { describe, expect, it } from 'vitest';
import { DEFAULT_OTLP_DATASET, datasetName, flattenTraces, jsonText } from '../../../src/ingest/otlp/flatten.js';
import type { OtlpSpan, OtlpTraceRequest } from '../../../src/ingest/otlp/model.js';

const NOW = Date.UTC(2026, 11, 5, 12);
const START = BigInt(NOW - 60_000) * 1_000_000n;
const OPTIONS = { fallbackDataset: DEFAULT_OTLP_DATASET, now: NOW };

function span(overrides: Partial<OtlpSpan> = {}): OtlpSpan {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: '',
    traceState: '',
    name: 'GET /cart',
    kind: 2,
    startTimeUnixNano: START,
    endTimeUnixNano: START + 12_500_000n,
    attributes: [],
    events: [],
    links: [],
    statusCode: 0,
    statusMessage: '',
    ...overrides,
  };
}

function request(spans: OtlpSpan[], service: string | null = 'cart', scope = { name: 'lib', version: '1.0' }): OtlpTraceRequest {
  return {
    resourceSpans: [
      {
        resourceAttributes: [
          ...(service === null ? [] : [{ key: 'service.name', value: service }]),
          { key: 'host', value: 'h1' },
          { key: 'shadowed', value: 'resource' },
        ],
        scopeSpans: [{ scopeName: scope.name, scopeVersion: scope.version, scopeAttributes: [{ key: 'shadowed', value: 'scope' }], spans }],
      },
    ],
  };
}

describe('flattening spans into wide events', () => {
  it('names the fields of a root span as Honeycomb does, event time the span start', () => {
    const out = flattenTraces(request([span({ attributes: [{ key: 'http.route', value: '/cart' }] })]), OPTIONS);
    expect(out.spanCount).toBe(1);
    expect(out.rejected).toEqual([]);
    expect(out.byDataset).toHaveLength(1);
    const [batch] = out.byDataset;
    expect(batch?.dataset).toBe('cart');
    expect(batch?.events).toEqual([
      {
        time: NOW - 60_000,
        samplerate: 1,
        data: {
          'trace.trace_id': '0af7651916cd43dd8448eb211c80319c',
          'trace.span_id': 'b7ad6b7169203331',
          name: 'GET /cart',
          'span.kind': 'server',
          type: 'server',
          duration_ms: 12.5,
          status_code: 0,
          'span.num_events': 0,
          'span.num_links': 0,
          'meta.signal_type': 'trace',
          'service.name': 'cart',
          host: 'h1',
          shadowed: 'scope',
          'library.name': 'lib',
          'library.version': '1.0',
          'http.route': '/cart',
        },
      },
    ]);
  });

  it('adds the parent only when there is one, and error only for ERROR status', () => {
    const ok = flattenTraces(request([span({ parentSpanId: '00f067aa0ba902b7', statusCode: 1, statusMessage: 'fine' })]), OPTIONS);
    const okData = ok.byDataset[0]?.events[0]?.data;
    expect(okData?.['trace.parent_id']).toBe('00f067aa0ba902b7');
    expect(okData?.status_code).toBe(1);
    expect(okData?.status_message).toBe('fine');
    expect(okData).not.toHaveProperty('error');
    const failed = flattenTraces(request([span({ statusCode: 2 })]), OPTIONS).byDataset[0]?.events[0]?.data;
    expect(failed?.error).toBe(true);
    expect(failed).not.toHaveProperty('trace.parent_id');
  });

  it('merges resource, then scope, then span attributes, the later winning', () => {
    const data = flattenTraces(request([span({ attributes: [{ key: 'shadowed', value: 'span' }] })]), OPTIONS).byDataset[0]?.events[0]
      ?.data;
    expect(data?.shadowed).toBe('span');
  });

  it('flattens key-value lists with dots (five levels, then JSON), arrays and bytes as text, 64-bit integers exact', () => {
    let deep: OtlpSpan['attributes'][number]['value'] = 'leaf';
    for (let i = 0; i < 7; i++) deep = { kvlist: [{ key: `l${i}`, value: deep }] };
    const data = flattenTraces(
      request([
        span({
          attributes: [
            {
              key: 'user',
              value: {
                kvlist: [
                  { key: 'id', value: 42 },
                  { key: 'plan', value: { kvlist: [{ key: 'tier', value: 'gold' }] } },
                ],
              },
            },
            { key: 'tags', value: ['a', 1, true, { kvlist: [{ key: 'k', value: 2n ** 62n }] }] },
            { key: 'raw', value: Uint8Array.from([1, 2, 3]) },
            { key: 'count', value: 2n ** 62n },
            { key: 'nan', value: Number.NaN },
            { key: 'deep', value: deep },
            { key: '', value: 'no key' },
            { key: 'unset', value: null },
          ],
        }),
      ]),
      OPTIONS,
    ).byDataset[0]?.events[0]?.data;
    expect(data?.['user.id']).toBe(42);
    expect(data?.['user.plan.tier']).toBe('gold');
    expect(data?.tags).toBe('["a",1,true,{"k":4611686018427387904}]');
    expect(data?.raw).toBe('AQID');
    expect(data?.count).toBe(2n ** 62n);
    expect(data?.nan).toBe('NaN');
    expect(data?.['deep.l6.l5.l4.l3.l2']).toBe('{"l1":{"l0":"leaf"}}');
    expect(Object.keys(data ?? {})).not.toContain('');
    expect(data).not.toHaveProperty('unset');
  });

  it('stores a negative duration as 0 with meta.invalid_duration', () => {
    const data = flattenTraces(request([span({ endTimeUnixNano: START - 1n })]), OPTIONS).byDataset[0]?.events[0]?.data;
    expect(data?.duration_ms).toBe(0);
    expect(data?.['meta.invalid_duration']).toBe(true);
  });

  it('makes span events and links events of their own, and copies the first exception onto the span', () => {
    const out = flattenTraces(
      request([
        span({
          statusCode: 2,
          events: [
            { timeUnixNano: START + 1_000_000n, name: 'retry', attributes: [{ key: 'attempt', value: 2 }] },
            {
              timeUnixNano: START + 2_000_000n,
              name: 'exception',
              attributes: [
                { key: 'exception.type', value: 'CardDeclined' },
                { key: 'exception.message', value: 'no funds' },
              ],
            },
            { timeUnixNano: START + 3_000_000n, name: 'exception', attributes: [{ key: 'exception.type', value: 'Second' }] },
          ],
          links: [
            {
              traceId: '11111111111111111111111111111111',
              spanId: '2222222222222222',
              traceState: '',
              attributes: [{ key: 'why', value: 'retry' }],
            },
          ],
        }),
      ]),
      OPTIONS,
    );
    const batch = out.byDataset[0];
    expect(batch?.events).toHaveLength(5);
    expect(batch?.spans).toEqual([0, 0, 0, 0, 0]);
    expect(batch?.annotation).toEqual([false, true, true, true, true]);
    const [spanEvent, retry, , , link] = batch?.events ?? [];
    expect(spanEvent?.data['exception.type']).toBe('CardDeclined');
    expect(spanEvent?.data['exception.message']).toBe('no funds');
    expect(spanEvent?.data['span.num_events']).toBe(3);
    expect(retry).toEqual({
      time: NOW - 60_000 + 1,
      samplerate: 1,
      data: {
        'trace.trace_id': '0af7651916cd43dd8448eb211c80319c',
        'trace.parent_id': 'b7ad6b7169203331',
        name: 'retry',
        parent_name: 'GET /cart',
        'meta.annotation_type': 'span_event',
        'meta.signal_type': 'trace',
        'meta.time_since_span_start_ms': 1,
        'service.name': 'cart',
        host: 'h1',
        shadowed: 'scope',
        'library.name': 'lib',
        'library.version': '1.0',
        attempt: 2,
        error: true,
      },
    });
    expect(link?.time).toBe(NOW - 60_000);
    expect(link?.data).toMatchObject({
      'trace.parent_id': 'b7ad6b7169203331',
      'trace.link.trace_id': '11111111111111111111111111111111',
      'trace.link.span_id': '2222222222222222',
      parent_name: 'GET /cart',
      'meta.annotation_type': 'link',
      why: 'retry',
      error: true,
    });
  });

  it('turns a sampleRate attribute into the sample rate of the span and its annotations', () => {
    const out = flattenTraces(
      request([
        span({
          attributes: [{ key: 'sampleRate', value: 10 }],
          events: [{ timeUnixNano: START, name: 'e', attributes: [] }],
        }),
        span({ spanId: '1234567812345678', attributes: [{ key: 'sampleRate', value: '4' }] }),
        span({ spanId: '1234567812345679', attributes: [{ key: 'sampleRate', value: 0 }] }),
      ]),
      OPTIONS,
    );
    const events = out.byDataset[0]?.events ?? [];
    expect(events.map((e) => e.samplerate)).toEqual([10, 10, 4, 1]);
    expect(events.every((e) => !('sampleRate' in e.data))).toBe(true);
  });

  it('takes the dataset from the service name, else the fallback (the dataset header)', () => {
    expect(flattenTraces(request([span()], 'unknown_service:node'), OPTIONS).byDataset[0]?.dataset).toBe('unknown_service');
    expect(flattenTraces(request([span()], null), { ...OPTIONS, fallbackDataset: 'from-header' }).byDataset[0]?.dataset).toBe(
      'from-header',
    );
    const unnamed = flattenTraces(request([span()], null), OPTIONS).byDataset[0];
    expect(unnamed?.events[0]?.data['service.name']).toBe('unknown_service');
    expect(flattenTraces(request([span()], 'My Service/v2'), OPTIONS).byDataset[0]?.dataset).toBe('My_Service_v2');
    expect(datasetName('..', 'fallback')).toBe('fallback');
  });

  it('rejects spans with invalid ids or times outside the window, on their own', () => {
    const out = flattenTraces(
      request([
        span({ traceId: '00000000000000000000000000000000' }),
        span({ spanId: 'abc' }),
        span({ startTimeUnixNano: BigInt(NOW + 3 * 86_400_000) * 1_000_000n }),
        span({ spanId: '1234567812345678' }),
      ]),
      OPTIONS,
    );
    expect(out.spanCount).toBe(4);
    expect(out.rejected.map((r) => r.span)).toEqual([0, 1, 2]);
    expect(out.rejected[0]?.reason).toMatch(/trace id/);
    expect(out.rejected[2]?.reason).toMatch(/outside the accepted window/);
    expect(out.byDataset[0]?.spans).toEqual([3]);
  });

  it('writes attribute values as JSON text', () => {
    expect(jsonText([1.5, 'x', null, Number.POSITIVE_INFINITY, { kvlist: [] }])).toBe('[1.5,"x",null,"Infinity",{}]');
  });
});
