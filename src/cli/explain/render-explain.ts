/**
 * An explain report as text: on a terminal a ranked table with small bars of
 * the share of the selection and of the rest; piped, tab-separated rows
 * (rank, columns, values, selected share, rest share, effect, p, q,
 * significant) without a header. Pure.
 */
import { CONSEQUENCE_LIFT } from '../../compare/explain/pairs.js';
import type { ExplainFinding, ExplainReport } from '../../compare/explain/report.js';
import type { Styler } from '../../output/style.js';
import { renderTable } from '../../output/table.js';
import { formatCount, formatNumberHuman, formatRawNumber } from '../../output/values.js';
import { formatProbability } from '../compare/render-compare.js';

const BAR_WIDTH = 10;
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A horizontal bar of `share` (0–1) in at most {@link BAR_WIDTH} cells, with eighth-cell resolution. */
export function shareBar(share: number, width = BAR_WIDTH): string {
  const eighths = Math.round(Math.max(0, Math.min(1, share)) * width * 8);
  const full = Math.floor(eighths / 8);
  return '█'.repeat(full) + EIGHTHS[eighths % 8]!;
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

function what(f: ExplainFinding): string {
  if (f.kind === 'distribution') return `${f.columns[0]} (distribution)`;
  return f.columns.map((c, i) => `${c}=${f.values[i]}`).join(' AND ');
}

function describeDistribution(f: ExplainFinding): string {
  const direction = f.effect > 0 ? 'higher' : 'lower';
  const medians =
    f.selectedMedian != null && f.restMedian != null
      ? ` (median ≈${formatNumberHuman(f.selectedMedian)} vs ≈${formatNumberHuman(f.restMedian)})`
      : '';
  return `${direction === 'higher' ? '↑' : '↓'}${medians}`;
}

/** One machine record of a finding, ranked. */
export interface ExplainRecord {
  rank: number;
  kind: ExplainFinding['kind'];
  columns: string[];
  values: string[];
  selectedShare: number | null;
  restShare: number | null;
  effect: number;
  pValue: number;
  qValue: number;
  significant: boolean;
}

/** The machine records of a report's findings, in rank order. */
export function explainRecordList(report: ExplainReport): ExplainRecord[] {
  return report.findings.map((f, i) => ({
    rank: i + 1,
    kind: f.kind,
    columns: f.columns,
    values: f.values,
    selectedShare: f.selectedShare,
    restShare: f.restShare,
    effect: f.effect,
    pValue: f.pValue,
    qValue: f.qValue,
    significant: f.significant,
  }));
}

/** CSV columns of {@link explainRecordList}; columns and values of a combination joined by `,` (one quoted field each). */
export const EXPLAIN_CSV_HEADER = [
  'rank',
  'kind',
  'columns',
  'values',
  'selected_share',
  'rest_share',
  'effect',
  'p',
  'q',
  'significant',
] as const;

/** A record as the cells of {@link EXPLAIN_CSV_HEADER}. */
export function explainCsvRow(r: ExplainRecord): (string | number | boolean | null)[] {
  return [
    r.rank,
    r.kind,
    r.columns.join(','),
    r.values.join(','),
    r.selectedShare,
    r.restShare,
    r.effect,
    r.pValue,
    r.qValue,
    r.significant,
  ];
}

/** The tab-separated rows of a report. */
export function explainRecords(report: ExplainReport): string[][] {
  const num = (v: number | null): string => (v === null ? '' : formatRawNumber(v));
  return explainRecordList(report).map((r) => [
    String(r.rank),
    r.kind,
    r.columns.join(','),
    r.values.join(','),
    num(r.selectedShare),
    num(r.restShare),
    num(r.effect),
    num(r.pValue),
    num(r.qValue),
    String(r.significant),
  ]);
}

/** Narrowest bars drawn; below it the names of the findings are cut instead. */
const MIN_BAR_WIDTH = 4;

/**
 * The bars' width: {@link BAR_WIDTH}, narrowed (to {@link MIN_BAR_WIDTH} at the least) when the
 * findings' names would not fit the terminal beside them: a name cut short says less than a
 * coarser bar.
 */
function barWidth(shown: ExplainFinding[], width: number): number {
  const longest = Math.max(4, ...shown.map((f) => (f.kind === 'distribution' ? 0 : what(f).length)));
  // The other columns: rank, two shares (bar, space, 6-wide percentage each), DIFF, Q, and the gaps between six columns.
  const others = String(shown.length).length + 2 * 7 + 8 + 6 + 5 * 2;
  const room = Math.floor((width - longest - others) / 2);
  return Math.max(MIN_BAR_WIDTH, Math.min(BAR_WIDTH, room));
}

/** The whole report for a terminal; `limit` findings at most. */
export function renderExplainReport(report: ExplainReport, options: { styler: Styler; width: number; limit?: number }): string {
  const { styler } = options;
  const total = report.selected.weight + report.rest.weight;
  const out: string[] = [];
  out.push(
    styler.bold(`what sets ${report.selection} apart in ${report.dataset}`) +
      styler.dim(
        ` · ${formatCount(Math.round(report.selected.weight))} of ${formatCount(Math.round(total))} events selected (${total > 0 ? percent(report.selected.weight / total) : '–'})`,
      ),
  );
  out.push('');
  const significant = report.findings.filter((f) => f.significant && (f.kind === 'distribution' || f.effect > 0));
  // Values (nearly) only seen in the selection describe it (an error type, a 5xx status) rather than explain it.
  const isConsequence = (f: ExplainFinding): boolean =>
    f.kind === 'value' && f.columns.length === 1 && (f.restShare ?? 0) < (f.selectedShare ?? 0) / CONSEQUENCE_LIFT;
  const consequences = significant.filter(isConsequence);
  const shown = significant.filter((f) => !isConsequence(f)).slice(0, options.limit ?? 15);
  const bar = barWidth(shown, options.width);
  if (shown.length === 0) {
    out.push('nothing sets the selection apart at this significance level');
  } else {
    out.push(
      renderTable(
        [
          { header: '#', align: 'right' },
          { header: 'WHAT' },
          { header: 'SELECTION' },
          { header: 'REST' },
          { header: 'DIFF', align: 'right' },
          { header: 'Q', align: 'right' },
        ],
        shown.map((f, i) => {
          if (f.kind === 'distribution') {
            return [
              String(i + 1),
              `${f.columns[0]} ${describeDistribution(f)}`,
              '',
              '',
              `${f.effect > 0 ? '+' : ''}${f.effect.toFixed(2)}`,
              formatProbability(f.qValue),
            ];
          }
          return [
            String(i + 1),
            what(f),
            `${styler.red(shareBar(f.selectedShare ?? 0, bar).padEnd(bar))} ${percent(f.selectedShare ?? 0).padStart(6)}`,
            `${styler.dim(shareBar(f.restShare ?? 0, bar).padEnd(bar))} ${percent(f.restShare ?? 0).padStart(6)}`,
            `+${(f.effect * 100).toFixed(1)}pp`,
            formatProbability(f.qValue),
          ];
        }),
        { tty: true, styler, maxWidth: options.width },
      ).trimEnd(),
    );
  }
  if (consequences.length > 0) {
    out.push('');
    out.push(
      `only in the selection: ${consequences
        .slice(0, 6)
        .map((f) => `${f.columns[0]}=${f.values[0]} (${percent(f.selectedShare ?? 0)})`)
        .join(', ')}${consequences.length > 6 ? ', …' : ''}`,
    );
  }
  out.push('');
  out.push(
    styler.dim(
      `${report.tests} tests, Benjamini–Hochberg at q < ${report.alpha}; ${report.columns.analysed} columns analysed` +
        (report.columns.skipped.length > 0
          ? `, ${report.columns.skipped.length} skipped (${report.columns.skipped
              .slice(0, 3)
              .map((s) => s.column)
              .join(', ')}${report.columns.skipped.length > 3 ? ', …' : ''})`
          : ''),
    ),
  );
  return `${out.join('\n')}\n`;
}
