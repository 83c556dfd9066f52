/**
 * `flagscope buttons [--service S]` and `buttons press|release KEY --reason
 * TEXT [--yes]`: the quick red buttons of every service.
 */
import { parseDurationMs } from '../../api/duration.js';
import { FlagscopeError, invalidInput, notFound } from '../../errors.js';
import { closestNames, shortName } from '../../query/suggest.js';
import type { Flag } from '../../flags/model.js';
import { renderCsv, renderJson, renderNdjson } from '../../output/serialize.js';
import { formatIsoTime, formatRelativeTime } from '../../output/values.js';
import type { CommandEnv } from '../command-env.js';
import type { Verb } from '../registration.js';
import type { ButtonView, CanaryButtonView, PressResponse } from '../../api/buttons.js';
import { listServices, pressOrRelease } from '../../client/buttons.js';
import { getFlag } from '../../client/flags.js';
import { servedSummary } from '../flags/read-flags.js';

function when(env: CommandEnv, iso: string): string {
  const ms = Date.parse(iso);
  return env.stdoutIsTTY ? formatRelativeTime(ms, env.ctx.now()) : formatIsoTime(ms);
}

function lastPressText(env: CommandEnv, b: ButtonView): string {
  const p = b.pressed ?? b.lastPress;
  return p === null ? 'never' : `${p.by}, ${when(env, p.at)}: ${p.reason}`;
}

/** `buttons [--service S]`: grouped by service, pressed buttons first and in red. */
export const listButtonsVerb: Verb = async (env, _args, options) => {
  const { services, configVersion } = await listServices(await env.client());
  const wanted = typeof options.service === 'string' ? options.service : undefined;
  if (wanted !== undefined && !services.some((s) => s.name === wanted)) {
    throw new FlagscopeError(
      'not_found',
      // A key without flags:read sees only the services that have kill switches.
      `service ${wanted} has no ${services.some((s) => s.flags !== undefined) ? 'flags' : 'kill switches'}`,
      `services: ${services.map((s) => s.name).join(', ') || 'none yet'}`,
    );
  }
  const shown = services.filter(
    (s) => (wanted === undefined || s.name === wanted) && (s.buttons.length > 0 || (s.canaries?.length ?? 0) > 0),
  );
  const rows = shown.flatMap((s) => s.buttons.map((b) => ({ service: s.name, ...b })));
  // Canaries in flight are abort buttons of their service (a row of state `canary` when piped).
  const canaryRows = shown.flatMap((s) => (s.canaries ?? []).map((c) => ({ service: s.name, ...c })));
  if (env.format === 'json') {
    env.out(renderJson({ configVersion, services: shown }));
    return;
  }
  // Piped or not, an empty list says why on stderr, so stdout stays data.
  if (shown.length === 0)
    env.info(
      wanted === undefined
        ? 'no kill switches yet; create one with `flagscope flags create KEY --kind kill-switch --safe VARIANT …`'
        : `service ${wanted} has no kill switches; \`flagscope buttons\` lists the services that have some`,
    );
  if (env.format === 'ndjson') {
    env.out(renderNdjson([...rows, ...canaryRows.map((c) => ({ ...c, state: 'canary' }))]));
    return;
  }
  if (env.format === 'csv' || !env.stdoutIsTTY) {
    const header = [
      'service',
      'key',
      'state',
      'turns_off',
      'safe_variant',
      'last_press_by',
      'last_press_at',
      'last_press_reason',
      'runbook',
    ];
    const cells = rows.map((r) => {
      const p = r.pressed ?? r.lastPress;
      return [r.service, r.key, r.state, r.description ?? '', r.safeVariant, p?.by ?? '', p?.at ?? '', p?.reason ?? '', r.runbookUrl ?? ''];
    });
    for (const c of canaryRows) cells.push([c.service, c.flag, 'canary', canaryButtonText(c), '', '', '', '', '']);
    env.out(env.format === 'csv' ? renderCsv(header, cells) : cells.map((c) => c.join('\t')).join('\n') + (cells.length > 0 ? '\n' : ''));
    return;
  }
  const s = env.styler;
  const lines: string[] = [];
  for (const service of shown) {
    lines.push(s.bold(service.name));
    for (const b of service.buttons) {
      const state = b.state === 'pressed' ? s.red(s.bold('PRESSED')) : s.green('armed');
      const key = b.state === 'pressed' ? s.red(s.bold(b.key)) : s.bold(b.key);
      lines.push(`  ${key}  ${state}  ${b.description ?? ''}`.trimEnd());
      lines.push(
        `    ${s.dim('serves')} ${b.state === 'pressed' ? s.red(b.serves) : b.serves}   ${s.dim('safe')} ${b.safeVariant}=${JSON.stringify(b.safeValue)}`,
      );
      lines.push(`    ${s.dim(b.state === 'pressed' ? 'pressed' : 'last press')} ${lastPressText(env, b)}`);
      if (b.runbookUrl !== null) lines.push(`    ${s.dim('runbook')} ${b.runbookUrl}`);
    }
    for (const c of service.canaries ?? []) {
      lines.push(`  ${s.bold(c.flag)}  ${s.yellow('canary')}  ${canaryButtonText(c)}`);
      lines.push(`    ${s.dim('abort')} flagscope canary abort ${c.flag} --reason TEXT`);
    }
    lines.push('');
  }
  if (shown.length > 0) env.out(lines.join('\n'));
};

