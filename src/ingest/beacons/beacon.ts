/**
 * One browser beacon (`POST /1/beacons/{dataset}`, docs/api.md "Beacons"): what a page sends when
 * an execution starts, updates and ends, read from one JSON object of the request body. Pure: the
 * caller passes the arrival time.
 */
import { dataProblem, isJsonObject } from '../honeycomb.js';

/** The phases a beacon may carry in `beacon.phase`. */
export const BEACON_PHASES = ['start', 'update', 'end'] as const;
export type BeaconPhase = (typeof BEACON_PHASES)[number];

/** The field of a beacon naming its phase. */
export const PHASE_FIELD = 'beacon.phase';
/** The field of a beacon numbering it within its execution (0, 1, 2…): order and duplicates. */
export const SEQ_FIELD = 'beacon.seq';
/** The field of a beacon holding the page's clock when it was sent (Unix milliseconds). */
export const PAGE_TIME_FIELD = 'beacon.time';
/** The execution id field of a dataset that does not name another one. */
export const DEFAULT_EXECUTION_ID_FIELD = 'execution_id';
/** The longest execution id accepted, in characters. */
export const MAX_EXECUTION_ID_LENGTH = 256;

/** One beacon as the sessionizer keeps it. */
export interface Beacon {
  executionId: string;
  phase: BeaconPhase;
  /** `beacon.seq`, when the page numbered its beacons. */
  seq: number | undefined;
  /** `beacon.time`: the page's clock when it sent the beacon (Unix ms), when sent. */
  pageTime: number | undefined;
  /** The server's clock when the beacon arrived (Unix ms). */
  arrivedAt: number;
  /**
   * The page's fields as JSON text of one object, without `beacon.phase`, `beacon.seq` and
   * `beacon.time` (the execution id field stays). Text, not objects: an open execution's beacons
   * are held in memory for the whole window, and text is several times smaller.
   */
  fields: string;
}

/** A beacon read from its object, or why it is refused (its per-item 400). */
export type DecodedBeacon = { ok: true; beacon: Beacon } | { ok: false; error: string };

/** Reads one item of a beacon body. `executionIdField` is the dataset's (default `execution_id`). */
export function decodeBeacon(item: unknown, executionIdField: string, arrivedAt: number): DecodedBeacon {
  if (!isJsonObject(item)) return { ok: false, error: `a beacon must be a JSON object of fields, not ${kindOf(item)}` };
  const id = item[executionIdField];
  if (id === undefined || id === null || id === '') {
    return { ok: false, error: `beacon has no execution id: field ${JSON.stringify(executionIdField)} is missing` };
  }
  if (typeof id !== 'string') {
    return { ok: false, error: `execution id ${JSON.stringify(executionIdField)} must be a string, not ${kindOf(id)}` };
  }
  if (id.length > MAX_EXECUTION_ID_LENGTH) {
    return { ok: false, error: `execution id is ${id.length} characters, over the limit of ${MAX_EXECUTION_ID_LENGTH}` };
  }
  const phase = item[PHASE_FIELD];
  if (!isPhase(phase)) {
    return {
      ok: false,
      error:
        phase === undefined
          ? `beacon has no ${JSON.stringify(PHASE_FIELD)}: send "start", "update" or "end"`
          : `${JSON.stringify(PHASE_FIELD)} must be "start", "update" or "end", not ${shown(phase)}`,
    };
  }
  const seq = item[SEQ_FIELD];
  if (seq !== undefined && seq !== null && !(typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0)) {
    return { ok: false, error: `${JSON.stringify(SEQ_FIELD)} must be an integer of 0 or more, not ${shown(seq)}` };
  }
  const pageTime = item[PAGE_TIME_FIELD];
  if (pageTime !== undefined && pageTime !== null && !(typeof pageTime === 'number' && Number.isFinite(pageTime) && pageTime >= 0)) {
    return { ok: false, error: `${JSON.stringify(PAGE_TIME_FIELD)} must be Unix milliseconds, not ${shown(pageTime)}` };
  }
  const problem = dataProblem(item);
  if (problem !== undefined) return { ok: false, error: problem };
  const fields: Record<string, unknown> = {};
  for (const name in item) {
    if (name !== PHASE_FIELD && name !== SEQ_FIELD && name !== PAGE_TIME_FIELD) fields[name] = item[name];
  }
  return {
    ok: true,
    beacon: {
      executionId: id,
      phase,
      seq: typeof seq === 'number' ? seq : undefined,
      pageTime: typeof pageTime === 'number' ? pageTime : undefined,
      arrivedAt,
      fields: JSON.stringify(fields),
    },
  };
}

/** True when two beacons of one execution are the same beacon sent twice: the same `beacon.seq`, or without one the same phase and fields. */
export function sameBeacon(a: Beacon, b: Beacon): boolean {
  if (a.seq !== undefined || b.seq !== undefined) return a.seq === b.seq;
  return a.phase === b.phase && a.pageTime === b.pageTime && a.fields === b.fields;
}

function isPhase(value: unknown): value is BeaconPhase {
  return value === 'start' || value === 'update' || value === 'end';
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 60 ? text : `${text.slice(0, 60)}…`;
}
