/**
 * What a value on the command line completes to. Arguments and option values
 * are matched by their placeholder name (`<dataset>`, `<file>`), so a new
 * command gets completion by naming its arguments; a new dynamic kind (flag
 * keys, services) is one entry in `DYNAMIC_COMPLETERS` and one in
 * `COMPLETION_BY_PLACEHOLDER`.
 */
import type { ApiClient } from '../../client/api-client.js';
import { listServices } from '../../client/buttons.js';
import { listFlags } from '../../client/flags.js';

export type ValueCompletion =
  | { type: 'none' }
  | { type: 'files' }
  | { type: 'directories' }
  | { type: 'choices'; values: string[] }
  /** Candidates printed by `flagscope __complete KIND`. */
  | { type: 'dynamic'; kind: string };

/** Fetchers behind `flagscope __complete KIND`, one candidate per line. */
export const DYNAMIC_COMPLETERS: Record<string, (client: ApiClient) => Promise<string[]>> = {
  datasets: async (client) => (await client.listDatasets()).map((d) => d.name),
  flags: async (client) => (await listFlags(client)).flags.map((f) => f.key),
  services: async (client) => (await listServices(client)).services.map((s) => s.name),
  /** Only the flags `buttons press|release` accept (the server refuses any other). */
  'kill-switches': async (client) => (await listServices(client)).services.flatMap((s) => s.buttons.map((b) => b.key)),
};

/** Completion of an argument or option value by its placeholder name. */
export const COMPLETION_BY_PLACEHOLDER: Record<string, ValueCompletion> = {
  dataset: { type: 'dynamic', kind: 'datasets' },
  flag: { type: 'dynamic', kind: 'flags' },
  'kill-switch': { type: 'dynamic', kind: 'kill-switches' },
  service: { type: 'dynamic', kind: 'services' },
  'flag-kind': { type: 'choices', values: ['release', 'experiment', 'operational', 'kill-switch', 'permission'] },
  state: { type: 'choices', values: ['enabled', 'disabled'] },
  file: { type: 'files' },
  dir: { type: 'directories' },
};
