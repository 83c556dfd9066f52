import { FlagscopeError } from '../../errors.js';
import type { Verb } from '../registration.js';
import { DYNAMIC_COMPLETERS } from './kinds.js';

/** `flagscope __complete KIND`: candidates for the completion scripts, one per line. */
export const completeValues: Verb = async (env, args) => {
  const kind = String(args[0]);
  const completer = DYNAMIC_COMPLETERS[kind];
  if (completer === undefined) {
    throw new FlagscopeError('usage', `nothing to complete for "${kind}"`, `kinds: ${Object.keys(DYNAMIC_COMPLETERS).join(', ')}`);
  }
  const values = await completer(await env.client());
  env.out(values.map((v) => `${v}\n`).join(''));
};
