/**
 * The outputs of `flagscope canary gate`: a table for people, JSON (the whole
 * canary view plus the gate's verdict), JUnit XML for CI test reports (one test
 * case per guard, one for the sample ratio and one for the decision) and GitHub
 * Actions workflow commands with a Markdown job summary. Pure; the escaping of
 * XML and of workflow commands is here too, so it is tested on its own.
 */
import type { CanaryEvidenceView, CanaryGuardEvidenceView, CanaryView } from '../../api/canaries.js';
import { plainStyler } from '../../output/style.js';
import { formatIsoTime } from '../../output/values.js';
import type { GateResult } from './gate-decision.js';
import {
  formatGuardDifference,
  formatGuardInterval,
  formatGuardValue,
  formatP,
  formatPercent,
  type RenderOptions,
  renderGuardTable,
  sampleLine,
  sampleRatioLine,
  stepText,
} from './render-canary.js';

/** The gate's verdict, as `--json` adds it to the canary view under `gate`. */
export interface GateReport {
  result: GateResult;
  exitCode: number;
  /** The target step's percentage. */
  step: number;
  waitedMs: number;
  reason: string;
}

/**
 * The evidence behind the verdict: for a regression, that of the rollback (or
 * guard pause) decision in the timeline; otherwise the latest tick's.
 */
export function gateEvidence(view: CanaryView, result: GateResult): CanaryEvidenceView | null {
  if (result === 'regression') {
    for (let i = view.timeline.length - 1; i >= 0; i--) {
      const entry = view.timeline[i];
      if (entry !== undefined && (entry.kind === 'rollback' || entry.kind === 'pause') && entry.evidence !== null) return entry.evidence;
    }
  }
  return view.evidence;
}

/** The one-sentence verdict of a guard with its numbers. */
export function guardSentence(g: CanaryGuardEvidenceView): string {
  return (
    `${g.guard}: control ${formatGuardValue(g.control, g.scale)}, canary ${formatGuardValue(g.canary, g.scale)}, ` +
    `difference ${formatGuardDifference(g.difference, g.scale)} ${formatGuardInterval(g.interval, g.scale)}, ` +
    `tolerance ${g.tolerance === null ? g.toleranceText : formatGuardDifference(g.tolerance, g.scale)}, p ${formatP(g.pValue)}: ${g.verdict}`
  );
}

function headline(result: GateResult): string {
  if (result === 'pass') return 'PASS';
  if (result === 'regression') return 'REGRESSION';
  return 'INCONCLUSIVE';
}

/** The table output: verdict, why, the guard table of the deciding evidence, sample and sample ratio. */
export function renderGateTable(view: CanaryView, gate: GateReport, options: RenderOptions): string {
  const styler = options.styler ?? plainStyler;
  const colour = gate.result === 'pass' ? styler.green : gate.result === 'regression' ? styler.red : styler.yellow;
  const evidence = gateEvidence(view, gate.result);
  const parts = [
    `${colour(styler.bold(`gate ${headline(gate.result)}`))} canary ${view.flag} (${view.id}), step ${formatPercent(gate.step)}: ${gate.reason}\n`,
    `${view.status} · ${stepText(view)} · waited ${Math.round(gate.waitedMs / 1000)}s · exit ${gate.exitCode}\n\n`,
    renderGuardTable(evidence, view.plan, options),
  ];
  if (evidence !== null) parts.push(`${sampleLine(evidence, styler)}\n${sampleRatioLine(evidence, styler)}\n`);
  return parts.join('');
}

/** The JSON output: the canary view with `gate` added. */
export function gateJson(view: CanaryView, gate: GateReport): CanaryView & { gate: GateReport } {
  return { ...view, gate };
}

