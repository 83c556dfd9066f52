/**
 * `flagscope flags create|set|archive|import`: every write names the version
 * it read (`If-Match`), so a concurrent change makes the command fail with
 * exit 6 instead of overwriting someone else's work.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FlagscopeError, invalidInput } from '../../errors.js';
import type { Flag } from '../../flags/model.js';
import { renderJson } from '../../output/serialize.js';
import type { CommandEnv } from '../command-env.js';
import type { Verb } from '../registration.js';
import { archiveFlag, createFlag, getFlag, importFlagd, patchFlag } from '../../client/flags.js';
import { parseRollout, parseTargeting, parseVariants } from './parse-options.js';
import { servedSummary } from './read-flags.js';

function reasonOf(options: Record<string, unknown>): string | undefined {
  return typeof options.reason === 'string' ? options.reason : undefined;
}

function report(env: CommandEnv, verb: string, result: { flag: Flag; configVersion: number }): void {
  if (env.format !== 'table') {
    env.out(renderJson(result));
    return;
  }
  const { flag } = result;
  env.out(`${verb} ${env.styler.bold(flag.key)} (version ${flag.version}): serves ${servedSummary(flag)}\n`);
}

/** `flags create KEY --service S --kind K --variants on=true,off=false --default off [--safe off] [--rollout on=5,off=95] …`. */
export const createFlagVerb: Verb = async (env, args, options) => {
  const definition: Record<string, unknown> = {
    key: String(args[0]),
    service: options.service,
    kind: options.kind,
    variants: parseVariants(String(options.variants)),
    defaultVariant: options.default,
  };
  if (options.disabled === true) definition.state = 'disabled';
  if (typeof options.safe === 'string') definition.safeVariant = options.safe;
  if (typeof options.rollout === 'string') definition.rollout = parseRollout(options.rollout);
  if (typeof options.targeting === 'string') definition.targeting = parseTargeting(options.targeting);
  if (typeof options.description === 'string') definition.description = options.description;
  if (typeof options.runbook === 'string') definition.runbookUrl = options.runbook;
  const reason = reasonOf(options);
  if (reason !== undefined) definition.reason = reason;
  report(env, 'created', await createFlag(await env.client(), definition));
};

/** `flags set KEY [--default V] [--state S] [--rollout …|none] [--targeting JSON|none] … [--if-version N]`. */
export const setFlagVerb: Verb = async (env, args, options) => {
  const key = String(args[0]);
  const fields: Record<string, unknown> = {};
  if (typeof options.default === 'string') fields.defaultVariant = options.default;
  if (typeof options.state === 'string') {
    if (options.state !== 'enabled' && options.state !== 'disabled') throw invalidInput('`--state` must be enabled or disabled');
    fields.state = options.state;
  }
  if (typeof options.variants === 'string') fields.variants = parseVariants(options.variants);
  if (typeof options.rollout === 'string') fields.rollout = options.rollout === 'none' ? null : parseRollout(options.rollout);
  if (typeof options.targeting === 'string') fields.targeting = parseTargeting(options.targeting);
  if (typeof options.description === 'string') fields.description = options.description === '' ? null : options.description;
  if (typeof options.runbook === 'string') fields.runbookUrl = options.runbook === '' ? null : options.runbook;
  if (typeof options.safe === 'string') fields.safeVariant = options.safe;
  if (Object.keys(fields).length === 0) {
    throw new FlagscopeError(
      'usage',
      'nothing to change',
      'pass at least one of `--default`, `--state`, `--variants`, `--rollout`, `--targeting`, `--description`, `--runbook`, `--safe`',
    );
  }
  const reason = reasonOf(options);
  if (reason !== undefined) fields.reason = reason;
  const client = await env.client();
  let version: number;
  if (options.ifVersion !== undefined) {
    version = Number(options.ifVersion);
    if (!Number.isSafeInteger(version) || version < 1) throw invalidInput('`--if-version` must be a positive integer');
  } else version = (await getFlag(client, key)).flag.version;
  report(env, 'updated', await patchFlag(client, key, version, fields));
};

/** `flags archive KEY [--reason TEXT]`. */
export const archiveFlagVerb: Verb = async (env, args, options) => {
  const result = await archiveFlag(await env.client(), String(args[0]), reasonOf(options));
  if (env.format !== 'table') env.out(renderJson(result));
  else env.out(`archived ${env.styler.bold(result.flag.key)}; its history stays (\`flagscope flags history ${result.flag.key}\`)\n`);
};

/** `flags import FILE [--reason TEXT]`: flagd flag-definition JSON (`-` reads stdin). */
export const importFlagsVerb: Verb = async (env, args, options) => {
  const file = String(args[0]);
  let text: string;
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of env.ctx.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    try {
      text = await readFile(resolve(env.ctx.cwd, file), 'utf8');
    } catch (e) {
      throw new FlagscopeError(
        'usage',
        `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        'pass the path of a flagd JSON file, or `-` for stdin',
      );
    }
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (e) {
    throw invalidInput(`${file} is not valid JSON: ${(e as Error).message}`, 'check it with `jq . FILE`');
  }
  const defaults: { service?: string; kind?: string; strict?: boolean } = {};
  if (typeof options.service === 'string') defaults.service = options.service;
  if (typeof options.kind === 'string') defaults.kind = options.kind;
  if (options.strict === true) defaults.strict = true;
  const result = await importFlagd(await env.client(), document, reasonOf(options), defaults);
  for (const w of result.warnings ?? []) {
    const served = w.outcome === 'null' ? 'evaluates to null' : 'answers PARSE_ERROR';
    env.warn(`flag ${w.flag}: ${w.message} (${served}; \`--strict\` refuses it)`);
  }
  if (env.format !== 'table') {
    env.out(renderJson(result));
    return;
  }
  env.out(
    `imported ${file}: ${result.created.length} created, ${result.updated.length} updated, ${result.unchanged.length} unchanged (config version ${result.configVersion})\n`,
  );
};
