/** How many ingest worker threads a server starts by default (src/server/index.ts). */
import { describe, expect, it } from 'vitest';
import { defaultIngestWorkers } from '../../../src/server/index.js';

describe('defaultIngestWorkers', () => {
  it('none on one CPU: batches are parsed on the main thread', () => {
    expect(defaultIngestWorkers(1)).toBe(0);
  });

  it('one per CPU beside the main thread: 1 on 2 CPUs, 3 on 4', () => {
    expect(defaultIngestWorkers(2)).toBe(1);
    expect(defaultIngestWorkers(4)).toBe(3);
  });

  it('at most 4', () => {
    expect(defaultIngestWorkers(16)).toBe(4);
  });
});
