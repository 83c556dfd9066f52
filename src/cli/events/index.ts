import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { collect, examples, lazyAction } from '../registration.js';

/** Registers `flagscope events send|list|tail`. */
export function registerEvents(program: Command, state: RunState): void {
  const events = program
    .command('events')
    .description('send, list and follow events')
    .addHelpText(
      'after',
      examples([
        'flagscope events send checkout events.ndjson',
        "flagscope events list checkout --where 'status_code >= 500' --since 30m",
        'flagscope events tail checkout',
      ]),
    );
  const send = events
    .command('send')
    .description('send NDJSON events from a file or stdin, in batches (exit 2 if any line is rejected)')
    .argument('<dataset>', 'dataset to send to (created on first event)')
    .argument('[file]', 'NDJSON file; `-` or nothing reads stdin')
    .option('--batch-size <n>', 'events per batch (at most 4 MB per batch)', '1000')
    .option('--concurrency <n>', 'batches in flight', '4')
    .addHelpText(
      'after',
      examples([
        'flagscope events send checkout events.ndjson',
        'gzip -dc events.ndjson.gz | flagscope events send checkout -',
        `echo '{"data": {"duration_ms": 12}, "time": "2026-01-01T00:00:00Z", "samplerate": 10}' | flagscope events send checkout`,
      ]) +
        '\nEach line is an event object, or {"data": {...}, "time": ..., "samplerate": N}.\n' +
        'Invalid lines are reported with their line numbers and not sent.\n',
    );
  lazyAction(send, state, async () => (await import('./send-events.js')).sendEvents);
  registerEventReaders(events, state);
}

function addEventOptions(command: Command): Command {
  return command
    .option('--where <filter>', "filter, as in `query`, e.g. 'status_code >= 500' (repeatable; all must match)", collect)
    .option('--any', 'match events where any `--where` filter matches instead of all')
    .option(
      '--columns <columns>',
      'columns to show, comma-separated (repeatable); default: the telling ones that fit, or every field when piped',
      collect,
    );
}

/** Registers `flagscope events list` and `flagscope events tail` under `events`. */
export function registerEventReaders(events: Command, state: RunState): void {
  const list = addEventOptions(
    events
      .command('list')
      .description('stored events, newest first: a table on a terminal, every field with --format ndjson|csv|json')
      .argument('<dataset>', 'dataset to read'),
  )
    .option('--since <duration>', 'time range ending now, e.g. 15m, 2h, 7d (default 2h)')
    .option('--start <time>', 'start of the time range (ISO-8601, Unix seconds, or a duration ago)')
    .option('--end <time>', 'end of the time range (default now)')
    .option('--limit <n>', 'most events to show (default 100, at most 1000)')
    .addHelpText(
      'after',
      examples([
        'flagscope events list checkout',
        "flagscope events list checkout --where 'status_code >= 500' --columns service.name,http.route,duration_ms --limit 20",
        'flagscope events list checkout --since 10m --format ndjson > recent.ndjson',
        "flagscope events list checkout --where 'trace.trace_id = abc123' --json",
      ]),
    );
  lazyAction(list, state, async () => (await import('./list-events.js')).listEvents);
  const tail = addEventOptions(
    events
      .command('tail')
      .description('follow events as they are stored, until Ctrl-C; one line (or NDJSON record) per event')
      .argument('<dataset>', 'dataset to follow'),
  )
    .option('--last <n>', 'first show the newest N stored events (of the last 2 hours)', '0')
    .addHelpText(
      'after',
      `${examples([
        'flagscope events tail checkout',
        "flagscope events tail checkout --where 'status_code >= 500' --columns service.name,duration_ms",
        "flagscope events tail checkout --format ndjson | jq -c '.data'",
      ])}\nEvery event stored after the start is printed once, in the order stored, whatever its event time.\n`,
    );
  lazyAction(tail, state, async () => (await import('./tail-events.js')).tailEvents);
}
