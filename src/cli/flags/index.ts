import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { collect, examples, lazyAction } from '../registration.js';

const KINDS = 'release, experiment, operational, kill-switch, permission';

/** Registers `flagscope flags list|get|create|set|toggle|target|archive|history|eval|export|import`. */
export function registerFlags(program: Command, state: RunState): void {
  const flags = program
    .command('flags')
    .description('manage feature flags: list, get, create, set, toggle, target, archive, history, eval, export, import')
    .addHelpText(
      'after',
      examples([
        'flagscope flags list --service checkout',
        'flagscope flags list --stale',
        'flagscope flags eval new-checkout --targeting-key user-42',
      ]),
    );

  const list = flags
    .command('list')
    .description('list flags (archived ones with --archived)')
    .option('--service <service>', 'only flags of this service')
    .option('--kind <flag-kind>', `only flags of this kind (${KINDS})`)
    .option('--stale', 'only release flags older than 40 days (kill switches are never stale)')
    .option('--archived', 'include archived flags')
    .addHelpText(
      'after',
      examples([
        'flagscope flags list --service checkout',
        'flagscope flags list --kind kill-switch --json',
        'flagscope flags list --stale',
      ]),
    );
  lazyAction(list, state, async () => (await import('./read-flags.js')).listFlagsVerb);

  const get = flags
    .command('get')
    .description('show one flag')
    .argument('<flag>', 'flag key')
    .addHelpText('after', examples(['flagscope flags get new-checkout', 'flagscope flags get new-checkout --json']));
  lazyAction(get, state, async () => (await import('./read-flags.js')).getFlagVerb);

  const create = flags
    .command('create')
    .description('create a flag')
    .argument('<flag>', 'flag key')
    .requiredOption('--service <service>', 'owning service')
    .requiredOption('--kind <flag-kind>', KINDS)
    .requiredOption('--variants <list>', 'variants as NAME=VALUE,… (a value is JSON where it parses, else a string)')
    .requiredOption('--default <variant>', 'default variant')
    .option('--safe <variant>', 'safe variant of a kill switch (served to everyone when pressed)')
    .option('--rollout <list>', 'percentage rollout as VARIANT=PERCENT,… summing to 100')
    .option('--targeting <json>', 'JSON Logic targeting rule (flagd dialect)')
    .option('--description <text>', 'what the flag does')
    .option('--runbook <url>', 'runbook URL')
    .option('--disabled', 'create it disabled (serves the default variant)')
    .option('--reason <text>', 'why (recorded in the history)')
    .addHelpText(
      'after',
      examples([
        'flagscope flags create new-checkout --service checkout --kind release --variants on=true,off=false --default off --rollout on=5,off=95',
        'flagscope flags create payments-off --service checkout --kind kill-switch --variants live=true,off=false --default live --safe off --runbook https://wiki/payments',
      ]),
    );
  lazyAction(create, state, async () => (await import('./write-flags.js')).createFlagVerb);

  const set = flags
    .command('set')
    .description('change a flag (fails with exit 6 if someone changed it since it was read)')
    .argument('<flag>', 'flag key')
    .option('--default <variant>', 'default variant')
    .option('--state <state>', 'enabled or disabled')
    .option('--variants <list>', 'replace the variants (NAME=VALUE,…)')
    .option('--rollout <list>', 'percentage rollout VARIANT=PERCENT,…, or `none`')
    .option('--targeting <json>', 'JSON Logic targeting rule, or `none`')
    .option('--description <text>', 'description ("" removes it)')
    .option('--runbook <url>', 'runbook URL ("" removes it)')
    .option('--safe <variant>', 'safe variant (kill switches)')
    .option('--if-version <n>', 'the version you read; default: the current one')
    .option('--reason <text>', 'why (recorded in the history)')
    .addHelpText(
      'after',
      examples([
        'flagscope flags set new-checkout --rollout on=25,off=75 --reason "ramp to 25%"',
        'flagscope flags set new-checkout --state disabled --if-version 4',
      ]),
    );
  lazyAction(set, state, async () => (await import('./write-flags.js')).setFlagVerb);

  const toggle = flags
    .command('toggle')
    .description(
      'turn a boolean or release flag on or off: --on enables it, serves the on variant by default and removes its rollout (targeting still applies); --off disables it, serving the off variant to everyone',
    )
    .argument('<flag>', 'flag key')
    .option('--on', 'enable: the on variant to everyone the targeting does not match; removes the percentage rollout')
    .option('--off', 'disable: the off variant to everyone (targeting and rollout are kept, not served)')
    .option('--reason <text>', 'why (required; recorded in the history)')
    .option(
      '--if-version <n>',
      'fail (exit 6) unless the flag is still at this version; default: the current one, re-applied if it changes meanwhile',
    )
    .addHelpText(
      'after',
      examples([
        'flagscope flags toggle new-checkout --off --reason "incident 231: checkout errors"',
        'flagscope flags toggle new-checkout --on --reason "fixed in 2.4.1"',
      ]),
    );
  lazyAction(toggle, state, async () => (await import('./edit-flags.js')).toggleFlagVerb);

  const target = flags
    .command('target')
    .description(
      "serve a variant to given users (--keys) or to those a rule matches (--rule 'ATTR in [A,B] => VARIANT'), without writing JSON Logic; no option: show the targeting",
    )
    .argument('<flag>', 'flag key')
    .option('--variant <variant>', 'the variant the --keys get')
    .option('--keys <list>', 'targeting keys (users, sessions…), comma-separated')
    .option(
      '--rule <rule>',
      "a rule 'CONDITION => VARIANT', e.g. 'country in [DE,FR] => on' (repeatable; grammar in docs/flags.md)",
      collect,
    )
    .option('--remove', 'take the --keys or --rule away instead of adding them')
    .option('--clear', 'remove all targeting')
    .option('--reason <text>', 'why (required for a change; recorded in the history)')
    .option(
      '--if-version <n>',
      'fail (exit 6) unless the flag is still at this version; default: the current one, re-applied if it changes meanwhile',
    )
    .addHelpText(
      'after',
      examples([
        'flagscope flags target new-checkout --variant on --keys user-1,user-2 --reason "beta testers"',
        'flagscope flags target new-checkout --rule "country in [DE,FR] and plan == pro => on" --reason "EU pro launch"',
        'flagscope flags target new-checkout --remove --keys user-2 --reason "left the beta"',
        'flagscope flags target new-checkout --clear --reason "launch done"',
        'flagscope flags target new-checkout',
      ]),
    );
  lazyAction(target, state, async () => (await import('./edit-flags.js')).targetFlagVerb);

  const archive = flags
    .command('archive')
    .description('archive a flag: no longer served or listed; its history stays')
    .argument('<flag>', 'flag key')
    .option('--reason <text>', 'why')
    .addHelpText('after', examples(['flagscope flags archive old-banner --reason "fully rolled out in March"']));
  lazyAction(archive, state, async () => (await import('./write-flags.js')).archiveFlagVerb);

  const history = flags
    .command('history')
    .description('audit history of a flag: who, when, why, and every field each change changed (before → after)')
    .argument('<flag>', 'flag key')
    .option('--limit <n>', 'at most N entries (default 50)')
    .addHelpText('after', examples(['flagscope flags history new-checkout', 'flagscope flags history new-checkout --limit 5 --json']));
  lazyAction(history, state, async () => (await import('./read-flags.js')).flagHistoryVerb);

  const evaluate = flags
    .command('eval')
    .description('evaluate a flag through OFREP, exactly as SDKs see it')
    .argument('<flag>', 'flag key')
    .option('--targeting-key <key>', 'the context targetingKey (user, session…)')
    .option('--context <json>', 'the evaluation context as a JSON object')
    .option('--attr <name=value>', 'a context attribute (repeatable)', collect)
    .addHelpText(
      'after',
      examples([
        'flagscope flags eval new-checkout --targeting-key user-42',
        'flagscope flags eval banner --attr country=de --attr plan=pro --json',
      ]),
    );
  lazyAction(evaluate, state, async () => (await import('./read-flags.js')).evalFlagVerb);

  const exportCmd = flags
    .command('export')
    .description(
      'write every live flag as flagd flag-definition JSON (a flagd daemon can serve it); `--format flagd` is the default and only format',
    )
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .addHelpText(
      'after',
      examples(['flagscope flags export --format flagd > flags.flagd.json', 'flagscope flags export -o flags.flagd.json']),
    );
  lazyAction(exportCmd, state, async () => (await import('./read-flags.js')).exportFlagsVerb);

  const importCmd = flags
    .command('import')
    .description('create or update flags from flagd flag-definition JSON (metadata: service, kind, safeVariant, description, runbook)')
    .argument('<file>', 'flagd JSON file, or - for stdin')
    .option('--service <service>', 'service of the flags whose metadata names none')
    .option('--kind <flag-kind>', `kind of the flags whose metadata names none (default release; ${KINDS})`)
    .option('--strict', 'refuse targeting that can only evaluate to null or to a parse error (imported with a warning otherwise)')
    .option('--reason <text>', 'why (recorded in the history)')
    .addHelpText(
      'after',
      examples([
        'flagscope flags import flags.flagd.json --reason "restore from backup"',
        'flagscope flags import plain-flagd.json --service checkout',
        'flagscope flags import flags.flagd.json --strict',
        'flagscope flags export | flagscope flags import - --api-url http://staging:7070',
      ]),
    );
  lazyAction(importCmd, state, async () => (await import('./write-flags.js')).importFlagsVerb);
}
