/**
 * `flagscope demo --export FILE`: writes the demo's generated events as NDJSON batch items
 * (`{"time", "samplerate", "data"}`, what `flagscope events send` reads) instead of running the
 * walkthrough, so the closing tip's `events send` has a file to send.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import type { Context, OutStream } from '../../context.js';
import { DEMO_DATASET } from '../../demo/catalog.js';
import { generateEvents } from '../../demo/generate.js';
import { ndjsonChunks } from '../../demo/ndjson.js';
import { FlagscopeError } from '../../errors.js';
import { formatCount } from '../../output/values.js';

export interface ExportOptions {
  /** A path (relative to the working directory) or `-` for stdout. */
  file: string;
  events: number;
  seed: number;
  quiet: boolean;
}

const DAY_MS = 86_400_000;

/** Writes the events; resolves to the exit code. */
export async function exportDemoEvents(ctx: Context, options: ExportOptions): Promise<number> {
  if (!Number.isSafeInteger(options.events) || options.events < 1) {
    throw new FlagscopeError(
      'usage',
      `the demo needs a positive whole number of events, got ${options.events}`,
      'pass e.g. `--events 200000`',
    );
  }
  const end = ctx.now();
  const events = generateEvents({ seed: options.seed, count: options.events, start: end - DAY_MS, end, sampling: true, incomplete: true });
  const toStdout = options.file === '-';
  const path = resolve(ctx.cwd, options.file);
  const out: OutStream = toStdout ? ctx.stdout : createWriteStream(path, { flags: 'w' });
  const opened = toStdout ? Promise.resolve() : once(out, 'open');
  try {
    await opened;
  } catch (e) {
    throw new FlagscopeError(
      'usage',
      `cannot write ${options.file}: ${(e as Error).message}`,
      'pass a file in a directory you can write to, or `-` for stdout',
    );
  }
  for (const chunk of ndjsonChunks(events)) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  if (!toStdout) {
    out.end();
    await once(out, 'close');
  }
  if (!options.quiet) {
    const shown = toStdout ? 'stdout' : options.file;
    ctx.stderr.write(
      `wrote ${formatCount(options.events)} demo events (the last 24 hours, seed ${options.seed}) to ${shown}\n` +
        (toStdout ? '' : `send them to a server with: flagscope events send ${DEMO_DATASET} ${options.file}\n`),
    );
  }
  return 0;
}
