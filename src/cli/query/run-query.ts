import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { text } from 'node:stream/consumers';
import { FlagscopeError } from '../../errors.js';
import { parseDurationMs } from '../../api/duration.js';
import type { QueryResult, QuerySpec } from '../../query/spec.js';
import { queryRecords, renderQueryCharts, renderQueryTable, formatResultCell } from '../../output/query-result.js';
import { renderCsv, renderJson, renderNdjson } from '../../output/serialize.js';
import { renderTable } from '../../output/table.js';
import { formatCount, formatIsoTime } from '../../output/values.js';
import type { CommandEnv } from '../command-env.js';
import type { Verb } from '../registration.js';
import type { QueryFlags } from './build-spec.js';
import { buildQuerySpec, parseSpecText } from './build-spec.js';

/** `flagscope query DATASET`: `--json` prints the API's `QueryResult` unchanged. */
export const runQuery: Verb = async (env, args, options) => {
  const dataset = String(args[0]);
  const flags = options as QueryFlags & { spec?: string; watch?: boolean; interval?: string };
  if (flags.watch === true && !env.stdoutIsTTY) {
    throw new FlagscopeError(
      'usage',
      '`--watch` needs a terminal, and stdout is not one',
      'drop `--watch` when piping or scripting; run the command again to refresh',
    );
  }
  const base = flags.spec === undefined ? {} : await readSpec(env, flags.spec);
  // Validate the options before contacting the server.
  buildQuerySpec(base, flags, env.ctx.now());
  const client = await env.client();
  const runOnce = async (): Promise<QueryResult> => client.query(dataset, buildQuerySpec(base, flags, env.ctx.now()));
  if (flags.watch !== true) {
    printResult(env, await runOnce());
    return;
  }
  const intervalMs = parseDurationMs(flags.interval ?? '5s');
  const stop = new AbortController();
  const unregister = env.ctx.onSignal(() => stop.abort());
  try {
    while (!stop.signal.aborted) {
      const result = await runOnce();
      env.out('\u001b[2J\u001b[H');
      env.out(
        `${env.styler.dim(`${dataset} · every ${flags.interval ?? '5s'} · updated ${formatIsoTime(env.ctx.now())} · ctrl-c to stop`)}\n\n`,
      );
      printResult(env, result);
      await env.ctx.sleep(intervalMs, stop.signal);
    }
  } finally {
    unregister();
  }
};

async function readSpec(env: CommandEnv, file: string): Promise<QuerySpec> {
  if (file === '-') {
    if (env.stdinIsTTY)
      throw new FlagscopeError(
        'usage',
        '`--spec -` reads stdin, and stdin is a terminal',
        'pipe the spec JSON in, or pass a file: `--spec query.json`',
      );
    return parseSpecText(await text(env.ctx.stdin), 'the spec on stdin');
  }
  let content: string;
  try {
    content = await readFile(resolve(env.ctx.cwd, file), 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new FlagscopeError(
      'invalid_input',
      `cannot read spec file ${file}: ${reason}`,
      'check the path, or pass `--spec -` to read stdin',
    );
  }
  return parseSpecText(content, `spec file ${file}`);
}

/** Writes a query result in the chosen format. */
export function printResult(env: CommandEnv, result: QueryResult): void {
  switch (env.format) {
    case 'json':
      env.out(renderJson(result));
      return;
    case 'ndjson':
      env.out(renderNdjson(queryRecords(result).records));
      return;
    case 'csv': {
      const { header, records } = queryRecords(result);
      env.out(
        renderCsv(
          header,
          records.map((r) => header.map((h) => r[h])),
        ),
      );
      return;
    }
    case 'table':
      break;
  }
  if (!env.stdoutIsTTY) {
    const { header, records } = queryRecords(result);
    env.out(
      renderTable(
        header.map((h) => ({ header: h })),
        records.map((r) => header.map((h) => formatResultCell(r[h], false))),
        { tty: false },
      ),
    );
    return;
  }
  const heatmapOnly = result.meta.calculations.every((c) => c.startsWith('HEATMAP(')) && result.meta.breakdowns.length === 0;
  const parts: string[] = [];
  if (!heatmapOnly) parts.push(renderQueryTable(result, { tty: true, styler: env.styler, width: env.width }));
  if (result.data.series !== undefined) parts.push(renderQueryCharts(result, { styler: env.styler, width: env.width }));
  env.out(parts.join('\n'));
  const groups = result.data.results.length;
  const range = `${formatIsoTime(result.query.start_time * 1000)} – ${formatIsoTime(result.query.end_time * 1000)}`;
  if (groups === 0) env.info(`no events matched in ${range}`);
  else
    env.info(
      env.stderrStyler.dim(`${formatCount(groups)} group${groups === 1 ? '' : 's'} · ${range} · ${Math.round(result.meta.duration_ms)} ms`),
    );
}
