/**
 * The retention job: every `everyMs` of the server's scheduler (default an hour), one sweep of the
 * dataset service (delete whole hours of events older than each dataset's retention, then
 * checkpoint). docs/storage.md, "Retention".
 */
import { type BackgroundJob, periodicJob } from '../jobs.js';
import type { DatasetService } from './dataset-service.js';

/** Default milliseconds between two sweeps. */
export const RETENTION_SWEEP_MS = 3_600_000;

export function retentionJob(service: DatasetService, everyMs: number = RETENTION_SWEEP_MS): BackgroundJob {
  return periodicJob('retention', everyMs, async () => {
    await service.sweep();
  });
}
