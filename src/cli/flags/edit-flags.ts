/**
 * `flagscope flags toggle` and `flags target`: the everyday edits, without writing JSON. Both
 * read the flag, compute the change in the pure core (src/flags), and send it with
 * `If-Match: "VERSION"` of what they read, so a concurrent change is never overwritten: the
 * edit is planned again on the new version (or, with `--if-version N`, fails with exit 6).
 * Each change is recorded in the flag's history with its reason.
 */
import { FlagscopeError, invalidInput, isFlagscopeError } from '../../errors.js';
import {
  describeChange,
  describeTargeting,
  diffFlags,
  editTargeting,
  parseTargetingRule,
  sameJson,
  toggleFields,
  toggleVariants,
  type Flag,
  type TargetingEdit,
} from '../../flags/index.js';
import { renderJson } from '../../output/serialize.js';
import { getCanary } from '../../client/canaries.js';
import { getFlag, patchFlag } from '../../client/flags.js';
import type { CommandEnv } from '../command-env.js';
import type { Verb } from '../registration.js';
import { servedSummary } from './read-flags.js';

function requireReason(options: Record<string, unknown>, verb: string, key: string): string {
  const reason = typeof options.reason === 'string' ? options.reason.trim() : '';
  if (reason === '') {
    throw new FlagscopeError(
      'usage',
      `\`flags ${verb}\` needs a reason (it is recorded in the history)`,
      `e.g. \`flagscope flags ${verb} ${key} … --reason "why"\``,
    );
  }
  return reason;
}

function ifVersion(options: Record<string, unknown>): number | undefined {
  if (options.ifVersion === undefined) return undefined;
  const version = Number(options.ifVersion);
  if (!Number.isSafeInteger(version) || version < 1) throw invalidInput('`--if-version` must be a positive integer');
  return version;
}

/** What an edit computes from the flag it read: the fields to send, or why nothing changes. */
type EditPlan = { fields: Record<string, unknown>; notes: string[] } | { unchanged: string };

const ATTEMPTS = 3;

/**
 * Reads the flag, plans the edit on it and writes it with `If-Match` of the version read. The
 * edit is relative (add these keys, turn it on), so when someone else changed the flag in
 * between (409) it is planned again on their version and retried, at most three times: both
 * changes land, neither is lost. With `--if-version N` there is no retry: a change since N
 * fails with exit 6.
 */
async function editFlag(
  env: CommandEnv,
  key: string,
  options: Record<string, unknown>,
  reason: string,
  plan: (flag: Flag) => EditPlan | Promise<EditPlan>,
): Promise<{ before: Flag; written?: { flag: Flag; configVersion: number }; notes: string[]; unchanged?: string }> {
  const pinned = ifVersion(options);
  for (let attempt = 1; ; attempt++) {
    const { flag } = await getFlag(await env.client(), key);
    const planned = await plan(flag);
    if ('unchanged' in planned) return { before: flag, notes: [], unchanged: planned.unchanged };
    try {
      const written = await patchFlag(await env.client(), key, pinned ?? flag.version, { ...planned.fields, reason });
      return { before: flag, written, notes: planned.notes };
    } catch (error) {
      if (pinned !== undefined || attempt >= ATTEMPTS || !isFlagscopeError(error) || error.code !== 'conflict') throw error;
      env.info(`${key} changed while this edit was made; applying it again on the new version`);
    }
  }
}

function printWrite(
  env: CommandEnv,
  headline: string,
  before: Flag,
  written: { flag: Flag; configVersion: number },
  notes: string[],
): void {
  const changes = diffFlags(before, written.flag);
  if (env.format !== 'table') {
    env.out(renderJson({ changed: true, flag: written.flag, configVersion: written.configVersion, changes }));
    return;
  }
  const lines = [`${headline} (version ${written.flag.version}): serves ${servedSummary(written.flag)}`];
  for (const note of notes) lines.push(`  ${note}`);
  for (const change of changes) lines.push(`  ${describeChange(change)}`);
  env.out(`${lines.join('\n')}\n`);
}

function printUnchanged(env: CommandEnv, flag: Flag, message: string): void {
  if (env.format !== 'table') env.out(renderJson({ changed: false, flag, changes: [] }));
  else env.out(`${message}; nothing changed (version ${flag.version})\n`);
}

/** `flags toggle KEY --on|--off --reason TEXT [--if-version N]`. */
export const toggleFlagVerb: Verb = async (env, args, options) => {
  const key = String(args[0]);
  if ((options.on === true) === (options.off === true)) {
    throw new FlagscopeError(
      'usage',
      '`flags toggle` needs exactly one of `--on` and `--off`',
      `e.g. \`flagscope flags toggle ${key} --off --reason "incident 42"\``,
    );
  }
  const to = options.on === true ? 'on' : 'off';
  const reason = requireReason(options, 'toggle', key);
  let canaryChecked = false;
  const result = await editFlag(env, key, options, reason, async (flag) => {
    const variants = toggleVariants(flag);
    const fields = toggleFields(flag, to);
    if (Object.keys(fields).length === 0) return { unchanged: `${key} is already ${to} (serves ${servedSummary(flag)})` };
    if (!canaryChecked) await refuseDuringCanary(env, key);
    canaryChecked = true;
    const notes =
      to === 'on'
        ? [
            `${variants.on} to everyone${flag.targeting === undefined ? '' : ' the targeting does not match (the targeting is served first)'}${flag.rollout === undefined ? '' : '; the percentage rollout is removed'}`,
          ]
        : [`${variants.off} to everyone (the flag is disabled; its targeting and rollout are kept, not served)`];
    return { fields, notes };
  });
  if (result.written === undefined) printUnchanged(env, result.before, result.unchanged ?? '');
  else printWrite(env, `toggled ${env.styler.bold(key)} ${to}`, result.before, result.written, result.notes);
};

