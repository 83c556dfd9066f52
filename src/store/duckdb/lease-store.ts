/**
 * Leases in the control database: one row per lease name with its holder, epoch and expiry. One
 * process owns a DuckDB file, so the embedded server always wins its own lease; the epochs are
 * kept all the same, so the canary controller writes the same fenced way on every engine (and
 * several servers sharing one store in a process, as the replica tests do, take turns).
 *
 * Because the process owns the file, the lease's expiry needs no disk: the store object keeps each
 * lease in memory ({@link LeaseMemory}, shared by every lease store of one control store) and
 * writes its row only when the holder or epoch changes (a takeover, a release). A renewal, once
 * a second by the canary controller, is then a memory update, not a write transaction and an
 * fsync every second of an idle server's life. The row's epoch is always the lease's, so the
 * fence of a write ({@link checkFence}) reads it in the write's transaction as before.
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

/** The leases of one control store as they are now, by name: the truth for expiry (the rows hold holder and epoch). */
export type LeaseMemory = Map<string, Lease>;

/** A lease store over the control database's connection, its leases' expiry kept in `memory`. */
export function createDuckDbLeaseStore(runExclusive: ExclusiveRunner, memory: LeaseMemory): LeaseStore {
  /** The lease now: from memory, else as its row says (the first use after opening). */
  const current = async (c: DuckDBConnection, name: string): Promise<Lease | undefined> => {
    const known = memory.get(name);
    if (known !== undefined) return known;
    const stored = await readLease(c, name);
    if (stored !== undefined) memory.set(name, stored);
    return stored;
  };
  return {
    acquireLease: (name, holder, now, ttlMs) =>
      runExclusive(async (c) => {
        const lease = await current(c, name);
        const expiresAt = Math.trunc(now + ttlMs);
        if (lease !== undefined && lease.holder === holder) {
          // A renewal: same holder, same epoch, as the row already says.
          const renewed = { ...lease, expiresAt };
          memory.set(name, renewed);
          return renewed;
        }
        if (lease !== undefined && lease.expiresAt > now) return lease;
        const taken: Lease = { name, holder, epoch: lease === undefined ? 1 : lease.epoch + 1, expiresAt };
        if (lease === undefined) await c.run('INSERT INTO leases VALUES ($1, $2, 1, $3)', [name, holder, BigInt(expiresAt)]);
        else
          await c.run('UPDATE leases SET holder = $2, epoch = $3, expires_at = $4 WHERE name = $1', [
            name,
            holder,
            BigInt(taken.epoch),
            BigInt(expiresAt),
          ]);
        memory.set(name, taken);
        return taken;
      }),

    readLease: (name) => runExclusive((c) => current(c, name)),

    releaseLease: (name, holder) =>
      runExclusive(async (c) => {
        const lease = await current(c, name);
        if (lease === undefined || lease.holder !== holder) return;
        await c.run('UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2', [name, holder]);
        memory.set(name, { ...lease, expiresAt: 0 });
      }),
  };
}
