/**
 * The one body reader of the server, and the JSON response writers, on bare `node:http`.
 *
 * Every route that reads a request body goes through {@link readBody} (or its
 * JSON and lean forms below), so every route, OFREP included, has one policy
 * (docs/api.md, "Request bodies"):
 * - content type: none, `application/json`, any `…+json`, `text/plain`,
 *   `application/x-ndjson` or `application/x-www-form-urlencoded`; any other is a 400;
 * - encoding: none, `gzip` (or `x-gzip`) or `deflate`; any other is a 400;
 * - size: at most the server's `maxBodyBytes` after decompression; more is a 413,
 *   and decompression stops at the limit;
 * - the body is JSON whatever its content type says, UTF-8, nested at most `MAX_JSON_DEPTH` levels,
 *   and its numbers finite (the JSON readers below; event bodies have their own rules, src/ingest).
 * A refused body is read to its end (up to 64 MiB) so the client sees the answer, except a body
 * the client has not sent yet (`Expect: 100-continue` unanswered) or one a route refuses unread
 * ({@link refuseUnreadBody}): those are answered at once with `Connection: close`.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib';
import { FlagscopeError, invalidInput } from '../errors.js';
import { nonFiniteProblem, parseJsonBody } from '../ingest/json-text.js';
import { firstInvalidUtf8, isUtf8, notUtf8Message } from '../ingest/utf8.js';

export { jsonErrorPosition, parseJsonBody } from '../ingest/json-text.js';

/** Bytes of a discarded oversize body we still read so the client sees our 413; beyond this we cut the connection. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/**
 * The request class of the server (`createServer({ IncomingMessage })`): what this module keeps
 * on a request is declared here, so every request has one shape from its construction on.
 * State added to a request later (a symbol-keyed property) would give requests a second
 * shape, and every property access of Node's own HTTP code on them would see two. The
 * functions below take any `IncomingMessage` (a test's plain server too); these fields are
 * then added as they are first set.
 */
export class FlagscopeRequest extends IncomingMessage {
  /** The response of a request whose client waits for `100 Continue` before it sends the body (until it is sent). */
  flagscopeAwaitingContinue: ServerResponse | undefined = undefined;
  /** Set on a request whose body is not to be read: it is answered with `Connection: close` instead. */
  flagscopeLeaveUnread = false;
  /** The state of the lean body read of {@link readBodyText}, while it reads. */
  flagscopeTextRead: TextRead | undefined = undefined;
}

/** The response class of the server (`createServer({ ServerResponse })`), for the same reason as {@link FlagscopeRequest}. */
export class FlagscopeResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /** Body bytes the response was sent with (for the request log). */
  flagscopeBodyBytes = 0;
}

type MarkedRequest = IncomingMessage &
  Partial<Pick<FlagscopeRequest, 'flagscopeAwaitingContinue' | 'flagscopeLeaveUnread' | 'flagscopeTextRead'>>;

/**
 * Marks a request sent with `Expect: 100-continue` (the server's `checkContinue` event): the
 * `100 Continue` goes out only when a reader starts on its body, so a request refused before
 * (401, 403, 429, …) is answered without the client ever sending it.
 */
export function awaitContinue(req: IncomingMessage, res: ServerResponse): void {
  (req as MarkedRequest).flagscopeAwaitingContinue = res;
}

/** Sends the `100 Continue` a request waits for, if it waits: a reader is about to read its body. */
function continueIfAwaited(req: IncomingMessage): void {
  const marked = req as MarkedRequest;
  const res = marked.flagscopeAwaitingContinue;
  if (res === undefined) return;
  marked.flagscopeAwaitingContinue = undefined;
  if (!res.headersSent && !res.destroyed) res.writeContinue();
}

/**
 * Refuses a request's body without reading it: the answer carries `Connection: close`, the
 * server reads no more of it (the connection closes after the answer), and nothing of it is held.
 * For a refusal decided before reading (admission): a large body need not be drained to answer.
 */
export function refuseUnreadBody(req: IncomingMessage, res: ServerResponse): void {
  (req as MarkedRequest).flagscopeLeaveUnread = true;
  if (!res.headersSent) res.setHeader('connection', 'close');
}

