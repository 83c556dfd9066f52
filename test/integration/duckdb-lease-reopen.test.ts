/**
 * A DuckDB control file is open in one process at a time, so a lease found in it at open belongs
 * to a server that is gone (killed with -9): the next server takes the canary controller's lease
 * at once, at the next epoch, instead of waiting out the dead holder's lease time. Renewals, once
 * a second by the canary controller, stay in the store's memory: the file is not written.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
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

it('renews a lease without writing the file, and still fences by the epoch the file holds', async () => {
  const path = join(dir, 'renewals.duckdb');
  const now = Date.UTC(2026, 11, 6, 5, 0, 0);
  const store = await openControlStore({ path });
  const sizes = async (): Promise<number[]> =>
    Promise.all(
      [path, `${path}.wal`].map((file) =>
        stat(file).then(
          (s) => s.size,
          () => -1,
        ),
      ),
    );
  try {
    const leases = store.leaseStore();
    expect(await leases.acquireLease('canary-controller', 'server-a', now, 3_000)).toMatchObject({ epoch: 1 });
    const before = await sizes();
    for (let tick = 1; tick <= 30; tick++) {
      const renewed = await leases.acquireLease('canary-controller', 'server-a', now + tick * 1_000, 3_000);
      expect(renewed).toEqual({ name: 'canary-controller', holder: 'server-a', epoch: 1, expiresAt: now + tick * 1_000 + 3_000 });
    }
    expect(await sizes()).toEqual(before);
    // Another lease store of the same control store sees the renewed expiry, not the one written.
    expect(await store.leaseStore().readLease('canary-controller')).toMatchObject({ expiresAt: now + 33_000 });
    expect(await store.leaseStore().acquireLease('canary-controller', 'server-b', now + 32_000, 3_000)).toMatchObject({
      holder: 'server-a',
    });
    // Past the renewed expiry another holder takes it, at the next epoch, and a fence of the old one is refused.
    expect(await store.leaseStore().acquireLease('canary-controller', 'server-b', now + 33_000, 3_000)).toMatchObject({
      holder: 'server-b',
      epoch: 2,
    });
    const canaries = store.canaryStore();
    const canary = { id: 'c1', flag: 'f', revision: 1, body: '{}' };
    await expect(canaries.saveCanary(canary, null, { lease: 'canary-controller', epoch: 1 })).rejects.toMatchObject({ code: 'conflict' });
    await canaries.saveCanary(canary, null, { lease: 'canary-controller', epoch: 2 });
    expect((await canaries.listCanaries()).map((c) => c.id)).toEqual(['c1']);
  } finally {
    await store.close();
  }
});
