import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { collect, examples, lazyAction } from '../registration.js';

/** Registers `flagscope datasets`, `datasets delete NAME`, `datasets retention NAME [PERIOD]` and `datasets beacons NAME`. */
export function registerDatasets(program: Command, state: RunState): void {
  const cmd = program
    .command('datasets')
    .description('list datasets: events, columns, time span, size on disk, retention')
    .addHelpText(
      'after',
      examples([
        'flagscope datasets',
        'flagscope datasets --json',
        'flagscope datasets --format csv',
        'flagscope datasets delete old-service --yes',
        'flagscope datasets retention checkout 30d',
        'flagscope datasets beacons web --allow-origin https://shop.example',
      ]),
    );
  lazyAction(cmd, state, async () => (await import('./list-datasets.js')).listDatasets);
  const remove = cmd
    .command('delete')
    .description('delete a dataset and all its events (needs an admin key); asks for the name on a terminal')
    .argument('<dataset>', 'the dataset to delete')
    .option('--yes', 'delete without asking (required when not on a terminal)')
    .option('--force', 'delete even when a canary in flight measures the dataset: the canary is rolled back to 0%')
    .addHelpText(
      'after',
      examples([
        'flagscope datasets delete old-service',
        'flagscope datasets delete old-service --yes',
        'flagscope datasets delete shop --yes --force',
      ]),
    );
  lazyAction(remove, state, async () => (await import('./dataset-verbs.js')).deleteDatasetVerb);
  const retention = cmd
    .command('retention')
    .description("show or set how long a dataset's events are kept (needs an admin key to set)")
    .argument('<dataset>', 'the dataset')
    .argument('[period]', "a duration (30d, 12w, 36h; at least 1h), `forever`, or `default` (the server's `--retention`)")
    .addHelpText(
      'after',
      examples([
        'flagscope datasets retention checkout',
        'flagscope datasets retention checkout 30d',
        'flagscope datasets retention checkout forever',
        'flagscope datasets retention checkout default',
      ]),
    );
  lazyAction(retention, state, async () => (await import('./dataset-verbs.js')).retentionVerb);
  const beacons = cmd
    .command('beacons')
    .description("show or set a dataset's browser beacon settings: allowed page origins, execution id field (needs an admin key to set)")
    .argument('<dataset>', 'the dataset')
    .option('--allow-origin <url>', 'an origin whose pages may send beacons (repeatable; replaces the list; `none` empties it)', collect)
    .option('--execution-id-field <field>', "the field holding each beacon's execution id (default execution_id)")
    .addHelpText(
      'after',
      examples([
        'flagscope datasets beacons web',
        'flagscope datasets beacons web --allow-origin https://shop.example --allow-origin https://www.shop.example',
        'flagscope datasets beacons web --execution-id-field page.view_id',
        'flagscope datasets beacons web --allow-origin none',
      ]),
    );
  lazyAction(beacons, state, async () => (await import('./beacon-settings.js')).beaconSettingsVerb);
}
