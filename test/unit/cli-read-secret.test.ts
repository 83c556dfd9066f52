/**
 * The hidden prompt's line editing (issue 11): pasted text with its Enter ends the line, as
 * typing does; Esc, Ctrl-C and Ctrl-D on an empty line cancel; terminal escape sequences and
 * other control characters are not part of the key.
 */
import { describe, expect, it } from 'vitest';
import { applySecretInput } from '../../src/cli/auth/read-secret.js';

describe('applySecretInput', () => {
  it('ends the line at Enter, also inside a pasted chunk', () => {
    expect(applySecretInput('', 'fsk_abc\r')).toEqual({ kind: 'done', line: 'fsk_abc' });
    expect(applySecretInput('fsk_', 'abc\n')).toEqual({ kind: 'done', line: 'fsk_abc' });
    expect(applySecretInput('', 'fsk_a')).toEqual({ kind: 'more', line: 'fsk_a' });
  });

  it('edits with backspace and Ctrl-U, and drops escape sequences and bracketed-paste marks', () => {
    expect(applySecretInput('fsk_ab', '\u007fc\r')).toEqual({ kind: 'done', line: 'fsk_ac' });
    expect(applySecretInput('junk', '\u0015fsk_x\r')).toEqual({ kind: 'done', line: 'fsk_x' });
    expect(applySecretInput('', '\u001b[200~fsk_x\u001b[201~\r')).toEqual({ kind: 'done', line: 'fsk_x' });
    expect(applySecretInput('fsk', '\u001b[D\t')).toEqual({ kind: 'more', line: 'fsk' });
  });

  it('cancels on Esc, Ctrl-C, and Ctrl-D on an empty line', () => {
    expect(applySecretInput('fsk_', '\u001b')).toEqual({ kind: 'cancel' });
    expect(applySecretInput('fsk_', '\u0003')).toEqual({ kind: 'cancel' });
    expect(applySecretInput('', '\u0004')).toEqual({ kind: 'cancel' });
    expect(applySecretInput('fsk_x', '\u0004')).toEqual({ kind: 'done', line: 'fsk_x' });
  });
});
