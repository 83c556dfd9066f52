/**
 * The ink prompt of `buttons press|release` on a terminal: shows what will
 * change and asks for the flag key to be typed back. Loaded only by those
 * commands.
 */
import { Box, render, Text, useApp, useInput } from 'ink';
import { useEffect, useRef, useState } from 'react';
import type { CommandEnv } from '../command-env.js';

export interface ConfirmPromptProps {
  verb: 'press' | 'release';
  flagKey: string;
  service?: string;
  /** The switch's description: what pressing it turns off. */
  description?: string;
  /** What the flag serves now. */
  servesNow: string;
  /** What it will serve after the action. */
  servesAfter: string;
  reason: string;
  runbookUrl?: string;
  /** A line in yellow above the question, e.g. that the action would change nothing. */
  note?: string;
  /** Called once: `confirmed` when the typed text equals the key and Enter was pressed. */
  onDone: (outcome: PromptOutcome) => void;
}

/** How the prompt ended: the key typed back, other text typed, or Esc / Ctrl-C. */
export type PromptOutcome = 'confirmed' | 'mismatch' | 'cancelled';

/** The confirmation box: the change, then a line where the key is typed back. */
export function ConfirmPrompt(props: ConfirmPromptProps): React.JSX.Element {
  const [typed, setTyped] = useState('');
  const [finished, setFinished] = useState<PromptOutcome | null>(null);
  // Input can arrive before the next render: the ref holds the text and outcome as typed.
  const typedRef = useRef('');
  const doneRef = useRef(false);
  const { exit } = useApp();
  const finish = (outcome: PromptOutcome): void => {
    doneRef.current = true;
    setTyped(typedRef.current);
    setFinished(outcome);
    props.onDone(outcome);
  };
  // Exit once the outcome is drawn, so the last frame left on the terminal says how it ended.
  useEffect(() => {
    if (finished !== null) exit();
  }, [finished, exit]);
  useInput((input, key) => {
    if (doneRef.current) return;
    if (key.escape || (key.ctrl && input === 'c')) return finish('cancelled');
    if (key.return) return finish(typedRef.current === props.flagKey ? 'confirmed' : 'mismatch');
    if (key.backspace || key.delete) {
      typedRef.current = typedRef.current.slice(0, -1);
      setTyped(typedRef.current);
      return;
    }
    if (key.ctrl || key.meta || input.length === 0) return;
    // Pasted text, or `tmux send-keys KEY Enter`, arrives as one chunk with its Enter in it:
    // read it character by character so the Enter submits what came before it.
    const outcome = typeIn(typedRef, input);
    if (outcome === 'submit') return finish(typedRef.current === props.flagKey ? 'confirmed' : 'mismatch');
    setTyped(typedRef.current);
  });
  const title = props.verb === 'press' ? `PRESS kill switch ${props.flagKey}` : `RELEASE kill switch ${props.flagKey}`;
  return (
    <Box flexDirection="column" borderStyle="round" borderColor={props.verb === 'press' ? 'red' : 'yellow'} paddingX={1}>
      <Text bold color={props.verb === 'press' ? 'red' : 'yellow'}>
        {title}
      </Text>
      {props.service !== undefined ? (
        <Text>
          {'service:     '}
          {props.service}
        </Text>
      ) : null}
      {props.description !== undefined && props.description !== '' ? (
        <Text>
          {'turns off:   '}
          {props.description}
        </Text>
      ) : null}
      <Text>
        {'serves now:  '}
        {props.servesNow}
      </Text>
      <Text>
        {'after:       '}
        <Text bold>{props.servesAfter}</Text>
      </Text>
      <Text>
        {'reason:      '}
        {props.reason}
      </Text>
      {props.runbookUrl !== undefined ? (
        <Text>
          {'runbook:     '}
          {props.runbookUrl}
        </Text>
      ) : null}
      {props.note !== undefined ? <Text color="yellow">{props.note}</Text> : null}
      <Text> </Text>
      <Text>
        Type <Text bold>{props.flagKey}</Text> and press Enter to {props.verb} (Esc cancels):
      </Text>
      <Text>
        {'> '}
        {typed}
        {finished === null ? <Text inverse> </Text> : null}
      </Text>
      {finished === 'mismatch' ? <Text color="red">typed text does not match {props.flagKey}; nothing changed</Text> : null}
      {finished === 'cancelled' ? <Text color="yellow">cancelled; nothing changed</Text> : null}
    </Box>
  );
}

/**
 * Types `input` into `typed`: printable characters are added, Backspace (DEL or BS) takes one
 * back, and the first CR or LF ends the typing (`'submit'`); what follows it is dropped.
 */
export function typeIn(typed: { current: string }, input: string): 'submit' | 'typing' {
  for (const ch of input) {
    if (ch === '\r' || ch === '\n') return 'submit';
    if (ch === '\u007f' || ch === '\b') typed.current = typed.current.slice(0, -1);
    else if (ch >= ' ') typed.current += ch;
  }
  return 'typing';
}

/** Renders the prompt on the command's terminal; resolves to how it ended. */
export async function askToConfirm(env: CommandEnv, props: Omit<ConfirmPromptProps, 'onDone'>): Promise<PromptOutcome> {
  let outcome: PromptOutcome = 'cancelled';
  const instance = render(
    <ConfirmPrompt
      {...props}
      onDone={(o) => {
        outcome = o;
      }}
    />,
    {
      stdin: env.ctx.stdin as NodeJS.ReadStream,
      stdout: env.ctx.stdout as NodeJS.WriteStream,
      stderr: env.ctx.stderr as NodeJS.WriteStream,
      exitOnCtrlC: false,
      patchConsole: false,
    },
  );
  await instance.waitUntilExit();
  return outcome;
}
