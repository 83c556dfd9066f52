/**
 * Leases in PostgreSQL: one row per lease name. Taking or renewing a lease is one
 * `INSERT … ON CONFLICT DO UPDATE … WHERE` statement, so of replicas racing for a lapsed lease
 * exactly one gets it, with the next epoch. A fenced write reads the lease row `FOR SHARE` in the
 * write's own transaction: a takeover waits for the write to commit, and a write after a takeover
 * sees the new epoch and is refused.
 */
import type pg from 'pg';
import { staleLease } from '../lease.js';
import type { Lease, LeaseFence, LeaseStore } from '../types.js';
import type { PgRunner } from './runner.js';

interface LeaseRow {
  name: string;
  holder: string;
  epoch: string;
  expires_at: string;
}

function rowToLease(row: LeaseRow): Lease {
  return { name: row.name, holder: row.holder, epoch: Number(row.epoch), expiresAt: Number(row.expires_at) };
}

/** Throws `conflict` unless the fence's lease still has its epoch; call inside the write's transaction. */
export async function checkFence(client: pg.ClientBase, fence: LeaseFence | undefined): Promise<void> {
  if (fence === undefined) return;
  const result = await client.query<{ epoch: string }>('SELECT epoch FROM leases WHERE name = $1 FOR SHARE', [fence.lease]);
  const epoch = result.rows[0] === undefined ? undefined : Number(result.rows[0].epoch);
  if (epoch !== fence.epoch) throw staleLease(fence, epoch);
}

export function createPgLeaseStore(run: PgRunner): LeaseStore {
  const readLease = (c: pg.ClientBase, name: string) =>
    c
      .query<LeaseRow>('SELECT name, holder, epoch, expires_at FROM leases WHERE name = $1', [name])
      .then((r) => (r.rows[0] === undefined ? undefined : rowToLease(r.rows[0])));
  return {
    acquireLease: (name, holder, now, ttlMs) =>
      run(async (c) => {
        const taken = await c.query<LeaseRow>(
          `INSERT INTO leases (name, holder, epoch, expires_at) VALUES ($1, $2, 1, $4)
           ON CONFLICT (name) DO UPDATE SET
             holder = excluded.holder,
             epoch = CASE WHEN leases.holder = excluded.holder THEN leases.epoch ELSE leases.epoch + 1 END,
             expires_at = excluded.expires_at
           WHERE leases.holder = excluded.holder OR leases.expires_at <= $3
           RETURNING name, holder, epoch, expires_at`,
          [name, holder, Math.trunc(now), Math.trunc(now + ttlMs)],
        );
        if (taken.rows[0] !== undefined) return rowToLease(taken.rows[0]);
        const held = await readLease(c, name);
        // Gone between the two statements (nothing deletes leases): nobody holds it now.
        return held ?? { name, holder: '', epoch: 0, expiresAt: 0 };
      }),

    readLease: (name) => run((c) => readLease(c, name)),

    releaseLease: (name, holder) =>
      run(async (c) => {
        await c.query('UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2', [name, holder]);
      }),
  };
}
