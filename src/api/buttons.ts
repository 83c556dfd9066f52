/**
 * The buttons (kill switches by service) as the API shows them: `GET /api/v1/services` and the
 * answer of `POST /api/v1/flags/{key}/press|release`. Shared by the server and the API client.
 */
import type { Flag } from '../flags/model.js';
import type { CanaryStatusName } from './canaries.js';

/** One quick red button as `GET /api/v1/services` shows it. */
export interface ButtonView {
  key: string;
  description: string | null;
  safeVariant: string;
  safeValue: unknown;
  state: 'armed' | 'pressed';
  pressed: { by: string; at: string; reason: string } | null;
  lastPress: { by: string; at: string; reason: string } | null;
  runbookUrl: string | null;
  serves: string;
  version: number;
}

/**
 * One service of `GET /api/v1/services`: its flag count and its buttons, pressed first. A key
 * without `flags:read` sees only the services that have buttons, without their flag count.
 */
export interface ServiceButtons {
  name: string;
  flags?: number;
  buttons: ButtonView[];
  /** Canaries in flight of the service's flags: each is an abort button (`flagscope canary abort FLAG --reason …`). */
  canaries?: CanaryButtonView[];
}

/** A canary in flight as `GET /api/v1/services` shows it beside the service's kill switches. */
export interface CanaryButtonView {
  flag: string;
  status: CanaryStatusName;
  percent: number;
  stepIndex: number;
  steps: number[];
}

/** The answer of `POST /api/v1/flags/{key}/press` and `/release`. */
export interface PressResponse {
  changed: boolean;
  message?: string;
  press?: { by: string; at: string; reason: string };
  /** The switch: what a presser needs, for every key that may press. */
  key: string;
  state: 'armed' | 'pressed';
  safeVariant: string;
  version: number;
  /** The whole flag, only for a key that may read flags (`flags:read`). */
  flag?: Flag;
  configVersion: number;
  /** Stream subscribers the change was written to (0 when nothing changed). */
  subscribers: number;
  served: { everyone: true; variant: string; value: unknown } | { everyone: false; description: string };
}
