/**
 * The ClickHouse event store against a real ClickHouse server over HTTP (`@clickhouse/client`),
 * run only when `FLAGSCOPE_TEST_CLICKHOUSE_URL` names one, e.g.
 * `FLAGSCOPE_TEST_CLICKHOUSE_URL=clickhouse://default:@127.0.0.1:8123/default npx vitest run test/integration/clickhouse-server.test.ts`.
 * ClickHouse cannot be installed on the build machines, so elsewhere the file is skipped with
 * that reason. It uses a dataset of its own, deleted at the end.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runQuery } from '../../src/server/query/query-service.js';
import { openEventStoreAt } from '../../src/store/factory.js';
import type { EventStore } from '../../src/store/types.js';

const URL = process.env.FLAGSCOPE_TEST_CLICKHOUSE_URL;
const DATASET = `flagscope-test-${randomBytes(4).toString('hex')}`;
const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);

describe.skipIf(URL === undefined)('the ClickHouse event store on a real server (FLAGSCOPE_TEST_CLICKHOUSE_URL is not set)', () => {
  let events: EventStore;

  beforeAll(async () => {
    events = await openEventStoreAt(URL!, { now: () => NOW });
  });

  afterAll(async () => {
    if (events === undefined) return;
    await events.deleteDataset(DATASET).catch(() => undefined);
    await events.close();
  });

  it('stores events, grows columns and answers a query with weighted percentiles', async () => {
    const outcomes = await events.ingest(
      DATASET,
      Array.from({ length: 100 }, (_, i) => ({
        time: NOW - 60_000 + i * 100,
        samplerate: i % 2 === 0 ? 1 : 2,
        data: { service: i % 2 === 0 ? 'api' : 'web', duration_ms: i, ...(i >= 50 ? { region: 'eu' } : {}) },
      })),
    );
    expect(outcomes.every((o) => o.status === 202)).toBe(true);
    expect((await events.getSchema(DATASET))!.columns.map((c) => c.name).sort()).toEqual(['duration_ms', 'region', 'service']);
    const result = await runQuery(
      events,
      DATASET,
      { time_range: 3600, calculations: [{ op: 'COUNT' }, { op: 'P50', column: 'duration_ms' }], breakdowns: ['service'] },
      NOW,
    );
    expect(result.data.results.map((r) => [r.data.service, r.data.COUNT])).toEqual([
      ['web', 100],
      ['api', 50],
    ]);
    expect(await events.deleteEventsBefore(DATASET, NOW - 55_000)).toEqual({ rows: 50 });
  });
});
