/**
 * The beacons' write-ahead file (src/server/beacons/beacon-log.ts): what was appended and not
 * marked stored is read back after a crash, a torn last line is skipped, and the file is
 * rewritten with only what is still open.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Beacon } from '../../../src/ingest/beacons/beacon.js';
import { BeaconLog } from '../../../src/server/beacons/beacon-log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function path(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flagscope-beacon-log-'));
  dirs.push(dir);
  return join(dir, 'beacons.wal');
}

const beacon = (executionId: string, phase: Beacon['phase'], seq: number | undefined, arrivedAt: number): Beacon => ({
  executionId,
  phase,
  seq,
  pageTime: undefined,
  arrivedAt,
  fields: JSON.stringify({ execution_id: executionId, note: 'ü "quoted"\n' }),
});

describe('BeaconLog', () => {
  it('reads back the beacons of executions not marked stored, in order; a torn last line is skipped', () => {
    const file = path();
    const { log, replay } = BeaconLog.open(file);
    expect(replay).toEqual({ held: [], skippedLines: 0 });
    log.append([
      { dataset: 'web', generation: 1, beacon: beacon('a', 'start', 0, 10) },
      { dataset: 'web', generation: 2, beacon: beacon('b', 'start', undefined, 11) },
    ]);
    log.append([{ dataset: 'web', generation: 1, beacon: beacon('a', 'end', 1, 12) }]);
    log.markStored([1]);
    log.append([{ dataset: 'shop', generation: 3, beacon: beacon('c', 'update', 4, 13) }]);
    // The process dies in the middle of a write.
    appendFileSync(file, '["b",4,"web","d","st');

    const reopened = BeaconLog.open(file);
    expect(reopened.replay.skippedLines).toBe(1);
    expect(reopened.replay.held).toEqual([
      { dataset: 'web', generation: 2, beacon: beacon('b', 'start', undefined, 11) },
      { dataset: 'shop', generation: 3, beacon: beacon('c', 'update', 4, 13) },
    ]);
    // Reopening rewrote the file with what was read back alone.
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(2);
    reopened.log.close([]);
    expect(statSync(file).size).toBe(0);
    const last = BeaconLog.open(file);
    expect(last.replay.held).toEqual([]);
    last.log.close([]);
  });
});