/**
 * True when a request's body will not be read to answer it: refused unread, or still awaited
 * behind an unanswered `Expect: 100-continue` (the answer then closes the connection, as the
 * client may still send the body).
 */
function leftUnread(req: IncomingMessage): boolean {
  const marked = req as MarkedRequest;
  const awaiting = marked.flagscopeAwaitingContinue;
  if (awaiting !== undefined && !awaiting.headersSent) refuseUnreadBody(req, awaiting);
  return marked.flagscopeLeaveUnread === true;
}

/**
 * Whether the client of a request has gone (closed the connection, or its sending half) before
 * the answer: a check for the moment work is handed on, so that work nobody waits for is not done.
 */
export function clientLeft(req: IncomingMessage, res: ServerResponse): () => boolean {
  return () => res.destroyed || req.socket?.destroyed === true;
}

/**
 * Told the running total of body bytes a reader holds (read, or decompressed) as it grows;
 * returns an error to stop reading and refuse the request with it (the connection then closes:
 * call {@link refuseUnreadBody} before returning it).
 */
export type BodyMeter = (bytes: number) => FlagscopeError | undefined;

/** Media types (besides any `…+json`) a request body may declare; a body without `Content-Type` is read too. */
export const ACCEPTED_CONTENT_TYPES: ReadonlySet<string> = new Set([
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/x-ndjson',
]);

/** The refusal of a request whose declared content type the server does not read, or undefined when it reads it. */
export function contentTypeProblem(req: IncomingMessage): FlagscopeError | undefined {
  const header = req.headers['content-type'];
  if (header === undefined || header === 'application/json') return undefined;
  const type = mediaType(header);
  if (type === '' || ACCEPTED_CONTENT_TYPES.has(type) || type.endsWith('+json')) return undefined;
  return invalidInput(`content type "${type}" is not accepted`, 'send JSON with `Content-Type: application/json`');
}

/** The media type of a `Content-Type` header, lowercase, without parameters ('' for none). */
export function mediaType(header: string | undefined): string {
  return header === undefined ? '' : (header.split(';')[0] ?? '').trim().toLowerCase();
}

/** Reads a JSON body under the body policy; `what` names it in errors ("query spec"). The raw bytes come along. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number, what: string): Promise<{ value: unknown; body: Buffer }> {
  const body = await readBody(req, maxBytes);
  return { value: parseJsonRequest(body, what), body };
}

/**
 * Reads the JSON of a request body that is not event data: refuses (400) bytes that are not
 * UTF-8, nesting past `MAX_JSON_DEPTH`, malformed JSON and numbers that are not finite.
 */
export function parseJsonRequest(body: Buffer, what: string): unknown {
  const problem = utf8Problem(body, what);
  if (problem !== undefined) throw problem;
  const value = parseJsonBody(body.toString('utf8'), what);
  const infinite = nonFiniteProblem(value, what);
  if (infinite !== undefined) throw infinite;
  return value;
}

/** The 400 of a body (not event data) that holds bytes that are not UTF-8, or undefined when it is UTF-8. */
export function utf8Problem(body: Buffer, what: string): FlagscopeError | undefined {
  if (isUtf8(body)) return undefined;
  const at = firstInvalidUtf8(body);
  return invalidInput(notUtf8Message(what, at), 'send UTF-8 text (names and JSON strings must be UTF-8)', { position: at });
}

/**
 * Reads a body that must be a JSON object (400 otherwise, with `hint` when given).
 * With `emptyIsObject`, an empty body reads as `{}`.
 */
export async function readJsonObject(
  req: IncomingMessage,
  maxBytes: number,
  what: string,
  options: { emptyIsObject?: boolean; hint?: string } = {},
): Promise<Record<string, unknown>> {
  const body = await readBody(req, maxBytes);
  if (body.length === 0 && options.emptyIsObject === true) return {};
  const value = parseJsonRequest(body, what);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidInput(`${what} must be a JSON object`, options.hint);
  return value as Record<string, unknown>;
}

