import { FlagscopeError } from '../../errors.js';
import { renderCsv, renderJson, renderNdjson } from '../../output/serialize.js';
import { renderTable } from '../../output/table.js';
import type { Verb } from '../registration.js';
import { buildQuerySpec } from '../query/build-spec.js';
import { EXPLAIN_CSV_HEADER, explainCsvRow, explainRecordList, explainRecords, renderExplainReport } from './render-explain.js';

/** Options of `flagscope explain` as commander parses them. */
export interface ExplainFlags {
  where?: string[];
  incomplete?: boolean;
  any?: boolean;
  population?: string[];
  since?: string;
  start?: string;
  end?: string;
  limit?: string;
  alpha?: string;
}

/** Builds the body of `POST /api/v1/explain/{dataset}` from the options. Pure: the clock is passed in. */
export function buildExplainRequest(flags: ExplainFlags, now: number): Record<string, unknown> {
  const where = flags.where ?? [];
  if (flags.incomplete === true && where.length > 0) {
    throw new FlagscopeError(
      'usage',
      '`--incomplete` and `--where` both choose the selection',
      'pass `--incomplete` alone (the selection meta.incomplete = true), and narrow both sides with `--population`',
    );
  }
  if (flags.incomplete !== true && where.length === 0) {
    throw new FlagscopeError(
      'usage',
      'explain needs a selection: `--where FILTER` or `--incomplete`',
      "e.g. `flagscope explain shop --where 'error = true'`, or `--incomplete` for the executions whose end never arrived",
    );
  }
  const selection = buildQuerySpec({}, { where, any: flags.any, since: flags.since, start: flags.start, end: flags.end }, now);
  const body: Record<string, unknown> = flags.incomplete === true ? { incomplete: true } : { selection: selection.filters ?? [] };
  if (flags.incomplete !== true && selection.filter_combination !== undefined) body.selection_combination = selection.filter_combination;
  if (flags.population !== undefined && flags.population.length > 0) {
    const population = buildQuerySpec({}, { where: flags.population }, now);
    body.filters = population.filters;
    body.filter_combination = population.filter_combination;
  }
  for (const key of ['time_range', 'start_time', 'end_time'] as const) if (selection[key] !== undefined) body[key] = selection[key];
  if (flags.alpha !== undefined) {
    const alpha = Number(flags.alpha);
    if (!(alpha > 0 && alpha < 1))
      throw new FlagscopeError('usage', `\`--alpha ${flags.alpha}\` is not between 0 and 1`, 'pass e.g. `--alpha 0.05`');
    body.alpha = alpha;
  }
  if (flags.limit !== undefined) {
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new FlagscopeError('usage', `\`--limit ${flags.limit}\` is not a whole number from 1 to 1000`, 'pass e.g. `--limit 20`');
    body.limit = Math.max(limit, 50);
  }
  return body;
}

/**
 * `flagscope explain DATASET --where FILTER` (or `--incomplete`): `--json` prints the API's report (numbers without
 * float noise); `--format csv|ndjson` one record per finding, ranked, `--limit` of them; piped,
 * tab-separated rows.
 */
export const runExplain: Verb = async (env, args, options) => {
  const flags = options as unknown as ExplainFlags;
  const body = buildExplainRequest(flags, env.ctx.now());
  const client = await env.client();
  const report = await client.explain(String(args[0]), body);
  const limit = Number(flags.limit ?? 15);
  switch (env.format) {
    case 'json':
      env.out(renderJson(report));
      return;
    case 'ndjson':
      env.out(renderNdjson(explainRecordList(report).slice(0, limit)));
      return;
    case 'csv':
      env.out(renderCsv([...EXPLAIN_CSV_HEADER], explainRecordList(report).slice(0, limit).map(explainCsvRow)));
      return;
    default:
      if (env.stdoutIsTTY) env.out(renderExplainReport(report, { styler: env.styler, width: env.width, limit }));
      else env.out(renderTable([], explainRecords(report).slice(0, limit), { tty: false }));
  }
};
