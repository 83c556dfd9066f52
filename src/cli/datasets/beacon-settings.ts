/**
 * `flagscope datasets beacons NAME [--allow-origin URL…] [--execution-id-field F]`: shows a
 * dataset's browser beacon settings, or sets those given (docs/api.md, "Beacons").
 */
import { type BeaconSettings, type BeaconSettingsChange, parseOrigin } from '../../api/beacons.js';
import { getBeaconSettings, setBeaconSettings } from '../../client/datasets.js';
import { FlagscopeError } from '../../errors.js';
import { renderJson } from '../../output/serialize.js';
import type { CommandEnv } from '../command-env.js';
import type { Verb } from '../registration.js';

export const beaconSettingsVerb: Verb = async (env, args, options) => {
  const name = String(args[0]);
  const change = changeOf(options);
  const client = await env.client();
  const settings = change === undefined ? await getBeaconSettings(client, name) : await setBeaconSettings(client, name, change);
  printSettings(env, settings);
};

/** The change the options ask for (usage errors before any request), or undefined to show. */
function changeOf(options: Record<string, unknown>): BeaconSettingsChange | undefined {
  const origins = options.allowOrigin as string[] | undefined;
  const field = options.executionIdField as string | undefined;
  if (origins === undefined && field === undefined) return undefined;
  const change: BeaconSettingsChange = {};
  if (origins !== undefined) {
    const listed = origins.filter((origin) => origin !== 'none');
    try {
      change.allowed_origins = listed.map(parseOrigin);
    } catch (error) {
      const e = error as FlagscopeError;
      throw new FlagscopeError('usage', `\`--allow-origin\`: ${e.message}`, e.hint);
    }
  }
  if (field !== undefined) {
    if (field.trim() === '') throw new FlagscopeError('usage', '`--execution-id-field` is empty', 'pass a field name, e.g. execution_id');
    change.execution_id_field = field;
  }
  return change;
}

function printSettings(env: CommandEnv, settings: BeaconSettings): void {
  if (env.format === 'json') {
    env.out(renderJson(settings));
    return;
  }
  const origins =
    settings.allowed_origins.length === 0 ? 'none (only requests without an Origin header)' : settings.allowed_origins.join(', ');
  env.out(`${settings.dataset}: execution id field ${settings.execution_id_field}; allowed origins: ${origins}\n`);
}
