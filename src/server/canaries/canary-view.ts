/**
 * A stored canary as the API shows it (`src/api/canaries.ts`): ISO times, the plan with its
 * defaults, the latest evidence, the timeline with who did what, when the controller decides
 * next and how much of the step's hold is left. Pure: the record, the flag's service and the
 * time in, the view out.
 */
import type {
  CanaryDryRunResponse,
  CanaryEventKind,
  CanaryEvidenceView,
  CanaryPlanView,
  CanaryTimelineEntry as CanaryTimelineEntryView,
  CanaryView,
} from '../../api/canaries.js';
import type { CanaryButtonView } from '../../api/buttons.js';
import { type CanaryEvidence, type CanaryPlan, heldMs, isTerminal } from '../../canary/index.js';
import { type CanaryRecord, canaryId } from './canary-repository.js';

const iso = (ms: number): string => new Date(ms).toISOString();

export function canaryPlanView(plan: CanaryPlan & { baseline: string }): CanaryPlanView {
  return {
    flag: plan.flag,
    variant: plan.variant,
    baseline: plan.baseline,
    dataset: plan.dataset,
    column: plan.column,
    steps: [...plan.steps],
    intervalMs: plan.intervalMs,
    approveAt: [...plan.approveAt],
    minSample: plan.minSample,
    maxWaitMs: plan.maxWaitMs,
    guards: plan.guards.map((g) => ({ guard: g.text, metric: g.metric.name, tolerance: g.toleranceText, action: g.action })),
    alpha: plan.alpha,
    unit: plan.unit ?? null,
  };
}

export function canaryEvidenceView(evidence: CanaryEvidence): CanaryEvidenceView {
  const s = evidence.sampleRatio;
  return {
    at: iso(evidence.at),
    window: { start: iso(evidence.window.start), end: iso(evidence.window.end) },
    stepWindow: { start: iso(evidence.stepWindow.start), end: iso(evidence.stepWindow.end) },
    guards: evidence.guards.map((g) => ({
      guard: g.guard,
      metric: g.metric,
      action: g.action,
      scale: g.scale,
      control: g.control,
      canary: g.canary,
      difference: g.difference,
      interval: g.interval === null ? null : [g.interval[0], g.interval[1]],
      tolerance: g.tolerance,
      toleranceText: g.toleranceText,
      pValue: g.pValue,
      qValue: g.qValue,
      verdict: g.verdict,
      units: { control: g.units.control, canary: g.units.canary },
    })),
    sample: { ...evidence.sample },
    sampleRatio: {
      unit: s.unit,
      control: s.control,
      canary: s.canary,
      expectedShare: s.expectedShare,
      observedShare: s.observedShare,
      pValue: s.pValue,
      alpha: s.alpha,
      mismatch: s.mismatch,
    },
  };
}

const EVENT_KINDS: readonly CanaryEventKind[] = [
  'start',
  'advance',
  'await-approval',
  'promote',
  'ramp',
  'pause',
  'resume',
  'rollback',
  'complete',
  'abort',
];

function timelineView(record: CanaryRecord): CanaryTimelineEntryView[] {
  let before = 0;
  return record.timeline.map((entry) => {
    const from = before;
    before = entry.percent;
    return {
      at: iso(entry.at),
      // Every stored kind is one of the wire's; an unknown one (a newer server's) reads as the nearest: a pause.
      kind: (EVENT_KINDS as readonly string[]).includes(entry.kind) ? (entry.kind as CanaryEventKind) : 'pause',
      from,
      to: entry.percent,
      by: entry.by,
      reason: entry.reason,
      evidence: entry.evidence === undefined || entry.evidence === null ? null : canaryEvidenceView(entry.evidence),
      ...(entry.epoch === undefined ? {} : { epoch: entry.epoch }),
    };
  });
}

/** What the mapper needs besides the record. */
export interface CanaryViewContext {
  /** The flag's service (null when the flag is gone). */
  service: string | null;
  now: number;
  /** Time between two ticks of the controller: when a step's hold is over, the next tick decides. */
  tickMs: number;
}

/** When the controller decides next: the end of the step's hold, or its next tick; null when it waits for a person or has ended. */
function nextDecisionAt(record: CanaryRecord, context: CanaryViewContext, holdRemaining: number | null): number | null {
  const { state } = record;
  const lastTick = record.lastDecision?.at ?? context.now;
  const nextTick = Math.max(context.now, lastTick + context.tickMs);
  if (state.status === 'running') return holdRemaining !== null && holdRemaining > 0 ? context.now + holdRemaining : nextTick;
  // A canary paused by a kill switch resumes on its own at the tick after the release.
  if (state.status === 'paused' && state.pause?.cause === 'kill-switch') return nextTick;
  return null;
}

/** The API's view of a stored canary. */
export function canaryView(record: CanaryRecord, context: CanaryViewContext): CanaryView {
  const { state, plan } = record;
  const holdRemainingMs = state.status === 'running' ? Math.max(0, plan.intervalMs - heldMs(state, context.now)) : null;
  const next = isTerminal(state.status) ? null : nextDecisionAt(record, context, holdRemainingMs);
  return {
    id: canaryId(record),
    flag: plan.flag,
    service: context.service,
    status: state.status,
    stepIndex: state.stepIndex,
    percent: state.percent,
    plan: canaryPlanView(plan),
    nextDecisionAt: next === null ? null : iso(next),
    holdRemainingMs,
    pause: state.pause === null ? null : { cause: state.pause.cause, reason: state.pause.reason, at: iso(state.pause.at) },
    createdAt: iso(state.createdAt),
    startedAt: state.startedAt === null ? null : iso(state.startedAt),
    endedAt: state.endedAt === null ? null : iso(state.endedAt),
    reason: state.reason,
    revision: state.revision,
    evidence: record.lastDecision?.evidence ? canaryEvidenceView(record.lastDecision.evidence) : null,
    timeline: timelineView(record),
  };
}

/**
 * The answer of a dry run: the checked plan and, per step, when it is decided at the earliest if
 * the canary started at `now` (step i below 100 one hold time after it starts; the last step,
 * 100, when the step before it passes). Approval steps wait for a person, so later times are
 * "at the earliest".
 */
export function canaryDryRunView(plan: CanaryPlan & { baseline: string }, now: number): CanaryDryRunResponse {
  const last = plan.steps.length - 1;
  return {
    dryRun: true,
    plan: canaryPlanView(plan),
    schedule: plan.steps.map((percent, step) => ({
      step,
      percent,
      earliestAt: iso(now + Math.min(step + 1, last) * plan.intervalMs),
      approval: plan.approveAt.includes(percent),
    })),
  };
}

/** A canary in flight as the services view shows it (an abort button). */
export function canaryButtonView(record: CanaryRecord): CanaryButtonView {
  return {
    flag: record.plan.flag,
    status: record.state.status,
    percent: record.state.percent,
    stepIndex: record.state.stepIndex,
    steps: [...record.plan.steps],
  };
}
