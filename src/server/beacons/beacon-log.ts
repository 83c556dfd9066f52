/**
 * The beacons' write-ahead file (`<data-dir>/beacons.wal`, docs/storage.md "Beacons"): every
 * beacon the server acknowledges is appended to it before the answer, and a mark is appended
 * once an execution's event is committed. At start the file is read back: the beacons of
 * executions without a mark are put back in the window, and the file is rewritten with them
 * alone. While the server runs it is rewritten the same way when it has grown well past what is
 * still open.
 *
 * Lines of JSON: `["b", generation, dataset, executionId, phase, seq, pageTime, arrivedAt, {fields}]`
 * for a beacon, `["s", generation, …]` for executions stored. Appends are plain writes (the
 * operating system has them when the process dies) and are flushed to disk (`fdatasync`) by
 * {@link BeaconLog.sync}, which the server calls every second.
 */
import { closeSync, fdatasync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import type { Beacon, BeaconPhase } from '../../ingest/beacons/beacon.js';

/** One beacon of the window as the file holds it. */
export interface LoggedBeacon {
  dataset: string;
  generation: number;
  beacon: Beacon;
}

/** What reading the file back found. */
export interface BeaconLogReplay {
  /** Beacons of executions not marked stored, in the order they arrived. */
  held: LoggedBeacon[];
  /** Lines that could not be read (a torn last line after a crash, or damage); skipped. */
  skippedLines: number;
}

/** The file is rewritten when it is past this many bytes and past {@link COMPACT_FACTOR} times what is open. */
const COMPACT_MIN_BYTES = 16 * 1024 * 1024;
const COMPACT_FACTOR = 4;

export class BeaconLog {
  private fd: number;
  private bytes: number;
  private dirty = false;
  private syncing = false;

  private constructor(
    private readonly path: string,
    fd: number,
    bytes: number,
  ) {
    this.fd = fd;
    this.bytes = bytes;
  }

  /** Opens (creating if missing) the file at `path` and reads back what it holds; then it is rewritten with only that. */
  static open(path: string): { log: BeaconLog; replay: BeaconLogReplay } {
    const replay = readLog(path);
    const log = new BeaconLog(path, -1, 0);
    log.rewrite(replay.held);
    return { log, replay };
  }

  /** Appends acknowledged beacons (one write). */
  append(entries: readonly LoggedBeacon[]): void {
    if (entries.length === 0) return;
    let text = '';
    for (const { dataset, generation, beacon: b } of entries) {
      // The fields are JSON text already: written as they are, not escaped into a string.
      text += `["b",${generation},${JSON.stringify(dataset)},${JSON.stringify(b.executionId)},"${b.phase}",${b.seq ?? null},${b.pageTime ?? null},${b.arrivedAt},${b.fields}]\n`;
    }
    this.write(text);
  }

  /** Marks executions stored: their beacons are not put back after a restart. */
  markStored(generations: readonly number[]): void {
    if (generations.length === 0) return;
    this.write(`${JSON.stringify(['s', ...generations])}\n`);
  }

  /** Flushes what was appended to disk, in the background (one at a time). */
  sync(): void {
    if (!this.dirty || this.syncing || this.fd < 0) return;
    this.dirty = false;
    this.syncing = true;
    fdatasync(this.fd, () => {
      this.syncing = false;
    });
  }

  /** Rewrites the file with `open` alone when it has grown past the compaction threshold for `openBytes`. */
  compactIfLarge(openBytes: number, open: () => LoggedBeacon[]): boolean {
    if (this.bytes < COMPACT_MIN_BYTES || this.bytes < COMPACT_FACTOR * openBytes) return false;
    this.rewrite(open());
    return true;
  }

  /** Bytes in the file. */
  get size(): number {
    return this.bytes;
  }

  /** Rewrites the file with `open` (empty when nothing is open) and closes it. */
  close(open: readonly LoggedBeacon[]): void {
    this.rewrite(open);
    closeSync(this.fd);
    this.fd = -1;
  }

  private write(text: string): void {
    const buffer = Buffer.from(text);
    let written = 0;
    while (written < buffer.length) written += writeSync(this.fd, buffer, written);
    this.bytes += buffer.length;
    this.dirty = true;
  }

  /** Writes `entries` to a new file, flushes it to disk and puts it in place of the old one. */
  private rewrite(entries: readonly LoggedBeacon[]): void {
    const next = `${this.path}.next`;
    const fd = openSync(next, 'w', 0o600);
    const old = this.fd;
    this.fd = fd;
    this.bytes = 0;
    try {
      this.append(entries);
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      this.fd = old;
      throw e;
    }
    renameSync(next, this.path);
    if (old >= 0) closeSync(old);
    this.dirty = false;
  }
}

/** Reads the file at `path` (missing: nothing held). */
function readLog(path: string): BeaconLogReplay {
  let text: string;
  try {
    if (!statSync(path).isFile()) return { held: [], skippedLines: 0 };
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { held: [], skippedLines: 0 };
    throw e;
  }
  const beacons: LoggedBeacon[] = [];
  const stored = new Set<number>();
  let skippedLines = 0;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const record = readLine(line);
    if (record === undefined) skippedLines++;
    else if (record.kind === 'stored') for (const generation of record.generations) stored.add(generation);
    else beacons.push(record.entry);
  }
  return { held: beacons.filter((entry) => !stored.has(entry.generation)), skippedLines };
}

type LogRecord = { kind: 'beacon'; entry: LoggedBeacon } | { kind: 'stored'; generations: number[] };

function readLine(line: string): LogRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (value[0] === 's') {
    const generations = value.slice(1);
    return generations.every((g) => Number.isSafeInteger(g)) ? { kind: 'stored', generations: generations as number[] } : undefined;
  }
  const [kind, generation, dataset, executionId, phase, seq, pageTime, arrivedAt, fields] = value as unknown[];
  const valid =
    kind === 'b' &&
    Number.isSafeInteger(generation) &&
    typeof dataset === 'string' &&
    typeof executionId === 'string' &&
    (phase === 'start' || phase === 'update' || phase === 'end') &&
    (seq === null || Number.isSafeInteger(seq)) &&
    (pageTime === null || typeof pageTime === 'number') &&
    typeof arrivedAt === 'number' &&
    typeof fields === 'object' &&
    fields !== null &&
    !Array.isArray(fields);
  if (!valid) return undefined;
  return {
    kind: 'beacon',
    entry: {
      dataset,
      generation: generation as number,
      beacon: {
        executionId,
        phase: phase as BeaconPhase,
        seq: seq === null ? undefined : (seq as number),
        pageTime: pageTime === null ? undefined : (pageTime as number),
        arrivedAt,
        fields: JSON.stringify(fields),
      },
    },
  };
}
