/**
 * Datasets' beacon settings (allowed origins, execution id field): one row per dataset in the
 * control database, its body the server's JSON. Appended to the control store's migrations.
 */
import type { BeaconSettingsStore } from '../types.js';
import type { ExclusiveRunner } from './canary-store.js';

/** The table the beacon settings add to the control database. */
export const BEACON_SETTINGS_MIGRATIONS: readonly string[] = [
  'CREATE TABLE beacon_settings (dataset VARCHAR PRIMARY KEY, body VARCHAR NOT NULL)',
];

/** A beacon settings store over the control database's connection. */
export function createDuckDbBeaconSettingsStore(runExclusive: ExclusiveRunner): BeaconSettingsStore {
  return {
    listBeaconSettings: () =>
      runExclusive(async (c) => {
        const reader = await c.runAndReadAll('SELECT dataset, body FROM beacon_settings ORDER BY dataset');
        return reader.getRows().map(([dataset, body]) => ({ dataset: String(dataset), body: String(body) }));
      }),
    saveBeaconSettings: (dataset: string, body: string) =>
      runExclusive(async (c) => {
        await c.run('INSERT OR REPLACE INTO beacon_settings VALUES ($1, $2)', [dataset, body]);
      }),
  };
}
