/**
 * Honeycomb event ingest (`POST /1/events/{dataset}`, `POST /1/batch/{dataset}`) without HTTP: a
 * single event is decoded here and stored; a batch body goes to the event store as bytes and
 * comes back as one outcome per item. Admission: a request is refused (429, `overloaded`) before
 * its body is read while the store's ingest queue is full or the body does not fit the in-flight
 * body budget, and again when its events would overfill the queue. A request whose client has
 * gone before its events are handed to the store stores nothing. Answers of requests sent with an
 * `Idempotency-Key` are kept for repeats of the same request.
 */
import { createHash } from 'node:crypto';
import { FlagscopeError, invalidInput } from '../../errors.js';
import { decodeEventBody, singleEvent } from '../../ingest/honeycomb.js';
import type { IncomingEvent } from '../../ingest/event.js';
import type { BatchItemStatus } from '../../api/ingest.js';
import type { OtlpEncoding } from '../../ingest/otlp/decode.js';
import type { BatchBodyOptions, EventStore, IngestOutcome, OtlpTraceOutcome } from '../../store/types.js';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from '../limits.js';
import { BodyBudget, type BodyReservation } from './body-budget.js';
import { IdempotencyCache } from './idempotency.js';

/** What the ingest service needs. */
export interface IngestServiceDependencies {
  events: EventStore;
  limits: Pick<ServerLimits, 'maxEventBytes' | 'maxBodyBytes' | 'retryAfterSeconds'> &
    Partial<Pick<ServerLimits, 'maxInflightBodyBytes' | 'idempotencyWindowSeconds' | 'maxIdempotencyKeys' | 'maxIdempotencyBytes'>>;
  /** Unix milliseconds: the time of events sent without one, and the clock of idempotency windows. */
  now: () => number;
  /** Told after events of a dataset are committed (wakes `events tail` requests waiting on it). */
  arrivals?: { notify(dataset: string): void };
}

/**
 * True once the request's client has gone (closed its connection): checked at the moment its
 * events would be handed to the store, so a request nobody waits for stores nothing.
 */
export type ClientGone = () => boolean;

const NEVER_GONE: ClientGone = () => false;

/** Metadata of a single event, as sent in `X-Honeycomb-Event-Time` and `X-Honeycomb-Samplerate`. */
export interface SingleEventMetadata {
  time: string | undefined;
  samplerate: string | undefined;
}

export class IngestService {
  private readonly deps: IngestServiceDependencies;
  /** The in-flight body bytes of every ingest request of this server. */
  readonly bodies: BodyBudget;
  /** Answers of requests sent with an `Idempotency-Key`, by {@link idempotencyScope}. */
  readonly answers: IdempotencyCache;

  constructor(deps: IngestServiceDependencies) {
    this.deps = deps;
    const limits = { ...DEFAULT_SERVER_LIMITS, ...deps.limits };
    this.bodies = new BodyBudget(limits.maxInflightBodyBytes);
    this.answers = new IdempotencyCache(
      { windowMs: limits.idempotencyWindowSeconds * 1000, maxKeys: limits.maxIdempotencyKeys, maxBytes: limits.maxIdempotencyBytes },
      deps.now,
    );
  }

  /**
   * Admits a request before its body is read: refuses it (`overloaded`) while the store's queue
   * is full, or when `declaredBytes` (its Content-Length; 0 when unknown) does not fit the body
   * budget; else reserves them. The reservation grows as the body is read
   * (`BodyReservation.ensure`) and is released once the request is answered.
   */
  admitBody(declaredBytes: number): BodyReservation {
    const { queuedEvents, max } = this.deps.events.pressure();
    if (queuedEvents > 0 && queuedEvents >= max) {
      throw this.overloaded(`ingest queue is full (${queuedEvents} of ${max} events waiting to be committed)`);
    }
    const reservation = this.bodies.reserve(declaredBytes);
    if (reservation === undefined) throw this.bodyBudgetFull(declaredBytes);
    return reservation;
  }

  /** The refusal of a body that grew past what the body budget could give it. */
  bodyBudgetFull(bytes: number): FlagscopeError {
    return this.overloaded(
      `the server is reading or storing ${this.bodies.inflight} bytes of request bodies (limit ${this.bodies.limit}); a body of ${bytes} bytes does not fit now`,
    );
  }

  /**
   * Where an `Idempotency-Key` is unique: the key that sent it (its hash), the route and the
   * dataset. Two keys, or two datasets, never share answers.
   */
  idempotencyScope(keyHash: string, route: string, dataset: string, idempotencyKey: string): string {
    return `${keyHash}\n${route}\n${dataset}\n${idempotencyKey}`;
  }

  /** What identifies a request for its `Idempotency-Key`: its body and `metadata` (the headers that change what it stores). */
  fingerprint(body: Buffer, metadata = ''): string {
    return createHash('sha256').update(metadata).update('\n').update(body).digest('base64');
  }

  /**
   * Stores one event: `body` is the parsed request body (`bodyBytes` its size). Resolves after
   * commit; throws `invalid_input` for an event that is malformed or was not stored.
   */
  async ingestEvent(
    dataset: string,
    body: unknown,
    metadata: SingleEventMetadata,
    bodyBytes: number,
    gone: ClientGone = NEVER_GONE,
  ): Promise<{ warning?: string }> {
    const event = singleEvent(body, metadata, bodyBytes, this.deps.limits.maxEventBytes, this.deps.now());
    const warning = await this.storeOne(dataset, event, gone);
    return warning === undefined ? {} : { warning };
  }

