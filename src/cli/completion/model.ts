/**
 * The completion model: what every command path accepts, read from the
 * commander tree itself so the scripts cannot drift from the parser.
 */
import type { Argument, Command, Option } from 'commander';
import { FORMATS_BY_COMMAND, OUTPUT_FORMATS } from '../global-options.js';
import type { ValueCompletion } from './kinds.js';
import { COMPLETION_BY_PLACEHOLDER } from './kinds.js';

export interface CommandCompletion {
  /** Space-separated subcommand names after `flagscope`; empty for the root. */
  path: string;
  subcommands: string[];
  /** Every option spelling accepted here, global ones included. */
  options: string[];
  /** Positional arguments in order. */
  args: ValueCompletion[];
}

export interface CompletionModel {
  commands: CommandCompletion[];
  /** Options that take a value, by spelling, with what the value completes to. */
  valueOptions: Map<string, ValueCompletion>;
  /** Where one command's option takes other values than elsewhere: `path|spelling` → completion. */
  commandValueOptions: Map<string, ValueCompletion>;
}

/** Builds the model from the root program. Hidden commands are left out. */
export function buildCompletionModel(root: Command): CompletionModel {
  const commands: CommandCompletion[] = [];
  const valueOptions = new Map<string, ValueCompletion>();
  const globalOptions = root.options;
  const visit = (cmd: Command, path: string): void => {
    const visible = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
    const options = new Set<string>();
    for (const option of path === '' ? globalOptions : [...cmd.options, ...globalOptions]) {
      if (option.hidden || (path !== '' && option.long === '--version')) continue;
      for (const spelling of spellings(option)) {
        options.add(spelling);
        if (option.required || option.optional) valueOptions.set(spelling, optionCompletion(option));
      }
    }
    options.add('--help');
    if (path === '') options.add('--version');
    commands.push({
      path,
      subcommands: visible.map((c) => c.name()),
      options: [...options],
      args: cmd.registeredArguments.map(argumentCompletion),
    });
    for (const child of visible) visit(child, path === '' ? child.name() : `${path} ${child.name()}`);
  };
  visit(root, '');
  // `--format` is global, but each command prints its own formats: the output formats, except
  // where FORMATS_BY_COMMAND says otherwise (and before any command, every format).
  const commandValueOptions = new Map<string, ValueCompletion>();
  if (valueOptions.has('--format')) {
    valueOptions.set('--format', { type: 'choices', values: [...OUTPUT_FORMATS] });
    for (const [path, formats] of Object.entries(FORMATS_BY_COMMAND)) {
      commandValueOptions.set(`${path}|--format`, { type: 'choices', values: [...formats] });
    }
  }
  return { commands, valueOptions, commandValueOptions };
}

function spellings(option: Option): string[] {
  const out: string[] = [];
  if (option.short !== undefined) out.push(option.short);
  if (option.long !== undefined) out.push(option.long);
  return out;
}

function optionCompletion(option: Option): ValueCompletion {
  if (option.argChoices !== undefined) return { type: 'choices', values: [...option.argChoices] };
  const placeholder = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1] ?? '';
  return (
    COMPLETION_BY_PLACEHOLDER[placeholder] ??
    COMPLETION_BY_PLACEHOLDER[option.attributeName().replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)] ?? { type: 'none' }
  );
}

function argumentCompletion(argument: Argument): ValueCompletion {
  if (argument.argChoices !== undefined) return { type: 'choices', values: [...argument.argChoices] };
  return COMPLETION_BY_PLACEHOLDER[argument.name()] ?? { type: 'none' };
}

/** The compact text form the scripts switch on: `choices:a b`, `dynamic:datasets`, `files`, `dirs`, or empty. */
export function completionCode(value: ValueCompletion): string {
  switch (value.type) {
    case 'none':
      return '';
    case 'files':
      return 'files';
    case 'directories':
      return 'dirs';
    case 'choices':
      return `choices:${value.values.join(' ')}`;
    case 'dynamic':
      return `dynamic:${value.kind}`;
  }
}
