/**
 * The analysis admission gate on a manual clock: slots, the FIFO queue and its bound (429 with the
 * seconds to wait), deadlines (the server's and the client's, 504), a client that goes away, and
 * the slot kept until an aborted task has really stopped. Tasks are promises the test settles.
 */
import { describe, expect, it } from 'vitest';
import {
  AnalysisGate,
  defaultMaxConcurrentAnalyses,
  parseTimeoutHeader,
  threadPoolSize,
  type AdmissionLimits,
} from '../../../src/server/admission.js';
import { FlagscopeError } from '../../../src/errors.js';
import { ManualScheduler } from '../../support/manual-scheduler.js';

const LIMITS: AdmissionLimits = { maxConcurrentAnalyses: 2, maxQueuedAnalyses: 2, maxAnalysisMs: 60_000, analysisRetryAfterSeconds: 3 };

/** A task the test finishes by hand; it records its signal and stops (rejects) when that aborts, as `execute` does. */
function heldTask(): {
  task: (signal: AbortSignal) => Promise<string>;
  started: () => boolean;
  signal: () => AbortSignal | undefined;
  finish: (value: string) => void;
  stop: () => void;
} {
  let signal: AbortSignal | undefined;
  let resolve: ((value: string) => void) | undefined;
  let reject: ((error: unknown) => void) | undefined;
  return {
    task: (given) => {
      signal = given;
      return new Promise<string>((res, rej) => {
        resolve = res;
        reject = rej;
      });
    },
    started: () => signal !== undefined,
    signal: () => signal,
    finish: (value) => resolve?.(value),
    stop: () => reject?.(signal?.reason),
  };
}

/** The settled state of a promise after pending callbacks ran. */
function track<T>(promise: Promise<T>): { state: () => 'pending' | 'resolved' | 'rejected'; value: () => unknown } {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  let value: unknown;
  promise.then(
    (v) => {
      state = 'resolved';
      value = v;
    },
    (e: unknown) => {
      state = 'rejected';
      value = e;
    },
  );
  return { state: () => state, value: () => value };
}

describe('AnalysisGate', () => {
  it('runs at most maxConcurrentAnalyses at once, queues the next in order, then refuses with overloaded and the seconds to wait', async () => {
    const clock = new ManualScheduler();
    const gate = new AnalysisGate(LIMITS, clock);
    const tasks = Array.from({ length: 4 }, heldTask);
    const runs = tasks.map((t) => track(gate.run(t.task)));
    expect(tasks.map((t) => t.started())).toEqual([true, true, false, false]);
    expect(gate.load()).toEqual({ running: 2, queued: 2 });

    const refused = track(gate.run(heldTask().task));
    await clock.advance(0);
    expect(refused.state()).toBe('rejected');
    const error = refused.value() as FlagscopeError;
    expect([error.code, error.httpStatus, error.details]).toEqual(['overloaded', 429, { retryAfterSeconds: 3 }]);
    expect(error.message).toContain('2 running and 2 waiting');

    tasks[1]?.finish('b');
    await clock.advance(0);
    expect(runs[1]?.value()).toBe('b');
    expect(tasks.map((t) => t.started())).toEqual([true, true, true, false]);
    expect(gate.load()).toEqual({ running: 2, queued: 1 });
    for (const [i, t] of tasks.entries()) t.finish(String(i));
    await clock.advance(0);
    expect(tasks[3]?.started()).toBe(true);
    tasks[3]?.finish('d');
    await clock.advance(0);
    expect(runs.map((r) => r.state())).toEqual(['resolved', 'resolved', 'resolved', 'resolved']);
    expect(gate.load()).toEqual({ running: 0, queued: 0 });
  });

  it("answers timeout at the client's deadline, aborts the task's signal, and frees the slot only once the task has stopped", async () => {
    const clock = new ManualScheduler();
    const gate = new AnalysisGate({ ...LIMITS, maxConcurrentAnalyses: 1 }, clock);
    const slow = heldTask();
    const run = track(gate.run(slow.task, { timeoutMs: 5_000 }));
    const next = heldTask();
    track(gate.run(next.task));
    await clock.advance(4_999);
    expect(run.state()).toBe('pending');
    await clock.advance(1);
    expect(run.state()).toBe('rejected');
    const error = run.value() as FlagscopeError;
    expect([error.code, error.httpStatus]).toEqual(['timeout', 504]);
    expect(error.message).toBe('the analysis did not finish within its deadline of 5 s; it was stopped');
    expect(slow.signal()?.aborted).toBe(true);
    // The engine has not stopped yet: the slot is still taken.
    expect(next.started()).toBe(false);
    expect(gate.load()).toEqual({ running: 1, queued: 1 });
    slow.stop();
    await clock.advance(0);
    expect(next.started()).toBe(true);
    expect(gate.load()).toEqual({ running: 1, queued: 0 });
  });

  it("caps a client's deadline at the server's maximum, and counts waiting in the queue against it", async () => {
    const clock = new ManualScheduler();
    const gate = new AnalysisGate({ ...LIMITS, maxConcurrentAnalyses: 1, maxAnalysisMs: 1_000 }, clock);
    const first = heldTask();
    track(gate.run(first.task));
    const queued = heldTask();
    const waiting = track(gate.run(queued.task, { timeoutMs: 120_000 }));
    await clock.advance(1_000);
    expect(waiting.state()).toBe('rejected');
    expect((waiting.value() as FlagscopeError).message).toBe(
      "the analysis did not finish within its deadline of 1 s (the server's maximum); it was stopped",
    );
    expect(queued.started()).toBe(false);
    expect(gate.load().queued).toBe(0);
  });

  it('takes a request whose client went away out of the queue, and aborts a running one', async () => {
    const clock = new ManualScheduler();
    const gate = new AnalysisGate({ ...LIMITS, maxConcurrentAnalyses: 1 }, clock);
    const running = heldTask();
    const runningClient = new AbortController();
    const ran = track(gate.run(running.task, { clientGone: runningClient.signal }));
    const queued = heldTask();
    const queuedClient = new AbortController();
    const waited = track(gate.run(queued.task, { clientGone: queuedClient.signal }));
    expect(gate.load()).toEqual({ running: 1, queued: 1 });

    queuedClient.abort(new Error('gone'));
    await clock.advance(0);
    expect(waited.state()).toBe('rejected');
    expect(gate.load()).toEqual({ running: 1, queued: 0 });

    runningClient.abort(new Error('gone too'));
    expect(running.signal()?.aborted).toBe(true);
    expect(running.signal()?.reason).toEqual(new Error('gone too'));
    running.stop();
    await clock.advance(0);
    expect(ran.state()).toBe('rejected');
    expect(queued.started()).toBe(false);
    expect(gate.load()).toEqual({ running: 0, queued: 0 });
    expect(clock.pending).toBe(0);
  });

  it('refuses at once a request whose client is already gone, and passes a task failure through', async () => {
    const clock = new ManualScheduler();
    const gate = new AnalysisGate(LIMITS, clock);
    const gone = new AbortController();
    gone.abort(new Error('closed'));
    const never = heldTask();
    await expect(gate.run(never.task, { clientGone: gone.signal })).rejects.toThrow('closed');
    expect(never.started()).toBe(false);
    await expect(gate.run(() => Promise.reject(new FlagscopeError('invalid_input', 'bad')))).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(
      gate.run(() => {
        throw new Error('thrown');
      }),
    ).rejects.toThrow('thrown');
    expect(gate.load()).toEqual({ running: 0, queued: 0 });
  });
});

