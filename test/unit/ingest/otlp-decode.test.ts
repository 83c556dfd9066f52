import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../../src/errors.js';
import { decodeTraceJson } from '../../../src/ingest/otlp/decode-json.js';
import { decodeTraceProtobuf } from '../../../src/ingest/otlp/decode-protobuf.js';
import { ProtobufError } from '../../../src/ingest/otlp/protobuf-reader.js';

/** A minimal protobuf writer for hand-made messages (fields as the wire has them). */
const pb = {
  varint(n: number | bigint): number[] {
    let v = BigInt.asUintN(64, BigInt(n));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return out;
  },
  tag(field: number, wire: number): number[] {
    return pb.varint(field * 8 + wire);
  },
  len(field: number, bytes: number[] | Buffer): number[] {
    return [...pb.tag(field, 2), ...pb.varint(bytes.length), ...bytes];
  },
  str(field: number, text: string): number[] {
    return pb.len(field, Buffer.from(text));
  },
  fixed64(field: number, n: bigint): number[] {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(n);
    return [...pb.tag(field, 1), ...b];
  },
  int(field: number, n: number | bigint): number[] {
    return [...pb.tag(field, 0), ...pb.varint(n)];
  },
  kv(field: number, key: string, anyValue: number[]): number[] {
    return pb.len(field, [...pb.str(1, key), ...pb.len(2, anyValue)]);
  },
};

const TRACE = Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex');
const SPAN = Buffer.from('b7ad6b7169203331', 'hex');

function oneSpanRequest(span: number[]): Buffer {
  return Buffer.from(pb.len(1, pb.len(2, pb.len(2, span))));
}

