/**
 * `flagscope events tail DATASET`: follows the events stored from now on (after `--last N`, the
 * newest N first), printing each as it arrives, until Ctrl-C (exit 0, as `--watch` does). Under
 * it, a long poll: `POST /api/v1/events/{dataset}` after the last answer's cursor, waiting on the
 * server, so no event is printed twice or skipped however many arrive at once.
 *
 * Formats: on a terminal one line per event (time, then `field=value`, cut to the width); piped,
 * the same lines uncut; `--format ndjson` (and `--json`) one event per line in the shape
 * `events send` takes back; `--format csv` a header of the columns (`--columns`, or the dataset's
 * columns when the follow starts), then one record per event.
 */
import type { EventsRequest, EventsResponse, RawEvent } from '../../api/events.js';
import type { ApiClient } from '../../client/api-client.js';
import { eventLine } from '../../output/events.js';
import { csvField } from '../../output/serialize.js';
import type { CommandEnv } from '../command-env.js';
import type { Verb } from '../registration.js';
import { buildEventsRequest, type EventsFlags, parseCount } from './build-request.js';

/** The longest a follow request waits on the server: well under the client's timeout. */
const MAX_WAIT_MS = 25_000;

export const tailEvents: Verb = async (env, args, options) => {
  const dataset = String(args[0]);
  const flags = options as EventsFlags;
  const last = flags.last === undefined ? 0 : parseCount(flags.last, '--last', 0);
  const base = buildEventsRequest({ ...flags, limit: undefined }, env.ctx.now(), { timeRange: false });
  const { readEvents } = await import('../../client/events.js');
  const client = await env.client();
  const stop = new AbortController();
  const unregister = env.ctx.onSignal(() => stop.abort());
  const waitMs = Math.max(500, Math.min(MAX_WAIT_MS, Math.floor(env.timeoutMs / 2)));
  try {
    const print = await printer(env, client, dataset, base.columns);
    // The start: the newest `last` events (oldest of them first), or none; either way the cursor.
    const first = await readEvents(client, dataset, last > 0 ? { ...base, limit: last } : { ...base, after: 'end' });
    for (const event of [...first.events].reverse()) print(event);
    env.info(env.stderrStyler.dim(`following ${dataset}${describeFilters(base)}; ctrl-c to stop`));
    let cursor = first.cursor;
    while (!stop.signal.aborted) {
      let answer: EventsResponse;
      try {
        answer = await readEvents(client, dataset, { ...base, after: cursor, wait_ms: waitMs, limit: 1000 }, stop.signal);
      } catch (error) {
        if (stop.signal.aborted) break;
        throw error;
      }
      if (answer.meta.reset === true) {
        env.warn(
          `the server could not place this follow in ${dataset} after old events were deleted; following it from its newest event (events stored meanwhile may be missing)`,
        );
      }
      for (const event of answer.events) print(event);
      cursor = answer.cursor;
    }
  } finally {
    unregister();
  }
  return 0;
};

function describeFilters(request: EventsRequest): string {
  const n = request.filters?.length ?? 0;
  return n === 0 ? '' : ` (${n} filter${n === 1 ? '' : 's'})`;
}

/** How each event is written, by format; a CSV header goes out first. */
async function printer(
  env: CommandEnv,
  client: ApiClient,
  dataset: string,
  columns: string[] | undefined,
): Promise<(event: RawEvent) => void> {
  switch (env.format) {
    case 'json':
    case 'ndjson':
      return (event) => env.out(`${JSON.stringify(event)}\n`);
    case 'csv': {
      const names = columns ?? (await client.listColumns(dataset)).map((c) => c.name);
      env.out(`${['time', 'samplerate', ...names].map(csvField).join(',')}\r\n`);
      return (event) => env.out(`${[event.time, event.samplerate, ...names.map((n) => event.data[n])].map(csvField).join(',')}\r\n`);
    }
    case 'table': {
      const tty = env.stdoutIsTTY;
      return (event) =>
        env.out(
          `${eventLine(event, { ...(columns === undefined ? {} : { columns }), ...(tty ? { width: env.width, styler: env.styler } : {}) })}\n`,
        );
    }
  }
}
