/**
 * `flagscope demo`: starts the embedded server in-process on a free loopback
 * port with a temporary data directory, sends generated events through the
 * real ingest API, walks through the demo steps against the query API, then
 * stops the server and removes the data (unless asked to keep it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchItem } from '../../api/ingest.js';
import type { ApiClient } from '../../client/api-client.js';
import type { Context } from '../../context.js';
import { FlagscopeError, invalidInput } from '../../errors.js';
import { renderQueryCharts, renderQueryTable } from '../../output/query-result.js';
import { createStyler } from '../../output/chalk-styler.js';
import type { Styler } from '../../output/style.js';
import { formatCount } from '../../output/values.js';
import type { QueryResult, QuerySpec } from '../../query/spec.js';
import { DEMO_DATASET, DEMO_SERVICES } from '../../demo/catalog.js';
import { generateEventBatches, type GeneratedEvent } from '../../demo/generate.js';
import { createDemoClock } from './demo-clock.js';
import { createCommandRunner, parseCommandJson, shellLine } from './demo-commands.js';
import { defaultDemoSetup, defaultDemoSteps, type DemoSession, type DemoSetup, type DemoStep } from './steps.js';

export type { DemoSession, DemoSetup, DemoStep } from './steps.js';
export { defaultDemoSetup, defaultDemoSteps } from './steps.js';

export interface DemoOptions {
  /** Events to generate and send. Default 200,000. */
  events?: number;
  /** Seed of the generator. Default 42. */
  seed?: number;
  /** Keep the data directory (and print how to serve it) instead of deleting it. */
  keep?: boolean;
  /** Colour on stdout; default from the context (TTY, NO_COLOR, TERM=dumb, FORCE_COLOR). */
  color?: boolean;
  /** No progress or notes on stderr. */
  quiet?: boolean;
  /** Server request log on stderr. */
  verbose?: boolean;
  /** Where the temporary data directory is made. Default `TMPDIR` of the context, else the system temp dir. */
  tempRoot?: string;
  /** Run after the events are sent, before the walkthrough. Default `defaultDemoSetup()`. */
  setup?: DemoSetup[];
  /** The walkthrough. Default `defaultDemoSteps()`. */
  steps?: DemoStep[];
  /** Events per batch request. Default 1,000. */
  batchSize?: number;
  /** The command line (`runCli` of `src/cli/program.ts`): the steps run their commands through it. */
  runCli?: (argv: string[], ctx: Context) => Promise<number>;
}

/** Exit code after Ctrl-C (128 + SIGINT), as shells report it. */
const INTERRUPTED_EXIT_CODE = 130;
const DEFAULT_EVENTS = 200_000;
const DEFAULT_SEED = 42;
const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const BATCHES_IN_FLIGHT = 3;
/** Wall milliseconds between two ticks of the demo server's canary controller (its canaries run on a fast clock). */
const DEMO_CANARY_TICK_MS = 50;

/**
 * Runs the demo and resolves to the exit code. Writes the walkthrough to
 * stdout, progress and notes to stderr. The server and the data directory
 * are always cleaned up, also after an error or Ctrl-C.
 */
