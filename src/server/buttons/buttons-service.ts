/**
 * The buttons: kill switches grouped by service, and pressing or releasing one, over the
 * flag service's public methods. No HTTP here; `routes.ts` is the wire.
 */
import type { ButtonView, PressResponse, ServiceButtons } from '../../api/buttons.js';
import type { Flag } from '../../flags/index.js';
import type { FlagService } from '../flags/flag-service.js';

/** What a flag serves when no kill switch overrides it, in a few words. */
export function describeServed(flag: Flag): string {
  if (flag.archived) return 'archived: not served';
  if (flag.state === 'disabled') return `disabled: ${flag.defaultVariant} to everyone`;
  const parts: string[] = [];
  if (flag.targeting !== undefined) parts.push('targeting rules');
  if (flag.rollout !== undefined) {
    const scale = 10 ** flag.rollout.precision;
    parts.push(flag.rollout.weights.map((w) => `${w.variant} ${w.weight / scale}%`).join(', '));
  }
  if (parts.length === 0) return `${flag.defaultVariant} to everyone`;
  return `${parts.join(', then ')} (default ${flag.defaultVariant})`;
}

/** Services with their flag counts and buttons (kill switches), pressed buttons first. */
export function servicesView(flags: FlagService): ServiceButtons[] {
  const byService = new Map<string, ServiceButtons>();
  for (const flag of flags.snapshot().live) {
    let service = byService.get(flag.service);
    if (service === undefined) byService.set(flag.service, (service = { name: flag.service, flags: 0, buttons: [] }));
    service.flags += 1;
    if (flag.kind !== 'kill-switch' || flag.safeVariant === undefined) continue;
    service.buttons.push(buttonView(flags, flag, flag.safeVariant));
  }
  const services = [...byService.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const s of services) s.buttons.sort((a, b) => (a.state === b.state ? (a.key < b.key ? -1 : 1) : a.state === 'pressed' ? -1 : 1));
  return services;
}

function buttonView(flags: FlagService, flag: Flag, safeVariant: string): ButtonView {
  const pressed = flag.pressed === undefined ? null : { by: flag.pressed.by, at: flag.pressed.at, reason: flag.pressed.reason };
  return {
    key: flag.key,
    description: flag.description ?? null,
    safeVariant,
    safeValue: flag.variants[safeVariant],
    state: pressed === null ? 'armed' : 'pressed',
    pressed,
    lastPress: flags.lastPress(flag.key) ?? null,
    runbookUrl: flag.runbookUrl ?? null,
    serves: pressed === null ? describeServed(flag) : `${safeVariant} to everyone (pressed)`,
    version: flag.version,
  };
}

/** Presses or releases the kill switch `key` for `who`, and says what it now serves. */
export async function pressOrRelease(
  flags: FlagService,
  verb: 'press' | 'release',
  key: string,
  who: string,
  reason: unknown,
): Promise<PressResponse> {
  const result = await flags.killSwitch(verb, key, who, reason);
  const flag = result.flag;
  const servedVariant = flag.pressed !== undefined && flag.safeVariant !== undefined ? flag.safeVariant : undefined;
  return {
    changed: result.changed,
    ...(result.message !== undefined ? { message: result.message } : {}),
    ...(result.press !== undefined ? { press: result.press } : {}),
    flag,
    configVersion: result.configVersion,
    subscribers: result.subscribers,
    served:
      servedVariant === undefined
        ? { everyone: false, description: describeServed(flag) }
        : { everyone: true, variant: servedVariant, value: flag.variants[servedVariant] },
  };
}