/** `running at 5% (step 2 of 5): abort sets it to 0% at once`. */
function canaryButtonText(c: CanaryButtonView): string {
  const step = c.stepIndex < 0 ? 'not started' : `step ${c.stepIndex + 1} of ${c.steps.length}`;
  return `${c.status} at ${c.percent}% (${step}): abort serves it to 0% at once`;
}

function afterText(verb: 'press' | 'release', flag: Flag | undefined): string {
  if (flag === undefined) return verb === 'press' ? 'its safe variant to everyone' : 'what it served before the press';
  if (verb === 'press') return `${flag.safeVariant}=${JSON.stringify(flag.variants[flag.safeVariant ?? ''])} to everyone`;
  if (flag.pressed === undefined) return servedSummary(flag);
  const before: Flag = { ...flag, ...flag.pressed.servedBefore, pressed: undefined } as Flag;
  if (flag.pressed.servedBefore.targeting === undefined) delete (before as Partial<Flag>).targeting;
  if (flag.pressed.servedBefore.rollout === undefined) delete (before as Partial<Flag>).rollout;
  return servedSummary(before);
}

/** The switch `key` as the services view shows it, with its service; undefined if it is not there. */
async function findButton(env: CommandEnv, key: string): Promise<{ service: string; button: ButtonView } | undefined> {
  const { services } = await listServices(await env.client());
  for (const s of services) {
    const button = s.buttons.find((b) => b.key === key);
    if (button !== undefined) return { service: s.name, button };
  }
  return undefined;
}

/** Not found for the switch `key`, with the nearest kill-switch keys the services view shows. */
async function unknownSwitch(env: CommandEnv, key: string): Promise<FlagscopeError> {
  const { services } = await listServices(await env.client());
  const nearest = closestNames(
    key,
    services.flatMap((s) => s.buttons.map((b) => b.key)),
  );
  const list = '`flagscope buttons` lists the kill switches';
  return notFound(`no kill switch ${shortName(key)}`, nearest.length > 0 ? `did you mean ${nearest.join(' or ')}? ${list}` : list);
}

