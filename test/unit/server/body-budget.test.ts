import { describe, expect, it } from 'vitest';
import { BodyBudget } from '../../../src/server/ingest/body-budget.js';

describe('the in-flight body budget', () => {
  it('reserves declared bytes while they fit and refuses the rest', () => {
    const budget = new BodyBudget(1_000);
    const a = budget.reserve(600);
    expect(a?.bytes).toBe(600);
    expect(budget.reserve(500)).toBeUndefined();
    const b = budget.reserve(400);
    expect(b).toBeDefined();
    expect(budget.inflight).toBe(1_000);
    expect(budget.requests).toBe(2);
    expect(budget.reserve(1)).toBeUndefined();
  });

  it('lets one request alone through whatever its size, and not a second beside it', () => {
    const budget = new BodyBudget(100);
    const alone = budget.reserve(5_000);
    expect(alone?.bytes).toBe(5_000);
    expect(budget.reserve(0)).toBeUndefined();
    alone?.release();
    expect(budget.reserve(0)).toBeDefined();
  });

  it('grows a reservation with a running count and refuses growth past the limit, keeping what it held', () => {
    const budget = new BodyBudget(1_000);
    const other = budget.reserve(300);
    const chunked = budget.reserve(0);
    if (other === undefined || chunked === undefined) throw new Error('both fit');
    expect(chunked.ensure(500)).toBe(true);
    expect(chunked.ensure(400)).toBe(true);
    expect(chunked.bytes).toBe(500);
    expect(chunked.ensure(701)).toBe(false);
    expect(chunked.bytes).toBe(500);
    expect(budget.inflight).toBe(800);
    expect(chunked.ensure(700)).toBe(true);
    expect(budget.inflight).toBe(1_000);
  });

  it('gives bytes back once, however often released, and a released reservation no longer grows', () => {
    const budget = new BodyBudget(1_000);
    const a = budget.reserve(600);
    const b = budget.reserve(200);
    a?.release();
    a?.release();
    expect(budget.inflight).toBe(200);
    expect(budget.requests).toBe(1);
    expect(a?.ensure(700)).toBe(false);
    expect(budget.inflight).toBe(200);
    b?.release();
    expect(budget.inflight).toBe(0);
    expect(budget.requests).toBe(0);
  });
});
