import { FlagscopeError } from '../../errors.js';
import type { DemoOptions } from './run.js';
import type { Verb } from '../registration.js';

/** `flagscope demo`: hands over to `runDemo` of `src/demo/run.ts`, which runs its commands through `runCli`. */
export const demoVerb =
  (runCli: DemoOptions['runCli']): Verb =>
  async (env, _args, options) => {
    const demoOptions: DemoOptions = { color: env.color, quiet: env.quiet, verbose: env.verbose, keep: options.keep === true };
    if (runCli !== undefined) demoOptions.runCli = runCli;
    if (options.events !== undefined) demoOptions.events = wholeNumber(options.events, '--events');
    if (options.seed !== undefined) demoOptions.seed = wholeNumber(options.seed, '--seed');
    if (typeof options.export === 'string') {
      const { exportDemoEvents } = await import('./export.js');
      return exportDemoEvents(env.ctx, {
        file: options.export,
        events: demoOptions.events ?? 200_000,
        seed: demoOptions.seed ?? 42,
        quiet: env.quiet,
      });
    }
    const { runDemo } = await import('./run.js');
    return runDemo(env.ctx, demoOptions);
  };

function wholeNumber(value: unknown, flag: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n))
    throw new FlagscopeError('usage', `\`${flag} ${String(value)}\` is not a whole number`, `pass e.g. \`${flag} 1000\``);
  return n;
}
