/**
 * The canary store: one row per canary in the control database (`control.duckdb`), its body the
 * canary service's JSON (plan, state, timeline), guarded by the state's revision so two writers
 * never lose an update. Appended to the control store's migrations.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { FlagscopeError } from '../../errors.js';
import type { CanaryStore, LeaseFence, StoredCanary } from '../types.js';
import { checkFence } from './lease-store.js';

/** The table the canary store adds to the control database. */
export const CANARY_MIGRATIONS: readonly string[] = [
  `CREATE TABLE canaries (
     id VARCHAR NOT NULL,
     flag VARCHAR NOT NULL,
     seq BIGINT NOT NULL,
     revision BIGINT NOT NULL,
     body VARCHAR NOT NULL
   )`,
];

/** Runs an operation on the control database's connection, after every other operation on it. */
export type ExclusiveRunner = <T>(operation: (connection: DuckDBConnection) => Promise<T>) => Promise<T>;

/** A canary store over the control database's connection. */
export function createDuckDbCanaryStore(runExclusive: ExclusiveRunner): CanaryStore {
  return {
    listCanaries: () =>
      runExclusive(async (c) => {
        const reader = await c.runAndReadAll('SELECT id, flag, revision, body FROM canaries ORDER BY seq');
        return reader.getRows().map(([id, flag, revision, body]) => ({
          id: String(id),
          flag: String(flag),
          revision: Number(revision),
          body: String(body),
        }));
      }),

    saveCanary: (canary: StoredCanary, expectedRevision: number | null, fence?: LeaseFence) =>
      runExclusive(async (c) => {
        await c.run('BEGIN TRANSACTION');
        try {
          await checkFence(c, fence);
          const reader = await c.runAndReadAll('SELECT revision FROM canaries WHERE id = $1', [canary.id]);
          const row = reader.getRows()[0];
          const stored = row === undefined ? null : Number(row[0]);
          if (stored !== expectedRevision) {
            throw new FlagscopeError(
              'conflict',
              `the canary of ${canary.flag} changed while this change was being made`,
              `see \`flagscope canary status ${canary.flag}\` and try again`,
            );
          }
          if (row === undefined) {
            await c.run('INSERT INTO canaries SELECT $1, $2, coalesce(max(seq), 0) + 1, $3, $4 FROM canaries', [
              canary.id,
              canary.flag,
              BigInt(canary.revision),
              canary.body,
            ]);
          } else {
            await c.run('UPDATE canaries SET revision = $2, body = $3 WHERE id = $1', [canary.id, BigInt(canary.revision), canary.body]);
          }
          await c.run('COMMIT');
        } catch (e) {
          await c.run('ROLLBACK');
          throw e;
        }
      }),
  };
}
