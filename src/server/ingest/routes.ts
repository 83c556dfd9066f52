/**
 * The Honeycomb ingest endpoints, scope `ingest` (docs/api.md): `POST /1/events/{dataset}` (one
 * event, metadata in headers; an empty 200 as Honeycomb answers, with `X-Flagscope-Warning` when
 * the event's values were not all UTF-8) and `POST /1/batch/{dataset}`
 * (a JSON array; 200 with one status per item).
 *
 * Both are admitted before their body is read (the ingest service's queue and body budget), keep
 * their reservation until answered, store nothing when their client has gone before the hand-off
 * to the store, and honour `Idempotency-Key` (docs/api.md, "Ingest").
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlagscopeError, invalidInput } from '../../errors.js';
import { type BodyMeter, clientLeft, readBody, refuseUnreadBody, sendEmpty, sendJsonText } from '../http-io.js';
import type { Router } from '../router.js';
import type { BodyReservation } from './body-budget.js';
import type { IdempotencyStart } from './idempotency.js';
import { WARNING_HEADER } from '../../api/ingest.js';
import { IngestService, type IngestServiceDependencies } from './ingest-service.js';

/** What the ingest endpoints need from the server. */
export type IngestRouteDependencies = IngestServiceDependencies;

/** Bodies up to this size refused before they are read are still drained (keeping the connection); larger ones close it. */
const DRAIN_REFUSED_BYTES = 64 * 1024;

/** The longest `Idempotency-Key` accepted. */
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const REPLAYED = { 'idempotency-replayed': 'true' };

/** Adds the single-event and batch routes to the server's router. */
export function registerIngestRoutes(router: Router, deps: IngestRouteDependencies & { ingest?: IngestService }): void {
  const ingest = deps.ingest ?? new IngestService(deps);
  const maxBodyBytes = deps.limits.maxBodyBytes;

  router.add('POST', '/1/events/:dataset', 'ingest', async ({ req, res, params, key }) => {
    const dataset = params.dataset as string;
    const repeat = beginIdempotent(ingest, req, res, key?.hash, 'event', dataset);
    try {
      const reservation = admitIngestBody(ingest, req, res, maxBodyBytes);
      try {
        const body = await readBody(req, maxBodyBytes, undefined, ingestBodyMeter(ingest, reservation, req, res));
        const metadata = { time: header(req, 'x-honeycomb-event-time'), samplerate: header(req, 'x-honeycomb-samplerate') };
        const fingerprint = repeat === undefined ? '' : ingest.fingerprint(body, `${metadata.time}\n${metadata.samplerate}`);
        if (answeredBefore(repeat, fingerprint, res)) return;
        const { warning } = await ingest.ingestEventBody(dataset, body, metadata, clientLeft(req, res));
        // Honeycomb answers an empty 200; a warning (values not UTF-8, or not fitting their columns)
        // comes as a JSON body and a header, and is replayed with the answer.
        if (warning === undefined) {
          if (repeat?.kind === 'first') repeat.complete(fingerprint, { status: 200, body: '' });
          sendEmpty(res, 200);
        } else {
          const answer = JSON.stringify({ status: 202, warning });
          const headers = { [WARNING_HEADER]: headerText(warning) };
          if (repeat?.kind === 'first') repeat.complete(fingerprint, { status: 200, body: answer, headers });
          sendJsonText(res, 200, answer, headers);
        }
      } finally {
        reservation.release();
      }
    } finally {
      if (repeat?.kind === 'first') repeat.abandon();
    }
  });

  router.add('POST', '/1/batch/:dataset', 'ingest', async ({ req, res, params, key }) => {
    const dataset = params.dataset as string;
    const repeat = beginIdempotent(ingest, req, res, key?.hash, 'batch', dataset);
    try {
      const reservation = admitIngestBody(ingest, req, res, maxBodyBytes);
      try {
        const body = await readBody(req, maxBodyBytes, ingest.batchBodyBuffer, ingestBodyMeter(ingest, reservation, req, res));
        try {
          const fingerprint = repeat === undefined ? '' : ingest.fingerprint(body);
          if (answeredBefore(repeat, fingerprint, res)) return;
          const statuses = await ingest.ingestBatch(dataset, body, clientLeft(req, res));
          const warned = statuses.filter((status) => status.warning !== undefined).length;
          const headers =
            warned === 0
              ? undefined
              : {
                  [WARNING_HEADER]: `${warned} of ${statuses.length} items stored with a warning (values that did not fit their columns, or were not UTF-8): see each item's "warning"`,
                };
          const answer = JSON.stringify(statuses);
          if (repeat?.kind === 'first') repeat.complete(fingerprint, { status: 200, body: answer, headers });
          sendJsonText(res, 200, answer, headers);
        } finally {
          ingest.releaseBatchBody(body);
        }
      } finally {
        reservation.release();
      }
    } finally {
      // A request that stored nothing (refused, failed, its client gone) gives its key back; after `complete` this does nothing.
      if (repeat?.kind === 'first') repeat.abandon();
    }
  });
}

