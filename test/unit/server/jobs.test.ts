import { describe, expect, it } from 'vitest';
import { JobRunner, periodicJob, type BackgroundJob, type JobContext } from '../../../src/server/jobs.js';
import { ManualScheduler } from '../../support/manual-scheduler.js';

const HOUR = 60 * 60 * 1000;

function contextWith(scheduler: ManualScheduler, log: string[] = []): JobContext {
  // The periodic jobs here use only the scheduler and the log.
  return { scheduler, log: (line: string) => log.push(line) } as unknown as JobContext;
}

describe('ManualScheduler', () => {
  it('fires due timers in order of due time, at their due time, and not before', async () => {
    const scheduler = new ManualScheduler(0);
    const fired: string[] = [];
    scheduler.setTimeout(() => fired.push(`b@${scheduler.now()}`), 200);
    scheduler.setInterval(() => fired.push(`tick@${scheduler.now()}`), 100);
    const cleared = scheduler.setTimeout(() => fired.push('never'), 50);
    cleared.clear();
    await scheduler.advance(99);
    expect(fired).toEqual([]);
    await scheduler.advance(201);
    expect(fired).toEqual(['tick@100', 'b@200', 'tick@200', 'tick@300']);
    expect(scheduler.now()).toBe(300);
    expect(scheduler.pending).toBe(1);
  });
});

describe('ManualScheduler.sleep', () => {
  it('wakes when virtual time reaches it, or at once on abort', async () => {
    const scheduler = new ManualScheduler(0);
    const woke: string[] = [];
    void scheduler.sleep(1_000).then(() => woke.push(`slept@${scheduler.now()}`));
    const controller = new AbortController();
    void scheduler.sleep(60_000, controller.signal).then(() => woke.push(`aborted@${scheduler.now()}`));
    await scheduler.advance(999);
    expect(woke).toEqual([]);
    await scheduler.advance(1);
    controller.abort();
    await scheduler.advance(0);
    expect(woke).toEqual(['slept@1000', 'aborted@1000']);
    expect(scheduler.pending).toBe(0);
  });
});

describe('periodicJob over a manual scheduler', () => {
  it('runs every minute for six hours, with no sleeping', async () => {
    const scheduler = new ManualScheduler(0);
    const runs: number[] = [];
    const job = periodicJob('minutely', 60_000, (context) => {
      runs.push(context.scheduler.now());
    });
    await job.start(contextWith(scheduler));
    const started = performance.now();
    await scheduler.advance(6 * HOUR);
    expect(runs.length).toBe(360);
    expect(runs[0]).toBe(60_000);
    expect(runs.at(-1)).toBe(6 * HOUR);
    expect(performance.now() - started).toBeLessThan(6 * HOUR);
    await job.stop();
    await scheduler.advance(HOUR);
    expect(runs.length).toBe(360);
    expect(scheduler.pending).toBe(0);
  });

  it('skips a tick while the previous run is still going, logs a failed run and goes on', async () => {
    const scheduler = new ManualScheduler(0);
    const log: string[] = [];
    let release: () => void = () => undefined;
    let calls = 0;
    const job = periodicJob('slow', 1_000, async () => {
      calls += 1;
      if (calls === 1) await new Promise<void>((resolve) => (release = resolve));
      if (calls === 2) throw new Error('store unreachable');
    });
    await job.start(contextWith(scheduler, log));
    await scheduler.advance(5_000);
    expect(calls).toBe(1);
    release();
    await scheduler.advance(2_000);
    expect(calls).toBe(3);
    expect(log).toEqual(['background job slow failed: store unreachable']);
    await job.stop();
  });

  it('stop waits for the run in flight', async () => {
    const scheduler = new ManualScheduler(0);
    let finish: () => void = () => undefined;
    let finished = false;
    const job = periodicJob('flush', 1_000, async () => {
      await new Promise<void>((resolve) => (finish = resolve));
      finished = true;
    });
    await job.start(contextWith(scheduler));
    await scheduler.advance(1_000);
    let stopped = false;
    const stopping = Promise.resolve(job.stop()).then(() => (stopped = true));
    await scheduler.advance(0);
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect(finished).toBe(true);
  });
});

describe('JobRunner', () => {
  const recording = (name: string, events: string[], failStart = false): BackgroundJob => ({
    name,
    start: () => {
      if (failStart) throw new Error(`${name} cannot start`);
      events.push(`start ${name}`);
    },
    stop: async () => {
      events.push(`stop ${name}`);
    },
  });

  it('starts jobs in order, stops them in reverse, once', async () => {
    const events: string[] = [];
    const runner = new JobRunner([recording('a', events), recording('b', events)], contextWith(new ManualScheduler()));
    await runner.start();
    await Promise.all([runner.stop(), runner.stop()]);
    expect(events).toEqual(['start a', 'start b', 'stop b', 'stop a']);
  });

  it('stops the started jobs when one fails to start', async () => {
    const events: string[] = [];
    const runner = new JobRunner([recording('a', events), recording('b', events, true)], contextWith(new ManualScheduler()));
    await expect(runner.start()).rejects.toThrow('b cannot start');
    expect(events).toEqual(['start a', 'stop a']);
  });
});
