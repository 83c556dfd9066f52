/**
 * Canaries as text: the plan and its schedule (`canary start`, `--dry-run`),
 * the status report (step, next decision, the guard table, sample and sample
 * ratio, the timeline), the one-line status of `status --watch` when piped,
 * and the list of `flagscope canaries`. Pure: the clock and the styler are
 * passed in, so unit tests feed fixtures of the wire types.
 *
 * Units: rates (the `absolute` scale) show as percentages, their differences,
 * intervals and tolerances in percentage points (pp); other metrics show in
 * their own unit, their differences relative to control in percent.
 */
import type {
  CanaryDryRunResponse,
  CanaryEvidenceView,
  CanaryGuardEvidenceView,
  CanaryPlanView,
  CanaryTimelineEntry,
  CanaryView,
} from '../../api/canaries.js';
import type { Styler } from '../../output/style.js';
import { plainStyler } from '../../output/style.js';
import { renderTable } from '../../output/table.js';
import { formatCount, formatIsoTime, formatNumberHuman } from '../../output/values.js';

/** One row of a schedule: when step `step` (a percentage) is decided at the earliest. */
export type ScheduleEntry = CanaryDryRunResponse['schedule'][number];

/** Options shared by the renderers. */
export interface RenderOptions {
  /** Unix ms: "in 4m 12s" is counted from here. */
  now: number;
  styler?: Styler;
  /** Aligned tables with headers (terminal) or tab-separated rows (pipe). */
  tty?: boolean;
  width?: number;
}

/** A duration for humans: `45s`, `4m 12s`, `2h 5m`, `3d 4h`; `0s` for zero or less. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return s > 0 ? `${m}m ${s}s` : `${m}m`;
  if (total === 0 && ms > 0) return `${Math.round(ms)}ms`;
  return `${s}s`;
}

/** A percentage of traffic: `5%`, `0.5%`. */
export function formatPercent(percent: number): string {
  return `${Number(percent.toFixed(3))}%`;
}

function signed(text: string, value: number): string {
  if (value > 0) return `+${text}`;
  if (value < 0) return text;
  return text.replace(/^-/, '');
}

/** A cohort's value: a rate as a percentage, anything else in its unit. */
export function formatGuardValue(value: number | null, scale: 'absolute' | 'relative'): string {
  if (value === null) return '–';
  if (scale === 'absolute') return `${(value * 100).toFixed(2)}%`;
  return formatNumberHuman(value);
}

/** A difference from control, an interval bound or a tolerance: pp for rates, % relative to control otherwise. */
export function formatGuardDifference(value: number | null, scale: 'absolute' | 'relative'): string {
  if (value === null) return '–';
  if (scale === 'absolute') return signed(`${(value * 100).toFixed(2)}pp`, value);
  return signed(`${(value * 100).toFixed(1)}%`, value);
}

/** An interval of the difference, `[-0.30pp, +0.48pp]`. */
export function formatGuardInterval(interval: [number, number] | null, scale: 'absolute' | 'relative'): string {
  if (interval === null) return '–';
  return `[${formatGuardDifference(interval[0], scale)}, ${formatGuardDifference(interval[1], scale)}]`;
}

/** A p-value: `<0.001` below a thousandth. */
export function formatP(p: number | null): string {
  if (p === null || !Number.isFinite(p)) return '–';
  if (p < 0.001) return '<0.001';
  return p.toFixed(3);
}

/** A verdict coloured: fail red, pass green, inconclusive yellow. */
export function styleVerdict(verdict: string, styler: Styler): string {
  if (verdict === 'fail') return styler.red(styler.bold(verdict));
  if (verdict === 'pass') return styler.green(verdict);
  return styler.yellow(verdict);
}

/** A canary status coloured by what it means for the rollout. */
export function styleStatus(status: string, styler: Styler): string {
  switch (status) {
    case 'rolled-back':
      return styler.red(styler.bold(status));
    case 'aborted':
    case 'paused':
    case 'waiting-approval':
      return styler.yellow(status);
    case 'completed':
      return styler.green(styler.bold(status));
    case 'running':
      return styler.green(status);
    default:
      return status;
  }
}

/** The guard table's header. */
export const GUARD_COLUMNS = ['GUARD', 'CONTROL', 'CANARY', 'DIFFERENCE', 'INTERVAL', 'TOLERANCE', 'P', 'VERDICT'] as const;

/** One row of cells per guard (formatted, verdict coloured). */
export function guardCells(guard: CanaryGuardEvidenceView, styler: Styler = plainStyler): string[] {
  return [
    guard.action === 'pause' ? `${guard.guard} (pause)` : guard.guard,
    formatGuardValue(guard.control, guard.scale),
    formatGuardValue(guard.canary, guard.scale),
    formatGuardDifference(guard.difference, guard.scale),
    formatGuardInterval(guard.interval, guard.scale),
    guard.tolerance === null ? guard.toleranceText : formatGuardDifference(guard.tolerance, guard.scale),
    formatP(guard.pValue),
    styleVerdict(guard.verdict, styler),
  ];
}

