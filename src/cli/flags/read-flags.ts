/**
 * `flagscope flags list|get|history|export|eval`: reading flags, their
 * history, the flagd export, and evaluating through OFREP.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FlagscopeError } from '../../errors.js';
import { describeChange, describeTargeting, diffFlags, type Flag } from '../../flags/index.js';
import { renderJson } from '../../output/serialize.js';
import { formatIsoTime, formatRelativeTime } from '../../output/values.js';
import type { CommandEnv } from '../command-env.js';
import { printRecords, type RecordColumn } from '../print-records.js';
import type { Verb } from '../registration.js';
import type { ListedFlag } from '../../api/flags.js';
import { exportFlagd, flagHistory, getFlag, listFlags } from '../../client/flags.js';
import { evaluateFlag } from '../../client/ofrep.js';
import { buildContext } from './parse-options.js';

/** What a flag serves, in a few words (pressed kill switches first). */
export function servedSummary(flag: Flag): string {
  if (flag.pressed !== undefined && flag.safeVariant !== undefined) return `PRESSED: ${flag.safeVariant} to everyone`;
  if (flag.archived) return 'archived';
  if (flag.state === 'disabled') return "disabled (the caller's default)";
  const parts: string[] = [];
  if (flag.targeting !== undefined) parts.push('targeting');
  if (flag.rollout !== undefined) {
    const scale = 10 ** flag.rollout.precision;
    parts.push(flag.rollout.weights.map((w) => `${w.variant}=${w.weight / scale}%`).join(' '));
  }
  const fallback = flag.defaultVariant ?? "the caller's default";
  return parts.length === 0 ? fallback : `${parts.join(', ')} (default ${fallback})`;
}

function when(env: CommandEnv, iso: string): string {
  const ms = Date.parse(iso);
  return env.stdoutIsTTY ? formatRelativeTime(ms, env.ctx.now()) : formatIsoTime(ms);
}

/** `flags list [--service S] [--kind K] [--stale] [--archived]`. */
export const listFlagsVerb: Verb = async (env, _args, options) => {
  const client = await env.client();
  const filter: Parameters<typeof listFlags>[1] = {};
  if (typeof options.service === 'string') filter.service = options.service;
  if (typeof options.kind === 'string') filter.kind = options.kind;
  if (options.stale === true) filter.stale = true;
  if (options.archived === true) filter.archived = true;
  const result = await listFlags(client, filter);
  const s = env.styler;
  const anyStale = result.flags.some((f) => f.stale);
  const columns: RecordColumn<ListedFlag>[] = [
    { key: 'key', header: 'KEY', value: (f) => f.key, human: (f) => (f.pressed !== undefined ? s.red(s.bold(f.key)) : s.bold(f.key)) },
    { key: 'service', header: 'SERVICE', value: (f) => f.service },
    { key: 'kind', header: 'KIND', value: (f) => f.kind },
    {
      key: 'serves',
      header: 'SERVES',
      value: (f) => servedSummary(f),
      human: (f) => (f.pressed !== undefined ? s.red(servedSummary(f)) : servedSummary(f)),
    },
    { key: 'version', header: 'VERSION', align: 'right', value: (f) => f.version },
    { key: 'updated_at', header: 'UPDATED', value: (f) => f.updatedAt, human: (f) => `${when(env, f.updatedAt)} by ${f.updatedBy}` },
    { key: 'stale', header: 'STALE', value: (f) => f.stale, human: (f) => (f.stale ? s.yellow('stale') : '') },
  ];
  const shown = columns.filter((column) => column.key !== 'stale' || anyStale || env.format !== 'table' || !env.stdoutIsTTY);
  printRecords<ListedFlag>(env, result.flags, shown, result);
  if (result.flags.length === 0 && env.format === 'table')
    env.info(options.stale === true ? 'no stale flags' : 'no flags match; create one with `flagscope flags create`');
};

/** `flags get KEY`. */
export const getFlagVerb: Verb = async (env, args) => {
  const key = String(args[0]);
  const { flag, stale } = await getFlag(await env.client(), key);
  if (env.format !== 'table') {
    env.out(renderJson({ flag, stale }));
    return;
  }
  const s = env.styler;
  const lines: Array<[string, string]> = [
    ['key', s.bold(flag.key)],
    ['service', flag.service],
    ['kind', flag.kind + (stale ? s.yellow(' (stale: release flag older than 40 days)') : '')],
    ['state', flag.state],
    ['serves', flag.pressed !== undefined ? s.red(servedSummary(flag)) : servedSummary(flag)],
    [
      'variants',
      Object.entries(flag.variants)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(' '),
    ],
    ['default', flag.defaultVariant ?? "none (the caller's default)"],
  ];
  if (flag.safeVariant !== undefined) lines.push(['safe variant', flag.safeVariant]);
  if (flag.pressed !== undefined) lines.push(['pressed', `by ${flag.pressed.by} ${when(env, flag.pressed.at)}: ${flag.pressed.reason}`]);
  if (flag.targeting !== undefined) lines.push(['targeting', describeTargeting(flag.targeting).join('; ')]);
  if (flag.description !== undefined) lines.push(['description', flag.description]);
  if (flag.runbookUrl !== undefined) lines.push(['runbook', flag.runbookUrl]);
  if (flag.metadata !== undefined) {
    lines.push([
      'metadata',
      Object.entries(flag.metadata)
        .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
        .join(' '),
    ]);
  }
  lines.push(['version', String(flag.version)]);
  lines.push(['created', `${when(env, flag.createdAt)} by ${flag.createdBy}`]);
  lines.push(['updated', `${when(env, flag.updatedAt)} by ${flag.updatedBy}`]);
  if (flag.archived) lines.push(['archived', 'yes']);
  const width = Math.max(...lines.map(([k]) => k.length));
  env.out(`${lines.map(([k, v]) => (env.stdoutIsTTY ? `${s.dim(k.padEnd(width))}  ${v}` : `${k}\t${v}`)).join('\n')}\n`);
};

