/**
 * The gate's machine outputs: JUnit XML read back by a strict XML reader and
 * checked against the JUnit report structure, hostile text escaped so the XML
 * stays well-formed and the values come back unchanged; GitHub workflow
 * commands escaped by GitHub's rules; the Markdown job summary.
 */
import { describe, expect, it } from 'vitest';
import type { CanaryView } from '../../../src/api/canaries.js';
import {
  escapeGithubData,
  escapeGithubProperty,
  escapeXmlAttribute,
  escapeXmlText,
  gateEvidence,
  gateJson,
  type GateReport,
  markdownCell,
  renderGateGithub,
  renderGateJunit,
  renderGateMarkdown,
} from '../../../src/cli/canary/render-gate.js';
import { evidence, latencyGuard, rateGuard, rolledBack, T0, view } from './fixtures.js';
import { parseXml, type XmlElement } from './xml.js';

const NOW = T0 + 800_000;
const regression: GateReport = { result: 'regression', exitCode: 10, step: 5, waitedMs: 100_000, reason: 'rolled back' };
const pass: GateReport = { result: 'pass', exitCode: 0, step: 5, waitedMs: 1500, reason: 'step 2 (5%) passed' };
const inconclusive: GateReport = { result: 'inconclusive', exitCode: 11, step: 5, waitedMs: 0, reason: 'the deadline passed' };

const HOSTILE = 'a&b <c> "d" \'e\' ]]> \u0000\u0008 tab\tline\nbreak\r% ::error::x, y: z ';

