import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { BatchItem } from '../../api/ingest.js';
import { FlagscopeError } from '../../errors.js';
import { renderCsv, renderJson } from '../../output/serialize.js';
import { formatCount } from '../../output/values.js';
import type { CommandEnv } from '../command-env.js';
import type { Verb } from '../registration.js';
import { parseEventLine } from './read-ndjson.js';

/** Largest request body the CLI builds; the server accepts 5 MB. */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
const REPORTED_REJECTIONS = 20;

/** A line that was not stored: invalid locally (`status` 0) or rejected by the server. */
export interface LineRejection {
  line: number;
  status: number;
  error: string;
}

/** The result of `events send`, also its `--json` output. */
export interface SendSummary {
  dataset: string;
  /** Events sent to the server. */
  sent: number;
  accepted: number;
  /** Events the server rejected. */
  rejected: number;
  /** Lines that were not valid events and were not sent. */
  invalid: number;
  errors: LineRejection[];
}

interface PendingBatch {
  items: BatchItem[];
  lines: number[];
  bytes: number;
}

/** `flagscope events send DATASET [FILE]`. */
export const sendEvents: Verb = async (env, args, options) => {
  const dataset = String(args[0]);
  const file = typeof args[1] === 'string' ? args[1] : '-';
  const batchSize = positiveInt(options.batchSize, '--batch-size');
  const concurrency = positiveInt(options.concurrency, '--concurrency');
  const { input, totalBytes } = await openInput(env, file);
  const client = await env.client();
  const summary: SendSummary = { dataset, sent: 0, accepted: 0, rejected: 0, invalid: 0, errors: [] };
  const progress = createProgress(env, totalBytes);
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;

  const dispatch = async (batch: PendingBatch): Promise<void> => {
    const sending = client.sendBatch(dataset, batch.items).then(
      (statuses) => {
        statuses.forEach((s, i) => {
          if (s.status >= 200 && s.status < 300) summary.accepted++;
          else {
            summary.rejected++;
            summary.errors.push({ line: batch.lines[i] ?? 0, status: s.status, error: s.error ?? `HTTP ${s.status}` });
          }
        });
        progress.sent(batch.items.length);
      },
      (e: unknown) => {
        failure ??= e;
      },
    );
    const tracked = sending.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    summary.sent += batch.items.length;
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
  };

  let batch: PendingBatch = { items: [], lines: [], bytes: 2 };
  let lineNumber = 0;
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    lineNumber++;
    progress.read(Buffer.byteLength(line) + 1);
    const parsed = parseEventLine(line);
    if (parsed === undefined) continue;
    if ('error' in parsed) {
      summary.invalid++;
      summary.errors.push({ line: lineNumber, status: 0, error: parsed.error });
      continue;
    }
    const bytes = Buffer.byteLength(JSON.stringify(parsed.item)) + 1;
    if (batch.items.length > 0 && (batch.items.length >= batchSize || batch.bytes + bytes > MAX_BATCH_BYTES)) {
      await dispatch(batch);
      batch = { items: [], lines: [], bytes: 2 };
    }
    batch.items.push(parsed.item);
    batch.lines.push(lineNumber);
    batch.bytes += bytes;
    if (failure !== undefined) break;
  }
  if (failure === undefined && batch.items.length > 0) await dispatch(batch);
  await Promise.all(inFlight);
  progress.done();
  if (failure !== undefined) throw failure;

  summary.errors.sort((a, b) => a.line - b.line);
  printSummary(env, summary);
  const bad = summary.rejected + summary.invalid;
  if (bad > 0) {
    throw new FlagscopeError(
      'invalid_input',
      `${formatCount(bad)} of ${formatCount(summary.sent + summary.invalid)} lines were not stored`,
      'fix the lines reported above and send them again',
    );
  }
};

