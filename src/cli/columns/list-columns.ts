import { formatIsoTime, formatRelativeTime } from '../../output/values.js';
import type { ColumnInfo } from '../../query/schema.js';
import type { Verb } from '../registration.js';
import { printRecords } from '../print-records.js';

/** `flagscope columns DATASET`: `--json` prints `{"dataset", "columns": ColumnInfo[]}`. */
export const listColumns: Verb = async (env, args) => {
  const dataset = String(args[0]);
  const client = await env.client();
  const columns = await client.listColumns(dataset);
  const now = env.ctx.now();
  printRecords<ColumnInfo>(
    env,
    columns,
    [
      { key: 'name', header: 'NAME', value: (c) => c.name },
      { key: 'type', header: 'TYPE', value: (c) => c.type, human: (c) => env.styler.cyan(c.type) },
      {
        key: 'created_at',
        header: 'FIRST SEEN',
        value: (c) => (c.created_at === undefined ? null : formatIsoTime(c.created_at)),
        human: (c) => (c.created_at === undefined ? '' : formatRelativeTime(c.created_at, now)),
      },
    ],
    { dataset, columns },
  );
};
