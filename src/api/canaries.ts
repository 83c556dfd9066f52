/**
 * Canaries as the API shows them (`/api/v1/canaries`). Shared by the server and the API client.
 * The model and the decision rules are in docs/canary.md; this is only the wire shape.
 *
 * Times on the wire are ISO-8601 strings; durations are milliseconds. Values, differences,
 * intervals and tolerances of guards are those of `src/canary/evidence.ts` (rates as fractions,
 * relative differences as fractions: 0.1 = +10%).
 */
import type { GuardAction, GuardVerdict, PauseCause } from '../canary/index.js';

export type CanaryStatusName = 'pending' | 'running' | 'waiting-approval' | 'paused' | 'rolled-back' | 'completed' | 'aborted';

/**
 * `POST /api/v1/canaries`: start a canary (or, with `dryRun`, only check the plan and answer
 * the schedule). Every field but `flag` and `dataset` has a default (docs/canary.md, "The plan").
 */
export interface CanaryStartRequest {
  flag: string;
  dataset: string;
  /** The variant rolled out; default: the flag's only non-default variant. */
  variant?: string;
  /** The control variant; default: the flag's default variant. */
  baseline?: string;
  /** The cohort column; default `flag.<flag>`. */
  column?: string;
  /** Percentages, ascending, the last 100; default [1, 5, 25, 50, 100]. */
  steps?: number[];
  /** Hold time per step: a duration (`10m`, `1s`) or milliseconds. */
  interval?: string | number;
  /** Steps (percentages) after which the controller waits for `promote`. */
  approveAt?: number[];
  minSample?: number;
  /** How long a step may go without its minimum sample before the canary pauses as inconclusive. */
  maxWait?: string | number;
  /** Guards in the spec's syntax, e.g. `RATE(status_code >= 500) <= +0.5pp`, optionally ending `action=pause`. */
  guards?: string[];
  alpha?: number;
  unit?: string | null;
  reason?: string;
  /** Check and answer the plan and schedule; start nothing. */
  dryRun?: boolean;
}

/** One guard of a plan as the API shows it. */
export interface CanaryGuardView {
  /** Canonical text, e.g. `P95(duration_ms) <= +10%`. */
  guard: string;
  metric: string;
  tolerance: string;
  action: GuardAction;
}

/** A plan with its defaults filled in. */
export interface CanaryPlanView {
  flag: string;
  variant: string;
  baseline: string;
  dataset: string;
  column: string;
  steps: number[];
  intervalMs: number;
  approveAt: number[];
  minSample: number;
  maxWaitMs: number;
  guards: CanaryGuardView[];
  alpha: number;
  unit: string | null;
}

/** One guard at one tick. */
export interface CanaryGuardEvidenceView {
  guard: string;
  metric: string;
  action: GuardAction;
  /** `absolute` (rates: canary − control as a fraction) or `relative` ((canary − control) / control). */
  scale: 'absolute' | 'relative';
  control: number | null;
  canary: number | null;
  difference: number | null;
  /** Always-valid interval of the difference; null when undefined. */
  interval: [number, number] | null;
  /** The tolerance on the difference's scale; null when not placeable yet. */
  tolerance: number | null;
  toleranceText: string;
  pValue: number;
  qValue: number;
  verdict: GuardVerdict;
  units: { control: number; canary: number };
}

/** Everything one tick measured. */
export interface CanaryEvidenceView {
  at: string;
  window: { start: string; end: string };
  stepWindow: { start: string; end: string };
  guards: CanaryGuardEvidenceView[];
  sample: { control: number; canary: number; minimum: number; reached: boolean };
  sampleRatio: {
    unit: string | null;
    control: number;
    canary: number;
    expectedShare: number;
    observedShare: number | null;
    pValue: number;
    alpha: number;
    mismatch: boolean;
  };
}

/** What a timeline entry records. */
export type CanaryEventKind =
  | 'start'
  | 'advance'
  | 'await-approval'
  | 'promote'
  | 'ramp'
  | 'pause'
  | 'resume'
  | 'rollback'
  | 'complete'
  | 'abort';

/** One entry of a canary's timeline: a transition with who, why and the evidence behind it. */
export interface CanaryTimelineEntry {
  at: string;
  kind: CanaryEventKind;
  /** Percentages before and after. */
  from: number;
  to: number;
  /** `canary-controller` for the server's own decisions (the name the flag's history shows too), else the key's name. */
  by: string;
  reason: string;
  /** The tick's evidence for controller decisions; null for commands. */
  evidence: CanaryEvidenceView | null;
  /** The controller lease's epoch a controller decision was taken under (docs/scale.md); absent for commands. */
  epoch?: number;
}

/** `GET /api/v1/canaries/{flag}` and the answer of every command. The ETag is `"<revision>"`. */
export interface CanaryView {
  /** The canary's id (several canaries of a flag follow one another; one at a time is in flight). */
  id: string;
  flag: string;
  /** The flag's service (its kill switches pause the canary). */
  service: string | null;
  status: CanaryStatusName;
  /** Index into `plan.steps`; -1 before the start. */
  stepIndex: number;
  /** The percentage the flag serves the variant now. */
  percent: number;
  plan: CanaryPlanView;
  /** When the controller decides next (null when it has ended or waits for a person). */
  nextDecisionAt: string | null;
  /** Hold time left in the current step, in ms (null when not running). */
  holdRemainingMs: number | null;
  pause: { cause: PauseCause; reason: string; at: string } | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  /** Why the last transition happened. */
  reason: string | null;
  revision: number;
  /** The latest tick's evidence (null before the first tick). */
  evidence: CanaryEvidenceView | null;
  /** Newest last. */
  timeline: CanaryTimelineEntry[];
}

/** `GET /api/v1/canaries` (`?all=true` includes ended canaries). */
export interface CanaryListResponse {
  canaries: CanaryView[];
}

/** `POST /api/v1/canaries` with `dryRun: true`: the checked plan and when each step would be decided at the earliest. */
export interface CanaryDryRunResponse {
  dryRun: true;
  plan: CanaryPlanView;
  schedule: { step: number; percent: number; earliestAt: string; approval: boolean }[];
}

/** `POST /api/v1/canaries/{flag}/ramp`. */
export interface CanaryRampRequest {
  to: number;
  force?: boolean;
  reason?: string;
}

/** `POST /api/v1/canaries/{flag}/pause|resume|promote|abort` (`reason` is required for abort). */
export interface CanaryCommandRequest {
  reason?: string;
}
