/**
 * Raw events on the wire (`POST /api/v1/events/{dataset}`, docs/api.md "Raw events"): a request
 * of filters, a time range, columns and a limit in, stored events out, newest first; or, with a
 * cursor, the events stored after it, oldest first, for `flagscope events tail`. Shared by the
 * server and the API client.
 */
import type { Filter } from '../query/spec.js';

/** The request body. Every field is optional. */
export interface EventsRequest {
  /** Honeycomb filters, validated and compiled as a query's are. */
  filters?: Filter[];
  filter_combination?: 'AND' | 'OR';
  /** The time range, as in a query spec (default: the last 2 hours); ignored with `after`. */
  time_range?: number;
  start_time?: number;
  end_time?: number;
  /** Columns to return in `data` (default: all). */
  columns?: string[];
  /** Most events to return (default 100; 0 returns only the cursor). */
  limit?: number;
  /**
   * A cursor from an earlier answer: return the events stored after it, in the order they were
   * stored, whatever their event time; `"end"`: none, only the cursor of the newest stored event.
   */
  after?: string;
  /** With `after`: wait up to this many milliseconds for an event to arrive before answering empty. */
  wait_ms?: number;
}

/** One stored event, in the shape `POST /1/batch` takes (so `events list --format ndjson` can be sent again). */
export interface RawEvent {
  /** Event time, ISO-8601 UTC with microseconds. */
  time: string;
  samplerate: number;
  /** The event's fields that have a value (of the requested columns). */
  data: Record<string, string | number | boolean>;
}

/** The answer. */
export interface EventsResponse {
  events: RawEvent[];
  /**
   * Where the answer leaves off: pass it as `after` to get the events stored since. For a list,
   * the position of the newest event stored when it ran (filtered or not), so a tail that starts
   * from a list misses nothing and repeats nothing.
   */
  cursor: string;
  meta: {
    dataset: string;
    /** `"newest-first"` (a list) or `"stored"` (after a cursor). */
    order: 'newest-first' | 'stored';
    limit: number;
    /** The time range of a list, in Unix seconds; absent with `after`. */
    start_time?: number;
    end_time?: number;
    /** True when more events matched than `limit` (a list), or more wait after the cursor. */
    more: boolean;
    /**
     * True when the server could not place the cursor in the dataset's order (a deletion it cannot
     * translate: docs/storage.md, "Retention and the storage order"): the answer starts from the
     * dataset's current end, and events stored since the cursor may be missing.
     */
    reset?: boolean;
  };
}
