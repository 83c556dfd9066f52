/**
 * The quick red buttons on the wire: `GET /api/v1/services` and the answer of
 * a kill-switch press or release (`POST /api/v1/flags/{key}/press|release`).
 * Shared by the server and the API client.
 */
import type { Flag } from '../flags/model.js';
import type { LastPress } from './flags.js';

/** One quick red button as `GET /api/v1/services` shows it. */
export interface ButtonView {
  key: string;
  description: string | null;
  safeVariant: string;
  safeValue: unknown;
  state: 'armed' | 'pressed';
  pressed: LastPress | null;
  lastPress: LastPress | null;
  runbookUrl: string | null;
  serves: string;
  version: number;
}

/** A service with its flag count and its buttons, pressed buttons first. */
export interface ServiceView {
  name: string;
  flags: number;
  buttons: ButtonView[];
}

/** `GET /api/v1/services`. */
export interface ServicesResponse {
  configVersion: number;
  services: ServiceView[];
}

/** What a flag serves after a press or release: one variant to everyone, or its rules in a few words. */
export type ServedSummary = { everyone: true; variant: string; value: unknown } | { everyone: false; description: string };

/** The answer to `POST /api/v1/flags/{key}/press` and `/release`. */
export interface KillSwitchResponse {
  /** False when the switch already was in the asked state. */
  changed: boolean;
  message?: string;
  /** The press in force (after a press, or the earlier one when nothing changed). */
  press?: LastPress;
  flag: Flag;
  configVersion: number;
  /** Stream subscribers the change was delivered to. */
  subscribers: number;
  served: ServedSummary;
}