/** What {@link readBodyText} hands over: the body's text, or why it could not be read. */
export type BodyText = { ok: true; text: string } | { ok: false; error: FlagscopeError };

/**
 * Reads the body's text under the body policy and calls `done(body, arg)` with it or with the
 * refusal. A small plain body (uncompressed, an accepted type, a declared length within the
 * limit) is read by listeners shared by every request, its state in one object on the request,
 * and no promise: the hot path of OFREP, which passes a `done` made once and its request as
 * `arg`, so a read makes no closure. Anything else goes through {@link readBody}, and its
 * promise is returned. `done` must not throw.
 */
export function readBodyText<A>(
  req: IncomingMessage,
  maxBytes: number,
  done: (body: BodyText, arg: A) => void,
  arg: A,
): Promise<void> | void {
  if (!isSmallPlainBody(req, maxBytes)) {
    return readBody(req, maxBytes).then(
      (body) => done(textOf(body), arg),
      (error: unknown) => {
        if (!(error instanceof FlagscopeError)) throw error;
        done({ ok: false, error }, arg);
      },
    );
  }
  continueIfAwaited(req);
  (req as MarkedRequest).flagscopeTextRead = new TextRead(done as (body: BodyText, arg: unknown) => void, arg);
  // No 'error' listener: a request that fails (the client went away) has no one to answer, and
  // Node emits no 'error' on a request without listeners, so nothing is handed over then.
  req.on('data', onTextData);
  req.on('end', onTextEnd);
}

class TextRead {
  first: Buffer | undefined = undefined;
  rest: Buffer[] | undefined = undefined;
  constructor(
    readonly done: (body: BodyText, arg: unknown) => void,
    readonly arg: unknown,
  ) {}
}

function onTextData(this: MarkedRequest, chunk: Buffer): void {
  const read = this.flagscopeTextRead as TextRead;
  if (read.first === undefined) read.first = chunk;
  else (read.rest ??= [read.first]).push(chunk);
}

function onTextEnd(this: MarkedRequest): void {
  const read = this.flagscopeTextRead as TextRead;
  this.flagscopeTextRead = undefined;
  const body = read.rest !== undefined ? Buffer.concat(read.rest) : read.first;
  read.done(body === undefined ? { ok: true, text: '' } : textOf(body), read.arg);
}

/**
 * A body's text, or the refusal of one that is not UTF-8. Decoding replaces every byte that is
 * not UTF-8 with U+FFFD, so a text without one came from UTF-8 (and a text of one-byte
 * characters is known to have none at once); only a text with one is checked byte by byte.
 */
function textOf(body: Buffer): BodyText {
  const text = body.toString('utf8');
  if (text.indexOf('\uFFFD') === -1) return { ok: true, text };
  const problem = utf8Problem(body, 'request body');
  return problem === undefined ? { ok: true, text } : { ok: false, error: problem };
}

/** True when a body can take the lean read of {@link readBodyText}. */
function isSmallPlainBody(req: IncomingMessage, maxBytes: number): boolean {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return false;
  const declared = req.headers['content-length'];
  return declared !== undefined && Number(declared) <= maxBytes && contentTypeProblem(req) === undefined;
}

/**
 * Reads the whole request body under the body policy: refuses (400) a content type or
 * encoding the server does not read, decompresses `gzip`/`deflate`, and refuses (413) once
 * the decompressed size passes `maxBytes`. Decompression stops at the limit, so a small gzip
 * bomb never inflates past `maxBytes` in memory. `allocate` gives the buffer an uncompressed
 * body of declared length is copied into (the batch route's shared memory). `meter` is told the
 * bytes held as they grow (raw, or decompressed) and may stop the read (ingest's body budget).
 * `typeChecked`: the route has judged the content type itself (OTLP reads protobuf too).
 */
