/**
 * explain through the real server (issue 11, item 5): events with a planted checkout_v2=on ×
 * Firefox cause, every other flag random, sent over the batch API into a temp data directory;
 * `POST /api/v1/explain` ranks the pair first and reports no combination padded with a value that
 * adds nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExplainFinding, ExplainReport } from '../../src/compare/explain/report.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { plantedPairEvents } from '../fixtures/planted-pair.js';

let dir: string;
let server: RunningServer;
const now = Date.now();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-explain-pair-'));
  server = await startServer({ port: 0, dataDir: dir });
  const events = plantedPairEvents(30_000, 21).map((data, i) => ({
    time: new Date(now - 60_000 - (i % 3_000_000)).toISOString(),
    data: { ...data, duration_ms: 100 + (i % 97), 'user.id': `u${i % 4000}` },
  }));
  for (let i = 0; i < events.length; i += 10_000) {
    const res = await fetch(`${server.url}/1/batch/shop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(events.slice(i, i + 10_000)),
    });
    expect(res.status).toBe(200);
  }
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const label = (f: ExplainFinding): string => f.columns.map((c, i) => `${c}=${f.values[i]}`).join(' × ');

describe('explain finds one flag × one attribute', () => {
  it('ranks checkout_v2=on × Firefox first and pads no row with unrelated values', async () => {
    const res = await fetch(`${server.url}/api/v1/explain/shop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ selection: [{ column: 'error', op: '=', value: true }], time_range: 3600, limit: 1000 }),
    });
    expect(res.status).toBe(200);
    const report = (await res.json()) as ExplainReport;
    expect(label(report.findings[0]!)).toBe('flag.checkout_v2=on × browser=Firefox');
    expect(report.findings[0]!.significant).toBe(true);
    expect(report.findings.filter((f) => f.columns.length > 1).map(label)).toEqual(['flag.checkout_v2=on × browser=Firefox']);
    expect(report.combinations.tested).toBeGreaterThan(1);
    expect(report.combinations.dropped).toBe(report.combinations.tested - 1);
  });
});
