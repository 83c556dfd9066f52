import type { Command } from 'commander';
import type { Verb } from '../registration.js';
import { buildCompletionModel } from './model.js';
import { renderBashScript, renderFishScript, renderZshScript } from './scripts.js';

/** Renders the completion script of `shell` for the program `root`. */
export function completionScript(root: Command, shell: 'bash' | 'zsh' | 'fish'): string {
  const model = buildCompletionModel(root);
  if (shell === 'bash') return renderBashScript(model);
  if (shell === 'zsh') return renderZshScript(model);
  return renderFishScript(model);
}

/** `flagscope completion SHELL`. */
export const printCompletionScript: Verb = async (env, args) => {
  let root: Command = env.command;
  while (root.parent !== null) root = root.parent;
  env.out(completionScript(root, args[0] as 'bash' | 'zsh' | 'fish'));
};
