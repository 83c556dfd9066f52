/**
 * The one error type of flagscope. Every failure a user can meet is a
 * `FlagscopeError` with a stable `code`, a `message` (what failed and why) and
 * a `hint` (what to do next). The exit code of the CLI and the HTTP status of
 * the server both derive from `code`, so the contract lives in one table.
 */

/** Exit codes, the same for every command (docs/cli.md, "Errors and exit codes"). */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  notFound: 3,
  auth: 4,
  unreachable: 5,
  conflict: 6,
  gateRegression: 10,
  gateInconclusive: 11,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Stable machine-readable error codes. */
export type ErrorCode =
  | 'internal'
  | 'usage'
  | 'invalid_input'
  | 'payload_too_large'
  | 'not_found'
  | 'unauthenticated'
  | 'forbidden'
  | 'unreachable'
  | 'timeout'
  | 'server_error'
  | 'overloaded'
  | 'conflict'
  | 'gate_regression'
  | 'gate_inconclusive'
  | 'name_taken';

const exitByCode: Record<ErrorCode, ExitCodeValue> = {
  internal: ExitCode.internal,
  usage: ExitCode.usage,
  invalid_input: ExitCode.usage,
  payload_too_large: ExitCode.usage,
  not_found: ExitCode.notFound,
  unauthenticated: ExitCode.auth,
  forbidden: ExitCode.auth,
  unreachable: ExitCode.unreachable,
  timeout: ExitCode.unreachable,
  server_error: ExitCode.unreachable,
  overloaded: ExitCode.unreachable,
  conflict: ExitCode.conflict,
  gate_regression: ExitCode.gateRegression,
  gate_inconclusive: ExitCode.gateInconclusive,
  name_taken: ExitCode.conflict,
};

const statusByCode: Record<ErrorCode, number> = {
  internal: 500,
  usage: 400,
  invalid_input: 400,
  payload_too_large: 413,
  not_found: 404,
  unauthenticated: 401,
  forbidden: 403,
  unreachable: 502,
  timeout: 504,
  server_error: 500,
  overloaded: 429,
  conflict: 409,
  gate_regression: 200,
  gate_inconclusive: 200,
  name_taken: 409,
};

export interface ErrorJson {
  code: ErrorCode;
  message: string;
  hint?: string;
  details?: unknown;
}

export class FlagscopeError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FlagscopeError';
    this.code = code;
    this.hint = hint;
    this.details = options?.details;
  }

  get exitCode(): ExitCodeValue {
    return exitByCode[this.code];
  }

  get httpStatus(): number {
    return statusByCode[this.code];
  }

  toJSON(): ErrorJson {
    const out: ErrorJson = { code: this.code, message: this.message };
    if (this.hint !== undefined) out.hint = this.hint;
    if (this.details !== undefined) out.details = this.details;
    return out;
  }
}

/** Shorthand for invalid user input (exit 2, HTTP 400). */
export function invalidInput(message: string, hint?: string, details?: unknown): FlagscopeError {
  return new FlagscopeError('invalid_input', message, hint, { details });
}

/** Shorthand for a missing dataset, column, flag or canary (exit 3, HTTP 404). */
export function notFound(message: string, hint?: string): FlagscopeError {
  return new FlagscopeError('not_found', message, hint);
}

/** Maps an HTTP status from the flagscope API back to an error code. */
/**
 * A dataset delete refused because the dataset measures canaries in flight (HTTP 409, exit 6): the
 * server's answer, and the CLI's before it asks for the name to be typed back.
 */
export function datasetMeasuresCanaries(
  dataset: string,
  measuring: Array<{ flag: string; status: string; percent: number }>,
): FlagscopeError {
  const which = measuring.map((c) => `${c.flag} (${c.status} at ${c.percent}%)`).join(', ');
  const first = measuring[0]!.flag;
  return new FlagscopeError(
    'conflict',
    `dataset ${JSON.stringify(dataset)} measures the canary in flight of ${which}: deleting it would leave ${measuring.length === 1 ? 'that canary' : 'those canaries'} with nothing to be judged by`,
    `abort it first (\`flagscope canary abort ${first} --reason TEXT\`), or pass \`--force\` to delete the dataset and roll ${measuring.length === 1 ? 'the canary' : 'the canaries'} back to 0%`,
    { details: { canaries: measuring.map((c) => c.flag) } },
  );
}

export function codeForStatus(status: number): ErrorCode {
  if (status === 400 || status === 422) return 'invalid_input';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 409 || status === 412) return 'conflict';
  if (status === 413) return 'payload_too_large';
  if (status === 429) return 'overloaded';
  if (status === 504) return 'timeout';
  return 'server_error';
}

/**
 * The code of an API error answer: the server's own code when it is one of ours sent with its
 * status and meaning the same exit code as the status does (`name_taken`, a 409 as `conflict` is:
 * exit 6, but a script can tell it apart), else the status's code.
 */
export function codeForAnswer(status: number, serverCode: unknown): ErrorCode {
  const byStatus = codeForStatus(status);
  if (typeof serverCode !== 'string' || !Object.hasOwn(statusByCode, serverCode)) return byStatus;
  const code = serverCode as ErrorCode;
  return statusByCode[code] === status && exitByCode[code] === exitByCode[byStatus] ? code : byStatus;
}

export function isFlagscopeError(e: unknown): e is FlagscopeError {
  return e instanceof FlagscopeError;
}
