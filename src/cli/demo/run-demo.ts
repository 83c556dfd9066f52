import type { Context } from '../../context.js';
import type { Verb } from '../lazy-action.js';

/** Options `flagscope demo` hands to `runDemo` of `src/demo/run.ts`. */
export interface DemoCommandOptions {
  color: boolean;
  quiet: boolean;
  verbose: boolean;
}

type RunDemo = (ctx: Context, options: DemoCommandOptions) => Promise<number | void>;

/** `flagscope demo`: hands over to the demo module. */
export const demo: Verb = async (env) => {
  const { runDemo } = (await import(demoModule)) as { runDemo: RunDemo };
  return (await runDemo(env.ctx, { color: env.color, quiet: env.quiet, verbose: env.verbose })) ?? 0;
};

// Resolved at run time so the CLI builds while the demo module is being written.
const demoModule: string = '../../demo/run.js';
