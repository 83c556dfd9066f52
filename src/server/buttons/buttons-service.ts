/**
 * The buttons: kill switches grouped by service, and pressing or releasing one, over the
 * flag service's public methods. No HTTP here; `routes.ts` is the wire.
 */
import type { ButtonView, CanaryButtonView, PressResponse, ServiceButtons } from '../../api/buttons.js';
import type { Flag } from '../../flags/index.js';
import type { FlagService } from '../flags/flag-service.js';

/** What a flag serves when no kill switch overrides it, in a few words. */
export function describeServed(flag: Flag): string {
  if (flag.archived) return 'archived: not served';
  if (flag.state === 'disabled') return "disabled: the caller's default to everyone";
  const parts: string[] = [];
  if (flag.targeting !== undefined) parts.push('targeting rules');
  if (flag.rollout !== undefined) {
    const scale = 10 ** flag.rollout.precision;
    parts.push(flag.rollout.weights.map((w) => `${w.variant} ${w.weight / scale}%`).join(', '));
  }
  const fallback = flag.defaultVariant ?? "the caller's default";
  if (parts.length === 0) return `${fallback} to everyone`;
  return `${parts.join(', then ')} (default ${fallback})`;
}

/** What an armed switch is said to serve to a key that may not read its configuration. */
const CONFIGURED_NOT_SHOWN = 'as configured (shown to keys with flags:read)';

/**
 * Services with their flag counts and buttons (kill switches), pressed buttons first. Without
 * `canReadFlags` (a `killswitch`-only key) the view keeps to the switches: only services with
 * buttons, no flag counts, and no word of what an armed switch's configuration serves.
 */
export function servicesView(flags: FlagService, canReadFlags = true, canaries: readonly CanaryButtonView[] = []): ServiceButtons[] {
  const byService = new Map<string, ServiceButtons>();
  const counts = new Map<string, number>();
  const live = flags.snapshot().live;
  for (const flag of live) {
    counts.set(flag.service, (counts.get(flag.service) ?? 0) + 1);
    let service = byService.get(flag.service);
    if (service === undefined && canReadFlags) byService.set(flag.service, (service = { name: flag.service, buttons: [] }));
    if (flag.kind !== 'kill-switch' || flag.safeVariant === undefined) continue;
    if (service === undefined) byService.set(flag.service, (service = { name: flag.service, buttons: [] }));
    service.buttons.push(buttonView(flags, flag, flag.safeVariant, canReadFlags));
  }
  // A canary in flight is an abort button of its flag's service (a `killswitch` key may abort it).
  const serviceOf = new Map(live.map((flag) => [flag.key, flag.service]));
  for (const canary of canaries) {
    const name = serviceOf.get(canary.flag);
    if (name === undefined) continue;
    let service = byService.get(name);
    if (service === undefined) byService.set(name, (service = { name, buttons: [] }));
    (service.canaries ??= []).push(canary);
  }
  if (canReadFlags) for (const service of byService.values()) service.flags = counts.get(service.name) ?? 0;
  const services = [...byService.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const s of services) s.buttons.sort((a, b) => (a.state === b.state ? (a.key < b.key ? -1 : 1) : a.state === 'pressed' ? -1 : 1));
  return services;
}

function buttonView(flags: FlagService, flag: Flag, safeVariant: string, canReadFlags: boolean): ButtonView {
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
    serves: pressed !== null ? `${safeVariant} to everyone (pressed)` : canReadFlags ? describeServed(flag) : CONFIGURED_NOT_SHOWN,
    version: flag.version,
  };
}

/**
 * Presses or releases the kill switch `key` for `who`, and says what it now serves. Without
 * `canReadFlags` (a `killswitch`-only key) the answer keeps to the switch: any flag that is not
 * a live kill switch is one uniform not-found, and neither the flag's definition nor what its
 * configuration serves is shown.
 */
export async function pressOrRelease(
  flags: FlagService,
  verb: 'press' | 'release',
  key: string,
  who: string,
  reason: unknown,
  canReadFlags = true,
): Promise<PressResponse> {
  const result = await flags.killSwitch(verb, key, who, reason, { hideOtherFlags: !canReadFlags });
  const flag = result.flag;
  const safeVariant = flag.safeVariant as string;
  const pressed = flag.pressed !== undefined;
  return {
    changed: result.changed,
    ...(result.message !== undefined ? { message: result.message } : {}),
    ...(result.press !== undefined ? { press: result.press } : {}),
    key: flag.key,
    state: pressed ? 'pressed' : 'armed',
    safeVariant,
    version: flag.version,
    ...(canReadFlags ? { flag } : {}),
    configVersion: result.configVersion,
    subscribers: result.subscribers,
    served: pressed
      ? { everyone: true, variant: safeVariant, value: flag.variants[safeVariant] }
      : { everyone: false, description: canReadFlags ? describeServed(flag) : CONFIGURED_NOT_SHOWN },
  };
}
