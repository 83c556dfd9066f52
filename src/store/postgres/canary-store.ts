/**
 * Canaries in PostgreSQL: one row per canary, its body the canary service's JSON, guarded by its
 * revision. A save is one compare-and-set statement, so of two replicas saving over the same
 * revision exactly one wins and the other gets `conflict`.
 */
import type pg from 'pg';
import { FlagscopeError } from '../../errors.js';
import type { BeaconSettingsStore, CanaryStore, LeaseFence, StoredCanary } from '../types.js';
import { checkFence } from './lease-store.js';
import type { PgRunner } from './runner.js';

export function createPgCanaryStore(run: PgRunner): CanaryStore {
  return {
    listCanaries: () =>
      run(async (c) => {
        const result = await c.query<{ id: string; flag: string; revision: string; body: string }>(
          'SELECT id, flag, revision, body FROM canaries ORDER BY seq',
        );
        return result.rows.map((r) => ({ id: r.id, flag: r.flag, revision: Number(r.revision), body: r.body }));
      }),

    saveCanary: (canary: StoredCanary, expectedRevision: number | null, fence?: LeaseFence) =>
      run(async (c) => {
        // A controller's decision: the lease is checked (and held against a takeover) in the save's transaction.
        if (fence !== undefined) await c.query('BEGIN');
        try {
          await checkFence(c, fence);
          await saveOnce(c, canary, expectedRevision);
          if (fence !== undefined) await c.query('COMMIT');
        } catch (e) {
          if (fence !== undefined) await c.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      }),
  };
}

/** The compare-and-set save of one canary: one statement. */
async function saveOnce(c: pg.ClientBase, canary: StoredCanary, expectedRevision: number | null): Promise<void> {
  const result =
    expectedRevision === null
      ? await c.query('INSERT INTO canaries (id, flag, revision, body) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING', [
          canary.id,
          canary.flag,
          canary.revision,
          canary.body,
        ])
      : await c.query('UPDATE canaries SET revision = $2, body = $3 WHERE id = $1 AND revision = $4', [
          canary.id,
          canary.revision,
          canary.body,
          expectedRevision,
        ]);
  if (result.rowCount !== 1) {
    throw new FlagscopeError(
      'conflict',
      `the canary of ${canary.flag} changed while this change was being made`,
      `see \`flagscope canary status ${canary.flag}\` and try again`,
    );
  }
}

/** Datasets' beacon settings: one row per dataset, replaced whole. */
export function createPgBeaconSettingsStore(run: PgRunner): BeaconSettingsStore {
  return {
    listBeaconSettings: () =>
      run(
        async (c) => (await c.query<{ dataset: string; body: string }>('SELECT dataset, body FROM beacon_settings ORDER BY dataset')).rows,
      ),
    saveBeaconSettings: (dataset: string, body: string) =>
      run(async (c) => {
        await c.query(
          'INSERT INTO beacon_settings (dataset, body) VALUES ($1, $2) ON CONFLICT (dataset) DO UPDATE SET body = excluded.body',
          [dataset, body],
        );
      }),
  };
}