// XML 1.0 allows tab, newline, carriage return and U+0020 and above, minus the surrogates and U+FFFE/U+FFFF.
const XML_INVALID = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text content for XML: the five special characters escaped, characters XML cannot hold replaced by U+FFFD. */
export function escapeXmlText(text: string): string {
  return text
    .replace(XML_INVALID, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** An attribute value: like text, and line breaks and tabs as character references so parsers keep them. */
export function escapeXmlAttribute(text: string): string {
  return escapeXmlText(text).replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

function attrs(pairs: Record<string, string | number>): string {
  return Object.entries(pairs)
    .map(([k, v]) => ` ${k}="${escapeXmlAttribute(String(v))}"`)
    .join('');
}

interface JunitCase {
  name: string;
  outcome: 'pass' | 'failure' | 'skipped';
  message: string;
  details: string;
}

function junitCases(view: CanaryView, gate: GateReport): JunitCase[] {
  const evidence = gateEvidence(view, gate.result);
  const cases: JunitCase[] = [];
  if (evidence === null || evidence.guards.length === 0) {
    for (const g of view.plan.guards) {
      cases.push({ name: g.guard, outcome: 'skipped', message: 'no data yet: no tick has measured this guard', details: '' });
    }
  } else {
    for (const g of evidence.guards) {
      const sentence = guardSentence(g);
      const numbers = `units: control ${g.units.control}, canary ${g.units.canary}; q ${formatP(g.qValue)}; on harm: ${g.action}`;
      if (g.verdict === 'fail') cases.push({ name: g.guard, outcome: 'failure', message: sentence, details: `${sentence}\n${numbers}` });
      else if (g.verdict === 'inconclusive') cases.push({ name: g.guard, outcome: 'skipped', message: sentence, details: '' });
      else cases.push({ name: g.guard, outcome: 'pass', message: sentence, details: '' });
    }
  }
  if (evidence === null) {
    cases.push({ name: 'sample ratio', outcome: 'skipped', message: 'no data yet', details: '' });
  } else {
    const line = sampleRatioLine(evidence);
    cases.push({ name: 'sample ratio', outcome: evidence.sampleRatio.mismatch ? 'failure' : 'pass', message: line, details: line });
  }
  const decision = `${headline(gate.result)}: ${gate.reason}`;
  cases.push({
    name: `decision at step ${formatPercent(gate.step)}`,
    outcome: gate.result === 'pass' ? 'pass' : gate.result === 'regression' ? 'failure' : 'skipped',
    message: decision,
    details: decision,
  });
  return cases;
}

/**
 * JUnit XML: one `<testsuite name="canary FLAG">` with a test case per guard (a
 * `<failure>` with the numbers when it fails, `<skipped>` when inconclusive),
 * one for the sample ratio and one for the gate's decision.
 */
export function renderGateJunit(view: CanaryView, gate: GateReport, now: number): string {
  const cases = junitCases(view, gate);
  const failures = cases.filter((c) => c.outcome === 'failure').length;
  const skipped = cases.filter((c) => c.outcome === 'skipped').length;
  const seconds = (gate.waitedMs / 1000).toFixed(3);
  const classname = `flagscope.canary.${view.flag}`;
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  lines.push(`<testsuites${attrs({ name: 'flagscope canary gate', tests: cases.length, failures, errors: 0, skipped, time: seconds })}>`);
  lines.push(
    `  <testsuite${attrs({ name: `canary ${view.flag}`, tests: cases.length, failures, errors: 0, skipped, time: seconds, timestamp: formatIsoTime(now) })}>`,
  );
  lines.push('    <properties>');
  const properties: Record<string, string> = {
    canary: view.id,
    flag: view.flag,
    status: view.status,
    percent: String(view.percent),
    step: String(gate.step),
    result: gate.result,
    exitCode: String(gate.exitCode),
  };
  for (const [name, value] of Object.entries(properties)) lines.push(`      <property${attrs({ name, value })}/>`);
  lines.push('    </properties>');
  for (const c of cases) {
    const open = `    <testcase${attrs({ classname, name: c.name, time: '0' })}`;
    if (c.outcome === 'pass') {
      lines.push(`${open}/>`);
      continue;
    }
    lines.push(`${open}>`);
    if (c.outcome === 'failure')
      lines.push(`      <failure${attrs({ message: c.message, type: 'regression' })}>${escapeXmlText(c.details)}</failure>`);
    else lines.push(`      <skipped${attrs({ message: c.message })}/>`);
    lines.push('    </testcase>');
  }
  lines.push(`    <system-out>${escapeXmlText(`${headline(gate.result)}: ${gate.reason}`)}</system-out>`);
  lines.push('  </testsuite>');
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}

/** The message of a workflow command: `%`, CR and LF escaped (GitHub's `escapeData`). */
export function escapeGithubData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A property of a workflow command (`title=…`): also `:` and `,` escaped (GitHub's `escapeProperty`). */
export function escapeGithubProperty(text: string): string {
  return escapeGithubData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function workflowCommand(command: 'error' | 'warning' | 'notice', title: string, message: string): string {
  return `::${command} title=${escapeGithubProperty(title)}::${escapeGithubData(message)}`;
}

/**
 * GitHub Actions workflow commands: one annotation per guard (`error` when it
 * fails, `warning` when inconclusive, `notice` when it passes), one for the
 * sample ratio and one for the decision.
 */
export function renderGateGithub(view: CanaryView, gate: GateReport): string {
  const lines: string[] = [];
  const evidence = gateEvidence(view, gate.result);
  for (const g of evidence?.guards ?? []) {
    const command = g.verdict === 'fail' ? 'error' : g.verdict === 'inconclusive' ? 'warning' : 'notice';
    lines.push(workflowCommand(command, `canary ${view.flag}: ${g.guard}`, guardSentence(g)));
  }
  if (evidence !== null) {
    lines.push(
      workflowCommand(evidence.sampleRatio.mismatch ? 'error' : 'notice', `canary ${view.flag}: sample ratio`, sampleRatioLine(evidence)),
    );
  }
  const command = gate.result === 'pass' ? 'notice' : gate.result === 'regression' ? 'error' : 'warning';
  lines.push(workflowCommand(command, `canary ${view.flag}: gate ${headline(gate.result)}`, `${gate.reason} (exit ${gate.exitCode})`));
  return `${lines.join('\n')}\n`;
}

/** A Markdown table cell: pipes escaped, line breaks as spaces. */
export function markdownCell(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n|\r/g, ' ');
}

/** The job summary appended to `$GITHUB_STEP_SUMMARY`: verdict, guard table, sample and sample ratio. */
export function renderGateMarkdown(view: CanaryView, gate: GateReport): string {
  const icon = gate.result === 'pass' ? '✅' : gate.result === 'regression' ? '❌' : '⚠️';
  const evidence = gateEvidence(view, gate.result);
  const lines = [
    `### ${icon} canary \`${view.flag}\`: gate ${headline(gate.result)} at step ${formatPercent(gate.step)}`,
    '',
    markdownCell(gate.reason),
    '',
    `Status **${view.status}**, ${markdownCell(stepText(view))}; exit code ${gate.exitCode}.`,
    '',
  ];
  if (evidence !== null && evidence.guards.length > 0) {
    lines.push('| guard | control | canary | difference | interval | tolerance | p | verdict |');
    lines.push('|---|---:|---:|---:|---|---:|---:|---|');
    for (const g of evidence.guards) {
      const cells = [
        `\`${g.guard.replace(/`/g, "'")}\``,
        formatGuardValue(g.control, g.scale),
        formatGuardValue(g.canary, g.scale),
        formatGuardDifference(g.difference, g.scale),
        formatGuardInterval(g.interval, g.scale),
        g.tolerance === null ? g.toleranceText : formatGuardDifference(g.tolerance, g.scale),
        formatP(g.pValue),
        g.verdict === 'fail' ? '**fail**' : g.verdict,
      ];
      lines.push(`| ${cells.map(markdownCell).join(' | ')} |`);
    }
    lines.push('');
    lines.push(markdownCell(sampleLine(evidence)));
    lines.push('');
    lines.push(markdownCell(sampleRatioLine(evidence)));
  } else {
    lines.push('No tick has measured the guards yet.');
  }
  lines.push('');
  return `${lines.join('\n')}\n`;
}
