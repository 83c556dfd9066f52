/**
 * `flagscope flags toggle KEY --on|--off`: which variants are "on" and "off", and what a
 * toggle changes. Pure.
 *
 * - `--on`: state `enabled`, default variant the ON variant, percentage rollout removed.
 *   Targeting stays and is served first; everyone it does not match gets ON.
 * - `--off`: state `disabled`, default variant the OFF variant. A disabled flag answers as
 *   flagd's does: reason DISABLED and no value, so every client serves its own code default
 *   (OFF, for a flag whose code defaults to off); the targeting and rollout stay stored,
 *   unserved (a later `--on` serves the targeting again).
 *
 * ON and OFF: the variants named `on` and `off` of a release flag, or the two variants of a
 * flag whose only values are `true` and `false`. Kill switches are pressed and released
 * (`flagscope buttons press|release`), never toggled; the CLI also refuses a flag whose canary
 * is in flight (the controller owns its rollout).
 */
import { FlagscopeError } from '../errors.js';
import type { FlagDefinition } from './model.js';

export interface ToggleVariants {
  on: string;
  off: string;
}

/** The ON and OFF variants of a flag, or a refusal saying why on/off is ambiguous for it. */
export function toggleVariants(flag: FlagDefinition): ToggleVariants {
  if (flag.kind === 'kill-switch') {
    throw new FlagscopeError(
      'usage',
      `${flag.key} is a kill switch: it is pressed and released, not toggled`,
      `press it with \`flagscope buttons press ${flag.key} --reason TEXT\` (serves its safe variant${flag.safeVariant === undefined ? '' : ` ${flag.safeVariant}`} to everyone) and release it with \`flagscope buttons release ${flag.key} --reason TEXT\``,
    );
  }
  const names = Object.keys(flag.variants);
  const boolean = names.length === 2 && names.some((n) => flag.variants[n] === true) && names.some((n) => flag.variants[n] === false);
  if (boolean) {
    return { on: names.find((n) => flag.variants[n] === true) as string, off: names.find((n) => flag.variants[n] === false) as string };
  }
  if (flag.kind === 'release' && names.includes('on') && names.includes('off')) return { on: 'on', off: 'off' };
  const shown = names.map((n) => `${n}=${JSON.stringify(flag.variants[n])}`).join(', ');
  throw new FlagscopeError(
    'usage',
    `${flag.key} has variants ${shown}: which is "on" and which is "off" is ambiguous`,
    flag.kind === 'release'
      ? `toggle works on flags whose variants are true and false, or release flags with variants named on and off; choose what is served with \`flagscope flags set ${flag.key} --default VARIANT\``
      : `toggle works on flags whose two variants are true and false (and release flags with variants on and off); choose what is served with \`flagscope flags set ${flag.key} --default VARIANT\``,
  );
}

/** The fields a toggle sends (a merge update); empty when the flag already serves that way. */
export function toggleFields(flag: FlagDefinition, to: 'on' | 'off'): Record<string, unknown> {
  const variants = toggleVariants(flag);
  const fields: Record<string, unknown> = {};
  if (to === 'on') {
    if (flag.state !== 'enabled') fields.state = 'enabled';
    if (flag.defaultVariant !== variants.on) fields.defaultVariant = variants.on;
    if (flag.rollout !== undefined) fields.rollout = null;
  } else {
    if (flag.state !== 'disabled') fields.state = 'disabled';
    if (flag.defaultVariant !== variants.off) fields.defaultVariant = variants.off;
  }
  return fields;
}
