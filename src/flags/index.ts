/** The pure flag core: model, validation, evaluation, kill switches, flagd format. */
export * from './model.js';
export * from './evaluate.js';
export * from './kill-switch.js';
export * from './flagd-format.js';
export * from './targeting-rule.js';
export * from './toggle.js';
export * from './diff.js';
export {
  evaluateJsonLogic,
  validateJsonLogic,
  truthy,
  bucketOf,
  pickWeighted,
  maxFractionalTotalWeight,
  operatorArity,
  LogicEvaluationError,
} from './json-logic.js';
export type { LogicEnvironment } from './json-logic.js';
export { murmur3x86_32, murmur3Utf8, murmur3Utf16CodeUnits } from './murmur3.js';
export { parseSemanticVersion, compareSemanticVersions } from './semver.js';
export type { SemanticVersion } from './semver.js';
export { parseVariantAssignments, parseRolloutAssignments } from './assignments.js';
