import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { examples, lazyAction } from '../registration.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

/** Registers `flagscope completion SHELL` and the hidden `flagscope __complete KIND` used by the scripts. */
export function registerCompletion(program: Command, state: RunState): void {
  const cmd = program
    .command('completion')
    .description('print a shell completion script')
    .addArgument(program.createArgument('<shell>', 'shell to complete for').choices(SHELLS))
    .addHelpText(
      'after',
      examples([
        'flagscope completion bash > ~/.local/share/bash-completion/completions/flagscope',
        'flagscope completion zsh > "${fpath[1]}/_flagscope"',
        'flagscope completion fish > ~/.config/fish/completions/flagscope.fish',
      ]),
    );
  lazyAction(cmd, state, async () => (await import('./print-script.js')).printCompletionScript);
  const complete = program
    .command('__complete', { hidden: true })
    .description('print completion candidates of a kind (datasets, flags, services, columns, calcs), one per line')
    .argument('<kind>', 'what to complete')
    .option('--dataset <dataset>', 'the dataset whose columns to complete');
  lazyAction(complete, state, async () => (await import('./complete-values.js')).completeValues);
}
