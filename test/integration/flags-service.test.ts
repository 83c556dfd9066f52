import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlagService, type FlagChangeEvent } from '../../src/server/flags/flag-service.js';
import { openControlStore } from '../../src/store/duckdb/control-store.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-flag-service-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FlagService over the DuckDB control store', () => {
  it('serves and streams a press before its commit, confirms it from the feed, and takes it back with a revert event when the commit fails', async () => {
    const control = await openControlStore({ path: join(dir, 'failed-commit.duckdb') });
    const flags = await FlagService.open(control.flagStore(), () => Date.UTC(2026, 0, 1));
    await flags.create(
      {
        key: 'payments-off',
        service: 'checkout',
        kind: 'kill-switch',
        variants: { live: true, off: false },
        defaultVariant: 'live',
        safeVariant: 'off',
      },
      'admin',
      'setup',
    );
    const events: FlagChangeEvent[] = [];
    const servedWhenStreamed: boolean[] = [];
    flags.subscribe((event) => {
      events.push(event);
      servedWhenStreamed.push(flags.snapshot().flags.get('payments-off')?.pressed !== undefined);
      return true;
    });
    const pressing = flags.killSwitch('press', 'payments-off', 'bob', 'outage');
    // Served and streamed before the store has answered.
    await Promise.resolve();
    await Promise.resolve();
    expect(events.map((e) => e.action)).toEqual(['press']);
    expect(flags.snapshot().flags.get('payments-off')?.pressed).toBeDefined();
    const pressed = await pressing;
    expect(pressed).toMatchObject({ changed: true, subscribers: 1 });
    // The feed confirmed it with the store's version and did not stream it twice.
    expect(events.map((e) => [e.action, e.configVersion])).toEqual([['press', pressed.configVersion]]);
    expect(flags.snapshot().configVersion).toBe(pressed.configVersion);
    expect(servedWhenStreamed).toEqual([true]);
    expect(flags.lastPress('payments-off')).toMatchObject({ by: 'bob', reason: 'outage' });

    const served = flags.snapshot().flags;
    await control.close();
    await expect(flags.killSwitch('release', 'payments-off', 'bob', 'recovered')).rejects.toMatchObject({ code: 'server_error' });
    expect(events.map((e) => e.action)).toEqual(['press', 'release', 'revert']);
    expect(servedWhenStreamed).toEqual([true, false, true]);
    expect(events[2]?.flag.pressed).toBeDefined();
    expect(flags.snapshot().flags).toEqual(served);
    flags.close();
  });

  it('reloads what was committed, with the same flag-config version', async () => {
    const path = join(dir, 'reload.duckdb');
    const control = await openControlStore({ path });
    const flags = await FlagService.open(control.flagStore(), () => Date.UTC(2026, 0, 1));
    await flags.create({ key: 'a', service: 's', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' }, 'admin', '');
    const written = await flags.setRollout('a', { on: 10, off: 90 }, 1, 'admin', 'ramp');
    expect(written.configVersion).toBe(2);
    await control.close();
    const reopened = await openControlStore({ path });
    const again = await FlagService.open(reopened.flagStore(), () => Date.UTC(2026, 3, 1));
    expect(again.snapshot().configVersion).toBe(2);
    expect(again.get('a')).toEqual(written.flag);
    expect(again.list({ stale: true }).map((f) => f.key)).toEqual(['a']);
    await reopened.close();
  });
});
