import { describe, expect, it } from 'vitest';
import { codeForAnswer, codeForStatus, type ErrorCode, ExitCode, FlagscopeError, invalidInput, notFound } from '../../src/errors.js';

/**
 * The exit-code table of the product specification, written out: code, meaning. The implementation's table
 * must match it number for number.
 */
const SPEC_EXIT_CODES = [
  [0, 'success; gate passed'],
  [1, 'unexpected internal error (a bug)'],
  [2, 'usage error or invalid input'],
  [3, 'not found (dataset, flag, canary)'],
  [4, 'authentication or permission refused'],
  [5, 'server unreachable, timed out, or failing after retries'],
  [6, 'conflict: someone else changed it first (version mismatch)'],
  [10, 'gate: regression detected'],
  [11, 'gate: inconclusive (not enough data before the deadline)'],
] as const;

/** Every error code with the exit code the spec gives its meaning and the HTTP status the server answers with. */
const ERROR_TABLE: [ErrorCode, number, number][] = [
  ['internal', 1, 500],
  ['usage', 2, 400],
  ['invalid_input', 2, 400],
  ['payload_too_large', 2, 413],
  ['not_found', 3, 404],
  ['unauthenticated', 4, 401],
  ['forbidden', 4, 403],
  ['unreachable', 5, 502],
  ['timeout', 5, 504],
  ['server_error', 5, 500],
  ['overloaded', 5, 429],
  ['conflict', 6, 409],
  ['gate_regression', 10, 200],
  ['gate_inconclusive', 11, 200],
  ['name_taken', 6, 409],
];

describe('exit codes', () => {
  it('are the numbers of the spec table', () => {
    expect(Object.values(ExitCode).sort((a, b) => a - b)).toEqual(SPEC_EXIT_CODES.map(([code]) => code));
    expect(ExitCode).toEqual({
      ok: 0,
      internal: 1,
      usage: 2,
      notFound: 3,
      auth: 4,
      unreachable: 5,
      conflict: 6,
      gateRegression: 10,
      gateInconclusive: 11,
    });
  });

  it.each(ERROR_TABLE)('%s exits with %i and answers HTTP %i', (code, exitCode, httpStatus) => {
    const error = new FlagscopeError(code, 'x');
    expect(error.exitCode).toBe(exitCode);
    expect(error.httpStatus).toBe(httpStatus);
  });

  it('every exit code of an error is one the spec lists', () => {
    const specCodes = new Set<number>(SPEC_EXIT_CODES.map(([code]) => code));
    for (const [code] of ERROR_TABLE) expect(specCodes.has(new FlagscopeError(code, 'x').exitCode)).toBe(true);
  });
});

describe('codeForStatus', () => {
  it.each([
    [400, 'invalid_input'],
    [422, 'invalid_input'],
    [401, 'unauthenticated'],
    [403, 'forbidden'],
    [404, 'not_found'],
    [409, 'conflict'],
    [412, 'conflict'],
    [413, 'payload_too_large'],
    [429, 'overloaded'],
    [500, 'server_error'],
    [502, 'server_error'],
    [503, 'server_error'],
    [504, 'timeout'],
  ] as const)('HTTP %i is %s', (status, code) => {
    expect(codeForStatus(status)).toBe(code);
  });

  it('gives back the exit code the server meant for client errors', () => {
    for (const [code, exitCode, status] of ERROR_TABLE) {
      if (status < 400 || status >= 500 || code === 'usage') continue;
      expect(new FlagscopeError(codeForStatus(status), 'x').exitCode).toBe(exitCode);
    }
  });
});

describe('codeForAnswer', () => {
  it.each([
    [409, 'name_taken', 'name_taken'],
    [409, 'conflict', 'conflict'],
    [409, undefined, 'conflict'],
    [409, 'no_such_code', 'conflict'],
    [409, 'toString', 'conflict'],
    [404, 'name_taken', 'not_found'],
    [400, 'invalid_input', 'invalid_input'],
    // A bug on the server (internal, exit 1) is still a failing server to the client (exit 5).
    [500, 'internal', 'server_error'],
    [500, 'server_error', 'server_error'],
  ] as const)("HTTP %i with the server's code %s is %s", (status, serverCode, code) => {
    expect(codeForAnswer(status, serverCode)).toBe(code);
  });
});

describe('FlagscopeError', () => {
  it('serialises code, message and hint, and details only when given', () => {
    expect(new FlagscopeError('not_found', 'dataset "x" not found', 'run `flagscope datasets`').toJSON()).toEqual({
      code: 'not_found',
      message: 'dataset "x" not found',
      hint: 'run `flagscope datasets`',
    });
    expect(invalidInput('bad', undefined, { field: 'limit' }).toJSON()).toEqual({
      code: 'invalid_input',
      message: 'bad',
      details: { field: 'limit' },
    });
  });

  it('has shorthands for invalid input (exit 2, HTTP 400) and not found (exit 3, HTTP 404)', () => {
    expect([invalidInput('x').exitCode, invalidInput('x').httpStatus]).toEqual([2, 400]);
    expect([notFound('x').exitCode, notFound('x').httpStatus]).toEqual([3, 404]);
  });
});
