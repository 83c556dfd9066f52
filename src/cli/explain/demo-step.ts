/**
 * The demo's explain step: `explain shop --where 'error = true'`, which ranks
 * the hidden regression's flag combination and browser first.
 */
import type { DemoStep } from '../demo/step-types.js';
import { HIDDEN_REGRESSION } from '../../demo/catalog.js';
import type { ExplainReport } from '../../api/analysis.js';

export const explainDemoStep: DemoStep = {
  id: 'explain-errors',
  title: 'What do the failing requests have in common?',
  async run(session) {
    const { styler } = session;
    const services = HIDDEN_REGRESSION.services;
    session.intro(
      `In the ${services.join(', ')} services: every column and the most telling flag combinations, failing requests against the rest, ranked by how over-represented they are.`,
    );
    const args = [
      'explain',
      session.dataset,
      ...['--where', 'error = true', '--population', `service.name in (${services.map((s) => `"${s}"`).join(', ')})`, '--limit', '10'],
      ...session.window,
    ];
    await session.command(args);
    const report = await session.commandJson<ExplainReport>(args);
    const top = report.findings.find((f) => f.significant && f.kind === 'value' && f.columns.length > 1);
    if (top !== undefined) {
      session.print(`\n${styler.bold(`→ errors concentrate in ${top.columns.map((c, i) => `${c}=${top.values[i]}`).join(' AND ')}.`)}\n`);
    }
  },
};
