import { describe, expect, it } from 'vitest';
import { ExitCode, FlagscopeError, codeForStatus } from '../../src/errors.js';

describe('FlagscopeError', () => {
  it('maps codes to the exit codes of the spec', () => {
    expect(new FlagscopeError('invalid_input', 'x').exitCode).toBe(ExitCode.usage);
    expect(new FlagscopeError('not_found', 'x').exitCode).toBe(ExitCode.notFound);
    expect(new FlagscopeError('forbidden', 'x').exitCode).toBe(ExitCode.auth);
    expect(new FlagscopeError('unreachable', 'x').exitCode).toBe(ExitCode.unreachable);
    expect(new FlagscopeError('conflict', 'x').exitCode).toBe(ExitCode.conflict);
  });

  it('round-trips through HTTP statuses', () => {
    for (const code of ['invalid_input', 'not_found', 'unauthenticated', 'forbidden', 'conflict'] as const) {
      const e = new FlagscopeError(code, 'x');
      expect(codeForStatus(e.httpStatus)).toBe(code);
    }
  });

  it('serialises message and hint', () => {
    expect(new FlagscopeError('not_found', 'dataset "x" not found', 'run `flagscope datasets`').toJSON()).toEqual({
      code: 'not_found',
      message: 'dataset "x" not found',
      hint: 'run `flagscope datasets`',
    });
  });
});
