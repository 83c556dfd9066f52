/**
 * A comparison report as text: on a terminal an aligned table per report with
 * the sample-ratio, incomplete-executions and interaction lines; piped,
 * tab-separated result rows (metric, cohort, count, value, difference,
 * ci_low, ci_high, p, q, verdict) without a header. Pure.
 */
import type { CompareReport, InteractionResult, MetricResult } from '../../compare/report.js';
import type { Styler } from '../../output/style.js';
import { renderTable } from '../../output/table.js';
import { formatCount, formatIsoTime, formatNumberHuman, formatRawNumber } from '../../output/values.js';

function percent(value: number, digits = 2): string {
  return `${(value * 100).toFixed(digits)}%`;
}

function signed(text: string, value: number): string {
  return value > 0 ? `+${text}` : value < 0 ? text : text.replace(/^-/, '');
}

/** A metric value for humans: rates as percentages, everything else as a number. */
export function formatMetricValue(row: Pick<MetricResult, 'scale' | 'value'>, kind: string): string {
  if (row.value === null) return '–';
  if (kind === 'rate' || kind === 'incomplete') return percent(row.value);
  return formatNumberHuman(row.value);
}

/** A difference from control: percentage points for rates, percent for relative differences. */
export function formatDifference(value: number | null, scale: 'absolute' | 'relative'): string {
  if (value === null) return '–';
  if (scale === 'absolute') return signed(`${(value * 100).toFixed(2)}pp`, value);
  return signed(`${(value * 100).toFixed(1)}%`, value);
}

function formatCi(ci: [number, number] | null, scale: 'absolute' | 'relative'): string {
  if (ci === null) return '–';
  return `[${formatDifference(ci[0], scale)}, ${formatDifference(ci[1], scale)}]`;
}

/** A p- or q-value: `<0.001` below a thousandth. */
export function formatProbability(p: number | null): string {
  if (p === null) return '–';
  if (p < 0.001) return '<0.001';
  return p.toFixed(3);
}

function styleVerdict(verdict: string | null, styler: Styler): string {
  if (verdict === null) return '';
  if (verdict === 'worse') return styler.red(verdict);
  if (verdict === 'better') return styler.green(verdict);
  if (verdict === 'not enough data') return styler.yellow(verdict);
  return styler.dim(verdict === 'no detectable difference' ? 'no difference' : verdict);
}

/** One machine record of a report: a metric in a cohort, or an interaction of two flags. */
export interface CompareRecord {
  kind: 'result' | 'interaction';
  metric: string;
  /** The cohort's label, or `interaction A=x × B=y`. */
  cohort: string;
  control: boolean;
  count: number | null;
  value: number | null;
  difference: number | null;
  scale: 'absolute' | 'relative';
  ciLow: number | null;
  ciHigh: number | null;
  pValue: number | null;
  qValue: number | null;
  /** `control` for the control row, else the verdict (`worse`, `better`, `no detectable difference`, `not enough data`). */
  verdict: string;
}

/** The machine records of a report: one per metric and cohort, then one per interaction. */
export function compareRecordList(report: CompareReport): CompareRecord[] {
  const records: CompareRecord[] = report.results.map((r) => ({
    kind: 'result',
    metric: r.metric,
    cohort: r.cohort,
    control: r.control,
    count: r.count,
    value: r.value,
    difference: r.difference,
    scale: r.scale,
    ciLow: r.ci?.[0] ?? null,
    ciHigh: r.ci?.[1] ?? null,
    pValue: r.pValue,
    qValue: r.qValue,
    verdict: r.control ? 'control' : (r.verdict ?? ''),
  }));
  for (const i of report.interactions) {
    records.push({
      kind: 'interaction',
      metric: i.metric,
      cohort: `interaction ${i.flags[0]}=${i.variants[0]} × ${i.flags[1]}=${i.variants[1]}`,
      control: false,
      count: null,
      value: null,
      difference: i.effect,
      scale: i.scale,
      ciLow: i.ci?.[0] ?? null,
      ciHigh: i.ci?.[1] ?? null,
      pValue: i.pValue,
      qValue: i.qValue,
      verdict: i.verdict,
    });
  }
  return records;
}

/** CSV columns of {@link compareRecordList}, in order. */
export const COMPARE_CSV_HEADER = [
  'kind',
  'metric',
  'cohort',
  'count',
  'value',
  'difference',
  'scale',
  'ci_low',
  'ci_high',
  'p',
  'q',
  'verdict',
] as const;

/** A record as the cells of {@link COMPARE_CSV_HEADER}. */
export function compareCsvRow(r: CompareRecord): (string | number | null)[] {
  return [r.kind, r.metric, r.cohort, r.count, r.value, r.difference, r.scale, r.ciLow, r.ciHigh, r.pValue, r.qValue, r.verdict];
}

/** The tab-separated rows of a report (results, then interactions as `interaction` rows). */
export function compareRecords(report: CompareReport): string[][] {
  const num = (v: number | null): string => (v === null ? '' : formatRawNumber(v));
  return compareRecordList(report).map((r) => [
    r.metric,
    r.cohort,
    num(r.count),
    num(r.value),
    num(r.difference),
    num(r.ciLow),
    num(r.ciHigh),
    num(r.pValue),
    num(r.qValue),
    r.verdict,
  ]);
}