function printSummary(env: CommandEnv, summary: SendSummary): void {
  if (env.format === 'json') {
    env.out(renderJson(summary));
    return;
  }
  if (env.format === 'ndjson') {
    env.out(`${JSON.stringify(summary)}\n`);
    return;
  }
  if (env.format === 'csv') {
    env.out(
      renderCsv(
        ['line', 'status', 'error'],
        summary.errors.map((e) => [e.line, e.status, e.error]),
      ),
    );
    return;
  }
  for (const e of summary.errors.slice(0, REPORTED_REJECTIONS)) {
    const what = e.status === 0 ? 'not sent' : 'rejected';
    env.ctx.stderr.write(`line ${e.line}: ${what}: ${e.error}\n`);
  }
  if (summary.errors.length > REPORTED_REJECTIONS) {
    env.ctx.stderr.write(`… and ${formatCount(summary.errors.length - REPORTED_REJECTIONS)} more (use \`--json\` for the full list)\n`);
  }
  let line = `sent ${formatCount(summary.sent)} event${summary.sent === 1 ? '' : 's'} to ${summary.dataset}: ${formatCount(summary.accepted)} accepted, ${formatCount(summary.rejected)} rejected`;
  if (summary.invalid > 0) line += `; ${formatCount(summary.invalid)} invalid line${summary.invalid === 1 ? '' : 's'} not sent`;
  env.out(`${line}\n`);
}

async function openInput(env: CommandEnv, file: string): Promise<{ input: Readable; totalBytes: number | undefined }> {
  if (file === '-') {
    if (env.stdinIsTTY) {
      throw new FlagscopeError(
        'usage',
        'no events to send: stdin is a terminal',
        'pass an NDJSON FILE, or pipe events into `flagscope events send DATASET -`',
      );
    }
    return { input: env.ctx.stdin, totalBytes: undefined };
  }
  const path = resolve(env.ctx.cwd, file);
  try {
    const info = await stat(path);
    if (!info.isFile())
      throw new FlagscopeError('invalid_input', `cannot read ${file}: not a file`, 'pass an NDJSON file, or `-` for stdin');
    return { input: createReadStream(path), totalBytes: info.size };
  } catch (e) {
    if (e instanceof FlagscopeError) throw e;
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new FlagscopeError('invalid_input', `cannot read ${file}: ${reason}`, 'check the path, or pass `-` to read stdin');
  }
}

function positiveInt(value: unknown, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new FlagscopeError(
      'usage',
      `\`${flag} ${String(value)}\` is not a positive integer`,
      `pass a whole number, e.g. \`${flag} 500\``,
    );
  return n;
}

interface Progress {
  read(bytes: number): void;
  sent(events: number): void;
  done(): void;
}

/** A one-line progress bar on stderr, redrawn at most 10 times a second; nothing when stderr is not a terminal. */
function createProgress(env: CommandEnv, totalBytes: number | undefined): Progress {
  if (!env.stderrIsTTY || env.quiet) return { read: () => undefined, sent: () => undefined, done: () => undefined };
  const started = env.ctx.now();
  let bytesRead = 0;
  let eventsSent = 0;
  let lastDraw = 0;
  let drawn = false;
  const draw = (force: boolean): void => {
    const now = env.ctx.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const seconds = Math.max(0.001, (now - started) / 1000);
    const rate = `${formatCount(Math.round(eventsSent / seconds))}/s`;
    let bar = '';
    if (totalBytes !== undefined && totalBytes > 0) {
      const share = Math.min(1, bytesRead / totalBytes);
      const width = 24;
      const full = Math.round(share * width);
      bar = `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${String(Math.round(share * 100)).padStart(3)}%  `;
    }
    env.ctx.stderr.write(`\r\u001b[Ksending ${bar}${formatCount(eventsSent)} events  ${rate}`);
    drawn = true;
  };
  return {
    read: (bytes) => {
      bytesRead += bytes;
      draw(false);
    },
    sent: (events) => {
      eventsSent += events;
      draw(false);
    },
    done: () => {
      if (drawn) env.ctx.stderr.write('\r\u001b[K');
    },
  };
}