export async function runDemo(ctx: Context, options: DemoOptions = {}): Promise<number> {
  const eventCount = options.events ?? DEFAULT_EVENTS;
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isSafeInteger(eventCount) || eventCount < 1) {
    throw invalidInput(`the demo needs a positive whole number of events, got ${String(eventCount)}`, 'pass e.g. `--events 200000`');
  }
  if (!Number.isSafeInteger(seed)) throw invalidInput(`the demo seed must be a whole number, got ${String(seed)}`);
  const color = options.color ?? defaultColor(ctx);
  const styler = createStyler(color);
  const stderrTTY = ctx.stderr.isTTY === true;
  const quiet = options.quiet === true;
  const note = (message: string): void => {
    if (!quiet) ctx.stderr.write(`${message}\n`);
  };
  const print = (text: string): void => {
    ctx.stdout.write(text);
  };
  const width = Math.min(
    110,
    ctx.stdout.isTTY === true && ctx.stdout.columns !== undefined && ctx.stdout.columns > 0 ? ctx.stdout.columns : 100,
  );

  let interrupted = false;
  const unregister = ctx.onSignal(() => {
    interrupted = true;
  });
  const tempRoot = options.tempRoot ?? (ctx.env.TMPDIR !== undefined && ctx.env.TMPDIR !== '' ? ctx.env.TMPDIR : tmpdir());
  const dataDir = await mkdtemp(join(tempRoot, 'flagscope-demo-'));
  const clock = createDemoClock(ctx.now);
  let server: Awaited<ReturnType<typeof import('../../server/index.js').startServer>> | undefined;
  let client: ApiClient | undefined;
  try {
    const [{ startServer }, { createApiClient }] = await Promise.all([
      import('../../server/index.js'),
      import('../../client/api-client.js'),
    ]);
    const serverOptions: Parameters<typeof startServer>[0] = {
      host: '127.0.0.1',
      port: 0,
      dataDir,
      bootstrapAdminKey: true,
      now: clock.now,
      canaryTickMs: DEMO_CANARY_TICK_MS,
    };
    if (options.verbose === true) {
      serverOptions.verbose = true;
      serverOptions.log = (line) => ctx.stderr.write(`${line}\n`);
    }
    server = await startServer(serverOptions);
    if (server.adminKey === undefined) {
      throw new FlagscopeError('internal', 'the demo server started without creating an admin key', 'report this as a bug');
    }
    client = createApiClient({ baseUrl: server.url, apiKey: server.adminKey, userAgent: 'flagscope-demo', sleep: ctx.sleep });
    note(`demo server listening on ${server.url} (temporary data in ${dataDir})`);

    // Whole minutes, so the commands the demo prints name the window briefly (`--start …Z`).
    const end = Math.floor(ctx.now() / MINUTE_MS) * MINUTE_MS;
    const start = end - DAY_MS;
    print(`${styler.bold('flagscope demo')}\n`);
    print(
      `A web shop of ${DEMO_SERVICES.length} services sends one wide event per request: ~100 columns each, among them 30 ${styler.cyan('flag.*')} columns\n` +
        `with the variant every user got. ${formatCount(eventCount)} events over the last 24 hours go through the real ingest API\n` +
        `(POST /1/batch/${DEMO_DATASET}); then a few questions go through the query API.\n`,
    );

    const batchSize = options.batchSize ?? 1_000;
    const sent = await sendEventBatches({
      client,
      batches: generateEventBatches({ seed, count: eventCount, start, end, sampling: true, incomplete: true }, batchSize),
      progress: quiet ? undefined : createProgress(ctx, stderrTTY, eventCount),
      interrupted: () => interrupted,
    });
    if (interrupted) return INTERRUPTED_EXIT_CODE;
    if (sent.rejected > 0) {
      // Warnings are shown even with --quiet.
      ctx.stderr.write(`warning: the server rejected ${formatCount(sent.rejected)} events: ${sent.firstError ?? 'no reason given'}\n`);
    }

    const apiClient = client;
    const runCommand = createCommandRunner({
      runCli: options.runCli,
      ctx,
      now: clock.now,
      serverUrl: server.url,
      apiKey: server.adminKey,
      color,
      width,
      homeDir: join(dataDir, 'no-home'),
    });
    const session: DemoSession = {
      client: apiClient,
      serverUrl: server.url,
      apiKey: server.adminKey,
      dataset: DEMO_DATASET,
      seed,
      eventCount: sent.accepted,
      start,
      end,
      styler,
      clock,
      width,
      print,
      intro: (description: string) => print(`${styler.dim(description)}\n\n`),
      note,
      command: async (args) => {
        print(`${styler.dim(`$ ${shellLine(args)}`)}\n`);
        const run = await runCommand(args);
        print(run.stdout);
        if (run.stderr !== '') print(styler.dim(run.stderr));
        return run;
      },
      commandJson: async <T>(args: readonly string[]): Promise<T> => parseCommandJson<T>(args, await runCommand([...args, '--json'])),
      window: ['--start', isoMinute(start), '--end', isoMinute(end)],
      query: (spec: QuerySpec): Promise<QueryResult> => {
        const bounded: QuerySpec = { ...spec };
        if (bounded.start_time === undefined && bounded.end_time === undefined && bounded.time_range === undefined) {
          bounded.start_time = Math.floor(start / 1000);
          bounded.end_time = Math.ceil(end / 1000) + 1;
        }
        return apiClient.query(DEMO_DATASET, bounded);
      },
      sendEvents: async (events) => {
        const { accepted, rejected } = await sendEventBatches({ client: apiClient, batches: inBatches(events, batchSize) });
        return { accepted, rejected };
      },
      table: (result) => renderQueryTable(result, { tty: true, styler, width }),
      charts: (result) => renderQueryCharts(result, { styler, width }),
    };
    for (const setup of options.setup ?? defaultDemoSetup()) {
      if (interrupted) return INTERRUPTED_EXIT_CODE;
      const began = Date.now();
      await setup.run(session);
      if (options.verbose === true) note(`set-up ${setup.id} took ${Date.now() - began} ms`);
    }
    const steps = options.steps ?? defaultDemoSteps();
    for (const [index, step] of steps.entries()) {
      if (interrupted) return INTERRUPTED_EXIT_CODE;
      print(`\n${heading(styler, `${index + 1}/${steps.length}  ${step.title}`)}\n`);
      const began = Date.now();
      await step.run(session);
      if (options.verbose === true) note(`step ${step.id} took ${Date.now() - began} ms`);
    }
    print(`\n${closingText(styler, options.keep === true ? dataDir : undefined)}`);
    return 0;
  } finally {
    unregister();
    await client?.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
    if (options.keep === true && server !== undefined) {
      // Not silenced by --quiet: without the key the kept data cannot be queried again.
      ctx.stderr.write(`data kept in ${dataDir}; its admin key is ${server.adminKey ?? '(not shown)'}\n`);
    } else {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
}

/** `2026-12-05T15:41Z` for a whole minute. */
function isoMinute(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16)}Z`;
}

function heading(styler: Styler, text: string): string {
  return styler.bold(styler.cyan(text));
}

function closingText(styler: Styler, keptDir: string | undefined): string {
  const lines = [
    heading(styler, 'Run it for real'),
    keptDir === undefined
      ? 'The demo server is stopped and its data deleted. Start your own (it listens on 127.0.0.1:7070 and saves an admin key to your config):'
      : `The demo server is stopped; its data is kept. Serve it again with:\n  flagscope serve --data-dir ${keptDir}\nor start a fresh server (it listens on 127.0.0.1:7070 and saves an admin key to your config):`,
    '  flagscope serve',
    'then, in another terminal:',
    `  flagscope demo --export events.ndjson     # the demo's events as a file`,
    `  flagscope events send ${DEMO_DATASET} events.ndjson`,
    `  flagscope query ${DEMO_DATASET} --calc 'P95(duration_ms)' --by service.name --since 24h`,
  ];
  return `${lines.join('\n')}\n`;
}

