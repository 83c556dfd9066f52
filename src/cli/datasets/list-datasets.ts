import { formatCount, formatIsoTime, formatRelativeTime, toMillis } from '../../output/values.js';
import type { DatasetInfo } from '../../query/schema.js';
import type { Verb } from '../registration.js';
import { printRecords } from '../print-records.js';

/** `flagscope datasets`: `--json` prints `{"datasets": DatasetInfo[]}` as the API returns it. */
export const listDatasets: Verb = async (env) => {
  const client = await env.client();
  const datasets = await client.listDatasets();
  const now = env.ctx.now();
  const lastEvent = (d: DatasetInfo): number | undefined => (d.last_event_time ? toMillis(d.last_event_time) : undefined);
  printRecords<DatasetInfo>(
    env,
    datasets,
    [
      { key: 'name', header: 'NAME', value: (d) => d.name, human: (d) => env.styler.bold(d.name) },
      { key: 'rows', header: 'EVENTS', align: 'right', value: (d) => d.rows, human: (d) => formatCount(d.rows) },
      { key: 'columns', header: 'COLUMNS', align: 'right', value: (d) => d.columns, human: (d) => formatCount(d.columns) },
      {
        key: 'last_event_time',
        header: 'LAST EVENT',
        value: (d) => {
          const t = lastEvent(d);
          return t === undefined ? null : formatIsoTime(t);
        },
        human: (d) => {
          const t = lastEvent(d);
          return t === undefined ? env.styler.dim('never') : formatRelativeTime(t, now);
        },
      },
    ],
    { datasets },
  );
  if (datasets.length === 0 && env.format === 'table') env.info('no datasets yet; send events with `flagscope events send DATASET FILE`');
};