/**
 * Admits a request before its body is read, or throws `overloaded`. A refused body larger than
 * {@link DRAIN_REFUSED_BYTES}, or of unknown length, is left unread: the answer closes the connection.
 */
export function admitIngestBody(ingest: IngestService, req: IncomingMessage, res: ServerResponse, maxBodyBytes: number): BodyReservation {
  const declared = declaredLength(req);
  try {
    // A declared length over the body limit is refused (413) by the reader; it holds nothing.
    return ingest.admitBody(declared === undefined || declared > maxBodyBytes ? 0 : declared);
  } catch (error) {
    if (declared === undefined || declared > DRAIN_REFUSED_BYTES) refuseUnreadBody(req, res);
    throw error;
  }
}

/** The reader's meter of a request: the reservation grows with the body, and the read stops (429) when it cannot. */
export function ingestBodyMeter(ingest: IngestService, reservation: BodyReservation, req: IncomingMessage, res: ServerResponse): BodyMeter {
  return (bytes) => {
    if (reservation.ensure(bytes)) return undefined;
    refuseUnreadBody(req, res);
    return ingest.bodyBudgetFull(bytes);
  };
}

/**
 * Starts the idempotency of a request sent with `Idempotency-Key` (undefined without one), before
 * its body is read. Refuses a malformed key (400), and a key whose first request still runs (409).
 */
function beginIdempotent(
  ingest: IngestService,
  req: IncomingMessage,
  res: ServerResponse,
  keyHash: string | undefined,
  route: string,
  dataset: string,
): IdempotencyStart | undefined {
  const value = header(req, 'idempotency-key');
  if (value === undefined || keyHash === undefined) return undefined;
  if (value.length === 0 || value.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x20-\x7e]+$/.test(value)) {
    throw invalidInput(
      `Idempotency-Key must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters`,
      'send a unique id per request, e.g. a UUID, and the same id when you repeat the request',
    );
  }
  const start = ingest.answers.begin(ingest.idempotencyScope(keyHash, route, dataset, value));
  if (start.kind === 'in_flight') {
    const declared = declaredLength(req);
    if (declared === undefined || declared > DRAIN_REFUSED_BYTES) refuseUnreadBody(req, res);
    throw new FlagscopeError(
      'conflict',
      `a request with this Idempotency-Key (${JSON.stringify(value)}) is still being processed`,
      'wait for its answer, or repeat the request after a second: once it is answered, a repeat gets its answer',
      { details: { idempotency: 'in_flight' } },
    );
  }
  return start;
}

/**
 * Answers a repeat of an answered request (`fingerprint` the same: its stored answer with
 * `Idempotency-Replayed: true`) or refuses a different request under the same key (409); false
 * when the request is to run.
 */
function answeredBefore(start: IdempotencyStart | undefined, fingerprint: string, res: ServerResponse): boolean {
  if (start === undefined || start.kind !== 'answered') return false;
  if (start.fingerprint !== fingerprint) {
    throw new FlagscopeError(
      'conflict',
      'this Idempotency-Key was used for a different request (another body or event metadata) within the idempotency window',
      'use a new Idempotency-Key for a new request; repeat a request only with exactly the same body and headers',
      { details: { idempotency: 'different_request' } },
    );
  }
  const { status, body, headers } = start.answer;
  if (body === '') {
    for (const name in headers) res.setHeader(name, headers[name] as string);
    res.setHeader('idempotency-replayed', 'true');
    sendEmpty(res, status);
  } else sendJsonText(res, status, body, headers === undefined ? REPLAYED : { ...headers, ...REPLAYED });
  return true;
}

/** The declared Content-Length of a request, or undefined (chunked, or not a number). */
function declaredLength(req: IncomingMessage): number | undefined {
  const text = req.headers['content-length'];
  if (text === undefined) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** A warning as a header value: printable ASCII (anything else as `?`; the body has the whole text), at most 1,000 characters. */
function headerText(warning: string): string {
  return warning.replace(/[^\x20-\x7e]/g, '?').slice(0, 1000);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
