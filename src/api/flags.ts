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

/** A flag as `GET /api/v1/flags` lists it: the flag and whether it is stale. */
export type ListedFlag = Flag & { stale: boolean };

/** `GET /api/v1/flags`. */
export interface FlagListResponse {
  configVersion: number;
  flags: ListedFlag[];
}

/** `GET /api/v1/flags/{key}`. */
export interface FlagGetResponse {
  flag: Flag;
  stale: boolean;
}

/** Every flag write (`POST /api/v1/flags`, `PUT`/`PATCH /api/v1/flags/{key}`, `/rollout`, `/archive`). */
export interface FlagWriteResponse {
  flag: Flag;
  configVersion: number;
}

/** `GET /api/v1/flags/{key}/history`, newest first. */
export interface FlagHistoryResponse {
  key: string;
  history: FlagHistoryEntry[];
}

/** `POST /api/v1/import/flagd`: which flags the document created, updated or left alone. */
export interface FlagdImportResponse {
  created: string[];
  updated: string[];
  unchanged: string[];
  configVersion: number;
  /** Targeting that can only evaluate to null (or to `PARSE_ERROR`), imported as flagd loads it. */
  warnings: FlagdImportWarning[];
}

/** One part of an imported flag's targeting that can never give an answer. */
export interface FlagdImportWarning {
  flag: string;
  /** `null`: the default variant (or the caller's default) is served; `parse-error`: every evaluation answers `PARSE_ERROR`. */
  outcome: 'null' | 'parse-error';
  message: string;
}
