import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { examples, lazyAction } from '../registration.js';

/** Registers `flagscope events send`. */
export function registerEvents(program: Command, state: RunState): void {
  const events = program
    .command('events')
    .description('send events')
    .addHelpText('after', examples(['flagscope events send checkout events.ndjson']));
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
}
