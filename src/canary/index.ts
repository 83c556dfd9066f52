/**
 * The canary core: plans, guards, the always-valid tests, the measurement
 * statements (compare's), the evidence of a tick, the decision and the state
 * machine. Pure: the server's controller (src/server/canaries/) runs it.
 * Model and rules: docs/canary.md.
 */
export {
  type CanaryPlan,
  type PlanFlag,
  DEFAULT_STEPS,
  DEFAULT_INTERVAL_MS,
  MIN_INTERVAL_MS,
  MAX_INTERVAL_MS,
  DEFAULT_MIN_SAMPLE,
  DEFAULT_MAX_WAIT_FLOOR_MS,
  DEFAULT_CANARY_ALPHA,
  MAX_STEPS,
  MAX_GUARDS,
  parseCanaryPlan,
  checkPlanAgainstFlag,
  stepPercent,
} from './plan.js';
export {
  type GuardAction,
  type GuardDefinition,
  type GuardObjectInput,
  GUARD_HINT,
  parseGuard,
  guardFromInput,
  defaultGuards,
  toleranceOnDifferenceScale,
} from './guard.js';
export {
  type HarmTestInput,
  type HarmTestResult,
  type SrmInput,
  type SrmEvidence,
  SRM_RELATIVE_SPREAD,
  harmTest,
  mixtureBoundary,
  oneSidedMixtureLogE,
  srmConcentration,
  srmEvidence,
} from './sequential.js';
export {
  type TimeWindow,
  type CanaryCohorts,
  type CanaryMeasurement,
  type CanaryStatements,
  type CanaryStatementInput,
  type CanaryBatch,
  buildCanaryBatch,
  buildCanaryStatements,
  canaryCompareRequest,
  canaryWindows,
  compareStatementOf,
} from './measure.js';
export { type UnitBatchInput, buildCanaryUnitBatch, unitColumnOf } from './batch.js';
export {
  type GuardVerdict,
  type GuardEvidence,
  type SampleRatioEvidence,
  type CanaryEvidence,
  type EvidenceInput,
  CANARY_SRM_ALPHA,
  MIN_UNITS_FOR_VERDICT,
  assembleEvidence,
  mixingScaleOf,
} from './evidence.js';
export {
  type DecisionKind,
  type PressedSwitch,
  type CanaryDecision,
  type DecideInput,
  decideTick,
  applyDecision,
  transitionOf,
  guardSummary,
} from './decide.js';
export {
  type CanaryStatus,
  type PauseCause,
  type CanaryPause,
  type CanaryState,
  type CanaryTransition,
  type TransitionContext,
  TERMINAL_STATUSES,
  isTerminal,
  createCanaryState,
  heldMs,
  waitedMs,
  transition,
} from './state.js';
