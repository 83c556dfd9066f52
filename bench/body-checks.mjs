#!/usr/bin/env node
/**
 * What the hostile-input checks of issue 9 cost on a batch body read the object way (no server):
 * the linear nesting scan and the UTF-8 check against `JSON.parse` of the same body, and
 * `decodeBatchBody` of a clean body against the same body with one bad UTF-8 byte or one item
 * nested 100,000 levels deep (those take the item-by-item way). In-process, a few seconds.
 *
 * Run: npm run build && node bench/body-checks.mjs
 * Env: BENCH_EVENTS (items per body, default 6000), BENCH_REPEAT (timed runs, median; default 15).
 */
import { isUtf8 } from 'node:buffer';
import { decodeBatchBody } from '../dist/ingest/honeycomb.js';
import { depthOverflowAt } from '../dist/ingest/json-text.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 6000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 15);
const NOW = Date.UTC(2026, 0, 1, 12);

const items = [];
for (let i = 0; i < EVENTS; i++) {
  items.push({
    data: {
      service: `api-${i % 7}`,
      duration_ms: i * 1.5,
      status: 200 + (i % 5),
      route: `/api/v1/items/${i}`,
      ok: i % 3 === 0,
      user: `user-${i}`,
      region: 'eu-west-1',
      tags: ['a', { b: i }],
    },
    time: NOW / 1000 - i,
  });
}
const clean = Buffer.from(JSON.stringify(items));
const text = clean.toString('utf8');
const badByte = Buffer.from(clean);
badByte[clean.indexOf('eu-west-1') + 2] = 0xff;
const deep = Buffer.concat([
  clean.subarray(0, clean.length - 1),
  Buffer.from(`,{"data":{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}]`),
]);

function median(f) {
  f();
  const times = [];
  for (let k = 0; k < REPEAT; k++) {
    const started = performance.now();
    f();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const rows = [
  ['JSON.parse of the body text', median(() => JSON.parse(text))],
  ['nesting scan (depthOverflowAt)', median(() => depthOverflowAt(text, 66))],
  ['UTF-8 check (isUtf8)', median(() => isUtf8(clean))],
  ['decodeBatchBody, clean body', median(() => decodeBatchBody(clean, 1_000_000, NOW))],
  ['decodeBatchBody, one byte not UTF-8', median(() => decodeBatchBody(badByte, 1_000_000, NOW))],
  ['decodeBatchBody, one item 100,000 levels deep', median(() => decodeBatchBody(deep, 1_000_000, NOW))],
];
console.log(`body of ${EVENTS} items, ${clean.length} bytes; median of ${REPEAT}`);
for (const [name, ms] of rows) console.log(`${name.padEnd(48)} ${ms.toFixed(2)} ms`);
