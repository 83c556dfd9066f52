import { createInterface } from 'node:readline/promises';
import { FlagscopeError, invalidInput } from '../../errors.js';
import { formatIsoTime, formatRelativeTime } from '../../output/values.js';
import type { ColumnInfo } from '../../query/schema.js';
import type { CommandEnv } from '../command-env.js';
import type { Verb } from '../registration.js';
import { printRecords } from '../print-records.js';

const TYPES = ['string', 'integer', 'float', 'boolean'];

/**
 * `flagscope columns DATASET`: `--json` prints `{"dataset", "columns": ColumnInfo[]}`; MISTYPED
 * counts the values kept in `meta.mistyped` because they did not fit the column's type.
 * `--set-type COLUMN=TYPE` changes a column's type instead (asks first, unless `--yes`).
 */
export const listColumns: Verb = async (env, args, options) => {
  const dataset = String(args[0]);
  if (typeof options.setType === 'string') return setType(env, dataset, options.setType, options.yes === true);
  const client = await env.client();
  const columns = await client.listColumns(dataset);
  const now = env.ctx.now();
  printRecords<ColumnInfo>(
    env,
    columns,
    [
      { key: 'name', header: 'NAME', value: (c) => c.name },
      { key: 'type', header: 'TYPE', value: (c) => c.type, human: (c) => env.styler.cyan(c.type) },
      {
        key: 'created_at',
        header: 'FIRST SEEN',
        value: (c) => (c.created_at === undefined ? null : formatIsoTime(c.created_at)),
        human: (c) => (c.created_at === undefined ? '' : formatRelativeTime(c.created_at, now)),
      },
      {
        key: 'mistyped',
        header: 'MISTYPED',
        value: (c) => c.mistyped ?? 0,
        human: (c) => (c.mistyped === undefined ? '' : env.styler.yellow(String(c.mistyped))),
      },
    ],
    { dataset, columns },
  );
  const mistyped = columns.filter((c) => c.mistyped !== undefined);
  if (mistyped.length > 0 && env.format === 'table') {
    env.info(
      `${mistyped.length} column(s) got values that did not fit their type: kept in meta.mistyped (\`flagscope query ${dataset} --where 'meta.mistyped exists'\`); change a type with \`--set-type COLUMN=TYPE\``,
    );
  }
};

async function setType(env: CommandEnv, dataset: string, spec: string, yes: boolean): Promise<void> {
  const at = spec.lastIndexOf('=');
  const column = at < 0 ? '' : spec.slice(0, at);
  const type = at < 0 ? '' : spec.slice(at + 1).trim();
  if (column === '' || !TYPES.includes(type)) {
    throw invalidInput(
      `--set-type ${JSON.stringify(spec)} is not COLUMN=TYPE`,
      `use e.g. --set-type duration_ms=string (types: ${TYPES.join(', ')})`,
    );
  }
  if (!yes) {
    const interactive =
      env.stdinIsTTY && env.stdoutIsTTY && (env.ctx.env.CI === undefined || env.ctx.env.CI === '') && env.format === 'table';
    if (!interactive) {
      throw new FlagscopeError(
        'usage',
        `\`--yes\` required to change the type of ${column} when not running interactively`,
        'add `--yes` to change it without the prompt',
      );
    }
    const prompt = createInterface({ input: env.ctx.stdin, output: env.ctx.stderr });
    let typed: string;
    try {
      typed = await prompt.question(
        `Change ${dataset}.${column} to ${type}? Every stored value is converted; values that do not convert move to meta.mistyped.\nType the column name to confirm: `,
      );
    } finally {
      prompt.close();
    }
    if (typed.trim() !== column) {
      throw new FlagscopeError(
        'usage',
        `the type of ${column} was not changed: the column name was not typed back`,
        'type the column name exactly, or pass `--yes`',
      );
    }
  }
  const client = await env.client();
  const change = await client.setColumnType(dataset, column, type);
  if (env.format !== 'table') {
    env.out(`${JSON.stringify(change)}\n`);
    return;
  }
  const moved = change.kept === 0 ? '' : `; ${change.kept} value(s) did not convert and are kept in meta.mistyped`;
  const back = change.restored === 0 ? '' : `; ${change.restored} value(s) came back from meta.mistyped`;
  env.out(`${dataset}.${change.column}: ${change.from} → ${change.to}${moved}${back}\n`);
}
