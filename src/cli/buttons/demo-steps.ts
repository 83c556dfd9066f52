/**
 * The flag part of `flagscope demo`: the set-up that creates every demo flag
 * and kill switch on the server, and the step that lists the quick red
 * buttons, presses one, shows an evaluation serving the safe variant and live
 * traffic following it, then releases it.
 */
import { DEMO_FLAGS, demoFlagDefinition } from '../../demo/catalog.js';
import { generateEvents } from '../../demo/generate.js';
import type { DemoSetup, DemoStep } from '../demo/step-types.js';
import { toFlagdDocument } from '../../flags/flagd-format.js';
import { importFlagd } from '../../client/flags.js';
import { evaluateFlag } from '../../client/ofrep.js';
import { subscribeToChanges } from '../demo/stream-subscriber.js';

const DEMO_BUTTON = 'payments_retry_enabled';
/** How long the demo waits for the press on the change stream (wall ms). */
const STREAM_WAIT_MS = 10_000;
/** The live traffic after the press spans this much time, just before the demo's now. */
const LIVE_TRAFFIC_MS = 5_000;

/** Creates every demo flag in one flagd import (one transaction). */
export const demoFlagsSetup: DemoSetup = {
  id: 'create-flags',
  async run(session) {
    const document = toFlagdDocument(DEMO_FLAGS.map(demoFlagDefinition));
    const result = await importFlagd(session.client, document, 'demo set-up');
    session.note(`created ${result.created.length} flags on the demo server`);
  },
};

/** `buttons`, a press reaching a subscribed client, evaluations, live traffic, a release. */
export const buttonsDemoStep: DemoStep = {
  id: 'quick-red-buttons',
  title: 'Payments are failing at 3 a.m.: which quick red button turns retries off, and did the press reach every client?',
  async run(session) {
    const s = session.styler;
    await session.command(['buttons']);
    session.print('\n');
    await session.command(['flags', 'eval', DEMO_BUTTON, '--targeting-key', 'user-42']);

    // A client holding the change stream open, as a flag SDK in streaming mode does.
    const subscriber = await subscribeToChanges(session.serverUrl, session.apiKey);
    try {
      session.print(
        `\n${s.dim("A client now holds the server's change stream (GET /api/v1/stream) open, as a streaming flag SDK does.")}\n`,
      );
      const sentAt = Date.now();
      await session.command(['buttons', 'press', DEMO_BUTTON, '--reason', 'provider timeouts', '--yes']);
      const change = await subscriber.nextChange(DEMO_BUTTON, STREAM_WAIT_MS);
      session.print(
        `${s.bold(`→ the subscribed client read the change (flag-config version ${change.configVersion}) ${Math.max(0, change.receivedAt - sentAt)} ms after the press was sent.`)}` +
          ' "Delivered to N stream subscribers" counts the open change streams the server wrote it to before it answered.\n\n',
      );
    } finally {
      subscriber.close();
    }
    await session.command(['flags', 'eval', DEMO_BUTTON, '--targeting-key', 'user-42']);

    // Live traffic after the press: each request's variant is what OFREP serves its user now.
    const from = Math.max(session.clock.now() - LIVE_TRAFFIC_MS, session.end);
    const live = [...generateEvents({ seed: session.seed + 1, count: 300, start: from, end: from + LIVE_TRAFFIC_MS })];
    const column = `flag.${DEMO_BUTTON}`;
    const served = new Map<string, string>();
    for (const event of live) {
      const user = String(event.data['user.id'] ?? 'anonymous');
      if (!served.has(user)) served.set(user, String((await evaluateFlag(session.client, DEMO_BUTTON, { targetingKey: user })).variant));
      event.data[column] = served.get(user);
    }
    await session.sendEvents(live);
    session.print(
      `\n${s.dim(`${live.length} requests of ${served.size} users arrive after the press, each with the variant OFREP serves its user:`)}\n`,
    );
    const window = ['--start', String(Math.floor(from / 1000)), '--end', String(Math.ceil((from + LIVE_TRAFFIC_MS) / 1000))];
    await session.command(['query', session.dataset, '--calc', 'COUNT', '--by', column, ...window]);

    session.print('\n');
    await session.command(['buttons', 'release', DEMO_BUTTON, '--reason', 'provider recovered', '--yes']);
    session.print('\n');
    await session.command(['flags', 'eval', DEMO_BUTTON, '--targeting-key', 'user-42']);
    session.print(`${s.bold('→ user-42 is served what it was served before the press.')}\n`);
  },
};
