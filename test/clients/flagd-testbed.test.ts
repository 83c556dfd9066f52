/**
 * flagd's evaluator conformance suite against flagscope, through the OpenFeature SDKs and their
 * OFREP providers. The flag file and the scenarios come from open-feature/flagd-testbed
 * release 3.9.0 (commit 82ba89e): `evaluator/flags/testkit-flags.json` as it is, and the
 * scenarios of `evaluator/gherkin/*.feature` translated into the table of
 * `test/fixtures/flagd-testbed/evaluator-scenarios.json`, one entry per example row. The
 * `@fractional-v1` examples are left out: they are flagd's legacy float bucketing, which
 * flagscope does not claim (it buckets as fractional v2 does).
 *
 * The file is imported as a plain flagd file (no `metadata.service`: `?service=testkit`
 * supplies one) into a real server on a loopback port. Every scenario's value, reason, error
 * code and flag metadata must be what flagd gives, through two clients:
 *
 * - the server SDK with @openfeature/ofrep-provider (single-flag requests). Its 0.1.3, the
 *   newest the registry serves here, predates the OFREP rule that a success without `value`
 *   means "the caller's default" (open-feature/protocol#49, in ofrep-provider from 0.2.2): it
 *   reads such an answer as malformed and falls back to the caller's default with reason
 *   ERROR. For the scenarios flagd answers that way (a disabled flag, a flag without a default
 *   variant where no rule decides) only the value is checked through it;
 * - the web SDK with @openfeature/ofrep-web-provider 0.4.3 (bulk requests), which follows
 *   that rule: every scenario is checked in full.
 *
 * flagscope adds its own metadata fields (`service`, `kind`) to every answer, so "metadata is
 * empty" reads "nothing but those".
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { OpenFeature, type Client, type EvaluationDetails, type JsonValue } from '@openfeature/server-sdk';
import { OpenFeature as WebOpenFeature, type Client as WebClient } from '@openfeature/web-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

interface Scenario {
  feature: string;
  scenario: string;
  flag: string;
  type: 'boolean' | 'string' | 'integer' | 'float' | 'object';
  fallback: JsonValue;
  context: Record<string, JsonValue>;
  value?: JsonValue;
  reason?: string;
  errorCode?: string;
  metadata?: Record<string, string | number | boolean>;
}

interface TestkitFlag {
  state: string;
  defaultVariant?: string | null;
}

const fixtures = join(import.meta.dirname, '../fixtures/flagd-testbed');
const testkit = JSON.parse(readFileSync(join(fixtures, 'testkit-flags.json'), 'utf8')) as { flags: Record<string, TestkitFlag> };
const { scenarios } = JSON.parse(readFileSync(join(fixtures, 'evaluator-scenarios.json'), 'utf8')) as { scenarios: Scenario[] };
const ownMetadata = { service: 'testkit', kind: 'release' };

/** Whether flagd answers the scenario with a success that carries no value (the caller's default). */
function answeredWithCallersDefault(s: Scenario): boolean {
  const flag = testkit.flags[s.flag];
  if (flag === undefined) return false;
  return s.reason === 'DISABLED' || (s.reason === 'DEFAULT' && (flag.defaultVariant ?? null) === null);
}

let dir: string;
let server: RunningServer;
let client: Client;
let webClient: WebClient;
let imported: { created: string[]; warnings: Array<{ flag: string; outcome: string; message: string }> };

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-flagd-testbed-'));
  server = await startServer({ dataDir: dir, port: 0, host: '127.0.0.1' });
  const refused = await admin('POST', '/api/v1/import/flagd?service=testkit&strict=true', testkit);
  expect(refused.status).toBe(400);
  const result = await admin('POST', '/api/v1/import/flagd?service=testkit', testkit);
  expect(result.status).toBe(200);
  imported = result.json;
  const readKey = (await admin('POST', '/api/v1/keys', { name: 'sdk', scopes: ['flags:read'] })).json.key as string;
  const headers: Array<[string, string]> = [['Authorization', `Bearer ${readKey}`]];
  await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: server.url, headers }));
  client = OpenFeature.getClient();
  await WebOpenFeature.setProviderAndWait(new OFREPWebProvider({ baseUrl: server.url, headers, pollInterval: -1, cacheMode: 'disabled' }));
  webClient = WebOpenFeature.getClient();
});

afterAll(async () => {
  await OpenFeature.close();
  await WebOpenFeature.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

function evaluate(s: Scenario): Promise<EvaluationDetails<JsonValue>> {
  switch (s.type) {
    case 'boolean':
      return client.getBooleanDetails(s.flag, s.fallback as boolean, s.context);
    case 'string':
      return client.getStringDetails(s.flag, s.fallback as string, s.context);
    case 'integer':
    case 'float':
      return client.getNumberDetails(s.flag, s.fallback as number, s.context);
    case 'object':
      return client.getObjectDetails(s.flag, s.fallback, s.context);
  }
}

async function evaluateOnTheWeb(s: Scenario): Promise<EvaluationDetails<JsonValue>> {
  await WebOpenFeature.setContext(s.context);
  switch (s.type) {
    case 'boolean':
      return webClient.getBooleanDetails(s.flag, s.fallback as boolean);
    case 'string':
      return webClient.getStringDetails(s.flag, s.fallback as string);
    case 'integer':
    case 'float':
      return webClient.getNumberDetails(s.flag, s.fallback as number);
    case 'object':
      return webClient.getObjectDetails(s.flag, s.fallback);
  }
}

function expectFlagdAnswer(s: Scenario, details: EvaluationDetails<JsonValue>, valueOnly = false): void {
  if (s.value !== undefined) expect(details.value).toEqual(s.value);
  if (valueOnly) return;
  if (s.reason !== undefined) expect(details.reason).toBe(s.reason);
  if (s.errorCode !== undefined) expect(details.errorCode).toBe(s.errorCode);
  if (s.reason !== undefined && s.reason !== 'ERROR') expect(details.errorCode, details.errorMessage).toBeUndefined();
  if (s.metadata !== undefined) expect(details.flagMetadata).toEqual({ ...s.metadata, ...ownMetadata });
}

const named = scenarios.map((s) => [`${s.feature}: ${s.flag} ${JSON.stringify(s.context)}`, s] as const);

describe('flagd-testbed 3.9.0 evaluator scenarios through OFREP', () => {
  it('imports the whole testkit file, naming the rules that can never answer', () => {
    expect(imported.created).toHaveLength(Object.keys((testkit as { flags: object }).flags).length);
    expect(imported.warnings.map((w) => `${w.flag}:${w.outcome}`).sort()).toEqual([
      'ends-with-wrong-args-flag:null',
      'ref-to-nonexistent-evaluator-flag:parse-error',
      'semver-invalid-operator-flag:null',
      'semver-wrong-args-flag:null',
      'starts-with-wrong-args-flag:null',
    ]);
  });

  it('holds every scenario but the fractional v1 ones (125)', () => {
    expect(scenarios).toHaveLength(125);
  });

  it('leaves ten scenarios to the web provider for reason and metadata (a success without a value)', () => {
    expect(scenarios.filter(answeredWithCallersDefault).map((s) => s.flag)).toHaveLength(10);
  });

  it.each(named)('server SDK, OFREP provider: %s', async (_name, s) => {
    expectFlagdAnswer(s, await evaluate(s), answeredWithCallersDefault(s));
  });

  it.each(named)('web SDK, OFREP web provider: %s', async (_name, s) => {
    expectFlagdAnswer(s, await evaluateOnTheWeb(s));
  });
});