/**
 * The guard table of a tick's evidence; without evidence (before the first
 * tick), the plan's guards with dashes and `no data yet`.
 */
export function renderGuardTable(evidence: CanaryEvidenceView | null, plan: CanaryPlanView, options: RenderOptions): string {
  const styler = options.styler ?? plainStyler;
  const columns = GUARD_COLUMNS.map((header, i) => ({
    header,
    align: (i >= 1 && i <= 6 && i !== 4 ? 'right' : 'left') as 'left' | 'right',
  }));
  const rows =
    evidence === null || evidence.guards.length === 0
      ? plan.guards.map((g) => [
          g.action === 'pause' ? `${g.guard} (pause)` : g.guard,
          '–',
          '–',
          '–',
          '–',
          g.tolerance,
          '–',
          styler.dim('no data yet'),
        ])
      : evidence.guards.map((g) => guardCells(g, styler));
  // Never cut: the guard is what a person acts on; a narrow terminal wraps the line instead.
  return renderTable(columns, rows, { tty: options.tty ?? true, styler });
}

/** `sample: control 12,345 · canary 640 of 1,000 needed per cohort (not reached)`. */
export function sampleLine(evidence: CanaryEvidenceView, styler: Styler = plainStyler): string {
  const { sample } = evidence;
  const reached = sample.reached ? styler.green('reached') : styler.yellow('not reached');
  return `sample: control ${formatCount(sample.control)} · canary ${formatCount(sample.canary)} · minimum ${formatCount(sample.minimum)} per cohort (${reached})`;
}

/** `sample ratio: expected 5.00% canary, observed 4.93% · p 0.412 · ok` (counted in units or events). */
export function sampleRatioLine(evidence: CanaryEvidenceView, styler: Styler = plainStyler): string {
  const r = evidence.sampleRatio;
  const observed = r.observedShare === null ? '–' : `${(r.observedShare * 100).toFixed(2)}%`;
  const verdict = r.mismatch ? styler.red(styler.bold('MISMATCH')) : styler.green('ok');
  const counted = r.unit === null ? 'events' : r.unit;
  return `sample ratio (${counted}): expected ${(r.expectedShare * 100).toFixed(2)}% canary, observed ${observed} (control ${formatCount(r.control)}, canary ${formatCount(r.canary)}) · p ${formatP(r.pValue)} (alpha ${r.alpha}) · ${verdict}`;
}

/**
 * The schedule of a plan starting at `startMs`: step i (below 100) is decided
 * at the earliest one hold time after it starts; the last step (100) is reached
 * when the step before it passes. Approval steps wait for `canary promote`, so
 * every later time is "at the earliest".
 */
export function scheduleOf(plan: Pick<CanaryPlanView, 'steps' | 'intervalMs' | 'approveAt'>, startMs: number): ScheduleEntry[] {
  const last = plan.steps.length - 1;
  return plan.steps.map((percent, step) => ({
    step,
    percent,
    earliestAt: new Date(startMs + Math.min(step + 1, last) * plan.intervalMs).toISOString(),
    approval: plan.approveAt.includes(percent),
  }));
}

/** The plan with its defaults, one setting a line. */
export function renderPlan(plan: CanaryPlanView, styler: Styler = plainStyler): string {
  const lines = [
    `${styler.dim('flag')}        ${plan.flag}: variant ${styler.bold(plan.variant)} against ${plan.baseline}`,
    `${styler.dim('measured in')} ${plan.dataset}, cohorts by ${plan.column}${plan.unit === null ? ', counting events' : `, counting ${plan.unit}`}`,
    `${styler.dim('steps')}       ${plan.steps.map(formatPercent).join(' → ')}, each held ${formatDuration(plan.intervalMs)}`,
    `${styler.dim('approval')}    ${plan.approveAt.length === 0 ? 'none' : `after ${plan.approveAt.map(formatPercent).join(', ')} (waits for \`flagscope canary promote ${plan.flag}\`)`}`,
    `${styler.dim('min sample')}  ${formatCount(plan.minSample)} per cohort per step; no traffic for ${formatDuration(plan.maxWaitMs)} pauses it as inconclusive`,
    `${styler.dim('guards')}      ${plan.guards.length === 0 ? "the dataset's defaults" : ''}`.trimEnd(),
    ...plan.guards.map((g) => `  ${g.guard}  ${styler.dim(`on harm: ${g.action}`)}`),
    `${styler.dim('alpha')}       ${plan.alpha} (false discovery rate over the guards, always-valid)`,
  ];
  return `${lines.join('\n')}\n`;
}

/** The schedule as a table: step, percentage, earliest decision and what happens then. */
export function renderSchedule(schedule: ScheduleEntry[], options: RenderOptions): string {
  const styler = options.styler ?? plainStyler;
  const last = schedule.length - 1;
  const rows = schedule.map((e, i) => {
    const at = Date.parse(e.earliestAt);
    let what: string;
    if (i === last) what = 'everyone on the variant: the canary completes';
    else if (e.approval) what = `passes if healthy, then waits for \`canary promote\``;
    else what = `passes if healthy and sampled, else holds (or rolls back on harm)`;
    return [String(e.step + 1), formatPercent(e.percent), `${formatIsoTime(at)} (${relative(at, options.now)})`, what];
  });
  return renderTable(
    [{ header: 'STEP', align: 'right' }, { header: 'TRAFFIC', align: 'right' }, { header: 'EARLIEST' }, { header: 'THEN' }],
    rows,
    { tty: options.tty ?? true, styler },
  );
}

