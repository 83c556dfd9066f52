/**
 * Raw events without HTTP (docs/api.md, "Raw events"): a request validated against the dataset's
 * schema and compiled by `src/query/events.ts`, its statement run under the analysis admission
 * gate with a deadline, and, after a cursor with `wait_ms`, a long poll: when nothing new matched,
 * it looks again when this server commits events of the dataset (`EventArrivals`) or every
 * `eventsPollMs`, until something matches or the wait is over.
 */
import type { EventsResponse } from '../../api/events.js';
import { FlagscopeError, notFound } from '../../errors.js';
import {
  compileEventsQuery,
  type DecodedEvents,
  type EventsCursor,
  formatEventsCursor,
  isoMicros,
  type NormalizedEventsRequest,
  validateEventsRequest,
} from '../../query/events.js';
import type { EventStore } from '../../store/types.js';
import type { AnalysisGate } from '../admission.js';
import type { ServerLimits } from '../limits.js';
import type { EventArrivals } from './arrivals.js';

/** Reads of one answer that may each overlap a deletion before the answer gives up. */
const MAX_READ_ATTEMPTS = 5;
/** A position after every row: the statement answers it from the newest event, as a reset. */
const PAST_EVERY_ROW = 9_223_372_036_854_775_807n;

export interface EventsServiceDependencies {
  events: EventStore;
  now: () => number;
  limits: Pick<ServerLimits, 'maxEventsPerRequest' | 'maxEventsWaitMs' | 'eventsPollMs' | 'maxEventWaiters' | 'analysisRetryAfterSeconds'>;
  analyses: AnalysisGate;
  arrivals: EventArrivals;
}

/** How one request is served: the client's signal and deadline, as for analyses. */
export interface EventsReadOptions {
  clientGone?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

export class EventsService {
  private waiting = 0;

  constructor(private readonly deps: EventsServiceDependencies) {}

  /** Requests waiting for events now (a long poll each). */
  waiters(): number {
    return this.waiting;
  }

  /**
   * Answers a raw-event request on `dataset` (`body` as the client sent it). Throws
   * `invalid_input`, `not_found` (dataset), `overloaded` (429: the analysis queue, or too many
   * waiting requests) and `timeout` (504: one statement outran its deadline).
   */
  async read(dataset: string, body: unknown, options: EventsReadOptions = {}): Promise<EventsResponse> {
    let request = await this.validate(dataset, body);
    let seen = this.deps.arrivals.count(dataset);
    let result = await this.run(dataset, request, options);
    const after = request.after;
    if (after === undefined || after === 'end' || request.wait_ms === 0 || result.events.length > 0 || result.reset) {
      return this.answer(dataset, request, result);
    }
    if (this.waiting >= this.deps.limits.maxEventWaiters) {
      const seconds = this.deps.limits.analysisRetryAfterSeconds;
      throw new FlagscopeError(
        'overloaded',
        `${this.waiting} requests are already waiting for events, the most this server holds`,
        `retry in ${seconds} s (Retry-After), or follow fewer datasets at once`,
        { details: { retryAfterSeconds: seconds } },
      );
    }
    this.waiting++;
    try {
      const deadline = this.deps.now() + request.wait_ms;
      for (;;) {
        const remaining = deadline - this.deps.now();
        if (remaining <= 0) break;
        await this.deps.arrivals.wait(dataset, Math.min(this.deps.limits.eventsPollMs, remaining), options.clientGone, seen);
        if (options.clientGone?.aborted === true) throw options.clientGone.reason;
        // The server is closing: answer with what there is (nothing new, the same cursor).
        if (this.deps.arrivals.closed) break;
        // Validated again: columns added meanwhile are read too.
        request = { ...(await this.validate(dataset, body)), after: result.cursor };
        seen = this.deps.arrivals.count(dataset);
        result = await this.run(dataset, request, options);
        if (result.events.length > 0 || result.reset) break;
      }
    } finally {
      this.waiting--;
    }
    return this.answer(dataset, request, result);
  }

  private async validate(dataset: string, body: unknown): Promise<NormalizedEventsRequest> {
    const schema = await this.deps.events.getSchema(dataset);
    if (schema === undefined) throw unknownDataset(dataset);
    return validateEventsRequest(body, schema, this.deps.now(), this.deps.limits);
  }

  /**
   * Runs the request in the current epoch of the table's storage order (a cursor of the previous
   * epoch translated, docs/storage.md "Retention and the storage order"); a read that overlapped a
   * deletion, which may renumber the order, is done again.
   */
  private async run(dataset: string, request: NormalizedEventsRequest, options: EventsReadOptions): Promise<DecodedEvents> {
    const { events } = this.deps;
    for (let attempt = 1; ; attempt++) {
      const schema = await events.getSchema(dataset);
      const table = events.tableOf(dataset);
      if (schema === undefined || table === undefined) throw unknownDataset(dataset);
      const order = await events.storageEpoch(dataset);
      const compiled = compileEventsQuery(this.inEpoch(dataset, request, table, order.epoch), schema, table, events.dialect);
      const result = await this.deps.analyses.run(
        async (signal) => compiled.decode(await events.execute(compiled.sql, compiled.params, { signal })),
        {
          clientGone: options.clientGone,
          timeoutMs: options.timeoutMs,
        },
      );
      if (events.storageEpochNow(dataset).version === order.version) return { ...result, cursor: { ...result.cursor, epoch: order.epoch } };
      if (attempt === MAX_READ_ATTEMPTS) {
        throw new FlagscopeError(
          'server_error',
          `the events of ${JSON.stringify(dataset)} were being deleted (retention) during ${MAX_READ_ATTEMPTS} reads in a row`,
          'retry in a moment',
        );
      }
    }
  }

  /** The request with its cursor's position in `epoch`: translated, or past every row (answered as a reset) when it cannot be. */
  private inEpoch(dataset: string, request: NormalizedEventsRequest, table: string, epoch: number): NormalizedEventsRequest {
    const after = request.after;
    if (after === undefined || after === 'end' || after.table !== table || after.epoch === epoch) return request;
    const translated = this.deps.events.translatePosition(dataset, after.epoch, after.position);
    return { ...request, after: { table, epoch, ...(translated ?? { position: PAST_EVERY_ROW, gap: 0n, floor: PAST_EVERY_ROW }) } };
  }

  private answer(dataset: string, request: NormalizedEventsRequest, result: DecodedEvents): EventsResponse {
    const listed = request.after === undefined;
    const response: EventsResponse = {
      events: result.events.map((event) => ({ time: isoMicros(event.timeMicros), samplerate: event.samplerate, data: event.data })),
      cursor: formatEventsCursor(result.cursor as EventsCursor),
      meta: { dataset, order: listed ? 'newest-first' : 'stored', limit: request.limit, more: result.more },
    };
    if (listed) {
      response.meta.start_time = request.start_time;
      response.meta.end_time = request.end_time;
    }
    if (result.reset) response.meta.reset = true;
    return response;
  }
}

function unknownDataset(dataset: string): FlagscopeError {
  return notFound(`dataset ${JSON.stringify(dataset)} does not exist`, 'run `flagscope datasets` to list datasets');
}
