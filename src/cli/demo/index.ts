import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { examples, lazyAction } from '../registration.js';

/** Registers `flagscope demo`. */
export function registerDemo(program: Command, state: RunState): void {
  const cmd = program
    .command('demo')
    .description('start a server with realistic seeded data and walk through what flagscope does')
    .option('--events <n>', 'events to generate (default 200,000)')
    .option('--seed <n>', 'seed of the data generator (default 42)')
    .option('--keep', 'keep the data directory and print how to serve it')
    .option('--export <file>', 'write the generated events to FILE as NDJSON (`-` for stdout) and stop; no server, no walkthrough')
    .addHelpText(
      'after',
      examples([
        'flagscope demo',
        'flagscope demo --events 20000 --no-color | less -R',
        'flagscope demo --keep',
        'flagscope demo --export events.ndjson --events 50000',
      ]),
    );
  lazyAction(cmd, state, async () => (await import('./run-demo.js')).demoVerb(state.runCli));
}
