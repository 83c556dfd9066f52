/**
 * `flagscope events list DATASET`: stored events, newest first. On a terminal a table of the time
 * and the columns chosen (`--columns`, or the telling ones that fit the width); piped, tab-separated
 * rows of every field the events have; `--format csv` with a header; `--format ndjson` one event
 * per line in the shape `events send` takes back; `--json` the API's answer unchanged.
 */
import type { EventsResponse, RawEvent } from '../../api/events.js';
import { chooseColumns, eventCells, presentColumns, timeCell } from '../../output/events.js';
import { renderCsv, renderJson, renderNdjson } from '../../output/serialize.js';
import { renderTable } from '../../output/table.js';
import { formatCount, formatIsoTime } from '../../output/values.js';
import type { CommandEnv } from '../command-env.js';
import type { Verb } from '../registration.js';
import { buildEventsRequest, type EventsFlags } from './build-request.js';

export const listEvents: Verb = async (env, args, options) => {
  const dataset = String(args[0]);
  const flags = options as EventsFlags;
  const request = buildEventsRequest(flags, env.ctx.now(), { timeRange: true });
  const { readEvents } = await import('../../client/events.js');
  const answer = await readEvents(await env.client(), dataset, request);
  printEvents(env, answer, request.columns);
};

/** Writes a list answer in the chosen format; `columns` are the ones asked for, if any. */
export function printEvents(env: CommandEnv, answer: EventsResponse, columns: string[] | undefined): void {
  const events = answer.events;
  switch (env.format) {
    case 'json':
      env.out(renderJson(answer));
      return;
    case 'ndjson':
      env.out(renderNdjson(events));
      return;
    case 'csv': {
      const names = columns ?? presentColumns(events);
      env.out(
        renderCsv(
          ['time', 'samplerate', ...names],
          events.map((e) => [e.time, e.samplerate, ...names.map((n) => e.data[n])]),
        ),
      );
      return;
    }
    case 'table':
      break;
  }
  if (!env.stdoutIsTTY) {
    const names = columns ?? presentColumns(events);
    env.out(
      renderTable(
        ['time', ...names].map((header) => ({ header })),
        events.map((e) => [e.time, ...eventCells(e, names, false)]),
        { tty: false },
      ),
    );
    summary(env, answer);
    return;
  }
  const chosen = columns === undefined ? chooseColumns(events, env.width) : { columns, available: columns.length };
  if (events.length > 0) {
    env.out(
      renderTable(
        ['time', ...chosen.columns].map((header) => ({ header })),
        events.map((e: RawEvent) => [timeCell(e.time), ...eventCells(e, chosen.columns, true)]),
        { tty: true, styler: env.styler, maxWidth: env.width },
      ),
    );
  }
  summary(env, answer);
  if (columns === undefined && chosen.columns.length < chosen.available) {
    env.info(
      env.stderrStyler.dim(
        `showing ${chosen.columns.length} of ${chosen.available} columns; choose them with --columns a,b, or see every field with --format ndjson`,
      ),
    );
  }
}

function summary(env: CommandEnv, answer: EventsResponse): void {
  const { meta } = answer;
  const range =
    meta.start_time !== undefined && meta.end_time !== undefined
      ? `${formatIsoTime(meta.start_time * 1000)} – ${formatIsoTime(meta.end_time * 1000)}`
      : 'the range';
  const n = answer.events.length;
  if (n === 0) {
    env.info(`no events matched in ${range}; widen it with --since, or check the filters`);
    return;
  }
  const more = meta.more ? `, newest first; more matched: raise --limit or narrow the range` : ', newest first';
  env.info(env.stderrStyler.dim(`${formatCount(n)} event${n === 1 ? '' : 's'} of ${meta.dataset} in ${range}${more}`));
}
