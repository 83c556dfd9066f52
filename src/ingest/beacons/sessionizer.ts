/**
 * The sessionizer: beacons of one execution (dataset + execution id) held together while its
 * window is open, then handed on closed, to be stitched into one event (stitch.ts). Pure: time
 * and timers come from the injected scheduler; what to do with closed executions from `onClose`.
 *
 * - An execution's window closes `windowMs` after its last beacon; it is then closed (`window`).
 * - A beacon already held (same `beacon.seq`; without one the same phase and fields) is a
 *   duplicate and is kept once.
 * - Memory is bounded: at most `maxExecutions` open executions and `maxBytes` of beacon text;
 *   past either the executions seen least recently are closed at once (`memory`) and counted.
 * - `closeAll` closes every open execution (`shutdown`).
 */
import type { TimerHandle, TimerScheduler } from '../../scheduler.js';
import { type Beacon, sameBeacon } from './beacon.js';
import type { CloseReason } from './stitch.js';

/** Default window: an execution closes this long after its last beacon. */
export const DEFAULT_BEACON_WINDOW_MS = 30_000;
/** Default bound on open executions. */
export const DEFAULT_MAX_OPEN_EXECUTIONS = 200_000;
/** Default bound on the beacon text held by open executions, in bytes (UTF-16 code units). */
export const DEFAULT_MAX_OPEN_BEACON_BYTES = 128 * 1024 * 1024;
/** Most beacons one execution may send; past it a beacon is refused. */
export const MAX_BEACONS_PER_EXECUTION = 100;
/** Bytes counted for a beacon besides its fields' text (its record and list slot). */
const BEACON_OVERHEAD_BYTES = 96;
/** Bytes counted for an open execution besides its beacons. */
const EXECUTION_OVERHEAD_BYTES = 160;

/** An execution leaving the sessionizer, to be stitched and stored. */
export interface ClosedExecution {
  dataset: string;
  executionId: string;
  /** Unique per open execution of a sessionizer's life (an id that comes back after its window closed opens a new one). */
  generation: number;
  /** Distinct beacons, in arrival order. */
  beacons: Beacon[];
  closedBy: CloseReason;
}

export interface SessionizerOptions {
  scheduler: TimerScheduler;
  /** Milliseconds after an execution's last beacon that its window closes. */
  windowMs: number;
  maxExecutions?: number;
  maxBytes?: number;
  /** Milliseconds between two looks for closed windows; default min(1000, windowMs). */
  tickMs?: number;
  /** Receives closed executions, synchronously, in the order they closed. */
  onClose: (closed: ClosedExecution[]) => void;
}

/** What became of one beacon handed to {@link Sessionizer.accept}. */
export type BeaconAcceptance =
  | { status: 'accepted'; generation: number }
  | { status: 'duplicate'; generation: number }
  | { status: 'refused'; error: string };

/** The sessionizer's counters (the server's health shows them). */
export interface SessionizerStats {
  open_executions: number;
  open_bytes: number;
  /** Executions closed early because memory was full (their beacons were stored as they were). */
  closed_for_memory: number;
  closed_by_window: number;
  duplicates: number;
}

interface OpenExecution {
  dataset: string;
  executionId: string;
  generation: number;
  beacons: Beacon[];
  lastSeen: number;
  bytes: number;
}

export class Sessionizer {
  private readonly open = new Map<string, OpenExecution>();
  private readonly windowMs: number;
  private readonly maxExecutions: number;
  private readonly maxBytes: number;
  private bytes = 0;
  private nextGeneration = 1;
  private timer: TimerHandle | undefined;
  private readonly counts = { closed_for_memory: 0, closed_by_window: 0, duplicates: 0 };

  constructor(private readonly options: SessionizerOptions) {
    this.windowMs = options.windowMs;
    this.maxExecutions = Math.max(1, options.maxExecutions ?? DEFAULT_MAX_OPEN_EXECUTIONS);
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_OPEN_BEACON_BYTES;
  }

  /** Starts looking for closed windows every tick. */
  start(): void {
    this.timer ??= this.options.scheduler.setInterval(() => this.closeDue(), this.options.tickMs ?? Math.min(1000, this.windowMs));
  }

  /** Stops the ticks (open executions stay open: {@link closeAll} closes them). */
  stop(): void {
    this.timer?.clear();
    this.timer = undefined;
  }

