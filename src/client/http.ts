/**
 * The HTTP side of the flagscope API client, on undici: one keep-alive `Agent`
 * per client, the `--timeout` applied to connecting, to the response headers
 * and to the body, retries with backoff for 429 and 5xx (and, for requests
 * safe to repeat, a dropped connection), and every failure turned into a
 * `FlagscopeError` whose code gives the CLI's exit code. The noun modules
 * beside it (`flags.ts`, `keys.ts`, `ofrep.ts`, …) call the endpoints through
 * one `HttpClient`.
 */
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { codeForAnswer, FlagscopeError } from '../errors.js';
import { timerSleep } from '../scheduler.js';

export interface HttpClientOptions {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:7070`. */
  baseUrl: string;
  apiKey?: string | undefined;
  /** Applies to connecting, waiting for headers and reading the body. Default 30 s. */
  timeoutMs?: number;
  /** An undici dispatcher to use instead of a fresh keep-alive `Agent` (tests, proxies). */
  dispatcher?: Dispatcher;
  /** Extra attempts after a 429, a 5xx or (for idempotent requests) a dropped connection. Default 3. */
  retries?: number;
  /** First backoff delay; doubles per attempt, with jitter. Default 250 ms. */
  retryDelayMs?: number;
  /** Waits between attempts (the context's `sleep`, so tests need not wait). Default: a real timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Receives one line per request (for `--verbose`). */
  log?: ((line: string) => void) | undefined;
  /** Sent as `User-Agent`. */
  userAgent?: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Safe to repeat after a dropped connection or a 5xx. Default: true for GET/HEAD/PUT/DELETE. */
  idempotent?: boolean;
  /**
   * Non-2xx statuses whose body is an answer, not a failure (OFREP answers
   * 400 and 404 with its own body): returned like a 2xx when it parses as JSON.
   */
  answerStatuses?: readonly number[];
  /** Answers to retry as a 429 is (after `Retry-After` or the backoff), besides 429 and 5xx: e.g. an ingest 409 whose `Idempotency-Key` is still in flight. */
  retryAnswer?: (status: number, body: string) => boolean;
  /**
   * Tell the server the client's deadline (`X-Flagscope-Timeout`, a little under `timeoutMs`), so
   * an analysis is stopped and answered 504 before the client gives up (queries, compare, explain).
   */
  sendDeadline?: boolean;
  /**
   * For a write: the command that shows whether it happened (e.g. `flagscope buttons`), named when
   * the server did not answer in time or the connection dropped before the answer.
   */
  checkWith?: string;
  /** Stops the request (a Ctrl-C ending a long poll): it then rejects at once, never retried. */
  signal?: AbortSignal;
}

export interface ApiResponse<T> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

/** Requests to one flagscope server; every noun module takes one. */
export interface HttpClient {
  readonly baseUrl: string;
  /** Any JSON endpoint; resolves to the parsed body of a 2xx response. */
  requestJson<T = unknown>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<T>;
  /** Like `requestJson`, with status and headers (for `ETag`, 304). */
  request<T = unknown>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<ApiResponse<T>>;
  /** Closes idle keep-alive connections of the client's own agent. */
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** The header in which the client gives the server its deadline (src/server/admission.ts). */
const DEADLINE_HEADER = 'x-flagscope-timeout';
const UNREACHABLE_HINT = 'start it with `flagscope serve` or pass `--api-url`';
const AUTH_HINT = 'pass `--api-key`, set FLAGSCOPE_API_KEY, or choose a profile with `--profile`';

/** Creates the HTTP client for one base URL and key. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const ownAgent = options.dispatcher === undefined;
  const dispatcher: Dispatcher =
    options.dispatcher ??
    new Agent({ keepAliveTimeout: 10_000, connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const retries = options.retries ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 250;
  const sleep = options.sleep ?? timerSleep;
  const baseHeaders: Record<string, string> = { accept: 'application/json' };
  if (options.userAgent !== undefined) baseHeaders['user-agent'] = options.userAgent;
  if (options.apiKey !== undefined && options.apiKey.length > 0) baseHeaders.authorization = `Bearer ${options.apiKey}`;

  async function attempt(
    method: string,
    path: string,
    headers: Record<string, string>,
    payload: string | undefined,
    signal: AbortSignal | undefined,
  ) {
    const response = await request(baseUrl + path, {
      method: method as Dispatcher.HttpMethod,
      headers,
      body: payload,
      dispatcher,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
  }

  async function send<T>(method: string, path: string, body: unknown, requestOptions: RequestOptions = {}): Promise<ApiResponse<T>> {
    const idempotent = requestOptions.idempotent ?? ['GET', 'HEAD', 'PUT', 'DELETE'].includes(method);
    const headers: Record<string, string> = { ...baseHeaders, ...requestOptions.headers };
    if (requestOptions.sendDeadline === true) headers[DEADLINE_HEADER] = String(serverDeadlineMs(timeoutMs));
    const write = !['GET', 'HEAD'].includes(method);
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    for (let attempts = 0; ; attempts++) {
      const started = Date.now();
      let response: Awaited<ReturnType<typeof attempt>>;
      try {
        response = await attempt(method, path, headers, payload, requestOptions.signal);
      } catch (e) {
        if (requestOptions.signal?.aborted === true) throw e;
        const failure = transportError(e, baseUrl, timeoutMs, write ? { checkWith: requestOptions.checkWith } : undefined);
        options.log?.(`${method} ${path} failed after ${Date.now() - started} ms: ${failure.message}`);
        // A dropped connection may be retried when repeating the request is safe; refused, unknown host and timeouts are final.
        if (idempotent && attempts < retries && failure.code !== 'timeout' && !isPermanentNetworkError(e)) {
          await sleep(backoff(attempts, retryDelayMs));
          continue;
        }
        throw failure;
      }
      const { status, headers: responseHeaders, text } = response;
      options.log?.(`${method} ${path} → ${status} in ${Date.now() - started} ms`);
      // A 504 is the server stopping work that outran its deadline: the same request would again.
      const retryable =
        status === 429 ||
        status === 503 ||
        (idempotent && status >= 500 && status !== 504) ||
        requestOptions.retryAnswer?.(status, text) === true;
      if (retryable && attempts < retries) {
        await sleep(retryAfterMs(responseHeaders['retry-after']) ?? backoff(attempts, retryDelayMs));
        continue;
      }
      if (status >= 200 && status < 300) {
        return { status, headers: responseHeaders, body: parseBody<T>(text, method, path, baseUrl) };
      }
      if (status === 304) return { status, headers: responseHeaders, body: undefined as T };
      const answer = requestOptions.answerStatuses?.includes(status) === true ? parseAnswer<T>(text) : undefined;
      if (answer !== undefined) return { status, headers: responseHeaders, body: answer };
      throw httpError(status, text, method, path, baseUrl, attempts, retryAfterText(responseHeaders['retry-after']));
    }
  }

  return {
    baseUrl,
    async requestJson<T>(method: string, path: string, body?: unknown, requestOptions?: RequestOptions) {
      return (await send<T>(method.toUpperCase(), path, body, requestOptions)).body;
    },
    async request<T>(method: string, path: string, body?: unknown, requestOptions?: RequestOptions) {
      return send<T>(method.toUpperCase(), path, body, requestOptions);
    },
    async close() {
      if (ownAgent) await dispatcher.close();
    },
  };
}

/** The JSON object of a non-2xx answer, or undefined when the body is not one. */
function parseAnswer<T>(text: string): T | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as T) : undefined;
  } catch {
    return undefined;
  }
}

function parseBody<T>(text: string, method: string, path: string, baseUrl: string): T {
  if (text.length === 0) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw unexpectedShape(`${method} ${path}`, baseUrl);
  }
}

/** The error for a 2xx answer of the wrong shape (a server of another version, or not flagscope). */
export function unexpectedShape(what: string, baseUrl: string): FlagscopeError {
  return new FlagscopeError(
    'server_error',
    `unexpected response to ${what} from ${baseUrl}`,
    'check that `--api-url` points at a flagscope server of the same version',
  );
}

interface ServerErrorBody {
  error?: { code?: string; message?: string; hint?: string };
}

/** Maps a non-2xx response to a `FlagscopeError`, keeping the server's message and hint. */
export function httpError(
  status: number,
  text: string,
  method: string,
  path: string,
  baseUrl: string,
  retried = 0,
  retryAfter?: string,
): FlagscopeError {
  let serverError: ServerErrorBody['error'];
  try {
    serverError = (JSON.parse(text) as ServerErrorBody).error;
  } catch {
    serverError = undefined;
  }
  const code = codeForAnswer(status, serverError?.code);
  const serverMessage = typeof serverError?.message === 'string' ? serverError.message : undefined;
  const serverHint = typeof serverError?.hint === 'string' ? serverError.hint : undefined;
  const details = { status, method, path, serverCode: serverError?.code };
  if (status === 401) {
    return new FlagscopeError(
      code,
      `the flagscope API at ${baseUrl} refused the request: ${serverMessage ?? 'missing or invalid API key'}`,
      AUTH_HINT,
      { details },
    );
  }
  if (status === 403) {
    return new FlagscopeError(
      code,
      serverMessage ?? `the API key may not call ${method} ${path}`,
      serverHint ?? `use a key with the needed scope: ${AUTH_HINT}`,
      { details },
    );
  }
  if (status === 504) {
    return new FlagscopeError(
      code,
      `the flagscope API at ${baseUrl} stopped ${method} ${path}: ${serverMessage ?? 'it outran its deadline (HTTP 504)'}`,
      serverHint ?? 'narrow the request, or raise `--timeout`',
      { details },
    );
  }
  if (status === 429) {
    const after = retried > 0 ? ` (${retried + 1} attempts)` : '';
    const wait = retryAfter === undefined ? '' : `; it asks to retry after ${retryAfter} s (Retry-After)`;
    return new FlagscopeError(
      code,
      `the flagscope API at ${baseUrl} is overloaded and refused ${method} ${path}${after}: ${serverMessage ?? 'HTTP 429'}${wait}`,
      retryAfter === undefined ? 'try again in a moment' : `try again in ${retryAfter} s`,
      { details: { ...details, retryAfter } },
    );
  }
  if (status >= 500) {
    const reason = serverMessage ?? `HTTP ${status}`;
    const after = retried > 0 ? ` after ${retried + 1} attempts` : '';
    return new FlagscopeError(
      code,
      `the flagscope API at ${baseUrl} failed${after}: ${reason}`,
      serverHint ?? 'try again; run with `--verbose` to see the requests',
      { details },
    );
  }
  return new FlagscopeError(code, serverMessage ?? `${method} ${path} failed with HTTP ${status}`, serverHint, { details });
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function errorCodes(e: unknown): string[] {
  const codes: string[] = [];
  const visit = (x: unknown, depth: number): void => {
    if (typeof x !== 'object' || x === null || depth > 3) return;
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    const errors = (x as { errors?: unknown }).errors;
    if (Array.isArray(errors)) errors.forEach((inner) => visit(inner, depth + 1));
    visit((x as { cause?: unknown }).cause, depth + 1);
  };
  visit(e, 0);
  return codes;
}

function isPermanentNetworkError(e: unknown): boolean {
  return errorCodes(e).some((c) => c === 'ENOTFOUND' || c === 'EAI_AGAIN' || c === 'ECONNREFUSED');
}

/**
 * Maps a network-level failure to `unreachable` (refused, unknown host, no connection in time: the
 * request never reached the server) or `timeout` (the server took the request and did not answer
 * in time), both exit 5. For a write (`write` given) the message says the change may have happened
 * when the request may have reached the server, and names the command that shows it.
 */
export function transportError(e: unknown, baseUrl: string, timeoutMs: number, write?: { checkWith?: string | undefined }): FlagscopeError {
  if (e instanceof FlagscopeError) return e;
  const codes = errorCodes(e);
  const prefix = `cannot reach the flagscope API at ${baseUrl}`;
  const check = write === undefined ? '' : `; the change may have happened: ${checkAdvice(write.checkWith)}`;
  if (codes.includes('UND_ERR_CONNECT_TIMEOUT') || codes.includes('ETIMEDOUT')) {
    return new FlagscopeError('unreachable', `${prefix}: no connection within ${formatMs(timeoutMs)}`, UNREACHABLE_HINT, { cause: e });
  }
  if (codes.some((c) => TIMEOUT_CODES.has(c))) {
    return new FlagscopeError(
      'timeout',
      `the server did not answer in time (the flagscope API at ${baseUrl}, within ${formatMs(timeoutMs)})${check}`,
      write === undefined
        ? 'the server may be busy: try again, or raise `--timeout`'
        : 'check before repeating it; the server may be busy: raise `--timeout`',
      { cause: e },
    );
  }
  let reason: string;
  let reached = false;
  if (codes.includes('ECONNREFUSED')) reason = 'connection refused';
  else if (codes.includes('ENOTFOUND') || codes.includes('EAI_AGAIN')) reason = 'host not found';
  else if (codes.includes('ECONNRESET') || codes.includes('UND_ERR_SOCKET')) {
    reason = 'connection closed by the server';
    reached = true;
  } else reason = (e as Error)?.message?.toLowerCase() ?? 'network error';
  return new FlagscopeError('unreachable', `${prefix}: ${reason}${reached ? check : ''}`, UNREACHABLE_HINT, { cause: e });
}

/** How to find out whether a write that got no answer happened. */
function checkAdvice(checkWith: string | undefined): string {
  return checkWith === undefined ? 'check before repeating it' : `check with \`${checkWith}\``;
}

/**
 * The deadline sent to the server for a client timeout of `timeoutMs`: a little under it (a tenth,
 * at most a second less), so the server's 504 arrives before the client gives up.
 */
export function serverDeadlineMs(timeoutMs: number): number {
  return Math.max(1, Math.round(timeoutMs - Math.min(1000, timeoutMs / 10)));
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function backoff(attempt: number, base: number): number {
  const exp = base * 2 ** attempt;
  return exp / 2 + Math.random() * (exp / 2);
}

function retryAfterText(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(5_000, seconds * 1000);
  return undefined;
}
