/**
 * The flag part of `flagscope demo`: the set-up that creates every demo flag
 * and kill switch on the server, and the step that lists the quick red
 * buttons, presses one, shows an evaluation serving the safe variant and live
 * traffic following it, then releases it.
 */
import { DEMO_FLAGS, demoFlagDefinition } from '../../demo/catalog.js';
import { generateEvents } from '../../demo/generate.js';
import type { DemoSession, DemoSetup, DemoStep } from '../demo/step-types.js';
import { toFlagdDocument } from '../../flags/flagd-format.js';
import type { OfrepEvaluation } from '../../api/ofrep.js';
import type { ServiceButtons } from '../../api/buttons.js';
import { listServices, pressOrRelease } from '../../client/buttons.js';
import { importFlagd } from '../../client/flags.js';
import { evaluateFlag } from '../../client/ofrep.js';

const DEMO_BUTTON = 'payments_retry_enabled';

/** Creates every demo flag in one flagd import (one transaction). */
export const demoFlagsSetup: DemoSetup = {
  id: 'create-flags',
  async run(session) {
    const document = toFlagdDocument(DEMO_FLAGS.map(demoFlagDefinition));
    const result = await importFlagd(session.client, document, 'demo set-up');
    session.note(`created ${result.created.length} flags on the demo server`);
  },
};

async function evaluate(session: DemoSession, key: string, targetingKey: string): Promise<OfrepEvaluation> {
  return evaluateFlag(session.client, key, { targetingKey });
}

function buttonsText(session: DemoSession, services: ServiceButtons[]): string {
  const s = session.styler;
  const lines: string[] = [];
  for (const service of services) {
    if (service.buttons.length === 0) continue;
    lines.push(s.bold(service.name));
    for (const b of service.buttons) {
      const state = b.state === 'pressed' ? s.red(s.bold('PRESSED')) : s.green('armed');
      lines.push(`  ${b.state === 'pressed' ? s.red(s.bold(b.key)) : s.bold(b.key)}  ${state}  turns off ${b.description ?? b.key}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `buttons`, a press with its proof, an evaluation, live traffic, a release. */
export const buttonsDemoStep: DemoStep = {
  id: 'quick-red-buttons',
  title: 'Payments are failing at 3 a.m.: which quick red button turns retries off, and did the press reach every client?',
  async run(session) {
    const s = session.styler;
    const { services } = await listServices(session.client);
    session.print(`${s.dim('$ flagscope buttons')}\n${buttonsText(session, services)}`);

    const before = await evaluate(session, DEMO_BUTTON, 'user-42');
    session.print(`\n${s.dim(`$ flagscope buttons press ${DEMO_BUTTON} --reason "provider timeouts" --yes`)}\n`);
    const pressed = await pressOrRelease(session.client, 'press', DEMO_BUTTON, 'provider timeouts');
    const served = pressed.served.everyone
      ? `${pressed.served.variant} = ${JSON.stringify(pressed.served.value)}`
      : pressed.served.description;
    session.print(`${s.red(s.bold(`PRESSED ${DEMO_BUTTON}`))}: every client is now served ${served}\n`);
    session.print(`flag-config version ${pressed.configVersion}, delivered to ${pressed.subscribers} stream subscribers\n`);

    const after = await evaluate(session, DEMO_BUTTON, 'user-42');
    session.print(`\n${s.dim(`$ flagscope flags eval ${DEMO_BUTTON} --targeting-key user-42`)}\n`);
    session.print(
      `before the press: ${before.variant} (${before.reason}); now: ${s.bold(String(after.variant))} = ${JSON.stringify(after.value)} (${after.reason})\n`,
    );

    // Live traffic after the press: the flag column follows the safe variant.
    const from = Math.ceil(session.end / 1000) * 1000;
    const live = [
      ...generateEvents({
        seed: session.seed + 1,
        count: 300,
        start: from,
        end: from + 5_000,
        overrides: { [DEMO_BUTTON]: pressed.safeVariant },
      }),
    ];
    await session.sendEvents(live);
    const column = `flag.${DEMO_BUTTON}`;
    const traffic = await session.query({
      calculations: [{ op: 'COUNT' }],
      breakdowns: [column],
      start_time: from / 1000,
      end_time: from / 1000 + 6,
    });
    const shares = traffic.data.results.map((r) => `${String(r.data[column])}: ${String(r.data['COUNT'])}`).join(', ');
    session.print(`live traffic since the press, by ${column}: ${shares}\n`);

    session.print(`\n${s.dim(`$ flagscope buttons release ${DEMO_BUTTON} --reason "provider recovered" --yes`)}\n`);
    const released = await pressOrRelease(session.client, 'release', DEMO_BUTTON, 'provider recovered');
    const restored = await evaluate(session, DEMO_BUTTON, 'user-42');
    session.print(
      `${s.green(s.bold(`RELEASED ${DEMO_BUTTON}`))} (flag-config version ${released.configVersion}): user-42 is served ${restored.variant} again, exactly as before the press\n`,
    );
  },
};
