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

  it('refuses unterminated nesting deeper than the scanner can follow with a 400, not an internal error', () => {
    for (const text of ['['.repeat(20_000), '{"a":'.repeat(20_000), `${'['.repeat(200_000)}x`]) {
      const error = refusal(text);
      expect(error.code).toBe('invalid_input');
      expect(error.message).toMatch(/not valid JSON/);
    }
  });

  it('still parses valid nesting', () => {
    expect(parseJsonBody(`${'['.repeat(50)}1${']'.repeat(50)}`, 'body')).toBeInstanceOf(Array);
  });
});
