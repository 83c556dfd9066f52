/** Formats an "Examples:" help section (added with `addHelpText('after', …)`). */
export function examples(lines: string[]): string {
  return '\nExamples:\n' + lines.map((l) => `  $ ${l}`).join('\n') + '\n';
}

/** Collects a repeatable option's values into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
