/** The canary controller's room: the service, its background job and where canaries are kept. */
export {
  type CanaryRecord,
  type CanaryRepository,
  type CanaryTimelineEntry,
  MemoryCanaryRepository,
  StoreCanaryRepository,
  canaryId,
} from './canary-repository.js';
export { CONTROLLER, CanaryService, type CanaryServiceDependencies, canaryRollout } from './canary-service.js';
export { DEFAULT_CANARY_TICK_MS, type CanaryControllerOptions, canaryControllerJob } from './controller-job.js';