export function readBody(
  req: IncomingMessage,
  maxBytes: number,
  allocate?: (bytes: number) => Buffer | undefined,
  meter?: BodyMeter,
  typeChecked = false,
): Promise<Buffer> {
  const typeProblem = typeChecked ? undefined : contentTypeProblem(req);
  if (typeProblem !== undefined) return drainThenReject(req, typeProblem);
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let decoder: Gunzip | Inflate | undefined;
  if (encoding === 'gzip' || encoding === 'x-gzip') decoder = createGunzip();
  else if (encoding === 'deflate') decoder = createInflate();
  else if (encoding !== 'identity' && encoding !== '') {
    return drainThenReject(
      req,
      invalidInput(
        `content-encoding "${encoding}" is not supported`,
        'send the body uncompressed or with `Content-Encoding: gzip` or `deflate`',
      ),
    );
  }
  const declared = Number(req.headers['content-length']);
  if (decoder === undefined && Number.isFinite(declared) && declared > maxBytes) {
    return drainThenReject(req, tooLarge(maxBytes));
  }

  continueIfAwaited(req);
  // An uncompressed body of known length is copied straight into a buffer from `allocate`, when it gives one.
  const target =
    decoder === undefined && allocate !== undefined && Number.isSafeInteger(declared) && declared > 0 ? allocate(declared) : undefined;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const fail = (error: FlagscopeError): void => {
      if (failed) return;
      failed = true;
      chunks.length = 0;
      if (decoder !== undefined) {
        req.unpipe(decoder);
        decoder.destroy();
      }
      drainThenReject(req, error).catch(reject);
    };
    const overMeter = (): boolean => {
      const refusal = meter?.(size);
      if (refusal === undefined) return false;
      fail(refusal);
      return true;
    };
    const collect = (chunk: Buffer): void => {
      if (failed) return;
      if (target !== undefined) {
        // Node's parser ends the body at Content-Length, so it always fits.
        chunk.copy(target, size);
        size += chunk.length;
        return;
      }
      size += chunk.length;
      if (size > maxBytes) {
        fail(tooLarge(maxBytes));
        return;
      }
      if (meter !== undefined && overMeter()) return;
      chunks.push(chunk);
    };
    const aborted = (reason: string): void => {
      if (failed) return;
      failed = true;
      chunks.length = 0;
      decoder?.destroy();
      reject(new FlagscopeError('invalid_input', `request body could not be read: ${reason}`, 'send the request again'));
    };
    req.on('error', (e) => aborted(e.message));
    req.on('close', () => {
      if (!req.complete) aborted('the client closed the connection');
    });
    if (decoder === undefined) {
      req.on('data', collect);
      req.on('end', () => {
        if (failed) return;
        if (target !== undefined) resolve(target.subarray(0, size));
        else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
      });
      return;
    }
    let compressedSize = 0;
    req.on('data', (chunk: Buffer) => {
      compressedSize += chunk.length;
      if (!failed && compressedSize > maxBytes) fail(tooLarge(maxBytes));
    });
    decoder.on('data', collect);
    decoder.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    decoder.on('error', (e) => {
      fail(
        invalidInput(`request body is not valid ${encoding} data: ${e.message}`, `check that the body really is ${encoding}-compressed`),
      );
    });
    req.pipe(decoder);
  });
}

function tooLarge(maxBytes: number): FlagscopeError {
  return new FlagscopeError(
    'payload_too_large',
    `request body is larger than ${maxBytes} bytes after decompression`,
    `split it into requests under ${maxBytes} bytes (e.g. smaller batches)`,
  );
}

/**
 * Reads and drops a body a route does not use (or one left unread by an error), so the client
 * finishes sending and reads the answer; past MAX_DRAIN_BYTES the connection is cut.
 */
export function discardBody(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.complete || leftUnread(req)) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > MAX_DRAIN_BYTES) req.socket.destroy();
    });
    req.on('end', resolve);
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.resume();
  });
}

/**
 * Reads and discards the rest of a refused body, then rejects with `error`, so
 * the client finishes sending and reads our answer instead of a reset.
 * A client that keeps sending past MAX_DRAIN_BYTES has its connection cut.
 */
function drainThenReject(req: IncomingMessage, error: FlagscopeError): Promise<never> {
  return new Promise((_resolve, reject) => {
    let drained = 0;
    if (req.readableEnded || req.complete || leftUnread(req)) {
      reject(error);
      return;
    }
    req.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > MAX_DRAIN_BYTES) {
        req.socket.destroy();
        reject(error);
      }
    });
    req.on('end', () => reject(error));
    req.on('error', () => reject(error));
    req.on('close', () => reject(error));
    req.resume();
  });
}

