/**
 * `flagscope flags toggle` and `flags target`: the everyday edits, without writing JSON. Both
 * read the flag, compute the change in the pure core (src/flags), and send it with
 * `If-Match: "VERSION"` of what they read, so a concurrent change fails with exit 6 instead of
 * being overwritten. Each change is recorded in the flag's history with its reason.
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

/**
 * Reads the flag to edit it, and the version the write names in `If-Match`: `--if-version N`
 * (the version the user looked at), else the version just read. The server refuses the write
 * (exit 6) if the flag changed since, so no concurrent change is overwritten.
 */
async function readForEdit(env: CommandEnv, key: string, options: Record<string, unknown>): Promise<{ flag: Flag; version: number }> {
  const expected = ifVersion(options);
  const { flag } = await getFlag(await env.client(), key);
  return { flag, version: expected ?? flag.version };
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
  const { flag, version } = await readForEdit(env, key, options);
  const variants = toggleVariants(flag);
  const fields = toggleFields(flag, to);
  if (Object.keys(fields).length === 0) {
    printUnchanged(env, flag, `${key} is already ${to} (serves ${servedSummary(flag)})`);
    return;
  }
  await refuseDuringCanary(env, key);
  const written = await patchFlag(await env.client(), key, version, { ...fields, reason });
  const notes =
    to === 'on'
      ? [
          `${variants.on} to everyone${flag.targeting === undefined ? '' : ' the targeting does not match (the targeting is served first)'}${flag.rollout === undefined ? '' : '; the percentage rollout is removed'}`,
        ]
      : [`${variants.off} to everyone (the flag is disabled; its targeting and rollout are kept, not served)`];
  printWrite(env, `toggled ${env.styler.bold(key)} ${to}`, flag, written, notes);
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
  const { flag, version } = await readForEdit(env, key, options);
  let targeting: unknown = flag.targeting ?? null;
  const notes: string[] = [];
  for (const edit of edits) {
    const result = editTargeting(targeting, edit, flag.variants);
    targeting = result.targeting;
    notes.push(...result.notes);
  }
  if (sameJson(targeting, flag.targeting ?? null)) {
    printUnchanged(env, flag, notes.length > 0 ? notes.join('; ') : `${key}'s targeting is already so`);
    return;
  }
  const written = await patchFlag(await env.client(), key, version, { targeting, reason });
  printWrite(env, `changed the targeting of ${env.styler.bold(key)}`, flag, written, notes);
};
