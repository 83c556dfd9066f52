import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_LIMITS, startServer, type RunningServer } from '../../src/server/index.js';

let dir: string;
let server: RunningServer;
let key: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-limits-'));
  server = await startServer({ port: 0, dataDir: dir, limits: { maxColumnsPerDataset: 5, maxQueuedEvents: 1_000, retryAfterSeconds: 2 } });
  key = server.adminKey as string;
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

function batch(dataset: string, items: unknown[]): Promise<Response> {
  return fetch(`${server.url}/1/batch/${dataset}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
    body: JSON.stringify(items),
  });
}

async function datasetRows(dataset: string): Promise<{ rows: number; columns: number } | undefined> {
  const res = await fetch(`${server.url}/api/v1/datasets`, { headers: { authorization: `Bearer ${key}` } });
  const body = (await res.json()) as { datasets: Array<{ name: string; rows: number; columns: number }> };
  return body.datasets.find((d) => d.name === dataset);
}

describe('server limits', () => {
  it('documents Honeycomb-like defaults', () => {
    expect(DEFAULT_SERVER_LIMITS).toMatchObject({ maxEventBytes: 1_000_000, maxBodyBytes: 5_000_000, maxColumnsPerDataset: 2_000 });
  });

  it('rejects only the event that would pass the column limit', async () => {
    const res = await batch('wide', [{ data: { a: 1, b: 2, c: 3 } }, { data: { a: 1, d: 4, e: 5, f: 6 } }, { data: { a: 2, d: 5, e: 6 } }]);
    expect(res.status).toBe(200);
    const outcomes = (await res.json()) as Array<{ status: number; error?: string }>;
    expect(outcomes.map((o) => o.status)).toEqual([202, 400, 202]);
    expect(outcomes[1]?.error).toMatch(/column/);
    expect(await datasetRows('wide')).toMatchObject({ rows: 2, columns: 5 });
  });

  it('answers 429 with Retry-After when the ingest queue is full, and stores exactly the accepted batches', async () => {
    const items = Array.from({ length: 600 }, (_, i) => ({ data: { i, payload: 'p'.repeat(200) } }));
    let accepted = 0;
    let refused: Response | undefined;
    let refusal: { error: { code: string } } | undefined;
    for (let round = 0; round < 30 && refused === undefined; round++) {
      const answers = await Promise.all(Array.from({ length: 8 }, () => batch('pressure', items)));
      for (const answer of answers) {
        if (answer.status === 200) {
          const outcomes = (await answer.json()) as Array<{ status: number }>;
          expect(outcomes.every((o) => o.status === 202)).toBe(true);
          accepted++;
        } else {
          expect(answer.status).toBe(429);
          const body = (await answer.json()) as { error: { code: string } };
          if (refused === undefined) [refused, refusal] = [answer, body];
        }
      }
    }
    expect(refused, 'concurrent batches should overflow a 1,000-event queue').toBeDefined();
    expect(refused?.headers.get('retry-after')).toBe('2');
    expect(refusal?.error.code).toBe('overloaded');
    expect((await datasetRows('pressure'))?.rows).toBe(accepted * 600);
  });
});