function relative(at: number, now: number): string {
  const diff = at - now;
  if (Math.abs(diff) < 1000) return 'now';
  return diff > 0 ? `in ${formatDuration(diff)}` : `${formatDuration(-diff)} ago`;
}

/** The plan and schedule of a dry run: what would happen when, nothing started. */
export function renderDryRun(answer: CanaryDryRunResponse, options: RenderOptions): string {
  const styler = options.styler ?? plainStyler;
  return [
    `${styler.bold(`canary plan for ${answer.plan.flag}`)} ${styler.dim('(dry run: nothing started)')}\n`,
    renderPlan(answer.plan, styler),
    '\n',
    renderSchedule(answer.schedule, options),
  ].join('');
}

/** What `canary start` prints: the canary started, its plan and schedule from its start. */
export function renderStarted(view: CanaryView, options: RenderOptions): string {
  const styler = options.styler ?? plainStyler;
  const start = view.startedAt === null ? options.now : Date.parse(view.startedAt);
  return [
    `${styler.bold(`started canary ${view.id} of ${view.flag}`)}: ${formatPercent(view.percent)} of traffic on variant ${view.plan.variant} (${styleStatus(view.status, styler)})\n`,
    renderPlan(view.plan, styler),
    '\n',
    renderSchedule(scheduleOf(view.plan, start), options),
    `\nfollow it: flagscope canary status ${view.flag} --watch · gate CI on it: flagscope canary gate ${view.flag}\n`,
  ].join('');
}

/** `step 2 of 5 · 5% of traffic`. */
export function stepText(view: CanaryView): string {
  const total = view.plan.steps.length;
  if (view.stepIndex < 0) return `not started · ${formatPercent(view.percent)} of traffic`;
  // A completed canary stays on the index of the last step it held; it has passed them all.
  if (view.status === 'completed') return `all ${total} steps passed · ${formatPercent(view.percent)} of traffic`;
  return `step ${Math.min(view.stepIndex + 1, total)} of ${total} · ${formatPercent(view.percent)} of traffic`;
}

/** When the controller decides next, or why nothing is scheduled. */
export function nextDecisionText(view: CanaryView, now: number): string {
  if (view.endedAt !== null) return `ended ${formatIsoTime(Date.parse(view.endedAt))}`;
  if (view.status === 'waiting-approval') return `waits for \`flagscope canary promote ${view.flag}\``;
  if (view.status === 'paused') return `paused: resume with \`flagscope canary resume ${view.flag}\``;
  if (view.nextDecisionAt === null) return 'no decision scheduled';
  const at = Date.parse(view.nextDecisionAt);
  const hold = view.holdRemainingMs === null ? '' : ` · hold left ${formatDuration(view.holdRemainingMs)}`;
  return `next decision ${relative(at, now)} (${formatIsoTime(at)})${hold}`;
}

/** The timeline, oldest first: time, kind, from → to, by, reason. */
export function renderTimeline(entries: CanaryTimelineEntry[], options: RenderOptions): string {
  const styler = options.styler ?? plainStyler;
  const rows = entries.map((e) => [
    formatIsoTime(Date.parse(e.at)),
    e.kind === 'rollback' ? styler.red(e.kind) : e.kind,
    `${formatPercent(e.from)} → ${formatPercent(e.to)}`,
    e.by,
    e.reason,
  ]);
  return renderTable([{ header: 'AT' }, { header: 'EVENT' }, { header: 'TRAFFIC' }, { header: 'BY' }, { header: 'REASON' }], rows, {
    tty: options.tty ?? true,
    styler,
    ...(options.width === undefined ? {} : { maxWidth: options.width }),
  });
}

