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
  it('serves a press only once it is committed: a press whose commit fails is neither served nor streamed', async () => {
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
    const pressed = await flags.killSwitch('press', 'payments-off', 'bob', 'outage');
    expect(pressed).toMatchObject({ changed: true, subscribers: 1 });
    expect(events.map((e) => [e.action, e.configVersion])).toEqual([['press', pressed.configVersion]]);
    expect(servedWhenStreamed).toEqual([true]);
    expect(flags.lastPress('payments-off')).toMatchObject({ by: 'bob', reason: 'outage' });

    const before = flags.snapshot();
    await control.close();
    await expect(flags.killSwitch('release', 'payments-off', 'bob', 'recovered')).rejects.toMatchObject({ code: 'server_error' });
    expect(events).toHaveLength(1);
    expect(flags.snapshot()).toBe(before);
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
