import { FlagscopeError } from '../../errors.js';
import type { Verb } from '../registration.js';
import { DYNAMIC_COMPLETERS } from './kinds.js';

/** The longest a lookup for a completion may take: a shell waits on it at every TAB. */
const COMPLETION_TIMEOUT_MS = 2000;

/**
 * `flagscope __complete KIND [--dataset D]`: candidates for the completion scripts, one per
 * line. One attempt, at most two seconds; when the server cannot answer it offers nothing and
 * exits 0, so a TAB never prints an error or hangs.
 */
export const completeValues: Verb = async (env, args, options) => {
  const kind = String(args[0]);
  const completer = DYNAMIC_COMPLETERS[kind];
  if (completer === undefined) {
    throw new FlagscopeError('usage', `nothing to complete for "${kind}"`, `kinds: ${Object.keys(DYNAMIC_COMPLETERS).join(', ')}`);
  }
  const context = typeof options.dataset === 'string' && options.dataset !== '' ? { dataset: options.dataset } : {};
  let values: string[];
  try {
    const [settings, { createApiClient }] = await Promise.all([env.connection(), import('../../client/api-client.js')]);
    const client = createApiClient({
      baseUrl: settings.apiUrl,
      apiKey: settings.apiKey,
      timeoutMs: Math.min(env.timeoutMs, COMPLETION_TIMEOUT_MS),
      retries: 0,
      userAgent: 'flagscope-cli',
    });
    try {
      values = await completer(client, context);
    } finally {
      await client.close();
    }
  } catch (error) {
    env.debug(`no candidates: ${(error as Error).message}`);
    values = [];
  }
  env.out(values.map((v) => `${v}\n`).join(''));
};