function defaultColor(ctx: Context): boolean {
  const env = ctx.env;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return ctx.stdout.isTTY === true;
}

interface Progress {
  update(sent: number): void;
  done(sent: number, elapsedMs: number): void;
}

/** A progress line on stderr: redrawn in place on a terminal, a start and an end line otherwise. */
function createProgress(ctx: Context, tty: boolean, total: number): Progress {
  let lastDrawn = 0;
  if (!tty) ctx.stderr.write(`sending ${formatCount(total)} events…\n`);
  return {
    update(sent) {
      if (!tty) return;
      const now = Date.now();
      if (now - lastDrawn < 100 && sent < total) return;
      lastDrawn = now;
      const share = total === 0 ? 1 : sent / total;
      const barWidth = 24;
      const filled = Math.round(share * barWidth);
      ctx.stderr.write(
        `\r\u001b[2Ksending events [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${formatCount(sent)}/${formatCount(total)}`,
      );
    },
    done(sent, elapsedMs) {
      const rate = elapsedMs > 0 ? Math.round((sent / elapsedMs) * 1000) : sent;
      const line = `sent ${formatCount(sent)} events in ${(elapsedMs / 1000).toFixed(1)} s (${formatCount(rate)} events/s)`;
      ctx.stderr.write(tty ? `\r\u001b[2K${line}\n` : `${line}\n`);
    },
  };
}

interface SendResult {
  accepted: number;
  rejected: number;
  firstError: string | undefined;
}

/** Sends batches of events, a few requests in flight at once; stops early when `interrupted()` turns true. */
async function sendEventBatches(args: {
  client: ApiClient;
  batches: Iterable<GeneratedEvent[]>;
  progress?: Progress | undefined;
  interrupted?: () => boolean;
}): Promise<SendResult> {
  const result: SendResult = { accepted: 0, rejected: 0, firstError: undefined };
  const began = Date.now();
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let sent = 0;
  for (const batch of args.batches) {
    if (failure !== undefined || args.interrupted?.() === true) break;
    const items: BatchItem[] = batch.map((e) => ({ time: new Date(e.time).toISOString(), samplerate: e.samplerate, data: e.data }));
    const request = args.client.sendBatch(DEMO_DATASET, items).then(
      (statuses) => {
        for (const s of statuses) {
          if (s.status >= 200 && s.status < 300) result.accepted++;
          else {
            result.rejected++;
            result.firstError ??= s.error;
          }
        }
        sent += items.length;
        args.progress?.update(sent);
      },
      (e: unknown) => {
        failure ??= e;
      },
    );
    const tracked: Promise<void> = request.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= BATCHES_IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  args.progress?.done(sent, Date.now() - began);
  return result;
}

function* inBatches<T>(items: Iterable<T>, size: number): Generator<T[], void, undefined> {
  let batch: T[] = [];
  for (const item of items) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
