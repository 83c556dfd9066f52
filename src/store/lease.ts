/** What every engine says when a write is fenced by a lease that has moved on. */
import { FlagscopeError } from '../errors.js';
import type { LeaseFence } from './types.js';

/** The error of a write decided under a lease epoch that is no longer the lease's. */
export function staleLease(fence: LeaseFence, current: number | undefined): FlagscopeError {
  return new FlagscopeError(
    'conflict',
    `lease ${fence.lease} has moved on (epoch ${current ?? 'none'}, this write was decided under epoch ${fence.epoch}): the write is refused`,
    'another replica leads now; this one stops acting until it wins the lease again',
  );
}
