import { describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../../src/errors.js';
import { parseJsonBody } from '../../../src/ingest/json-text.js';

function refusal(text: string): FlagscopeError {
  try {
    parseJsonBody(text, 'batch body');
  } catch (error) {
    if (error instanceof FlagscopeError) return error;
    throw error;
  }
  throw new Error('the text was accepted');
}

describe('parseJsonBody', () => {
  it('names the line, column and position of a syntax error', () => {
    const error = refusal('[{"a": 1},\n {"b": tru}]');
    expect(error.code).toBe('invalid_input');
    expect(error.message).toContain('line 2 column 11 (position 21)');
  });

  it('refuses nesting past the limit with a 400 naming it, valid or not, before JSON.parse sees it', () => {
    for (const text of [
      '['.repeat(20_000),
      '{"a":'.repeat(20_000),
      `${'['.repeat(200_000)}x`,
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    ]) {
      const error = refusal(text);
      expect(error.code).toBe('invalid_input');
      expect(error.message).toMatch(/deeper than 64 levels \(at position \d+\)/);
      expect(error.hint).toMatch(/at most 64 levels/);
    }
    expect(parseJsonBody(`${'['.repeat(64)}${']'.repeat(64)}`, 'body')).toBeInstanceOf(Array);
    expect(() => parseJsonBody(`${'['.repeat(65)}${']'.repeat(65)}`, 'body')).toThrow(/deeper than 64 levels/);
    // Brackets inside strings are text, not nesting.
    expect(parseJsonBody(JSON.stringify({ s: '['.repeat(1000) }), 'body')).toEqual({ s: '['.repeat(1000) });
  });

  it('still parses valid nesting', () => {
    expect(parseJsonBody(`${'['.repeat(50)}1${']'.repeat(50)}`, 'body')).toBeInstanceOf(Array);
  });
});