describe('AnalysisGate, the reserved place (the canary controller)', () => {
  it('is never refused when the queue is full, goes first in line, and has its own deadline', async () => {
    const scheduler = new ManualScheduler(0);
    const gate = new AnalysisGate(LIMITS, scheduler);
    const running = [heldTask(), heldTask()];
    const queued = [heldTask(), heldTask()];
    for (const t of [...running, ...queued]) track(gate.run(t.task));
    const refused = track(gate.run(heldTask().task));
    const controller = heldTask();
    const reserved = track(gate.run(controller.task, { reserved: true, timeoutMs: 5_000 }));
    await scheduler.advance(0);
    expect(refused.state()).toBe('rejected');
    expect(reserved.state()).toBe('pending');
    expect(gate.load()).toEqual({ running: 2, queued: 3 });
    // A slot frees: the reserved request starts before the two that queued earlier.
    running[0]!.finish('done');
    await scheduler.advance(0);
    expect(controller.started()).toBe(true);
    expect(queued.map((t) => t.started())).toEqual([false, false]);
    // Its deadline counts from its request: at 5 s it is aborted and answered timeout.
    await scheduler.advance(5_000);
    expect(controller.signal()?.aborted).toBe(true);
    expect(reserved.state()).toBe('rejected');
    expect(reserved.value()).toMatchObject({ code: 'timeout' });
    controller.stop();
    await scheduler.advance(0);
    expect(queued[0]!.started()).toBe(true);
  });
});

describe('admission defaults and the timeout header', () => {
  it('gives half the CPUs, at least one, leaving 4 threads of the pool to writes', () => {
    expect(defaultMaxConcurrentAnalyses(2, 10)).toBe(1);
    expect(defaultMaxConcurrentAnalyses(16, 24)).toBe(8);
    expect(defaultMaxConcurrentAnalyses(16, 4)).toBe(1);
    expect(defaultMaxConcurrentAnalyses(16, 7)).toBe(3);
    expect(defaultMaxConcurrentAnalyses(1, 4)).toBe(1);
    expect(threadPoolSize({})).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '12' })).toBe(12);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: 'lots' })).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '5000' })).toBe(1024);
  });

  it('reads X-Flagscope-Timeout as milliseconds or a duration, and refuses anything else with invalid_input', () => {
    expect(parseTimeoutHeader(undefined)).toBeUndefined();
    expect(parseTimeoutHeader('2500')).toBe(2500);
    expect(parseTimeoutHeader(' 30s ')).toBe(30_000);
    expect(parseTimeoutHeader('1m30s')).toBe(90_000);
    expect(parseTimeoutHeader('1500ms')).toBe(1500);
    for (const bad of ['0', 'soon', '-5', '1.5s', '', ['10', '20']]) {
      expect(() => parseTimeoutHeader(bad)).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    }
  });
});