type CountedResponse = ServerResponse & Partial<Pick<FlagscopeResponse, 'flagscopeBodyBytes'>>;

/** Body bytes of a response written with `sendJson`/`sendEmpty`/`sendJsonText` (for the request log). */
export function responseBodyBytes(res: ServerResponse): number {
  return (res as CountedResponse).flagscopeBodyBytes ?? 0;
}

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * Writes already serialised JSON with an exact Content-Length, headers given as
 * one flat array (no header object is built or copied).
 */
export function sendJsonText(res: ServerResponse, status: number, text: string, headers?: Record<string, string>): void {
  const bytes = Buffer.byteLength(text);
  (res as CountedResponse).flagscopeBodyBytes = bytes;
  const head: string[] = ['content-type', JSON_CONTENT_TYPE, 'content-length', String(bytes)];
  if (headers !== undefined) for (const name in headers) head.push(name, headers[name] as string);
  res.writeHead(status, head);
  res.end(text);
}

/**
 * A JSON answer ready to be written as it is, again and again: its status, text, byte length
 * and head (`content-type`, `content-length`), computed once ({@link prepareJson}).
 */
export interface PreparedJson {
  readonly status: number;
  readonly text: string;
  readonly bytes: number;
  /** The head as `writeHead` takes it, one flat array (never changed by `writeHead`). */
  readonly head: readonly string[];
}

/** Prepares `text` (serialised JSON) to be answered with `status` by {@link sendPreparedJson}. */
export function prepareJson(status: number, text: string): PreparedJson {
  const bytes = Buffer.byteLength(text);
  return { status, text, bytes, head: ['content-type', JSON_CONTENT_TYPE, 'content-length', String(bytes)] };
}

/** Writes a prepared answer: what {@link sendJsonText} writes for its status and text, with nothing to compute. */
export function sendPreparedJson(res: ServerResponse, answer: PreparedJson): void {
  (res as CountedResponse).flagscopeBodyBytes = answer.bytes;
  res.writeHead(answer.status, answer.head as string[]);
  res.end(answer.text);
}

/** Writes a JSON response with an exact Content-Length. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  sendJsonText(res, status, JSON.stringify(body), headers);
}

const EMPTY_HEAD = ['content-length', '0'];

/** Writes a response without a body (with `headers` when given). */
export function sendEmpty(res: ServerResponse, status: number, headers?: Record<string, string>): void {
  (res as CountedResponse).flagscopeBodyBytes = 0;
  if (headers === undefined) res.writeHead(status, EMPTY_HEAD);
  else res.writeHead(status, { ...headers, 'content-length': '0' });
  res.end();
}

/** Writes an error response `{"error": {"code", "message", "hint"}}` with the error's HTTP status. */
export function sendError(res: ServerResponse, error: FlagscopeError, headers?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, error.httpStatus, { error: error.toJSON() }, headers);
}

/** True when an `If-None-Match` header lists `etag` (or `*`). */
export function etagMatches(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  for (const part of text.split(',')) {
    const tag = part.trim().replace(/^W\//, '');
    if (tag === '*' || tag === etag) return true;
  }
  return false;
}

/** Writes a 304 with its `ETag` and no body. */
export function sendNotModified(res: ServerResponse, etag: string): void {
  (res as CountedResponse).flagscopeBodyBytes = 0;
  res.writeHead(304, { etag });
  res.end();
}

/**
 * A signal that aborts when the connection closes before the answer was sent: the client gave
 * up (closed the socket, timed out). Analyses pass it on so their statements stop in the engine.
 */
export function clientGone(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  const gone = (): void => {
    if (!res.writableFinished) {
      controller.abort(new FlagscopeError('unreachable', 'the client closed the connection before the answer', 'nothing to do'));
    }
  };
  if (res.destroyed || res.socket === null || res.socket.destroyed) gone();
  else res.once('close', gone);
  return controller.signal;
}
