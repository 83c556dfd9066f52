/**
 * A DuckDB control file is open in one process at a time, so a lease found in it at open belongs
 * to a server that is gone (killed with -9): the next server takes the canary controller's lease
 * at once, at the next epoch, instead of waiting out the dead holder's lease time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openControlStore } from '../../src/store/duckdb/control-store.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-lease-reopen-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('expires the leases a previous process held, keeping their epochs', async () => {
  const path = join(dir, 'control.duckdb');
  const now = Date.UTC(2026, 11, 6, 4, 0, 0);
  const first = await openControlStore({ path });
  const held = await first.leaseStore().acquireLease('canary-controller', 'dead-server', now, 60_000);
  expect(held).toMatchObject({ holder: 'dead-server', epoch: 1 });
  // While the file is open the lease holds against another holder.
  expect(await first.leaseStore().acquireLease('canary-controller', 'other', now + 1000, 60_000)).toMatchObject({ holder: 'dead-server' });
  await first.close();

  const second = await openControlStore({ path });
  try {
    const taken = await second.leaseStore().acquireLease('canary-controller', 'new-server', now + 2000, 60_000);
    expect(taken).toMatchObject({ holder: 'new-server', epoch: 2 });
  } finally {
    await second.close();
  }
});
