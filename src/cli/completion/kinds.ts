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
import { INCOMPLETE_COLUMN } from '../../query/incomplete.js';

export type ValueCompletion =
  | { type: 'none' }
  | { type: 'files' }
  | { type: 'directories' }
  | { type: 'choices'; values: string[] }
  /** Candidates printed by `flagscope __complete KIND`. */
  | { type: 'dynamic'; kind: string };

/** What the command line already names, for completers that depend on it (columns of a dataset). */
export interface CompletionContext {
  /** The dataset argument or `--dataset` value typed before the cursor. */
  dataset?: string;
}

/** Calculations that take a numeric column; `COUNT_DISTINCT` takes any column, `COUNT` none. */
const NUMERIC_CALCS = ['AVG', 'SUM', 'MIN', 'MAX', 'P50', 'P90', 'P95', 'P99', 'HEATMAP'];

/** Fetchers behind `flagscope __complete KIND [--dataset D]`, one candidate per line. */
export const DYNAMIC_COMPLETERS: Record<string, (client: ApiClient, context: CompletionContext) => Promise<string[]>> = {
  datasets: async (client) => (await client.listDatasets()).map((d) => d.name),
  flags: async (client) => (await listFlags(client)).flags.map((f) => f.key),
  services: async (client) => (await listServices(client)).services.map((s) => s.name),
  /** The dataset's columns (for `--by` and `--where`); nothing without a dataset. */
  columns: async (client, { dataset }) => (dataset === undefined ? [] : (await client.listColumns(dataset)).map((c) => c.name)),
  /** `COUNT`, `INCOMPLETE` where the dataset has `meta.incomplete`, then `OP(column)` for its columns (numeric ones for AVG, P99…). */
  calcs: async (client, { dataset }) => {
    if (dataset === undefined) return [];
    const columns = await client.listColumns(dataset);
    const numeric = columns.filter((c) => c.type === 'integer' || c.type === 'float').map((c) => c.name);
    return [
      'COUNT',
      ...(columns.some((c) => c.name === INCOMPLETE_COLUMN && (c.type === 'boolean' || c.type === 'string')) ? ['INCOMPLETE'] : []),
      ...NUMERIC_CALCS.flatMap((op) => numeric.map((column) => `${op}(${column})`)),
      ...columns.map((c) => `COUNT_DISTINCT(${c.name})`),
    ];
  },
  /** Only the flags `buttons press|release` accept (the server refuses any other). */
  'kill-switches': async (client) => (await listServices(client)).services.flatMap((s) => s.buttons.map((b) => b.key)),
};

/** Completion of an argument or option value by its placeholder name. */
export const COMPLETION_BY_PLACEHOLDER: Record<string, ValueCompletion> = {
  dataset: { type: 'dynamic', kind: 'datasets' },
  flag: { type: 'dynamic', kind: 'flags' },
  'kill-switch': { type: 'dynamic', kind: 'kill-switches' },
  service: { type: 'dynamic', kind: 'services' },
  columns: { type: 'dynamic', kind: 'columns' },
  filter: { type: 'dynamic', kind: 'columns' },
  calc: { type: 'dynamic', kind: 'calcs' },
  'flag-kind': { type: 'choices', values: ['release', 'experiment', 'operational', 'kill-switch', 'permission'] },
  state: { type: 'choices', values: ['enabled', 'disabled'] },
  file: { type: 'files' },
  dir: { type: 'directories' },
};
