/**
 * Pressing and releasing kill switches, as pure functions over a flag. The
 * store persists the returned flag (bumping its version and audit history);
 * nothing here reads a clock: the time of the press comes in.
 */
import { invalidInput } from '../errors.js';
import type { FlagDefinition, KillSwitchPress, ServedConfig } from './model.js';

export interface KillSwitchAction {
  /** Who acts: the API key name or user. */
  by: string;
  /** Why; required and non-blank. */
  reason: string;
  /** ISO-8601 time of the action. */
  at: string;
}

export type KillSwitchOutcome<F extends FlagDefinition> =
  | {
      /** The flag changed; persist `flag`. */
      changed: true;
      flag: F;
      /** The press now in force (after a press) or just lifted (after a release). */
      press: KillSwitchPress;
    }
  | {
      /** Nothing to do: already pressed (after a press) or not pressed (after a release). */
      changed: false;
      flag: F;
      /** The press in force, when the switch was already pressed: who, when, why. */
      press?: KillSwitchPress;
      message: string;
    };

function checkAction(flag: FlagDefinition, action: KillSwitchAction, verb: 'press' | 'release'): void {
  if (flag.kind !== 'kill-switch' || flag.safeVariant === undefined) {
    throw invalidInput(`flag ${flag.key} is a ${flag.kind} flag, not a kill switch`, 'only kill-switch flags can be pressed or released');
  }
  if (typeof action.reason !== 'string' || action.reason.trim() === '') {
    throw invalidInput(`a ${verb} of ${flag.key} needs a reason`, `pass --reason TEXT saying why you ${verb} it`);
  }
  if (typeof action.by !== 'string' || action.by.trim() === '') {
    throw invalidInput(`a ${verb} of ${flag.key} needs to say who acts`);
  }
  if (typeof action.at !== 'string' || Number.isNaN(Date.parse(action.at))) {
    throw invalidInput(`the time of the ${verb} is not an ISO-8601 time`);
  }
}

function servedConfig(flag: FlagDefinition): ServedConfig {
  const served: ServedConfig = { state: flag.state, defaultVariant: flag.defaultVariant };
  if (flag.targeting !== undefined) served.targeting = structuredClone(flag.targeting);
  if (flag.rollout !== undefined) served.rollout = structuredClone(flag.rollout);
  return served;
}

/**
 * Presses a kill switch: the returned flag serves its safe variant to every
 * context, overriding state, targeting and rollout, and remembers what was
 * served before. Pressing a pressed switch changes nothing and returns the
 * press in force (who, when, why). Throws `invalid_input` for a flag that is
 * not a kill switch or a missing reason.
 */
export function pressKillSwitch<F extends FlagDefinition>(flag: F, action: KillSwitchAction): KillSwitchOutcome<F> {
  checkAction(flag, action, 'press');
  if (flag.pressed !== undefined) {
    const p = flag.pressed;
    return {
      changed: false,
      flag,
      press: p,
      message: `${flag.key} is already pressed: by ${p.by} at ${p.at} (${p.reason})`,
    };
  }
  const press: KillSwitchPress = { by: action.by, at: action.at, reason: action.reason.trim(), servedBefore: servedConfig(flag) };
  return { changed: true, flag: { ...flag, pressed: press }, press };
}

/**
 * Releases a pressed kill switch: state, default variant, targeting and
 * rollout become exactly what they were when it was pressed, so every context
 * gets the variant (and rollout bucket) it had before. Releasing a switch that
 * is not pressed changes nothing. Throws `invalid_input` for a flag that is
 * not a kill switch or a missing reason.
 */
export function releaseKillSwitch<F extends FlagDefinition>(flag: F, action: KillSwitchAction): KillSwitchOutcome<F> {
  checkAction(flag, action, 'release');
  const press = flag.pressed;
  if (press === undefined) {
    return { changed: false, flag, message: `${flag.key} is not pressed` };
  }
  const { pressed: _lifted, targeting: _t, rollout: _r, ...rest } = flag;
  const released = { ...rest, state: press.servedBefore.state, defaultVariant: press.servedBefore.defaultVariant } as F;
  if (press.servedBefore.targeting !== undefined) released.targeting = structuredClone(press.servedBefore.targeting);
  if (press.servedBefore.rollout !== undefined) released.rollout = structuredClone(press.servedBefore.rollout);
  return { changed: true, flag: released, press };
}
