/**
 * The demo's comparison step: `compare checkout_v2 --with new_cart` on the
 * checkout and cart services, which finds the hidden regression in the
 * combination of both flags and reports it as an interaction.
 */
import type { DemoStep } from '../demo/step-types.js';
import { HIDDEN_REGRESSION } from '../../demo/catalog.js';
import type { CompareReport } from '../../api/analysis.js';
import { formatDifference } from './render-compare.js';

export const compareDemoStep: DemoStep = {
  id: 'compare-flags',
  title: 'Does the new checkout hurt, and together with which flag?',
  async run(session) {
    const { styler } = session;
    const [first, second] = Object.keys(HIDDEN_REGRESSION.flags) as [string, string];
    const services = HIDDEN_REGRESSION.services.join(', ');
    session.intro(`Cohorts of ${first} × ${second} in the ${services} services: always-valid intervals, q-values over the whole report.`);
    const args = [
      'compare',
      first,
      ...['--with', second, '--dataset', session.dataset],
      ...['--where', `service.name in (${HIDDEN_REGRESSION.services.map((s) => `"${s}"`).join(', ')})`],
      ...session.window,
    ];
    await session.command(args);
    const report = await session.commandJson<CompareReport>(args);
    const both = report.results.find((r) => r.metric === 'RATE(error = true)' && r.cohort === `${first}=on ${second}=on`);
    const interaction = report.interactions.find(
      (i) => i.metric === 'RATE(error = true)' && i.variants[0] === 'on' && i.variants[1] === 'on',
    );
    if (both !== undefined && both.verdict === 'worse') {
      const extra =
        interaction?.verdict === 'worse'
          ? `, ${formatDifference(interaction.effect, 'absolute')} more than the two flags alone predict`
          : '';
      session.print(
        '\n' +
          styler.bold(
            `→ ${first}=on with ${second}=on: error rate ${formatDifference(both.difference, 'absolute')} against control${extra}.`,
          ) +
          '\n',
      );
    }
  },
};
