/**
 * `flagscope keys create|list|revoke` over `/api/v1/keys`.
 */
import { FlagscopeError, invalidInput } from '../../errors.js';
import { renderJson } from '../../output/serialize.js';
import { formatIsoTime, formatRelativeTime } from '../../output/values.js';
import { API_KEY_SCOPES, isApiKeyScope, type ApiKeyInfo } from '../../api/keys.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../client/keys.js';
import { printRecords } from '../print-records.js';
import type { Verb } from '../registration.js';

/** `keys create --name N --scope S[,S]`; `--json` prints `{"name", "key", "scopes"}`. */
export const createKeyVerb: Verb = async (env, _args, options) => {
  const scopes = String(options.scope)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const unknown = scopes.filter((s) => !isApiKeyScope(s));
  if (scopes.length === 0 || unknown.length > 0) {
    throw invalidInput(
      `unknown scope ${unknown.map((s) => JSON.stringify(s)).join(', ') || '(none given)'}`,
      `scopes are ${API_KEY_SCOPES.join(', ')}`,
    );
  }
  const client = await env.client();
  const created = await createApiKey(client, String(options.name), scopes.filter(isApiKeyScope));
  if (env.format !== 'table') {
    env.out(renderJson({ name: created.name, key: created.key, scopes: created.scopes }));
    return;
  }
  env.out(`${created.key}\n`);
  env.info(`created key ${created.id} "${created.name}" with scopes ${created.scopes.join(', ')}; it is shown only now, store it safely`);
};

/** `keys list`. */
export const listKeysVerb: Verb = async (env) => {
  const keys = await listApiKeys(await env.client());
  const now = env.ctx.now();
  printRecords<ApiKeyInfo>(
    env,
    keys,
    [
      { key: 'id', header: 'ID', value: (k) => k.id },
      { key: 'name', header: 'NAME', value: (k) => k.name, human: (k) => env.styler.bold(k.name) },
      { key: 'scopes', header: 'SCOPES', value: (k) => k.scopes.join(',') },
      {
        key: 'created_at',
        header: 'CREATED',
        value: (k) => formatIsoTime(k.created_at),
        human: (k) => formatRelativeTime(k.created_at, now),
      },
      {
        key: 'revoked_at',
        header: 'REVOKED',
        value: (k) => (k.revoked_at === null ? null : formatIsoTime(k.revoked_at)),
        human: (k) => (k.revoked_at === null ? '' : env.styler.red(formatRelativeTime(k.revoked_at, now))),
      },
    ],
    { keys },
  );
};

/** `keys revoke ID-OR-NAME`. */
export const revokeKeyVerb: Verb = async (env, args) => {
  const client = await env.client();
  let id = String(args[0]);
  if (!id.startsWith('key_')) id = keyIdByName(await listApiKeys(client), id);
  const revoked = await revokeApiKey(client, id);
  if (env.format !== 'table') {
    env.out(renderJson(revoked));
    return;
  }
  if (revoked.already_revoked && revoked.revoked_at !== null) {
    const relative = env.stdoutIsTTY ? ` (${formatRelativeTime(revoked.revoked_at, env.ctx.now())})` : '';
    env.out(`${revoked.id} "${revoked.name}" was already revoked at ${formatIsoTime(revoked.revoked_at)}${relative}; nothing changed\n`);
    return;
  }
  env.out(`revoked ${revoked.id} "${revoked.name}"\n`);
};

/** The id of the one valid key named `name`; when only revoked keys have it, the latest of them (revoking it again says when it was). */
function keyIdByName(keys: ApiKeyInfo[], name: string): string {
  const valid = keys.filter((k) => k.name === name && k.revoked_at === null);
  if (valid.length > 1)
    throw invalidInput(`${valid.length} valid keys are named "${name}"`, `revoke one by id: ${valid.map((k) => k.id).join(', ')}`);
  const found = valid[0] ?? keys.filter((k) => k.name === name).at(-1);
  if (found === undefined) throw new FlagscopeError('not_found', `no key named "${name}"`, '`flagscope keys list` shows the keys');
  return found.id;
}