  /** Takes one beacon of `dataset` arriving now (its `arrivedAt`). */
  accept(dataset: string, beacon: Beacon): BeaconAcceptance {
    return this.take(dataset, beacon, undefined);
  }

  /**
   * Puts back a beacon of an execution open before a restart (the write-ahead file), with its
   * generation and arrival time; call in the order they arrived, then {@link closeDue}.
   */
  restore(dataset: string, generation: number, beacon: Beacon): void {
    this.take(dataset, beacon, generation);
    if (generation >= this.nextGeneration) this.nextGeneration = generation + 1;
  }

  /** Closes every execution whose window has passed; returns how many. */
  closeDue(): number {
    const now = this.options.scheduler.now();
    const closed: ClosedExecution[] = [];
    // The map is in order of last beacon (each beacon moves its execution to the end), so the due ones lead.
    for (const [key, execution] of this.open) {
      if (execution.lastSeen + this.windowMs > now) break;
      closed.push(this.remove(key, execution, 'window'));
    }
    this.counts.closed_by_window += closed.length;
    if (closed.length > 0) this.options.onClose(closed);
    return closed.length;
  }

  /** Closes every open execution (`shutdown`); returns how many. */
  closeAll(): number {
    const closed: ClosedExecution[] = [];
    for (const [key, execution] of this.open) closed.push(this.remove(key, execution, 'shutdown'));
    if (closed.length > 0) this.options.onClose(closed);
    return closed.length;
  }

  /** The executions open now, least recently seen first (what a write-ahead file must still hold). */
  *openExecutions(): IterableIterator<Readonly<Omit<ClosedExecution, 'closedBy'>>> {
    for (const { dataset, executionId, generation, beacons } of this.open.values()) yield { dataset, executionId, generation, beacons };
  }

  stats(): SessionizerStats {
    return { open_executions: this.open.size, open_bytes: this.bytes, ...this.counts };
  }

  private take(dataset: string, beacon: Beacon, generation: number | undefined): BeaconAcceptance {
    const key = `${dataset}\u0000${beacon.executionId}`;
    let execution = this.open.get(key);
    if (execution !== undefined) {
      const held = execution.beacons.find((b) => sameBeacon(b, beacon));
      if (held !== undefined) {
        this.counts.duplicates++;
        return { status: 'duplicate', generation: execution.generation };
      }
      if (execution.beacons.length >= MAX_BEACONS_PER_EXECUTION) {
        return {
          status: 'refused',
          error: `execution ${JSON.stringify(beacon.executionId)} already has ${MAX_BEACONS_PER_EXECUTION} beacons, the most one execution may send`,
        };
      }
      this.open.delete(key);
    } else {
      execution = {
        dataset,
        executionId: beacon.executionId,
        generation: generation ?? this.nextGeneration++,
        beacons: [],
        lastSeen: beacon.arrivedAt,
        bytes: EXECUTION_OVERHEAD_BYTES,
      };
      this.bytes += EXECUTION_OVERHEAD_BYTES;
    }
    const size = beaconBytes(beacon);
    execution.beacons.push(beacon);
    execution.bytes += size;
    execution.lastSeen = Math.max(execution.lastSeen, beacon.arrivedAt);
    this.bytes += size;
    this.open.set(key, execution);
    this.makeRoom(key);
    return { status: 'accepted', generation: execution.generation };
  }

  /** Closes the least recently seen executions (never `keep`) while either bound is passed. */
  private makeRoom(keep: string): void {
    if (this.open.size <= this.maxExecutions && this.bytes <= this.maxBytes) return;
    const closed: ClosedExecution[] = [];
    for (const [key, execution] of this.open) {
      if (this.open.size <= this.maxExecutions && this.bytes <= this.maxBytes) break;
      if (key === keep) continue;
      closed.push(this.remove(key, execution, 'memory'));
    }
    this.counts.closed_for_memory += closed.length;
    if (closed.length > 0) this.options.onClose(closed);
  }

  private remove(key: string, execution: OpenExecution, closedBy: CloseReason): ClosedExecution {
    this.open.delete(key);
    this.bytes -= execution.bytes;
    const { dataset, executionId, generation, beacons } = execution;
    return { dataset, executionId, generation, beacons, closedBy };
  }
}

function beaconBytes(beacon: Beacon): number {
  return BEACON_OVERHEAD_BYTES + beacon.fields.length + beacon.executionId.length;
}
