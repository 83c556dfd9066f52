/**
 * What a deploy pipeline and an operator do to stores without serving: `serve --check-stores`
 * (connect, migrate, count) and `serve --migrate-from duckdb:DIR` (copy an embedded
 * installation's control data into an empty PostgreSQL control store).
 */
import { FlagscopeError } from '../errors.js';
import { openControlStoreAt, openStoresAt, parseControlStoreUrl, parseEventStoreUrl, redactStoreUrl } from '../store/factory.js';
import type { ControlStore, FlagChange, Lease } from '../store/types.js';
import { CANARY_LEASE } from './canaries/controller-job.js';

/** What `--check-stores` found. */
export interface StoresCheck {
  control: {
    engine: string;
    /** The URL, its password hidden. */
    location: string;
    configVersion: number;
    flags: number;
    apiKeys: number;
    validApiKeys: number;
    canaries: number;
    /** The canary controller's lease, or null when no replica has led yet. */
    controllerLease: Lease | null;
  };
  events: { engine: string; location: string; datasets: number };
}

/** Opens both stores (creating and migrating their schemas), counts what they hold, and closes them. */
export async function checkStores(where: { control: string; events: string }, log?: (line: string) => void): Promise<StoresCheck> {
  const stores = await openStoresAt(where, { ingestWorkers: 0, controlPollMs: 0, ...(log === undefined ? {} : { log }) });
  try {
    const { control, events } = stores;
    const [keys, { flags, configVersion }, canaries, lease, datasets] = await Promise.all([
      control.listApiKeys(),
      control.flagStore().loadFlags(),
      control.canaryStore().listCanaries(),
      control.leaseStore().readLease(CANARY_LEASE),
      events.listDatasets(),
    ]);
    return {
      control: {
        engine: parseControlStoreUrl(where.control).engine,
        location: redactStoreUrl(where.control),
        configVersion,
        flags: flags.length,
        apiKeys: keys.length,
        validApiKeys: keys.filter((k) => k.revoked_at === null).length,
        canaries: canaries.length,
        controllerLease: lease ?? null,
      },
      events: { engine: parseEventStoreUrl(where.events).engine, location: redactStoreUrl(where.events), datasets: datasets.length },
    };
  } finally {
    await stores.close();
  }
}

/** What `--migrate-from` copied. */
export interface MigrationSummary {
  from: string;
  to: string;
  flags: number;
  /** Flag changes copied: every version of every flag, presses included, with who, why and when. */
  flagChanges: number;
  apiKeys: number;
  revokedApiKeys: number;
  canaries: number;
  beaconSettings: number;
  configVersion: number;
}

/**
 * Copies everything a `duckdb:DIR` control store holds into the (PostgreSQL) control store `to`:
 * every flag change in order (so versions, history and presses come across as they were), API
 * keys by their hashes (revoked ones revoked), canaries with their plans, states and timelines,
 * and beacon settings. Refuses, changing nothing, when `to` already holds any of these.
 */
export async function migrateControlStore(from: string, to: string, log?: (line: string) => void): Promise<MigrationSummary> {
  const source = parseControlStoreUrl(from);
  if (source.engine !== 'duckdb') {
    throw new FlagscopeError(
      'usage',
      `\`--migrate-from ${redactStoreUrl(from)}\` is not an embedded store`,
      'pass `--migrate-from duckdb:DIR`, the data directory of the installation to move',
    );
  }
  if (parseControlStoreUrl(to).engine !== 'postgres') {
    throw new FlagscopeError(
      'usage',
      '`--migrate-from` moves an embedded installation into PostgreSQL',
      'pass `--control-store postgres://…` too',
    );
  }
  const { existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  if (!existsSync(join(source.dir, 'control.duckdb'))) {
    throw new FlagscopeError(
      'usage',
      `${source.dir} holds no flagscope control store (control.duckdb)`,
      'pass the data directory of the installation to move (`--data-dir` of its `flagscope serve`)',
    );
  }
  const options = { pollMs: 0, ...(log === undefined ? {} : { log }) };
  const target = await openControlStoreAt(to, options);
  try {
    await refuseUnlessEmpty(target, to);
    const origin = await openControlStoreAt(from, options);
    try {
      return await copyControl(origin, target, from, to);
    } finally {
      await origin.close();
    }
  } finally {
    await target.close();
  }
}

async function refuseUnlessEmpty(target: ControlStore, to: string): Promise<void> {
  const [version, keys, canaries, settings] = await Promise.all([
    target.currentVersion(),
    target.listApiKeys(),
    target.canaryStore().listCanaries(),
    target.beaconSettingsStore().listBeaconSettings(),
  ]);
  if (version > 0 || keys.length > 0 || canaries.length > 0 || settings.length > 0) {
    throw new FlagscopeError(
      'conflict',
      `the control store ${redactStoreUrl(to)} already holds data (config version ${version}, ${keys.length} API keys, ${canaries.length} canaries): nothing was copied`,
      'migrate into a new, empty database (`createdb`), or drop this one first if its data is not needed',
    );
  }
}

async function copyControl(origin: ControlStore, target: ControlStore, from: string, to: string): Promise<MigrationSummary> {
  const changes = await origin.changesSince(0);
  const flagChanges: FlagChange[] = changes.flatMap((c) => (c.kind === 'flag' ? [c.change] : []));
  const keys = await origin.listApiKeys();
  let configVersion = 0;
  // Keys first, each as it was created; then every flag change in its order; then revocations.
  for (const key of keys) {
    const created = await target.createApiKey({
      id: key.id,
      name: key.name,
      hash: key.hash,
      scopes: key.scopes,
      created_at: key.created_at,
      created_by: key.created_by,
    });
    configVersion = created.configVersion;
  }
  if (flagChanges.length > 0) configVersion = await target.flagStore().commitFlagChanges(flagChanges);
  for (const key of keys) {
    if (key.revoked_at === null) continue;
    configVersion = (await target.revokeApiKey(key.id, key.revoked_at))?.configVersion ?? configVersion;
  }
  const canaries = await origin.canaryStore().listCanaries();
  for (const canary of canaries) await target.canaryStore().saveCanary(canary, null);
  const settings = await origin.beaconSettingsStore().listBeaconSettings();
  for (const { dataset, body } of settings) await target.beaconSettingsStore().saveBeaconSettings(dataset, body);
  return {
    from: redactStoreUrl(from),
    to: redactStoreUrl(to),
    flags: new Set(flagChanges.map((c) => c.after.key)).size,
    flagChanges: flagChanges.length,
    apiKeys: keys.length,
    revokedApiKeys: keys.filter((k) => k.revoked_at !== null).length,
    canaries: canaries.length,
    beaconSettings: settings.length,
    configVersion,
  };
}
