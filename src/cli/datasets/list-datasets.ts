import { formatRetention } from '../../api/retention.js';
import { describeDatasets } from '../../client/datasets.js';
import { formatBytes, formatCount, formatIsoTime, formatRelativeTime, toMillis } from '../../output/values.js';
import type { DatasetInfo } from '../../query/schema.js';
import type { Verb } from '../registration.js';
import { printRecords } from '../print-records.js';

const isoOrNull = (value: string | null | undefined): string | null => {
  const t = value ? toMillis(value) : undefined;
  return t === undefined ? null : formatIsoTime(t);
};

/**
 * `flagscope datasets`: each dataset's events, columns, time span, size on disk and retention.
 * `--json` prints the API's answer (`{"datasets": [...], "storage": {...}, "default_retention_ms": ...}`).
 */
export const listDatasets: Verb = async (env) => {
  const client = await env.client();
  const answer = await describeDatasets(client);
  const datasets = answer.datasets;
  const now = env.ctx.now();
  const relative = (value: string | null | undefined): string => {
    const t = value ? toMillis(value) : undefined;
    return t === undefined ? env.styler.dim('never') : formatRelativeTime(t, now);
  };
  printRecords<DatasetInfo>(
    env,
    datasets,
    [
      { key: 'name', header: 'NAME', value: (d) => d.name, human: (d) => env.styler.bold(d.name) },
      { key: 'rows', header: 'EVENTS', align: 'right', value: (d) => d.rows, human: (d) => formatCount(d.rows) },
      { key: 'columns', header: 'COLUMNS', align: 'right', value: (d) => d.columns, human: (d) => formatCount(d.columns) },
      {
        key: 'first_event_time',
        header: 'OLDEST EVENT',
        value: (d) => isoOrNull(d.first_event_time),
        human: (d) => relative(d.first_event_time),
      },
      {
        key: 'last_event_time',
        header: 'NEWEST EVENT',
        value: (d) => isoOrNull(d.last_event_time),
        human: (d) => relative(d.last_event_time),
      },
      {
        key: 'size_bytes',
        header: 'SIZE',
        align: 'right',
        value: (d) => d.size_bytes ?? null,
        human: (d) => (d.size_bytes === undefined ? env.styler.dim('?') : formatBytes(d.size_bytes)),
      },
      {
        key: 'retention',
        header: 'RETENTION',
        value: (d) => formatRetention(d.effective_retention_ms),
        human: (d) =>
          `${formatRetention(d.effective_retention_ms)}${d.retention_ms === null || d.retention_ms === undefined ? env.styler.dim(' (default)') : ''}`,
      },
    ],
    answer,
  );
  if (env.format !== 'table') return;
  if (datasets.length === 0) env.info('no datasets yet; send events with `flagscope events send DATASET FILE`');
  // The note explains the SIZE column of the human table; a pipe gets the bytes and no note.
  else if (env.stdoutIsTTY && answer.storage !== undefined && answer.storage.wal_bytes > 0) {
    env.info(
      `SIZE counts checkpointed blocks; ${formatBytes(answer.storage.wal_bytes)} of recent writes are still in the write-ahead log (file ${formatBytes(answer.storage.file_bytes)}, ${formatBytes(answer.storage.free_bytes)} free for reuse)`,
    );
  }
};
