import { FlagscopeError } from '../../errors.js';
import { parseExpectedSplit } from '../../compare/report.js';
import { renderCsv, renderJson, renderNdjson } from '../../output/serialize.js';
import { renderTable } from '../../output/table.js';
import type { Verb } from '../registration.js';
import { buildQuerySpec } from '../query/build-spec.js';
import {
  COMPARE_CSV_HEADER,
  compareCsvRow,
  compareRecordList,
  compareRecords,
  renderCompareReport,
  sampleRatioText,
} from './render-compare.js';
import { plainStyler } from '../../output/style.js';

/** Options of `flagscope compare` as commander parses them. */
export interface CompareFlags {
  dataset: string;
  metric?: string[];
  with?: string[];
  column?: string;
  control?: string;
  expect?: string;
  where?: string[];
  any?: boolean;
  since?: string;
  start?: string;
  end?: string;
  alpha?: string;
  unit?: string;
}

/** Builds the body of `POST /api/v1/compare/{dataset}` from the options. Pure: the clock is passed in. */
export function buildCompareRequest(flag: string, flags: CompareFlags, now: number): Record<string, unknown> {
  const spec = buildQuerySpec({}, { where: flags.where, any: flags.any, since: flags.since, start: flags.start, end: flags.end }, now);
  const main: Record<string, unknown> = { flag };
  if (flags.column !== undefined) main.column = flags.column;
  if (flags.control !== undefined) main.control = flags.control;
  if (flags.expect !== undefined) main.expect = parseExpectedSplit(flags.expect);
  const body: Record<string, unknown> = { flags: [main, ...(flags.with ?? []).map((f) => ({ flag: f }))] };
  if (flags.metric !== undefined && flags.metric.length > 0) body.metrics = flags.metric;
  for (const key of ['filters', 'filter_combination', 'time_range', 'start_time', 'end_time'] as const) {
    if (spec[key] !== undefined) body[key] = spec[key];
  }
  if (flags.unit !== undefined) body.unit = flags.unit === 'none' ? null : flags.unit;
  if (flags.alpha !== undefined) {
    const alpha = Number(flags.alpha);
    if (!(alpha > 0 && alpha < 1))
      throw new FlagscopeError('usage', `\`--alpha ${flags.alpha}\` is not between 0 and 1`, 'pass e.g. `--alpha 0.05`');
    body.alpha = alpha;
  }
  return body;
}

/**
 * `flagscope compare FLAG --dataset D`: `--json` prints the API's report (numbers without float
 * noise); `--format csv|ndjson` one record per metric and cohort, then per interaction; piped,
 * tab-separated rows. In every format but JSON and the terminal's table, the sample-ratio lines and
 * the notes (a metric not computed, and why) go to stderr.
 */
export const runCompare: Verb = async (env, args, options) => {
  const flags = options as unknown as CompareFlags;
  const body = buildCompareRequest(String(args[0]), flags, env.ctx.now());
  const client = await env.client();
  const report = await client.compare(flags.dataset, body);
  switch (env.format) {
    case 'json':
      env.out(renderJson(report));
      return;
    case 'ndjson':
      env.out(renderNdjson(compareRecordList(report)));
      break;
    case 'csv':
      env.out(renderCsv([...COMPARE_CSV_HEADER], compareRecordList(report).map(compareCsvRow)));
      break;
    default:
      if (env.stdoutIsTTY) {
        env.out(renderCompareReport(report, { styler: env.styler, width: env.width }));
        return;
      }
      env.out(renderTable([], compareRecords(report), { tty: false }));
  }
  for (const line of sampleRatioText(report, plainStyler)) {
    if (report.sampleRatio.some((s) => s.mismatch)) env.warn(line);
    else env.info(line);
  }
  for (const note of report.notes) env.info(`note: ${note}`);
};