function makeVerb(verb: 'press' | 'release'): Verb {
  return async (env, args, options) => {
    const key = String(args[0]);
    const reason = typeof options.reason === 'string' ? options.reason.trim() : '';
    if (reason === '') throw invalidInput(`a ${verb} needs a reason`, `add \`--reason TEXT\` saying why you ${verb} ${key}`);
    const client = await env.client();
    if (options.yes !== true) {
      const interactive =
        env.stdinIsTTY && env.stdoutIsTTY && (env.ctx.env.CI === undefined || env.ctx.env.CI === '') && env.format === 'table';
      if (!interactive) {
        throw new FlagscopeError(
          'usage',
          `\`--yes\` required to ${verb} ${key} when not running interactively`,
          `add \`--yes\` to ${verb} without the prompt`,
        );
      }
      let flag: Flag | undefined;
      try {
        flag = (await getFlag(client, key)).flag;
      } catch (e) {
        if (!(e instanceof FlagscopeError) || (e.code !== 'forbidden' && e.code !== 'not_found')) throw e;
      }
      // A `killswitch`-only key may not read flags, but it sees the switch in the services view.
      const button = flag === undefined ? await findButton(env, key) : undefined;
      // Refused before the prompt, as the server would refuse it after: no key typed back in vain.
      if (flag === undefined && button === undefined) throw await unknownSwitch(env, key);
      if (flag !== undefined && (flag.kind !== 'kill-switch' || flag.archived)) {
        throw invalidInput(
          `flag ${key} is ${flag.archived ? 'archived' : `a ${flag.kind} flag`}, not a kill switch`,
          'only kill-switch flags can be pressed or released; `flagscope buttons` lists them',
        );
      }
      const { askToConfirm } = await import('./confirm-prompt.js');
      const props: Parameters<typeof askToConfirm>[1] = {
        verb,
        flagKey: key,
        servesNow: flag !== undefined ? servedSummary(flag) : (button?.button.serves ?? '(your key may not read flags)'),
        servesAfter: afterText(verb, flag),
        reason,
      };
      const service = flag?.service ?? button?.service;
      if (service !== undefined) props.service = service;
      const description = flag?.description ?? button?.button.description ?? undefined;
      if (description !== undefined && description !== null) props.description = description;
      const runbookUrl = flag?.runbookUrl ?? button?.button.runbookUrl ?? undefined;
      if (runbookUrl !== undefined && runbookUrl !== null) props.runbookUrl = runbookUrl;
      // Still asked (it may change by the time it is sent), but said: at 3 a.m. a no-op is news.
      const pressedNow =
        flag !== undefined ? flag.pressed !== undefined : button !== undefined ? button.button.state === 'pressed' : undefined;
      if (pressedNow === (verb === 'press')) {
        props.note = `already ${verb === 'press' ? 'pressed' : 'released'}: ${verb === 'press' ? 'pressing' : 'releasing'} it again changes nothing`;
      }
      const outcome = await askToConfirm(env, props);
      const not = `${key} was not ${verb === 'press' ? 'pressed' : 'released'}`;
      if (outcome === 'cancelled') throw new FlagscopeError('usage', `${not}: cancelled`, `run it again to ${verb} ${key}`);
      if (outcome === 'mismatch')
        throw new FlagscopeError('usage', `${not}: the key was not typed back`, 'type the key exactly, or pass `--yes`');
    }
    const result = await pressOrRelease(client, verb, key, reason);
    printOutcome(env, verb, key, result);
    if (verb === 'press' && typeof options.watchTraffic === 'string') {
      const timeoutMs = parseWatchDuration('--watch-timeout', options.watchTimeout, 120_000);
      const windowMs = parseWatchDuration('--watch-window', options.watchWindow, DEFAULT_WATCH_WINDOW_MS);
      if (windowMs < 1000) throw invalidInput('`--watch-window` must be at least 1s', 'e.g. 10s, 30s');
      const column = typeof options.variantColumn === 'string' ? options.variantColumn : `flag.${key}`;
      const since = result.press !== undefined ? Date.parse(result.press.at) : env.ctx.now();
      await watchTraffic(env, {
        dataset: options.watchTraffic,
        column,
        safeVariant: result.safeVariant,
        since,
        timeoutMs,
        windowMs,
      });
    }
  };
}

/** How much recent traffic `--watch-traffic` judges by default. */
const DEFAULT_WATCH_WINDOW_MS = 10_000;

function parseWatchDuration(option: string, raw: unknown, fallback: number): number {
  if (raw === undefined) return fallback;
  try {
    return parseDurationMs(String(raw), { milliseconds: true, zero: true });
  } catch {
    throw invalidInput(`\`${option}\` ${JSON.stringify(raw)} is not a duration`, 'e.g. 30s, 2m');
  }
}

/** Events (weighted) per variant in `dataset` from `from` to now. */
async function variantCounts(env: CommandEnv, dataset: string, column: string, from: number): Promise<Map<string, number>> {
  const client = await env.client();
  const result = await client.query(dataset, {
    calculations: [{ op: 'COUNT' }],
    breakdowns: [column],
    start_time: Math.floor(from / 1000),
    end_time: Math.floor(env.ctx.now() / 1000) + 2,
  });
  const counts = new Map<string, number>();
  for (const row of result.data.results) {
    const variant = row.data[column];
    const count = Number(row.data['COUNT'] ?? 0);
    if (variant !== null && variant !== undefined && count > 0) counts.set(String(variant), count);
  }
  return counts;
}

