/**
 * Reading request bodies (bounded, with bounded decompression) and writing
 * JSON responses on bare `node:http`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib';
import { FlagscopeError, invalidInput } from '../errors.js';

/** Bytes of a discarded oversize body we still read so the client sees our 413; beyond this we cut the connection. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/**
 * Reads the whole request body, decompressing `gzip`/`deflate`, and refuses
 * (413) once the decompressed size passes `maxBytes`. Decompression stops at the
 * limit, so a small gzip bomb never inflates past `maxBytes` in memory.
 */
export function readBody(req: IncomingMessage, maxBytes: number, allocate?: (bytes: number) => Buffer | undefined): Promise<Buffer> {
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
 * Reads and discards the rest of a refused body, then rejects with `error`, so
 * the client finishes sending and reads our answer instead of a reset.
 * A client that keeps sending past MAX_DRAIN_BYTES has its connection cut.
 */
function drainThenReject(req: IncomingMessage, error: FlagscopeError): Promise<never> {
  return new Promise((_resolve, reject) => {
    let drained = 0;
    if (req.readableEnded || req.complete) {
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

export { jsonErrorPosition, parseJsonBody } from '../ingest/json-text.js';

const ACCEPTED_CONTENT_TYPES = new Set(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/x-ndjson']);

/**
 * Refuses (400) a body whose `Content-Type` is not JSON-like: JSON, `+json`, and the types
 * clients send JSON under (`text/plain` from `sendBeacon`, form and NDJSON); none is fine.
 */
export function checkContentType(req: IncomingMessage): void {
  const header = req.headers['content-type'];
  if (header === undefined) return;
  const type = (header.split(';')[0] ?? '').trim().toLowerCase();
  if (type === '' || ACCEPTED_CONTENT_TYPES.has(type) || type.endsWith('+json')) return;
  throw invalidInput(`content type "${type}" is not accepted`, 'send JSON with `Content-Type: application/json`');
}

/** Body bytes a response was sent with, kept on the response for the request log. */
const BODY_BYTES = Symbol('flagscope.bodyBytes');
type CountedResponse = ServerResponse & { [BODY_BYTES]?: number };

/** Body bytes of a response written with `sendJson`/`sendEmpty`/`sendJsonText` (for the request log). */
export function responseBodyBytes(res: ServerResponse): number {
  return (res as CountedResponse)[BODY_BYTES] ?? 0;
}

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * Writes already serialised JSON with an exact Content-Length, headers given as
 * one flat array (no header object is built or copied).
 */
export function sendJsonText(res: ServerResponse, status: number, text: string, headers?: Record<string, string>): void {
  const bytes = Buffer.byteLength(text);
  (res as CountedResponse)[BODY_BYTES] = bytes;
  const head: string[] = ['content-type', JSON_CONTENT_TYPE, 'content-length', String(bytes)];
  if (headers !== undefined) for (const name in headers) head.push(name, headers[name] as string);
  res.writeHead(status, head);
  res.end(text);
}

/** Writes a JSON response with an exact Content-Length. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  sendJsonText(res, status, JSON.stringify(body), headers);
}

const EMPTY_HEAD = ['content-length', '0'];

/** Writes a response without a body. */
export function sendEmpty(res: ServerResponse, status: number): void {
  (res as CountedResponse)[BODY_BYTES] = 0;
  res.writeHead(status, EMPTY_HEAD);
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
