import { FlagscopeError } from '../../errors.js';
import type { ServeOptions } from '../../server/serve.js';
import type { Verb } from '../registration.js';

/** `flagscope serve`: validates the options and hands over to `runServe` of the server. */
export const serve: Verb = async (env, _args, options) => {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new FlagscopeError('usage', `\`--port ${String(options.port)}\` is not a port number`, 'pass a port between 0 and 65535 (0 picks a free one)');
  }
  const serveOptions: ServeOptions = { host: String(options.host), port, verbose: env.verbose };
  if (typeof options.dataDir === 'string') serveOptions.dataDir = options.dataDir;
  const profile = env.command.optsWithGlobals<{ profile?: string }>().profile;
  if (profile !== undefined) serveOptions.profile = profile;
  const { runServe } = await import('../../server/serve.js');
  return runServe(serveOptions, env.ctx);
};
