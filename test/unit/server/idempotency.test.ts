import { describe, expect, it } from 'vitest';
import { IdempotencyCache, type IdempotencyStart } from '../../../src/server/ingest/idempotency.js';

const HOUR = 3_600_000;

/** A cache on a clock the test moves. */
function cache(limits: Partial<{ windowMs: number; maxKeys: number; maxBytes: number }> = {}): {
  answers: IdempotencyCache;
  advance: (ms: number) => void;
} {
  let now = 1_700_000_000_000;
  const answers = new IdempotencyCache({ windowMs: 24 * HOUR, maxKeys: 10_000, maxBytes: 1_000_000, ...limits }, () => now);
  return { answers, advance: (ms) => void (now += ms) };
}

function first(start: IdempotencyStart): Extract<IdempotencyStart, { kind: 'first' }> {
  if (start.kind !== 'first') throw new Error(`expected the first request, got ${start.kind}`);
  return start;
}

describe('idempotency answers', () => {
  it('runs the first request, refuses a repeat while it runs, and gives its answer to a repeat after', () => {
    const { answers } = cache();
    const running = first(answers.begin('k1'));
    expect(answers.begin('k1')).toEqual({ kind: 'in_flight' });
    running.complete('fp', { status: 200, body: '[{"status":202}]' });
    expect(answers.begin('k1')).toEqual({ kind: 'answered', fingerprint: 'fp', answer: { status: 200, body: '[{"status":202}]' } });
    expect(answers.size.keys).toBe(1);
  });

  it('forgets an abandoned request, so its repeat runs', () => {
    const { answers } = cache();
    first(answers.begin('k1')).abandon();
    const again = first(answers.begin('k1'));
    again.abandon();
    again.complete('fp', { status: 200, body: '' });
    expect(answers.begin('k1').kind).toBe('first');
    expect(answers.size.keys).toBe(0);
  });

  it('keeps scopes apart', () => {
    const { answers } = cache();
    first(answers.begin('a')).complete('fp', { status: 200, body: 'A' });
    expect(answers.begin('b').kind).toBe('first');
  });

  it('gives answers back for the window and not after it', () => {
    const { answers, advance } = cache({ windowMs: 24 * HOUR });
    first(answers.begin('old')).complete('fp', { status: 200, body: 'x' });
    advance(12 * HOUR);
    first(answers.begin('newer')).complete('fp', { status: 200, body: 'y' });
    advance(12 * HOUR - 1);
    expect(answers.begin('old').kind).toBe('answered');
    advance(1);
    expect(answers.begin('old').kind).toBe('first');
    expect(answers.begin('newer').kind).toBe('answered');
    expect(answers.size.keys).toBe(1);
  });

  it('evicts the oldest answers past the key bound, never a request that runs', () => {
    const { answers } = cache({ maxKeys: 2 });
    const running = first(answers.begin('running'));
    for (const scope of ['a', 'b', 'c']) first(answers.begin(scope)).complete('fp', { status: 200, body: scope });
    expect(answers.size.keys).toBe(2);
    expect(answers.begin('a').kind).toBe('first');
    expect(answers.begin('b').kind).toBe('answered');
    expect(answers.begin('c').kind).toBe('answered');
    expect(answers.begin('running').kind).toBe('in_flight');
    running.complete('fp', { status: 200, body: 'r' });
    expect(answers.begin('b').kind).toBe('first');
    expect(answers.begin('running').kind).toBe('answered');
  });

  it('evicts the oldest answers past the byte bound, and keeps none larger than it', () => {
    const { answers } = cache({ maxBytes: 1_000 });
    first(answers.begin('a')).complete('fp', { status: 200, body: 'x'.repeat(400) });
    first(answers.begin('b')).complete('fp', { status: 200, body: 'x'.repeat(400) });
    expect(answers.size.keys).toBe(2);
    first(answers.begin('c')).complete('fp', { status: 200, body: 'x'.repeat(400) });
    expect(answers.size.keys).toBe(2);
    expect(answers.size.bytes).toBeLessThanOrEqual(1_000);
    expect(answers.begin('a').kind).toBe('first');
    first(answers.begin('huge')).complete('fp', { status: 200, body: 'x'.repeat(2_000) });
    expect(answers.begin('huge').kind).toBe('first');
    expect(answers.begin('b').kind).toBe('answered');
  });
});

describe('idempotency answers with headers', () => {
  it('gives back the headers of the first answer and counts their bytes', () => {
    const { answers } = cache({ maxBytes: 1_000 });
    first(answers.begin('w')).complete('fp', { status: 200, body: '', headers: { 'x-warning': 'w'.repeat(100) } });
    expect(answers.begin('w')).toEqual({
      kind: 'answered',
      fingerprint: 'fp',
      answer: { status: 200, body: '', headers: { 'x-warning': 'w'.repeat(100) } },
    });
    expect(answers.size.bytes).toBeGreaterThan(100);
  });
});
