/**
 * commander, loaded through `require`: importing its ESM wrapper makes Node
 * scan the CommonJS source for named exports on every start, which costs
 * more than the rest of `flagscope --help`. Everything in src/cli takes
 * commander's classes from here.
 */
import { createRequire } from 'node:module';
import type * as CommanderModule from 'commander';

const commander = createRequire(import.meta.url)('commander') as typeof CommanderModule;

export const Command = commander.Command;
export type Command = CommanderModule.Command;
export const Option = commander.Option;
export type Option = CommanderModule.Option;
export const Argument = commander.Argument;
export type Argument = CommanderModule.Argument;
export const CommanderError = commander.CommanderError;
export type CommanderError = CommanderModule.CommanderError;