/** The whole status report of `canary status`. */
export function renderStatus(view: CanaryView, options: RenderOptions): string {
  const styler = options.styler ?? plainStyler;
  const parts: string[] = [];
  parts.push(`${styler.bold(`canary ${view.flag}`)} ${styler.dim(view.id)}  ${styleStatus(view.status, styler)}  ${stepText(view)}\n`);
  parts.push(
    `${view.plan.variant} against ${view.plan.baseline} in ${view.plan.dataset} · steps ${view.plan.steps.map(formatPercent).join(' → ')} · hold ${formatDuration(view.plan.intervalMs)}\n`,
  );
  parts.push(`${nextDecisionText(view, options.now)}\n`);
  if (view.pause !== null) parts.push(`${styler.yellow(`paused (${view.pause.cause})`)}: ${view.pause.reason}\n`);
  else if (view.reason !== null && view.endedAt !== null) parts.push(`why: ${view.reason}\n`);
  parts.push('\n');
  parts.push(renderGuardTable(view.evidence, view.plan, options));
  if (view.evidence !== null) {
    parts.push(`${sampleLine(view.evidence, styler)}\n`);
    parts.push(`${sampleRatioLine(view.evidence, styler)}\n`);
    parts.push(styler.dim(`measured ${formatIsoTime(Date.parse(view.evidence.at))}\n`));
  } else {
    parts.push(styler.dim('no tick has measured it yet\n'));
  }
  if (view.timeline.length > 0) {
    parts.push('\n');
    parts.push(renderTimeline(view.timeline, options));
  }
  return parts.join('');
}

/** One plain line for `status --watch` when stdout is not a terminal. */
export function statusLine(view: CanaryView, now: number): string {
  const guards =
    view.evidence === null
      ? 'no data yet'
      : view.evidence.guards.map((g) => `${g.guard} ${g.verdict} (${formatGuardDifference(g.difference, g.scale)})`).join('; ');
  const sample =
    view.evidence === null
      ? ''
      : ` · sample control ${formatCount(view.evidence.sample.control)}, canary ${formatCount(view.evidence.sample.canary)} of ${formatCount(view.evidence.sample.minimum)}${view.evidence.sampleRatio.mismatch ? ' · SAMPLE RATIO MISMATCH' : ''}`;
  return `${formatIsoTime(now)} ${view.flag} ${view.status} ${stepText(view)} · ${nextDecisionText(view, now)} · ${guards}${sample}\n`;
}

/** The list of `flagscope canaries`. */
export function renderCanaryList(canaries: CanaryView[], options: RenderOptions): string {
  const styler = options.styler ?? plainStyler;
  const tty = options.tty ?? true;
  const rows = canaries.map((c) => {
    const failing = c.evidence?.guards.filter((g) => g.verdict === 'fail').length ?? 0;
    const health =
      c.evidence === null
        ? 'no data yet'
        : failing > 0
          ? styler.red(`${failing} guard${failing === 1 ? '' : 's'} failing`)
          : 'no harm seen';
    const next = tty ? nextDecisionText(c, options.now) : (c.nextDecisionAt ?? '');
    return [
      c.flag,
      c.service ?? '',
      tty ? styleStatus(c.status, styler) : c.status,
      c.stepIndex < 0 ? '–' : `${c.stepIndex + 1}/${c.plan.steps.length}`,
      formatPercent(c.percent),
      health,
      next,
    ];
  });
  return renderTable(
    [
      { header: 'FLAG' },
      { header: 'SERVICE' },
      { header: 'STATUS' },
      { header: 'STEP', align: 'right' },
      { header: 'TRAFFIC', align: 'right' },
      { header: 'GUARDS' },
      { header: 'NEXT' },
    ],
    rows,
    { tty, styler, ...(options.width === undefined ? {} : { maxWidth: options.width }) },
  );
}

/**
 * Progress over the steps: passed steps ticked, the current one marked, the
 * rest dim, e.g. `✓ 1% ── ✓ 5% ── ▶ 25% ── 50% ── 100%`. A rollback or abort
 * crosses out the step where it happened.
 */
export function renderStepProgress(view: Pick<CanaryView, 'plan' | 'stepIndex' | 'status'>, styler: Styler = plainStyler): string {
  const failed = view.status === 'rolled-back' || view.status === 'aborted';
  return view.plan.steps
    .map((percent, i) => {
      const label = formatPercent(percent);
      if (view.status === 'completed' || i < view.stepIndex) return styler.green(`✓ ${label}`);
      if (i === view.stepIndex) return failed ? styler.red(`✗ ${label}`) : styler.bold(styler.cyan(`▶ ${label}`));
      return styler.dim(label);
    })
    .join(styler.dim(' ── '));
}
