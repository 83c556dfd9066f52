import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { examples, lazyAction } from '../registration.js';

/** Registers `flagscope serve`. */
export function registerServe(program: Command, state: RunState): void {
  const cmd = program
    .command('serve')
    .description('run the embedded server: ingest, query, flags, OFREP')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', '7070')
    .option('--data-dir <dir>', 'data directory (default $XDG_DATA_HOME/flagscope)')
    .option('--store <url>', 'where the stores are, as a store URL: duckdb:DIR (default duckdb:<data-dir>)')
    .option(
      '--control-store <url>',
      'keys, flags, history, canaries: duckdb:DIR or postgres://USER:PASSWORD@HOST:PORT/DB (env FLAGSCOPE_CONTROL_STORE; default the data directory)',
    )
    .option(
      '--event-store <url>',
      'events: duckdb:DIR, clickhouse://USER:PASSWORD@HOST:8123/DB or chdb:DIR (env FLAGSCOPE_EVENT_STORE; default the data directory)',
    )
    .option('--check-stores', 'connect to the stores, create or migrate their schemas, print what they hold, and exit')
    .option(
      '--migrate-from <url>',
      "copy an embedded installation's flags (with history), API keys, canaries and beacon settings from duckdb:DIR into the empty PostgreSQL `--control-store`, and exit",
    )
    .option(
      '--ingest-workers <n>',
      'threads that parse large /1/batch bodies and decode OTLP exports (default: one per CPU beside the main one, at most 4; 0: none)',
    )
    .option('--retention <period>', "default retention of every dataset, e.g. 30d (default: forever); a dataset's own setting wins")
    .option(
      '--beacon-window <duration>',
      "how long after an execution's last beacon it is stitched and stored, e.g. 30s (default 30s; 500ms to 1h)",
    )
    .addHelpText(
      'after',
      examples([
        'flagscope serve',
        'flagscope serve --port 0 --data-dir ./data --verbose',
        'flagscope serve --store duckdb:/var/lib/flagscope',
        'flagscope serve --ingest-workers 2',
        'flagscope serve --retention 30d',
        'flagscope serve --beacon-window 1m',
        'flagscope serve --control-store postgres://flagscope:secret@db:5432/flagscope --event-store duckdb:/var/lib/flagscope',
        'flagscope serve --control-store postgres://flagscope:secret@db:5432/flagscope --check-stores',
        'flagscope serve --control-store postgres://flagscope:secret@db:5432/flagscope --migrate-from duckdb:/var/lib/flagscope',
      ]),
    );
  lazyAction(cmd, state, async () => (await import('./run-serve.js')).serve);
}