/** Checks the JUnit structure and returns the test cases by name. */
function junitCases(xml: string): Map<string, XmlElement> {
  const root = parseXml(xml);
  expect(root.name).toBe('testsuites');
  expect(root.children).toHaveLength(1);
  const suite = root.children[0] as XmlElement;
  expect(suite.name).toBe('testsuite');
  for (const attr of ['name', 'tests', 'failures', 'errors', 'skipped', 'time', 'timestamp']) expect(suite.attributes).toHaveProperty(attr);
  expect(suite.attributes.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  expect(Number(suite.attributes.time)).toBeGreaterThanOrEqual(0);
  const cases = suite.children.filter((c) => c.name === 'testcase');
  const others = suite.children.filter((c) => c.name !== 'testcase').map((c) => c.name);
  expect(others).toEqual(['properties', 'system-out']);
  for (const p of suite.children[0]?.children ?? []) {
    expect(p.name).toBe('property');
    expect(Object.keys(p.attributes).sort()).toEqual(['name', 'value']);
  }
  const failures = cases.filter((c) => c.children.some((k) => k.name === 'failure')).length;
  const skipped = cases.filter((c) => c.children.some((k) => k.name === 'skipped')).length;
  expect([Number(suite.attributes.tests), Number(suite.attributes.failures), Number(suite.attributes.skipped)]).toEqual([
    cases.length,
    failures,
    skipped,
  ]);
  expect(root.attributes.tests).toBe(suite.attributes.tests);
  for (const c of cases) {
    expect(c.attributes.name?.length).toBeGreaterThan(0);
    expect(c.attributes.classname).toBe(`flagscope.canary.${suite.attributes.name?.replace(/^canary /, '')}`);
    expect(c.children.length).toBeLessThanOrEqual(1);
    for (const k of c.children) {
      expect(['failure', 'skipped']).toContain(k.name);
      expect(k.attributes.message?.length).toBeGreaterThan(0);
    }
  }
  return new Map(cases.map((c) => [c.attributes.name as string, c]));
}

describe('JUnit XML', () => {
  it('has a test case per guard, one for the sample ratio and one for the decision; a failing guard has its numbers', () => {
    const cases = junitCases(renderGateJunit(rolledBack(), regression, NOW));
    expect([...cases.keys()]).toEqual([
      'RATE(status_code >= 500) <= +0.5pp',
      'P95(duration_ms) <= +10%',
      'sample ratio',
      'decision at step 5%',
    ]);
    const failure = cases.get('RATE(status_code >= 500) <= +0.5pp')?.children[0];
    expect(failure?.name).toBe('failure');
    expect(failure?.attributes.type).toBe('regression');
    expect(failure?.attributes.message).toBe(
      'RATE(status_code >= 500) <= +0.5pp: control 0.52%, canary 2.50%, difference +1.98pp [+1.10pp, +2.86pp], tolerance +0.50pp, p <0.001: fail',
    );
    expect(failure?.text).toContain('units: control 12345, canary 640');
    expect(cases.get('P95(duration_ms) <= +10%')?.children).toEqual([]);
    expect(cases.get('decision at step 5%')?.children[0]?.name).toBe('failure');
  });

  it('skips inconclusive guards and an inconclusive decision; passes everything on a pass', () => {
    const unsure = junitCases(renderGateJunit(view(), inconclusive, NOW));
    expect(unsure.get('P95(duration_ms) <= +10%')?.children[0]?.name).toBe('skipped');
    expect(unsure.get('decision at step 5%')?.children[0]?.name).toBe('skipped');
    const healthy = view({ evidence: evidence({ guards: [rateGuard(), latencyGuard({ verdict: 'pass' })] }) });
    expect([...junitCases(renderGateJunit(healthy, pass, NOW)).values()].every((c) => c.children.length === 0)).toBe(true);
  });

  it("fails the sample-ratio case on a mismatch and skips the plan's guards before any data", () => {
    const srm = view({ status: 'rolled-back', evidence: evidence() });
    srm.evidence = { ...evidence(), sampleRatio: { ...evidence().sampleRatio, mismatch: true, observedShare: 0.01 } };
    expect(junitCases(renderGateJunit(srm, regression, NOW)).get('sample ratio')?.children[0]?.name).toBe('failure');
    const none = junitCases(renderGateJunit(view({ evidence: null }), inconclusive, NOW));
    expect([...none.keys()]).toEqual([
      'RATE(status_code >= 500) <= +0.5pp',
      'P95(duration_ms) <= +10%',
      'sample ratio',
      'decision at step 5%',
    ]);
    expect([...none.values()].every((c) => c.children[0]?.name === 'skipped')).toBe(true);
  });

  it('stays well-formed with hostile flag names, guards and reasons, and gives them back unchanged (bar forbidden characters)', () => {
    const hostile: CanaryView = {
      ...rolledBack(),
      flag: `x${HOSTILE}`,
      id: HOSTILE,
      evidence: evidence({ guards: [rateGuard({ guard: HOSTILE, verdict: 'fail' })] }),
      timeline: [],
    };
    const xml = renderGateJunit(hostile, { ...regression, reason: HOSTILE }, NOW);
    const cases = junitCases(xml);
    const expected = HOSTILE.replace(/[\u0000\u0008]/g, '\uFFFD');
    expect(cases.has(expected)).toBe(true);
    expect(cases.get(`decision at step 5%`)?.children[0]?.attributes.message).toBe(`REGRESSION: ${expected}`);
    expect(parseXml(xml).children[0]?.attributes.name).toBe(`canary x${expected}`);
  });

  it('escapes text and attributes', () => {
    expect(escapeXmlText('<a href="x">&\'</a>')).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
    expect(escapeXmlAttribute('a\nb\tc\rd')).toBe('a&#10;b&#9;c&#13;d');
    expect(escapeXmlText('\u0001\uFFFE\uD800ok😀')).toBe('\uFFFD\uFFFD\uFFFDok😀');
  });
});

describe('GitHub workflow commands', () => {
  it("escapes data (%, CR, LF) and properties (also : and ,) by GitHub's rules", () => {
    expect(escapeGithubData('50% done\r\nnext: a, b')).toBe('50%25 done%0D%0Anext: a, b');
    expect(escapeGithubProperty('50% done\r\nnext: a, b')).toBe('50%25 done%0D%0Anext%3A a%2C b');
    expect(escapeGithubData('%0A')).toBe('%250A');
  });

  it('annotates each guard by its verdict, the sample ratio and the decision, one command a line', () => {
    const out = renderGateGithub(rolledBack(), regression).trimEnd().split('\n');
    expect(out).toEqual([
      '::error title=canary checkout-v2%3A RATE(status_code >= 500) <= +0.5pp::RATE(status_code >= 500) <= +0.5pp: control 0.52%25, canary 2.50%25, difference +1.98pp [+1.10pp, +2.86pp], tolerance +0.50pp, p <0.001: fail',
      '::notice title=canary checkout-v2%3A P95(duration_ms) <= +10%25::P95(duration_ms) <= +10%25: control 120, canary 126, difference +5.0%25 [-3.1%25, +13.2%25], tolerance +10.0%25, p 0.200: pass',
      '::notice title=canary checkout-v2%3A sample ratio::sample ratio (events): expected 5.00%25 canary, observed 4.93%25 (control 12,345, canary 640) · p 0.412 (alpha 0.001) · ok',
      '::error title=canary checkout-v2%3A gate REGRESSION::rolled back (exit 10)',
    ]);
    const unsure = renderGateGithub(view(), inconclusive);
    expect(unsure).toContain('::warning title=canary checkout-v2%3A P95(duration_ms) <= +10%25::');
    expect(unsure).toContain('::warning title=canary checkout-v2%3A gate INCONCLUSIVE::the deadline passed (exit 11)');
  });

  it('keeps hostile text on one line per command, its title free of the separators `:` and `,`', () => {
    const hostile = { ...view(), flag: HOSTILE, evidence: evidence({ guards: [rateGuard({ guard: HOSTILE })] }) };
    const out = renderGateGithub(hostile, { ...pass, reason: HOSTILE });
    const commands = out.trimEnd().split('\n');
    expect(commands).toHaveLength(3);
    for (const line of commands) {
      expect(line).toMatch(/^::(error|warning|notice) title=[^:,\r\n]*::[^\r\n]*$/);
    }
    // The runner splits at the first `::` after the properties: a `::` inside the message is text.
    const escapedData = `a&b <c> "d" 'e' ]]> \u0000\u0008 tab\tline%0Abreak%0D%25 ::error::x, y: z `;
    const escapedTitle = `a&b <c> "d" 'e' ]]> \u0000\u0008 tab\tline%0Abreak%0D%25 %3A%3Aerror%3A%3Ax%2C y%3A z `;
    expect(commands[2]).toBe(`::notice title=canary ${escapedTitle}%3A gate PASS::${escapedData} (exit 0)`);
  });
});

describe('job summary', () => {
  it('is a Markdown heading, the reason and the guard table, with pipes and line breaks escaped', () => {
    const md = renderGateMarkdown(rolledBack(), regression);
    expect(md).toContain('### ❌ canary `checkout-v2`: gate REGRESSION at step 5%');
    expect(md).toContain(
      '| `RATE(status_code >= 500) <= +0.5pp` | 0.52% | 2.50% | +1.98pp | [+1.10pp, +2.86pp] | +0.50pp | <0.001 | **fail** |',
    );
    expect(markdownCell('a|b\nc')).toBe('a\\|b c');
    const hostile = renderGateMarkdown({ ...view(), evidence: evidence({ guards: [rateGuard({ guard: 'A | B\nC' })] }) }, pass);
    const row = hostile.split('\n').find((l) => l.includes('A \\| B'));
    expect(row?.split(/(?<!\\)\|/).length).toBe(10);
    expect(renderGateMarkdown(view({ evidence: null }), inconclusive)).toContain('No tick has measured the guards yet.');
  });
});

describe('JSON and evidence', () => {
  it('adds the gate verdict to the full view, and picks the evidence of the rollback decision for a regression', () => {
    const back = rolledBack();
    const later = { ...back, evidence: evidence({ guards: [] }) };
    expect(gateEvidence(later, 'regression')?.guards[0]?.verdict).toBe('fail');
    expect(gateEvidence(later, 'pass')?.guards).toEqual([]);
    const json = gateJson(back, regression);
    expect(json.gate).toEqual(regression);
    expect(json.timeline).toEqual(back.timeline);
  });
});
