/**
 * One execution's beacons stitched into one wide event (docs/api.md, "Beacons"). Pure.
 */
import type { IncomingEvent } from '../event.js';
import type { Beacon } from './beacon.js';

/** Where a field's earlier value goes when a later beacon sends the field with another value. */
export const EARLIER_PREFIX = 'beacon.earlier.';
/** How many of the execution's beacons arrived (duplicates counted once). */
export const BEACON_COUNT_FIELD = 'meta.beacon_count';
/** True when no `end` beacon arrived before the execution's window closed. */
export const INCOMPLETE_FIELD = 'meta.incomplete';
/** True when no `start` beacon arrived (an `end` or `update` without its start). */
export const MISSING_START_FIELD = 'meta.missing_start';
/** Why the execution was closed: `window`, `memory` (pushed out by newer ones) or `shutdown`. */
export const CLOSED_BY_FIELD = 'meta.closed_by';

/** Why an execution left the window. */
export type CloseReason = 'window' | 'memory' | 'shutdown';

/**
 * Orders an execution's beacons: by `beacon.seq` when every beacon has one (ties by arrival),
 * else by arrival.
 */
export function orderBeacons(beacons: readonly Beacon[]): Beacon[] {
  const numbered = beacons.every((b) => b.seq !== undefined);
  return [...beacons].sort((a, b) => (numbered && a.seq !== b.seq ? (a.seq as number) - (b.seq as number) : a.arrivedAt - b.arrivedAt));
}

/**
 * Stitches one execution's beacons (duplicates already dropped) into one event:
 * - fields of later beacons (in {@link orderBeacons} order) are added to the row; a field sent
 *   again with another value keeps the latest under its name and the value before it under
 *   `beacon.earlier.<name>`;
 * - time: the `start` beacon's arrival (the first beacon's without one);
 * - `duration_ms`, when no beacon sent one: from the start to the last beacon, on the page's
 *   clock (`beacon.time`) when both sent it, else on the server's (arrival); absent without start;
 * - `meta.beacon_count`, `meta.incomplete` (no `end`), `meta.missing_start`, `meta.closed_by`.
 */
export function stitchExecution(beacons: readonly Beacon[], closedBy: CloseReason): IncomingEvent {
  const ordered = orderBeacons(beacons);
  const data: Record<string, unknown> = {};
  for (const beacon of ordered) {
    const fields = JSON.parse(beacon.fields) as Record<string, unknown>;
    for (const name in fields) {
      const value = fields[name];
      if (Object.hasOwn(data, name) && !sameValue(data[name], value)) data[EARLIER_PREFIX + name] = data[name];
      data[name] = value;
    }
  }
  const start = ordered.find((b) => b.phase === 'start');
  const last = ordered[ordered.length - 1] as Beacon;
  if (start !== undefined && data.duration_ms === undefined) {
    const byPage = start.pageTime !== undefined && last.pageTime !== undefined && last.pageTime >= start.pageTime;
    data.duration_ms = byPage
      ? (last.pageTime as number) - (start.pageTime as number)
      : Math.max(0, Math.max(...ordered.map((b) => b.arrivedAt)) - start.arrivedAt);
  }
  data[BEACON_COUNT_FIELD] = ordered.length;
  data[INCOMPLETE_FIELD] = !ordered.some((b) => b.phase === 'end');
  data[MISSING_START_FIELD] = start === undefined;
  data[CLOSED_BY_FIELD] = closedBy;
  const first = start ?? ordered.reduce((a, b) => (b.arrivedAt < a.arrivedAt ? b : a));
  return { time: first.arrivedAt, samplerate: 1, data };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