describe('the protobuf decoder', () => {
  it('reads every field of a hand-made span, skipping unknown fields', () => {
    const span = [
      ...pb.len(1, TRACE),
      ...pb.len(2, SPAN),
      ...pb.len(4, Buffer.from('00f067aa0ba902b7', 'hex')),
      ...pb.str(5, 'GET /cart'),
      ...pb.int(6, 2),
      ...pb.fixed64(7, 1_700_000_000_123_456_789n),
      ...pb.fixed64(8, 1_700_000_000_223_456_789n),
      ...pb.kv(9, 'http.status', pb.int(3, 503)),
      ...pb.kv(9, 'neg', pb.int(3, -5)),
      ...pb.kv(9, 'big', pb.int(3, 2n ** 60n)),
      ...pb.kv(9, 'ratio', [...pb.tag(4, 1), ...Buffer.from(new Float64Array([0.25]).buffer)]),
      ...pb.kv(9, 'ok', pb.int(2, 1)),
      ...pb.kv(9, 'list', pb.len(5, [...pb.len(1, pb.str(1, 'a')), ...pb.len(1, pb.int(3, 7))])),
      ...pb.kv(9, 'map', pb.len(6, pb.kv(1, 'inner', pb.str(1, 'x')))),
      ...pb.int(99, 12345),
      ...pb.str(98, 'unknown'),
      ...pb.len(11, [
        ...pb.fixed64(1, 1_700_000_000_200_000_000n),
        ...pb.str(2, 'exception'),
        ...pb.kv(3, 'exception.type', pb.str(1, 'Boom')),
      ]),
      ...pb.len(13, [...pb.len(1, TRACE), ...pb.len(2, Buffer.from('1111111111111111', 'hex')), ...pb.str(3, 'k=v')]),
      ...pb.len(15, [...pb.str(2, 'upstream failed'), ...pb.int(3, 2)]),
      ...pb.tag(16, 5),
      1,
      1,
      0,
      0,
    ];
    const request = decodeTraceProtobuf(
      Buffer.from([
        ...pb.len(1, [
          ...pb.len(1, pb.kv(1, 'service.name', pb.str(1, 'cart'))),
          ...pb.len(2, [...pb.len(1, [...pb.str(1, 'lib'), ...pb.str(2, '1.2')]), ...pb.len(2, span)]),
        ]),
      ]),
    );
    const [resource] = request.resourceSpans;
    expect(resource?.resourceAttributes).toEqual([{ key: 'service.name', value: 'cart' }]);
    const scope = resource?.scopeSpans[0];
    expect(scope?.scopeName).toBe('lib');
    expect(scope?.scopeVersion).toBe('1.2');
    const s = scope?.spans[0];
    expect(s).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      parentSpanId: '00f067aa0ba902b7',
      name: 'GET /cart',
      kind: 2,
      startTimeUnixNano: 1_700_000_000_123_456_789n,
      endTimeUnixNano: 1_700_000_000_223_456_789n,
      statusCode: 2,
      statusMessage: 'upstream failed',
    });
    expect(s?.attributes).toEqual([
      { key: 'http.status', value: 503 },
      { key: 'neg', value: -5 },
      { key: 'big', value: 2n ** 60n },
      { key: 'ratio', value: 0.25 },
      { key: 'ok', value: true },
      { key: 'list', value: ['a', 7] },
      { key: 'map', value: { kvlist: [{ key: 'inner', value: 'x' }] } },
    ]);
    expect(s?.events).toEqual([
      { timeUnixNano: 1_700_000_000_200_000_000n, name: 'exception', attributes: [{ key: 'exception.type', value: 'Boom' }] },
    ]);
    expect(s?.links).toEqual([{ traceId: TRACE.toString('hex'), spanId: '1111111111111111', traceState: 'k=v', attributes: [] }]);
  });

  it('reads an empty body as an empty request', () => {
    expect(decodeTraceProtobuf(Buffer.alloc(0))).toEqual({ resourceSpans: [] });
  });

  const malformed: Array<[string, number[], RegExp]> = [
    ['a truncated varint', [0x0a, 0x80], /varint is cut off/],
    ['a varint of 11 bytes', [0x10, ...Array(10).fill(0x80), 0x01], /longer than 10 bytes/],
    ['a length past the end', [0x0a, 0x05, 0x01], /runs past the end/],
    ['a nested length past its message', pb.len(1, [0x12, 0x09, 0x01]), /runs past the end/],
    ['resource_spans as a varint', [0x08, 0x01], /ExportTraceServiceRequest field 1 has wire type 0, expected 2/],
    ['a span name as a fixed64', oneSpanRequest(pb.fixed64(5, 1n)) as unknown as number[], /Span field 5 has wire type 1, expected 2/],
    ['a group', [0x0b], /deprecated group/],
    ['wire type 7', [0x0f], /not a wire type/],
    ['field number 0', [0x02, 0x00], /field number 0/],
    ['a cut fixed64', oneSpanRequest([...pb.tag(7, 1), 1, 2, 3]) as unknown as number[], /runs past the end|cut off/],
  ];
  for (const [what, bytes, message] of malformed) {
    it(`refuses ${what}`, () => {
      expect(() => decodeTraceProtobuf(Buffer.from(bytes))).toThrow(message);
      expect(() => decodeTraceProtobuf(Buffer.from(bytes))).toThrow(ProtobufError);
    });
  }

  it('refuses values nested past the limit instead of recursing without end', () => {
    let value = pb.str(1, 'leaf');
    for (let i = 0; i < 40; i++) value = pb.len(5, pb.len(1, value));
    const body = oneSpanRequest([...pb.len(1, TRACE), ...pb.len(2, SPAN), ...pb.kv(9, 'deep', value)]);
    expect(() => decodeTraceProtobuf(body)).toThrow(/nest deeper than 32/);
  });

  it('never throws anything but a ProtobufError on random bytes', () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const valid = oneSpanRequest([...pb.len(1, TRACE), ...pb.len(2, SPAN), ...pb.str(5, 'n'), ...pb.kv(9, 'k', pb.str(1, 'v'))]);
    let refused = 0;
    for (let run = 0; run < 2000; run++) {
      const bytes = Buffer.from(valid);
      for (let flips = 0; flips < 3; flips++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const cut = bytes.subarray(0, Math.floor(random() * (bytes.length + 1)));
      try {
        decodeTraceProtobuf(cut);
      } catch (error) {
        expect(error).toBeInstanceOf(ProtobufError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
  });
});

describe('the JSON decoder', () => {
  it('reads the OTLP/JSON mapping: hex ids, int64 as strings or numbers, enums as numbers or names', () => {
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cart' } }] },
          scopeSpans: [
            {
              scope: { name: 'lib', version: '1.2' },
              spans: [
                {
                  traceId: '0AF7651916CD43DD8448EB211C80319C',
                  spanId: 'b7ad6b7169203331',
                  name: 'GET /cart',
                  kind: 'SPAN_KIND_CLIENT',
                  startTimeUnixNano: '1700000000123456789',
                  endTimeUnixNano: 1700000000223456800,
                  attributes: [
                    { key: 'n', value: { intValue: '9007199254740993' } },
                    { key: 'm', value: { intValue: 12 } },
                    { key: 'd', value: { doubleValue: 'NaN' } },
                    { key: 'b', value: { bytesValue: 'AQI=' } },
                    { key: 'a', value: { arrayValue: { values: [{ stringValue: 'x' }, { boolValue: false }] } } },
                    { key: 'kv', value: { kvlistValue: { values: [{ key: 'in', value: { intValue: '1' } }] } } },
                    { key: 'empty', value: {} },
                  ],
                  status: { code: 2, message: 'bad' },
                },
              ],
            },
          ],
        },
      ],
    };
    const request = decodeTraceJson(Buffer.from(JSON.stringify(body)));
    const span = request.resourceSpans[0]?.scopeSpans[0]?.spans[0];
    expect(span).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      kind: 3,
      startTimeUnixNano: 1_700_000_000_123_456_789n,
      endTimeUnixNano: 1_700_000_000_223_456_768n,
      statusCode: 2,
      statusMessage: 'bad',
      parentSpanId: '',
    });
    expect(span?.attributes.map((a) => a.value)).toEqual([
      9007199254740993n,
      12,
      Number.NaN,
      Buffer.from([1, 2]),
      ['x', false],
      { kvlist: [{ key: 'in', value: 1 }] },
      null,
    ]);
  });

  it('reads an empty body and {} as an empty request', () => {
    expect(decodeTraceJson(Buffer.alloc(0))).toEqual({ resourceSpans: [] });
    expect(decodeTraceJson(Buffer.from('{}'))).toEqual({ resourceSpans: [] });
  });

  const bad: Array<[string, string, RegExp]> = [
    ['not JSON', '{"resourceSpans": [', /not valid JSON|JSON/],
    ['an array body', '[]', /the body must be an object/],
    ['resourceSpans not an array', '{"resourceSpans": {}}', /resourceSpans must be an array/],
    [
      'a time that is not an integer',
      '{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"1.5"}]}]}]}',
      /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.startTimeUnixNano must be Unix nanoseconds/,
    ],
    [
      'an intValue past int64',
      '{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"intValue":"9223372036854775808"}}]}}]}',
      /must be a 64-bit integer/,
    ],
    ['a kind that is no enum', '{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SERVER"}]}]}]}', /kind must be an enum number/],
  ];
  for (const [what, text, message] of bad) {
    it(`refuses ${what} with a 400 naming the field`, () => {
      expect(() => decodeTraceJson(Buffer.from(text))).toThrow(message);
      expect(() => decodeTraceJson(Buffer.from(text))).toThrow(FlagscopeError);
    });
  }
});

describe('both decoders, on what the OpenTelemetry SDK serialises', () => {
  it('produce the same intermediate form from the JSON and protobuf encodings of the same spans', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout', 'deployment.environment': 'test' }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer('checkout-lib', '3.1.0');
    const root = tracer.startSpan('POST /pay', {
      kind: SpanKind.SERVER,
      attributes: { 'http.status_code': 500, tags: ['a', 'b'], ratio: 0.5 },
    });
    const child = tracer.startSpan(
      'charge',
      { kind: SpanKind.CLIENT, links: [{ context: root.spanContext(), attributes: { why: 'retry' } }] },
      trace.setSpan(context.active(), root),
    );
    child.addEvent('retrying', { attempt: 2 });
    child.recordException(new Error('card declined'));
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'declined' });
    child.end();
    root.end();
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const json = decodeTraceJson(Buffer.from(JsonTraceSerializer.serializeRequest(spans) as Uint8Array));
    const proto = decodeTraceProtobuf(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array);
    expect(proto.resourceSpans[0]?.scopeSpans[0]?.spans).toHaveLength(2);
    expect(json).toEqual(proto);
    await provider.shutdown();
  });
});
