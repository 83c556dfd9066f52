/**
 * Flag audit history as the management API shows it. Shared by the server, the stores and the API client.
 */
import type { Flag } from '../flags/model.js';

/** What a history entry records. */
export type FlagAction = 'create' | 'update' | 'rollout' | 'archive' | 'press' | 'release' | 'import';

/** One audit history entry as the API shows it. */
export interface FlagHistoryEntry {
  /** Flag-config version this change produced (global, increasing). */
  configVersion: number;
  key: string;
  /** Version of the flag after the change. */
  version: number;
  action: FlagAction;
  by: string;
  /** ISO-8601. */
  at: string;
  reason: string;
  before: Flag | null;
  after: Flag;
}

/** Who last pressed each kill switch, and when and why (from the history). */
export interface LastPress {
  by: string;
  at: string;
  reason: string;
}