  /**
   * Stores the event of a single-event request body (its bytes, read under the body policy).
   * Resolves after commit with the warning of its answer, if any: values that were not UTF-8, and
   * values that did not fit their columns (docs/storage.md, "Types").
   */
  async ingestEventBody(
    dataset: string,
    body: Buffer,
    metadata: SingleEventMetadata,
    gone: ClientGone = NEVER_GONE,
  ): Promise<{ warning?: string }> {
    const decoded = decodeEventBody(body, metadata, this.deps.limits.maxEventBytes, this.deps.now());
    const stored = await this.storeOne(dataset, decoded.event, gone);
    const warnings = [decoded.warning, stored].filter((w): w is string => w !== undefined);
    return warnings.length === 0 ? {} : { warning: warnings.join('; ') };
  }

  /** Stores one event after commit and gives back the store's warning for it, if any. */
  private async storeOne(dataset: string, event: IncomingEvent, gone: ClientGone): Promise<string | undefined> {
    this.handOff(gone, 1);
    const [outcome] = await this.deps.events.ingest(dataset, [event]);
    if (outcome?.status === 202) this.deps.arrivals?.notify(dataset);
    if (outcome === undefined || outcome.status !== 202) {
      throw invalidInput(outcome?.error ?? 'event was not stored', 'fix the event and send it again');
    }
    return outcome.warning;
  }

  /**
   * Stores a batch body and resolves after commit with one status per item, in order. When
   * `gone` says the client has left before the events are handed to the store (the moment they
   * are queued), nothing is stored; once handed over, they are committed whatever the client does.
   * An item stored with a warning carries it twice: as `warning`, and as `err`, the one field
   * libhoney-js reads besides `status` (docs/api.md).
   */
  async ingestBatch(dataset: string, body: Buffer, gone: ClientGone = NEVER_GONE): Promise<BatchItemStatus[]> {
    const admit = gone === NEVER_GONE ? this.admit : (incoming: number) => this.handOff(gone, incoming);
    const options: BatchBodyOptions = { now: this.deps.now(), maxEventBytes: this.deps.limits.maxEventBytes, admit };
    const outcomes: IngestOutcome[] = await this.deps.events.ingestBatchBody(dataset, body, options);
    if (outcomes.some((outcome) => outcome.status === 202)) this.deps.arrivals?.notify(dataset);
    if (!outcomes.some((outcome) => outcome.status === 202 && outcome.warning !== undefined)) return outcomes;
    return outcomes.map((outcome) =>
      outcome.status === 202 && outcome.warning !== undefined ? { status: 202, warning: outcome.warning, err: outcome.warning } : outcome,
    );
  }

  /**
   * Stores an OTLP trace export (decompressed) and resolves after commit with what was refused.
   * The store decodes and flattens it (in its ingest workers when it has them); the client check
   * and the queue's admission run once, for the events of every dataset together, before any is
   * queued, so a request is refused (429) whole or handed over whole. Throws `invalid_input` for a
   * body that does not decode (nothing stored).
   */
  async ingestOtlp(
    body: Buffer,
    encoding: OtlpEncoding,
    fallbackDataset: string,
    gone: ClientGone = NEVER_GONE,
  ): Promise<OtlpTraceOutcome> {
    const admit = (incoming: number) => this.handOff(gone, incoming);
    const outcome = await this.deps.events.ingestOtlpTraces(body, {
      encoding,
      fallbackDataset,
      now: this.deps.now(),
      maxEventBytes: this.deps.limits.maxEventBytes,
      admit,
    });
    for (const dataset of outcome.stored) this.deps.arrivals?.notify(dataset);
    return outcome;
  }

  /** The store's buffer of `bytes` bytes to read a batch body into, or undefined for an ordinary one. */
  readonly batchBodyBuffer = (bytes: number): Buffer | undefined =>
    bytes <= this.deps.limits.maxBodyBytes ? this.deps.events.takeBatchBody(bytes) : undefined;

  /** Gives a batch body back to the store once the batch is answered. */
  releaseBatchBody(body: Buffer): void {
    this.deps.events.releaseBatchBody(body);
  }

  /**
   * The last check before events are queued (the store queues them in the same turn): refuses
   * when the client has gone, then as {@link admit}.
   */
  private handOff(gone: ClientGone, incoming: number): void {
    if (gone()) {
      throw invalidInput(
        'the client closed the connection before its events were stored; nothing was stored',
        'send the request again (with an `Idempotency-Key`, a repeat is stored once)',
      );
    }
    this.admit(incoming);
  }

  /** Throws `overloaded` (429 with `Retry-After`) when `incoming` more events would overfill the store's queue. */
  private readonly admit = (incoming: number): void => {
    const { queuedEvents, max } = this.deps.events.pressure();
    if (queuedEvents > 0 && queuedEvents + incoming > max) {
      throw this.overloaded(`ingest queue is full (${queuedEvents} of ${max} events waiting to be committed)`);
    }
  };

  private overloaded(message: string): FlagscopeError {
    return new FlagscopeError('overloaded', message, `retry after ${this.deps.limits.retryAfterSeconds}s`);
  }
}
