/**
 * `flagscope datasets delete NAME [--yes] [--force]` and `flagscope datasets retention NAME [PERIOD]`.
 * A delete asks for the dataset's name to be typed back on a terminal; elsewhere it needs `--yes`.
 */
import { createInterface } from 'node:readline';
import { formatRetention, parseRetention } from '../../api/retention.js';
import { listCanaries } from '../../client/canaries.js';
import { deleteDataset, describeDatasets, setDatasetRetention } from '../../client/datasets.js';
import type { HttpClient } from '../../client/http.js';
import { datasetMeasuresCanaries, FlagscopeError, notFound } from '../../errors.js';
import { closestName } from '../../query/suggest.js';
import { renderJson } from '../../output/serialize.js';
import { formatBytes, formatCount } from '../../output/values.js';
import type { CommandEnv } from '../command-env.js';
import type { Verb } from '../registration.js';

export const deleteDatasetVerb: Verb = async (env, args, options) => {
  const name = String(args[0]);
  const client = await env.client();
  if (options.yes !== true) {
    const interactive =
      env.stdinIsTTY && env.stdoutIsTTY && (env.ctx.env.CI === undefined || env.ctx.env.CI === '') && env.format === 'table';
    if (!interactive) {
      throw new FlagscopeError(
        'usage',
        `\`--yes\` required to delete dataset ${name} when not running interactively`,
        'add `--yes` to delete without the prompt',
      );
    }
    const { datasets } = await describeDatasets(client);
    const dataset = datasets.find((d) => d.name === name);
    if (dataset === undefined) {
      const closest = closestName(
        name,
        datasets.map((d) => d.name),
      );
      throw notFound(
        `dataset ${JSON.stringify(name)} does not exist`,
        closest === undefined ? 'run `flagscope datasets` to list datasets' : `did you mean ${JSON.stringify(closest)}?`,
      );
    }
    // Refused before the prompt, as the server would after it; with --force the prompt says what else it does.
    const measuring = await canariesMeasuring(client, name);
    if (measuring.length > 0 && options.force !== true) throw datasetMeasuresCanaries(name, measuring);
    const size = dataset.size_bytes === undefined ? '' : `, ${formatBytes(dataset.size_bytes)}`;
    const rollBack = measuring.map((c) => ` and rolls the canary of ${c.flag} back to 0%`).join('');
    env.ctx.stderr.write(`This deletes dataset ${name}: ${formatCount(dataset.rows)} events${size}${rollBack}. It cannot be undone.\n`);
    const typed = await ask(env, 'Type the dataset name to delete it: ');
    if (typed === undefined)
      throw new FlagscopeError('usage', `dataset ${name} was not deleted: cancelled`, 'run it again, or pass `--yes`');
    if (typed !== name) {
      throw new FlagscopeError(
        'usage',
        `dataset ${name} was not deleted: the name was not typed back`,
        'type the name exactly, or pass `--yes`',
      );
    }
  }
  const result = await deleteDataset(client, name, { force: options.force === true });
  if (env.format === 'json') env.out(renderJson(result));
  else {
    const canaries = result.rolled_back_canaries.map((flag) => `; rolled back the canary of ${flag} to 0%`).join('');
    env.out(`deleted dataset ${result.dataset}: ${formatCount(result.deleted_events)} events${canaries}\n`);
  }
};

/**
 * The canaries in flight that `dataset` measures, as far as the key may list them (listing needs
 * `flags:read`; without it the server's own refusal comes after the prompt instead).
 */
async function canariesMeasuring(client: HttpClient, dataset: string): Promise<Array<{ flag: string; status: string; percent: number }>> {
  try {
    const { canaries } = await listCanaries(client);
    return canaries
      .filter((c) => c.plan.dataset === dataset && c.endedAt === null)
      .map((c) => ({ flag: c.flag, status: c.status, percent: c.percent }));
  } catch (error) {
    if (error instanceof FlagscopeError && (error.code === 'forbidden' || error.code === 'not_found')) return [];
    throw error;
  }
}

/** Reads one line from stdin after `question`; undefined when stdin ends first (Ctrl-D) or on Ctrl-C. */
function ask(env: CommandEnv, question: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: env.ctx.stdin, output: env.ctx.stderr, terminal: true });
    let answered = false;
    rl.on('SIGINT', () => rl.close());
    rl.on('close', () => {
      if (!answered) resolve(undefined);
    });
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(answer.trim());
    });
  });
}

export const retentionVerb: Verb = async (env, args) => {
  const name = String(args[0]);
  const client = await env.client();
  if (args[1] === undefined || args[1] === null) {
    const answer = await describeDatasets(client);
    const dataset = answer.datasets.find((d) => d.name === name);
    if (dataset === undefined) {
      const closest = closestName(
        name,
        answer.datasets.map((d) => d.name),
      );
      throw notFound(
        `dataset ${JSON.stringify(name)} does not exist`,
        closest === undefined ? 'run `flagscope datasets` to list datasets' : `did you mean ${JSON.stringify(closest)}?`,
      );
    }
    printRetention(env, name, dataset.retention_ms ?? null, dataset.effective_retention_ms ?? null);
    return;
  }
  const period = String(args[1]);
  parseRetention(period, { allowDefault: true }); // a usage error before any request
  const dataset = await setDatasetRetention(client, name, period);
  printRetention(env, name, dataset.retention_ms ?? null, dataset.effective_retention_ms ?? null);
};

function printRetention(env: CommandEnv, name: string, own: number | null, effective: number | null): void {
  if (env.format === 'json') {
    env.out(renderJson({ dataset: name, retention_ms: own, effective_retention_ms: effective }));
    return;
  }
  const source = own === null ? " (the server's default)" : '';
  env.out(`${name}: events kept ${effective === null ? 'forever' : `for ${formatRetention(effective)}`}${source}\n`);
}