/** The sample-ratio line of one flag. */
export function sampleRatioText(report: CompareReport, styler: Styler): string[] {
  return report.sampleRatio.map((line) => {
    const total = Object.values(line.observed).reduce((a, b) => a + b, 0);
    const observed = Object.entries(line.observed)
      .map(([v, n]) => `${v} ${total > 0 ? percent(n / total, 1) : '–'}`)
      .join(' · ');
    if (line.expected === null)
      return `sample ratio ${line.flag}: ${observed} ${styler.dim('(no configured split to test against: pass --expect)')}`;
    const expected = Object.entries(line.expected)
      .map(([v, s]) => `${v} ${percent(s, 1)}`)
      .join(' · ');
    const source = line.source === 'flag' ? 'flag rollout' : '--expect';
    const status = line.mismatch ? styler.red('MISMATCH') : styler.green('ok');
    const extra = line.unexpectedVariants.length > 0 ? `; events in unexpected variants ${line.unexpectedVariants.join(', ')}` : '';
    const unit = line.unit === null ? 'events' : `distinct ${line.unit}`;
    return `sample ratio ${line.flag} (${unit}): ${observed} vs expected ${expected} (${source}) · p ${formatProbability(line.pValue)} · ${status}${extra}`;
  });
}

/** The incomplete-executions line. */
export function incompleteText(report: CompareReport, styler: Styler): string | undefined {
  if (report.incomplete === null) return undefined;
  const parts = report.incomplete.map((r) => {
    const value = r.value === null ? '–' : percent(r.value);
    if (r.control) return `${r.cohort} ${value}`;
    const verdict = r.verdict === 'worse' ? styler.red(' worse') : r.verdict === 'better' ? styler.green(' better') : '';
    return `${r.cohort} ${value} (${formatDifference(r.difference, 'absolute')}${verdict})`;
  });
  return `incomplete executions: ${parts.join(' · ')}`;
}

function interactionRow(i: InteractionResult, styler: Styler): string[] {
  return [
    i.metric,
    `${i.variants[0]} × ${i.variants[1]}`,
    formatDifference(i.effect, i.scale),
    formatCi(i.ci, i.scale),
    formatProbability(i.qValue),
    styleVerdict(i.verdict, styler),
  ];
}

/** The whole report for a terminal. */
export function renderCompareReport(report: CompareReport, options: { styler: Styler; width: number }): string {
  const { styler } = options;
  const kinds = new Map(report.metrics.map((m) => [m.name, m.kind]));
  const out: string[] = [];
  const controlText = Object.entries(report.control)
    .map(([f, v]) => `${f}=${v}`)
    .join(' ');
  out.push(
    styler.bold(`${report.flags.join(' × ')} on ${report.dataset}`) +
      styler.dim(` · control ${controlText} · ${formatIsoTime(report.start_time * 1000)} – ${formatIsoTime(report.end_time * 1000)}`),
  );
  out.push('');
  const combination = report.flags.length > 1;
  const cohortOf = (label: string): string => {
    const info = report.cohorts.find((c) => c.label === label);
    return combination && info !== undefined ? report.flags.map((f) => info.variants[f] ?? '?').join(' / ') : label;
  };
  const rows: string[][] = [];
  let lastMetric = '';
  for (const r of report.results) {
    if (r.metric === 'INCOMPLETE' && report.incomplete !== null && report.metrics.length > 1) continue;
    rows.push([
      r.metric === lastMetric ? '' : r.metric,
      cohortOf(r.cohort),
      formatCount(Math.round(r.count)),
      formatMetricValue(r, kinds.get(r.metric) ?? ''),
      r.control ? styler.dim('control') : formatDifference(r.difference, r.scale),
      r.control ? '' : formatCi(r.ci, r.scale),
      r.control ? '' : formatProbability(r.qValue),
      r.control ? '' : styleVerdict(r.verdict, styler),
    ]);
    lastMetric = r.metric;
  }
  out.push(
    renderTable(
      [
        { header: 'METRIC' },
        { header: combination ? report.flags.join(' / ') : 'COHORT' },
        { header: 'EVENTS', align: 'right' },
        { header: 'VALUE', align: 'right' },
        { header: 'VS CONTROL', align: 'right' },
        { header: `${Math.round((1 - report.settings.alpha) * 100)}% CI` },
        { header: 'Q', align: 'right' },
        { header: 'VERDICT' },
      ],
      rows,
      { tty: true, styler, maxWidth: options.width },
    ).trimEnd(),
  );
  if (report.interactions.length > 0) {
    out.push('');
    out.push(styler.bold('interactions') + styler.dim(' (the combination against what each flag alone predicts)'));
    out.push(
      renderTable(
        [
          { header: 'METRIC' },
          { header: `${report.interactions[0]!.flags.join(' × ')}` },
          { header: 'EFFECT', align: 'right' },
          { header: 'CI' },
          { header: 'Q', align: 'right' },
          { header: 'VERDICT' },
        ],
        report.interactions.map((i) => interactionRow(i, styler)),
        { tty: true, styler, maxWidth: options.width },
      ).trimEnd(),
    );
  }
  out.push('');
  out.push(...sampleRatioText(report, styler));
  const incomplete = incompleteText(report, styler);
  if (incomplete !== undefined) out.push(incomplete);
  for (const note of report.notes) out.push(styler.dim(`note: ${note}`));
  out.push(
    styler.dim(
      `always-valid intervals and p-values (safe to peek); q-values: Benjamini–Hochberg over all ${report.results.filter((r) => r.qValue !== null).length + report.interactions.length} tests`,
    ),
  );
  return `${out.join('\n')}\n`;
}
