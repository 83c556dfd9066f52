/**
 * OTLP/HTTP trace ingest, scope `ingest` (docs/api.md, "OTLP"): `POST /v1/traces` with an
 * `application/json` or `application/x-protobuf` body (gzip or deflate too). Answers as the
 * OTLP/HTTP specification says, in the request's encoding: 200 with an
 * `ExportTraceServiceResponse` (`partialSuccess` when spans were refused), or a
 * `google.rpc.Status` with 400 (bad data, not to be retried), 413 (over the body limit after
 * decompression), 429 and 503 (with `Retry-After`: the ingest queue or body budget is full, the
 * server is closing). Admission is the ingest routes' own (queue and body budget, decided before
 * the body is read). `POST /v1/logs` and `/v1/metrics` answer 404 saying only traces are taken.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlagscopeError, notFound } from '../../errors.js';
import { RPC_CODE, statusJson, statusProtobuf, traceResponseJson, traceResponseProtobuf } from '../../ingest/otlp/response.js';
import { clientLeft, discardBody, mediaType, readBody } from '../http-io.js';
import { admitIngestBody, ingestBodyMeter } from '../ingest/routes.js';
import type { IngestService } from '../ingest/ingest-service.js';
import type { ServerLimits } from '../limits.js';
import type { Router } from '../router.js';
import { type OtlpEncoding, OtlpService } from './otlp-service.js';

export interface OtlpRouteDependencies {
  ingest: IngestService;
  limits: Pick<ServerLimits, 'maxBodyBytes' | 'maxEventBytes' | 'retryAfterSeconds'>;
  now: () => number;
}

const TYPES: Record<OtlpEncoding, string> = { json: 'application/json', protobuf: 'application/x-protobuf' };

/** Adds `POST /v1/traces` (and the refusals of logs and metrics) to the server's router. */
export function registerOtlpRoutes(router: Router, deps: OtlpRouteDependencies): void {
  const otlp = new OtlpService(deps);
  const { maxBodyBytes, retryAfterSeconds } = deps.limits;

  router.add('POST', '/v1/traces', 'ingest', async ({ req, res }) => {
    const encoding = encodingOf(req);
    if (encoding === undefined) {
      throw new FlagscopeError(
        'invalid_input',
        `content type "${mediaType(req.headers['content-type']) || '(none)'}" is not an OTLP/HTTP encoding`,
        'send `Content-Type: application/x-protobuf` (or `application/protobuf`) or `application/json`',
      );
    }
    try {
      const reservation = admitIngestBody(deps.ingest, req, res, maxBodyBytes);
      try {
        // Into the store's buffer, as the batch route reads bodies (shared memory an ingest worker decodes in place).
        const body = await readBody(
          req,
          maxBodyBytes,
          deps.ingest.batchBodyBuffer,
          ingestBodyMeter(deps.ingest, reservation, req, res),
          true,
        );
        try {
          const dataset = req.headers['x-honeycomb-dataset'];
          const partial = await otlp.exportTraces(body, encoding, Array.isArray(dataset) ? dataset[0] : dataset, clientLeft(req, res));
          send(res, 200, encoding, encoding === 'json' ? traceResponseJson(partial) : traceResponseProtobuf(partial));
        } finally {
          deps.ingest.releaseBatchBody(body);
        }
      } finally {
        reservation.release();
      }
    } catch (error) {
      if (!(error instanceof FlagscopeError)) throw error;
      await discardBody(req);
      sendStatus(res, encoding, error, retryAfterSeconds);
    }
  });

  for (const signal of ['logs', 'metrics']) {
    router.add('POST', `/v1/${signal}`, 'ingest', () => {
      throw notFound(
        `OTLP ${signal} are not taken by flagscope: it stores traces only (POST /v1/traces)`,
        `send only traces to flagscope (e.g. OTEL_${signal.toUpperCase()}_EXPORTER=none), or send ${signal} to a collector that keeps them`,
      );
    });
  }
}

/** The encoding a request's `Content-Type` names, or undefined when it names neither. */
function encodingOf(req: IncomingMessage): OtlpEncoding | undefined {
  const type = mediaType(req.headers['content-type']);
  if (type === 'application/json') return 'json';
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  return undefined;
}

/**
 * Answers a failed request with a `google.rpc.Status` in the request's encoding. The server's
 * state of being unable to serve now (closing) is a 503, which OTLP clients retry.
 */
function sendStatus(res: ServerResponse, encoding: OtlpEncoding, error: FlagscopeError, retryAfterSeconds: number): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const code = error.code === 'usage' ? 'invalid_input' : error.code;
  const status = code === 'server_error' ? 503 : error.httpStatus;
  const headers: Record<string, string> = {};
  if (status === 429 || status === 503) headers['retry-after'] = String(retryAfterSeconds);
  const rpcCode = rpcCodeOf(status);
  const detail = { code, message: error.message, hint: error.hint };
  send(res, status, encoding, encoding === 'json' ? statusJson(rpcCode, detail) : statusProtobuf(rpcCode, detail), headers);
}

function rpcCodeOf(status: number): number {
  switch (status) {
    case 401:
      return RPC_CODE.unauthenticated;
    case 403:
      return RPC_CODE.permissionDenied;
    case 413:
    case 429:
      return RPC_CODE.resourceExhausted;
    case 503:
      return RPC_CODE.unavailable;
    default:
      return status >= 500 ? RPC_CODE.internal : RPC_CODE.invalidArgument;
  }
}

function send(
  res: ServerResponse,
  status: number,
  encoding: OtlpEncoding,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...headers, 'content-type': TYPES[encoding], 'content-length': String(bytes.length) });
  res.end(bytes);
}