/** `flags history KEY [--limit N]`. */
export const flagHistoryVerb: Verb = async (env, args, options) => {
  const limit = options.limit === undefined ? 50 : Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new FlagscopeError('usage', '`--limit` must be a positive integer', 'e.g. `--limit 20`');
  const result = await flagHistory(await env.client(), String(args[0]), limit);
  const history = result.history.map((h) => ({ ...h, changes: diffFlags(h.before, h.after) }));
  if (env.format === 'table' && env.stdoutIsTTY) {
    // On a terminal, each entry and then every field it changed, a line each, never cut short.
    const s = env.styler;
    const blocks = history.map((h) => {
      const action = h.action === 'press' ? s.red(h.action) : s.bold(h.action);
      const head = `${s.bold(`v${h.version}`)}  ${action} by ${h.by}, ${when(env, h.at)}${h.reason === '' ? '' : `: ${h.reason}`}`;
      const lines = h.changes.length === 0 ? ['nothing changed'] : h.changes.map(describeChange);
      return [head, ...lines.map((l) => `    ${l}`), `    ${s.dim(`serves ${servedSummary(h.after)}`)}`].join('\n');
    });
    env.out(blocks.length === 0 ? '' : `${blocks.join('\n\n')}\n`);
    return;
  }
  printRecords(
    env,
    history,
    [
      { key: 'at', header: 'WHEN', value: (h) => h.at, human: (h) => when(env, h.at) },
      {
        key: 'action',
        header: 'ACTION',
        value: (h) => h.action,
        human: (h) => (h.action === 'press' ? env.styler.red(h.action) : h.action),
      },
      { key: 'by', header: 'WHO', value: (h) => h.by },
      { key: 'version', header: 'VERSION', align: 'right', value: (h) => h.version },
      { key: 'reason', header: 'WHY', value: (h) => h.reason },
      { key: 'serves', header: 'SERVES AFTER', value: (h) => servedSummary(h.after) },
      {
        key: 'changes',
        header: 'CHANGES',
        value: (h) => (h.changes.length === 0 ? 'nothing' : h.changes.map(describeChange).join('; ')),
      },
    ],
    { ...result, history },
  );
};

/** `flags export [--output FILE]`: flagd flag-definition JSON. */
export const exportFlagsVerb: Verb = async (env, _args, options) => {
  if (env.format === 'csv' || env.format === 'ndjson') {
    throw new FlagscopeError(
      'usage',
      `\`flags export\` writes flagd JSON, not ${env.format}`,
      'pass `--format flagd` or leave `--format` out',
    );
  }
  const document = await exportFlagd(await env.client());
  const text = `${JSON.stringify(document, null, 2)}\n`;
  if (typeof options.output === 'string') {
    await writeFile(resolve(env.ctx.cwd, options.output), text);
    env.info(`wrote ${Object.keys((document as { flags: object }).flags).length} flags to ${options.output}`);
  } else env.out(text);
};

/** `flags eval KEY [--targeting-key K] [--context JSON] [--attr k=v]…`: through OFREP, as SDKs see it. */
export const evalFlagVerb: Verb = async (env, args, options) => {
  const key = String(args[0]);
  const context = buildContext({
    context: options.context as string | undefined,
    attr: options.attr as string[] | undefined,
    targetingKey: options.targetingKey as string | undefined,
  });
  const answer = await evaluateFlag(await env.client(), key, context);
  if (answer.errorCode === 'FLAG_NOT_FOUND') {
    throw new FlagscopeError('not_found', `flag ${key} does not exist`, '`flagscope flags list` shows the flags');
  }
  if (answer.errorCode !== undefined) {
    const hint =
      answer.errorCode === 'TARGETING_KEY_MISSING'
        ? 'pass `--targeting-key KEY`; the flag buckets users by it'
        : 'check the context and the flag (`flagscope flags get KEY`)';
    throw new FlagscopeError(
      'invalid_input',
      `evaluation of ${key} failed: ${answer.errorCode}: ${answer.errorDetails ?? 'no details'}`,
      hint,
    );
  }
  if (env.format !== 'table') {
    env.out(renderJson(answer));
    return;
  }
  const variant = answer.variant ?? '-';
  const value = 'value' in answer && answer.value !== undefined ? JSON.stringify(answer.value) : "the caller's default";
  const line = env.stdoutIsTTY
    ? `${env.styler.bold(key)} → ${env.styler.bold(variant)} = ${value}  ${env.styler.dim(`(${answer.reason})`)}`
    : [key, variant, value, answer.reason].join('\t');
  env.out(`${line}\n`);
};
