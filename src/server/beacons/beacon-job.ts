/**
 * The beacon flush as a background job: while the server runs, the beacon service closes
 * executions whose window has passed and stores them (every second); when it stops, every open
 * execution is closed and stored before the stores close. docs/storage.md, "Beacons".
 */
import type { BackgroundJob } from '../jobs.js';
import type { BeaconService } from './beacon-service.js';

export function beaconFlushJob(service: BeaconService): BackgroundJob {
  return {
    name: 'beacon-flush',
    start() {
      service.start();
    },
    stop: () => service.stop(),
  };
}