/** `live: 40, off: 3`, or what was seen when nothing was. */
function countsText(counts: Map<string, number>): string {
  return counts.size === 0 ? 'no events with that column' : [...counts].map(([v, n]) => `${v}: ${n}`).join(', ');
}

/** `12:01:50`: a time of day in UTC, to the second. */
function clockTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(11, 19);
}

/**
 * Follows the variant column of live events after a press until the recent ones show the
 * safe variant, or fails with a timeout saying what traffic shows instead. It judges a moving
 * window, the last `windowMs` (never reaching back before the press), not every event since
 * the press: clients that take a few seconds to hear of the press (stream reconnects, polling
 * SDKs, events sent in batches) then do not fail a press that has taken hold.
 */
async function watchTraffic(
  env: CommandEnv,
  watch: { dataset: string; column: string; safeVariant: string; since: number; timeoutMs: number; windowMs: number },
): Promise<void> {
  const deadline = env.ctx.now() + watch.timeoutMs;
  const seconds = (ms: number): string => `${Math.round(ms / 1000)}s`;
  env.info(
    `watching ${watch.column} in ${watch.dataset} for events served ${watch.safeVariant}: judging the last ${seconds(watch.windowMs)} of events after the press, for up to ${seconds(watch.timeoutMs)}`,
  );
  let last = new Map<string, number>();
  let from = watch.since;
  for (;;) {
    from = Math.max(watch.since, env.ctx.now() - watch.windowMs);
    last = await variantCounts(env, watch.dataset, watch.column, from);
    const total = [...last.values()].reduce((a, b) => a + b, 0);
    const safe = last.get(watch.safeVariant) ?? 0;
    if (total > 0 && safe / total >= 0.99) {
      const all = await variantCounts(env, watch.dataset, watch.column, watch.since);
      const allSafe = all.size === 1 && all.has(watch.safeVariant);
      env.out(
        `traffic confirms it: ${safe} of ${total} events in ${watch.dataset} ${windowText(from, env.ctx.now(), watch)} were served ${watch.safeVariant}\n`,
      );
      if (!allSafe) env.out(`(every event since the press, propagation included: ${countsText(all)})\n`);
      return;
    }
    if (env.ctx.now() >= deadline) break;
    await env.ctx.sleep(1000);
  }
  const all = await variantCounts(env, watch.dataset, watch.column, watch.since);
  throw new FlagscopeError(
    'timeout',
    `traffic in ${watch.dataset} does not show ${watch.safeVariant} after ${seconds(watch.timeoutMs)} of watching (${watch.column} ${windowText(from, env.ctx.now(), watch)}: ${countsText(last)}; since the press: ${countsText(all)})`,
    'the switch is pressed; check that clients evaluate the flag and send its variant in that column (`--variant-column`)',
  );
}

/** `in the last 10s (12:01:50–12:02:00 UTC)`, or `since the press (…)` while the window still reaches back to it. */
function windowText(from: number, to: number, watch: { since: number; windowMs: number }): string {
  const span = `${clockTime(from)}–${clockTime(to)} UTC`;
  return from <= watch.since ? `since the press (${span})` : `in the last ${Math.round(watch.windowMs / 1000)}s (${span})`;
}

function printOutcome(env: CommandEnv, verb: 'press' | 'release', key: string, result: PressResponse): void {
  if (env.format !== 'table') {
    env.out(renderJson(result));
    return;
  }
  const s = env.styler;
  if (!result.changed) {
    const p = result.press;
    env.out(
      `${s.yellow('no change')}: ${result.message ?? `${key} is already ${verb === 'press' ? 'pressed' : 'released'}`}${p !== undefined && result.message === undefined ? ` (by ${p.by} ${when(env, p.at)}: ${p.reason})` : ''}\n`,
    );
    return;
  }
  const served = result.served.everyone ? `${result.served.variant} = ${JSON.stringify(result.served.value)}` : result.served.description;
  const headline = verb === 'press' ? s.red(s.bold(`PRESSED ${key}`)) : s.green(s.bold(`RELEASED ${key}`));
  env.out(`${headline}: every client is now served ${served}\n`);
  env.out(
    `flag-config version ${result.configVersion}, delivered to ${result.subscribers} stream subscriber${result.subscribers === 1 ? '' : 's'}\n`,
  );
}

export const pressButtonVerb: Verb = makeVerb('press');
export const releaseButtonVerb: Verb = makeVerb('release');
