/**
 * The ink prompt of `buttons press|release` on a terminal: shows what will
 * change and asks for the flag key to be typed back. Loaded only by those
 * commands.
 */
import { Box, render, Text, useApp, useInput } from 'ink';
import { useRef, useState } from 'react';
import type { CommandEnv } from '../command-env.js';

export interface ConfirmPromptProps {
  verb: 'press' | 'release';
  flagKey: string;
  service?: string;
  /** What the flag serves now. */
  servesNow: string;
  /** What it will serve after the action. */
  servesAfter: string;
  reason: string;
  runbookUrl?: string;
  /** Called once: true when the typed text equals the key and Enter was pressed. */
  onDone: (confirmed: boolean) => void;
}

/** The confirmation box: the change, then a line where the key is typed back. */
export function ConfirmPrompt(props: ConfirmPromptProps): React.JSX.Element {
  const [typed, setTyped] = useState('');
  const [finished, setFinished] = useState<'confirmed' | 'cancelled' | 'mismatch' | null>(null);
  // Input can arrive before the next render: the ref holds the text and outcome as typed.
  const typedRef = useRef('');
  const doneRef = useRef(false);
  const { exit } = useApp();
  const finish = (outcome: 'confirmed' | 'cancelled' | 'mismatch'): void => {
    doneRef.current = true;
    setFinished(outcome);
    props.onDone(outcome === 'confirmed');
    exit();
  };
  useInput((input, key) => {
    if (doneRef.current) return;
    if (key.escape || (key.ctrl && input === 'c')) return finish('cancelled');
    if (key.return) return finish(typedRef.current === props.flagKey ? 'confirmed' : 'mismatch');
    if (key.backspace || key.delete) typedRef.current = typedRef.current.slice(0, -1);
    else if (!key.ctrl && !key.meta && input.length > 0) typedRef.current += input.replace(/[\r\n]/g, '');
    else return;
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

/** Renders the prompt on the command's terminal; resolves to whether the user confirmed. */
export async function askToConfirm(env: CommandEnv, props: Omit<ConfirmPromptProps, 'onDone'>): Promise<boolean> {
  let confirmed = false;
  const instance = render(
    <ConfirmPrompt
      {...props}
      onDone={(ok) => {
        confirmed = ok;
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
  return confirmed;
}
