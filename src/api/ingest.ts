/**
 * Honeycomb's batch ingest on the wire (`POST /1/batch/{dataset}`): the items
 * sent and the status of each. Shared by the server and the API client.
 */

/** One event of a batch, Honeycomb's batch item shape. */
export interface BatchItem {
  data: Record<string, unknown>;
  /** ISO-8601 or Unix seconds/milliseconds, as the server accepts it. */
  time?: string | number;
  samplerate?: number;
}

/**
 * Outcome of one batch item, in input order: 202 accepted, 4xx rejected with a reason. An item
 * stored with values that did not fit their columns has a `warning`, repeated in `err` because
 * libhoney-js reports `err` (and nothing else but `status`) to its users.
 */
export interface BatchItemStatus {
  status: number;
  error?: string;
  warning?: string;
  err?: string;
}

/** The response header that says some of a request's values did not fit their columns. */
export const WARNING_HEADER = 'x-flagscope-warning';