const CANARY_IN_FLIGHT = new Set(['pending', 'running', 'waiting-approval', 'paused']);

/** A toggle would fight the server's canary controller, which owns the rollout while it ramps. */
async function refuseDuringCanary(env: CommandEnv, key: string): Promise<void> {
  let status: string;
  try {
    status = (await getCanary(await env.client(), key)).status;
  } catch (error) {
    if (isFlagscopeError(error) && error.code === 'not_found') return;
    throw error;
  }
  if (!CANARY_IN_FLIGHT.has(status)) return;
  throw new FlagscopeError(
    'usage',
    `a canary of ${key} is in flight (${status}): its controller sets the rollout, so a toggle would fight it`,
    `end it first: \`flagscope canary abort ${key} --reason TEXT\` (0% at once) or \`flagscope canary promote ${key}\`; \`flagscope canary status ${key}\` shows it`,
  );
}

function splitList(text: string, option: string): string[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw invalidInput(`\`${option}\` is empty`, `e.g. \`${option} user-1,user-2\``);
  return items;
}

/** The edits `flags target` was asked for, in order: keys, then rules; `--clear` alone. */
export function targetEdits(options: Record<string, unknown>): TargetingEdit[] {
  const remove = options.remove === true;
  const rules = (options.rule as string[] | undefined) ?? [];
  const keys = typeof options.keys === 'string' ? splitList(options.keys, '--keys') : undefined;
  if (options.clear === true) {
    if (remove || rules.length > 0 || keys !== undefined || options.variant !== undefined) {
      throw new FlagscopeError('usage', '`--clear` removes all targeting and takes no other targeting option', 'pass `--clear` alone');
    }
    return [{ type: 'clear' }];
  }
  const edits: TargetingEdit[] = [];
  if (keys !== undefined) {
    if (remove) edits.push({ type: 'remove-keys', keys });
    else if (typeof options.variant !== 'string') {
      throw new FlagscopeError(
        'usage',
        '`--keys` needs `--variant V` (which variant they get), or `--remove`',
        'e.g. `--variant on --keys user-1,user-2`',
      );
    } else edits.push({ type: 'add-keys', variant: options.variant, keys });
  } else if (typeof options.variant === 'string') {
    throw new FlagscopeError(
      'usage',
      '`--variant` goes with `--keys`',
      'a rule names its variant itself: `--rule "country in [DE,FR] => on"`',
    );
  }
  for (const text of rules) {
    const rule = parseTargetingRule(text);
    edits.push(remove ? { type: 'remove-rule', rule } : { type: 'add-rule', rule });
  }
  if (remove && edits.length === 0)
    throw new FlagscopeError(
      'usage',
      '`--remove` needs `--keys` or `--rule`',
      'e.g. `--remove --keys user-1`; `--clear` removes all targeting',
    );
  return edits;
}

/** `flags target KEY [--variant V --keys K,…] [--rule TEXT]… [--remove] [--clear] --reason TEXT`; no edit: shows the targeting. */
export const targetFlagVerb: Verb = async (env, args, options) => {
  const key = String(args[0]);
  const edits = targetEdits(options);
  if (edits.length === 0) {
    const { flag } = await getFlag(await env.client(), key);
    if (env.format !== 'table') env.out(renderJson({ key, targeting: flag.targeting ?? null, rules: describeTargeting(flag.targeting) }));
    else {
      const lines = describeTargeting(flag.targeting);
      env.out(lines.length === 0 ? '' : `${lines.join('\n')}\n`);
      if (lines.length === 0)
        env.info(`${key} has no targeting; add some with \`flagscope flags target ${key} --variant on --keys user-1\``);
    }
    return;
  }
  const reason = requireReason(options, 'target', key);
  const result = await editFlag(env, key, options, reason, (flag) => {
    let targeting: unknown = flag.targeting ?? null;
    const notes: string[] = [];
    for (const edit of edits) {
      const edited = editTargeting(targeting, edit, flag.variants);
      targeting = edited.targeting;
      notes.push(...edited.notes);
    }
    if (sameJson(targeting, flag.targeting ?? null))
      return { unchanged: notes.length > 0 ? notes.join('; ') : `${key}'s targeting is already so` };
    return { fields: { targeting }, notes };
  });
  if (result.written === undefined) printUnchanged(env, result.before, result.unchanged ?? '');
  else printWrite(env, `changed the targeting of ${env.styler.bold(key)}`, result.before, result.written, result.notes);
};
