/**
 * Leases in the control database: one row per lease name with its holder, epoch and expiry. One
 * process owns a DuckDB file, so the embedded server always wins its own lease; the epochs are
 * kept all the same, so the canary controller writes the same fenced way on every engine (and
 * several servers sharing one store in a process, as the replica tests do, take turns).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { staleLease } from '../lease.js';
import type { Lease, LeaseFence, LeaseStore } from '../types.js';
import type { ExclusiveRunner } from './flag-store.js';

/** The table the lease store adds to the control database. */
export const LEASE_MIGRATIONS: readonly string[] = [
  `CREATE TABLE leases (
     name VARCHAR PRIMARY KEY,
     holder VARCHAR NOT NULL,
     epoch BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   )`,
];

function rowToLease(row: readonly unknown[]): Lease {
  return { name: String(row[0]), holder: String(row[1]), epoch: Number(row[2]), expiresAt: Number(row[3]) };
}

async function readLease(c: DuckDBConnection, name: string): Promise<Lease | undefined> {
  const reader = await c.runAndReadAll('SELECT name, holder, epoch, expires_at FROM leases WHERE name = $1', [name]);
  const row = reader.getRows()[0];
  return row === undefined ? undefined : rowToLease(row);
}

/** Throws `conflict` unless the fence's lease still has its epoch (call inside the write's transaction). */
export async function checkFence(c: DuckDBConnection, fence: LeaseFence | undefined): Promise<void> {
  if (fence === undefined) return;
  const lease = await readLease(c, fence.lease);
  if (lease?.epoch !== fence.epoch) throw staleLease(fence, lease?.epoch);
}

/** A lease store over the control database's connection. */
export function createDuckDbLeaseStore(runExclusive: ExclusiveRunner): LeaseStore {
  return {
    acquireLease: (name, holder, now, ttlMs) =>
      runExclusive(async (c) => {
        await c.run('BEGIN TRANSACTION');
        try {
          const lease = await readLease(c, name);
          const expiresAt = Math.trunc(now + ttlMs);
          let result: Lease;
          if (lease === undefined) {
            result = { name, holder, epoch: 1, expiresAt };
            await c.run('INSERT INTO leases VALUES ($1, $2, 1, $3)', [name, holder, BigInt(expiresAt)]);
          } else if (lease.holder === holder || lease.expiresAt <= now) {
            result = { name, holder, epoch: lease.holder === holder ? lease.epoch : lease.epoch + 1, expiresAt };
            await c.run('UPDATE leases SET holder = $2, epoch = $3, expires_at = $4 WHERE name = $1', [
              name,
              holder,
              BigInt(result.epoch),
              BigInt(expiresAt),
            ]);
          } else result = lease;
          await c.run('COMMIT');
          return result;
        } catch (e) {
          await c.run('ROLLBACK');
          throw e;
        }
      }),

    readLease: (name) => runExclusive((c) => readLease(c, name)),

    releaseLease: (name, holder) =>
      runExclusive(async (c) => {
        await c.run('UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2', [name, holder]);
      }),
  };
}
