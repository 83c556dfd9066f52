import { describe, expect, it } from 'vitest';
import { jsonErrorPosition, parseJsonBody } from '../../src/ingest/json-text.js';
import { arrayItemByteLengths, batchItems, mergeOutcomes, parseEventTime, parseSampleRate } from '../../src/ingest/honeycomb.js';

describe('event time', () => {
  it.each([
    ['2024-05-01T12:00:00Z', Date.UTC(2024, 4, 1, 12)],
    ['2024-05-01T12:00:00.123Z', Date.UTC(2024, 4, 1, 12, 0, 0, 123)],
    ['2024-05-01T14:00:00+02:00', Date.UTC(2024, 4, 1, 12)],
    ['2024-05-01T12:00:00', Date.UTC(2024, 4, 1, 12)],
    ['1714564800', Date.UTC(2024, 4, 1, 12)],
    ['1714564800.25', Date.UTC(2024, 4, 1, 12) + 250],
    [1714564800.5, Date.UTC(2024, 4, 1, 12) + 500],
    [1714564800123, Date.UTC(2024, 4, 1, 12) + 123],
  ])('reads %j', (input, expected) => {
    expect(parseEventTime(input)).toBe(expected);
  });

  it.each([['yesterday'], ['2024-13-45T99:00:00Z'], [true], [null], [-5], [{}], ['12:00']])('refuses %j with a reason', (input) => {
    expect(parseEventTime(input)).toEqual(expect.stringMatching(/time/));
  });
});

describe('sample rate', () => {
  it('accepts positive integers as numbers or integer text', () => {
    expect(parseSampleRate(1)).toBe(1);
    expect(parseSampleRate(250)).toBe(250);
    expect(parseSampleRate('10')).toBe(10);
  });
  it.each([[0], [-1], [1.5], ['x'], ['2.5'], [null], [true], [Number.MAX_VALUE]])('refuses %j', (input) => {
    expect(parseSampleRate(input)).toEqual(expect.stringMatching(/positive integer/));
  });
});

/** The server's clock in these tests: event times are accepted up to a day after it. */
const NOW = Date.UTC(2024, 4, 2);

describe('batch items', () => {
  it('keeps good items, rejects bad ones in place, and merges the store outcomes back in order', () => {
    const items = batchItems(
      [{ data: { a: 1 } }, { data: null }, 7, { data: { b: 2 }, samplerate: 3, time: 1714564800 }],
      undefined,
      100,
      NOW,
    );
    expect(items.map((i) => i.ok)).toEqual([true, false, false, true]);
    expect(items[0]).toEqual({ ok: true, event: { time: NOW, samplerate: 1, data: { a: 1 } } });
    expect(items[3]).toEqual({ ok: true, event: { time: 1714564800000, samplerate: 3, data: { b: 2 } } });
    const merged = mergeOutcomes(items, [{ status: 202 }, { status: 400, error: 'too many columns' }]);
    expect(merged.map((o) => o.status)).toEqual([202, 400, 400, 400]);
    expect(merged[3]).toEqual({ status: 400, error: 'too many columns' });
  });

  it('measures each item of the raw array exactly', () => {
    const values: unknown[] = [1, 'a\\"]', { x: [1, { y: '}' }] }, null, 'é', 'q\\\\', { 'k"': '\\' }, []];
    const text = JSON.stringify(values);
    expect(arrayItemByteLengths(Buffer.from(text))).toEqual(values.map((v) => Buffer.byteLength(JSON.stringify(v))));
    expect(arrayItemByteLengths(Buffer.from('[ ]'))).toEqual([]);
    expect(arrayItemByteLengths(Buffer.from('[\n  {"a": 1} ,\n  2\n]'))).toEqual([8, 1]);
  });

  it('rejects only the items over the per-event limit', () => {
    const body = [{ data: { s: 'x'.repeat(50) } }, { data: { s: 'y' } }];
    const sizes = arrayItemByteLengths(Buffer.from(JSON.stringify(body)));
    const items = batchItems(body, sizes, 40, 0);
    expect(items[0]).toEqual({ ok: false, error: expect.stringMatching(/over the 40-byte limit/) });
    expect(items[1]?.ok).toBe(true);
  });
});

describe('JSON errors', () => {
  it.each([
    ['{"a":}', 5],
    ['{"a": 1', 7],
    ['[1, 2,, 3]', 6],
    ['{"a": tru}', 9],
    ['{"a": "x\\q"}', 9],
    ['[1] 2', 4],
    ['{a: 1}', 1],
  ])('locates the error in %j at %i', (text, position) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(jsonErrorPosition(text)).toBe(position);
  });

  it('names line and column in the 400', () => {
    expect(() => parseJsonBody('[\n  {"a": 1},\n  {"b": ]\n]', 'batch body')).toThrow(/line 3 column 9 \(position 22\)/);
  });
});
