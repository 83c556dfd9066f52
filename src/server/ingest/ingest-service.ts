/**
 * Honeycomb event ingest (`POST /1/events/{dataset}`, `POST /1/batch/{dataset}`) without HTTP: a
 * single event is decoded here and stored; a batch body goes to the event store as bytes and
 * comes back as one outcome per item. Refuses work (429, `overloaded`) while the store's ingest
 * queue is full.
 */
import { FlagscopeError, invalidInput } from '../../errors.js';
import { singleEvent } from '../../ingest/honeycomb.js';
import type { BatchItemStatus } from '../../api/ingest.js';
import type { BatchBodyOptions, EventStore, IngestOutcome } from '../../store/types.js';
import type { ServerLimits } from '../limits.js';

/** What the ingest service needs. */
export interface IngestServiceDependencies {
  events: EventStore;
  limits: Pick<ServerLimits, 'maxEventBytes' | 'maxBodyBytes' | 'retryAfterSeconds'>;
  /** Unix milliseconds: the time of events sent without one. */
  now: () => number;
}

/** Metadata of a single event, as sent in `X-Honeycomb-Event-Time` and `X-Honeycomb-Samplerate`. */
export interface SingleEventMetadata {
  time: string | undefined;
  samplerate: string | undefined;
}

export class IngestService {
  private readonly deps: IngestServiceDependencies;

  constructor(deps: IngestServiceDependencies) {
    this.deps = deps;
  }

  /**
   * Stores one event: `body` is the parsed request body (`bodyBytes` its size). Resolves after
   * commit; throws `invalid_input` for an event that is malformed or was not stored.
   */
  async ingestEvent(dataset: string, body: unknown, metadata: SingleEventMetadata, bodyBytes: number): Promise<{ warning?: string }> {
    const event = singleEvent(body, metadata, bodyBytes, this.deps.limits.maxEventBytes, this.deps.now());
    this.admit(1);
    const [outcome] = await this.deps.events.ingest(dataset, [event]);
    if (outcome === undefined || outcome.status !== 202) {
      throw invalidInput(outcome?.error ?? 'event was not stored', 'fix the event and send it again');
    }
    return outcome.warning === undefined ? {} : { warning: outcome.warning };
  }

  /**
   * Stores a batch body and resolves after commit with one status per item, in order. An item
   * stored with a warning carries it twice: as `warning`, and as `err`, the one field libhoney-js
   * reads besides `status` (docs/api.md).
   */
  async ingestBatch(dataset: string, body: Buffer): Promise<BatchItemStatus[]> {
    const options: BatchBodyOptions = { now: this.deps.now(), maxEventBytes: this.deps.limits.maxEventBytes, admit: this.admit };
    const outcomes: IngestOutcome[] = await this.deps.events.ingestBatchBody(dataset, body, options);
    if (!outcomes.some((outcome) => outcome.status === 202 && outcome.warning !== undefined)) return outcomes;
    return outcomes.map((outcome) =>
      outcome.status === 202 && outcome.warning !== undefined ? { status: 202, warning: outcome.warning, err: outcome.warning } : outcome,
    );
  }

  /** The store's buffer of `bytes` bytes to read a batch body into, or undefined for an ordinary one. */
  readonly batchBodyBuffer = (bytes: number): Buffer | undefined =>
    bytes <= this.deps.limits.maxBodyBytes ? this.deps.events.takeBatchBody(bytes) : undefined;

  /** Gives a batch body back to the store once the batch is answered. */
  releaseBatchBody(body: Buffer): void {
    this.deps.events.releaseBatchBody(body);
  }

  /** Throws `overloaded` (429 with `Retry-After`) when `incoming` more events would overfill the store's queue. */
  private readonly admit = (incoming: number): void => {
    const { queuedEvents, max } = this.deps.events.pressure();
    if (queuedEvents > 0 && queuedEvents + incoming > max) {
      throw new FlagscopeError(
        'overloaded',
        `ingest queue is full (${queuedEvents} of ${max} events waiting to be committed)`,
        `retry after ${this.deps.limits.retryAfterSeconds}s`,
      );
    }
  };
}
