/**
 * The demo's incomplete-executions step: the completed page executions of a flag combination
 * look as healthy as any other's, and `INCOMPLETE` shows that many of its executions never
 * finished (`QUIET_EXECUTIONS` in the demo data); `explain --incomplete` then finds the
 * combination without being told the flags. Commands printed as run.
 */
import { QUIET_EXECUTIONS } from '../../demo/catalog.js';
import { formatNumberHuman } from '../../output/values.js';
import type { QueryResult, ResultRow } from '../../query/spec.js';
import type { DemoStep } from './step-types.js';

const ERROR_RATE = 'RATE(error = true)';
const P95 = 'P95(duration_ms)';

function percent(rate: number): string {
  return `${(rate * 100).toFixed(rate < 0.1 ? 2 : 1)}%`;
}

function numberOf(row: ResultRow | undefined, name: string): number | undefined {
  const value = row?.data[name];
  return typeof value === 'number' ? value : undefined;
}

/** `low–high` of the numbers, or the one number when they agree once formatted. */
function range(values: number[], format: (value: number) => string): string {
  const low = format(Math.min(...values));
  const high = format(Math.max(...values));
  return low === high ? low : `${low}–${high}`;
}

export const quietExecutionsStep: DemoStep = {
  id: 'quiet-executions',
  title: 'Which page executions never finish?',
  async run(session) {
    const { styler } = session;
    const columns = Object.keys(QUIET_EXECUTIONS.where);
    const service = QUIET_EXECUTIONS.services[0];
    const by = columns.flatMap((c) => ['--by', c]);
    const scope = ['--where', `service.name = "${service}"`];
    session.intro(
      `A browser reports a page execution when it starts and when it ends; one whose end never arrives is kept, marked meta.incomplete = true. First what a dashboard of finished executions shows: the ${service}'s, by the variants of two image flags.`,
    );
    const completedArgs = [
      ...['query', session.dataset, '--calc', 'COUNT', '--calc', ERROR_RATE, '--calc', P95, ...scope, '--where', 'meta.incomplete = false'],
      ...by,
      ...columns.flatMap((c) => ['--order', c]),
      ...session.window,
    ];
    await session.command(completedArgs);
    const completed = await session.commandJson<QueryResult>(completedArgs);
    session.print(
      `\n${styler.dim('Every combination fails as rarely and loads as fast as the others. Count the executions that never finished:')}\n`,
    );
    const allArgs = [
      ...['query', session.dataset, '--calc', 'COUNT', '--calc', 'INCOMPLETE', ...scope, ...by, '--order', 'INCOMPLETE desc'],
      ...session.window,
    ];
    await session.command(allArgs);
    const all = await session.commandJson<QueryResult>(allArgs);

    const top = all.data.results[0];
    const topShare = numberOf(top, 'INCOMPLETE');
    if (top === undefined || topShare === undefined) return;
    const rest = all.data.results.slice(1);
    const restCount = rest.reduce((sum, row) => sum + (numberOf(row, 'COUNT') ?? 0), 0);
    const restShare = rest.reduce((sum, row) => sum + (numberOf(row, 'COUNT') ?? 0) * (numberOf(row, 'INCOMPLETE') ?? 0), 0) / restCount;
    const found = columns.map((c) => `${c}=${String(top.data[c])}`);
    const sameGroup = (row: ResultRow): boolean => columns.every((c) => row.data[c] === top.data[c]);
    const finished = completed.data.results.find(sameGroup);
    const errors = numberOf(finished, ERROR_RATE);
    const p95 = numberOf(finished, P95);
    const allErrors = completed.data.results.map((row) => numberOf(row, ERROR_RATE)).filter((v) => v !== undefined);
    const allP95s = completed.data.results.map((row) => numberOf(row, P95)).filter((v) => v !== undefined);
    const ratio = restShare > 0 ? `, ${(topShare / restShare).toFixed(0)}× the ${percent(restShare)} of the others` : '';
    session.print(
      `\n${styler.bold(`→ found: ${found.join(' AND ')}: ${percent(topShare)} of its page executions never finished${ratio}.`)}\n`,
    );
    if (errors !== undefined && p95 !== undefined) {
      const ms = (value: number): string => `${formatNumberHuman(Math.round(value))} ms`;
      session.print(
        `${styler.dim(
          `  Its finished executions look like everyone's: error rate ${percent(errors)}, P95 ${ms(p95)} (all ${allErrors.length} combinations: ${range(allErrors, percent)}, ${range(allP95s, ms)}). A dashboard of completed executions calls it healthy.`,
        )}\n`,
      );
    }
    const hidden = Object.entries(QUIET_EXECUTIONS.where).map(([column, value]) => `${column}=${value}`);
    const matches = hidden.every((h) => found.includes(h));
    session.print(
      `${styler.dim(
        matches
          ? '  That is the combination the demo data makes go quiet. compare reports it as the INCOMPLETE metric, and a canary guard INCOMPLETE <= +0.5pp rolls it back.'
          : `  The demo data makes ${QUIET_EXECUTIONS.description} go quiet; with this few events it does not stand out yet.`,
      )}\n`,
    );
    session.print(`\n${styler.dim('Without naming any flag: what do the executions that never finished have in common?')}\n`);
    await session.command([
      'explain',
      session.dataset,
      '--incomplete',
      '--population',
      `service.name = "${service}"`,
      '--limit',
      '3',
      ...session.window,
    ]);
  },
};
