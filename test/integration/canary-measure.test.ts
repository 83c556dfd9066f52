/**
 * The canary's measurement on a real in-memory DuckDB table: its statement is
 * compare's statement for the same request (same SQL, same parameters), the
 * step window counts only the events since the current percentage began, and
 * the tick's evidence reads what the rows hold.
 */
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assembleEvidence,
  buildCanaryStatements,
  checkPlanAgainstFlag,
  compareStatementOf,
  createCanaryState,
  parseCanaryPlan,
  transition,
} from '../../src/canary/index.js';
import { parseCompareRequest, validateCompare } from '../../src/compare/request.js';
import { duckdbDialect } from '../../src/query/dialect.js';
import type { DatasetSchema } from '../../src/query/schema.js';

const T0 = 1_800_000_000; // unix seconds of the canary's start
const STEP = T0 + 600; // the second step (5%) began 10 minutes later

interface Row {
  time: number;
  flag: 'on' | 'off';
  status: number;
  duration: number;
  user: string;
}

const rows: Row[] = [];
let seed = 11;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
// 20 minutes of traffic, 20 events a second: 1% on the canary, then 5%; the canary errs 6% of the time, control 0.5%.
for (let t = T0 - 60; t < T0 + 1200; t++) {
  for (let i = 0; i < 20; i++) {
    const share = t < T0 ? 0 : t < STEP ? 0.01 : 0.05;
    const flag = rand() < share ? 'on' : 'off';
    rows.push({
      time: t,
      flag,
      status: rand() < (flag === 'on' ? 0.06 : 0.005) ? 503 : 200,
      duration: Math.round(100 * Math.exp(0.4 * (rand() - 0.5)) * 100) / 100,
      user: `u${rows.length}`,
    });
  }
}

const schema: DatasetSchema = {
  dataset: 'checkout',
  hasSampling: false,
  columns: [
    { name: 'flag.checkout_v2', type: 'string' },
    { name: 'status_code', type: 'integer' },
    { name: 'duration_ms', type: 'float' },
    { name: 'user.id', type: 'string' },
  ],
};

let instance: DuckDBInstance;
let connection: DuckDBConnection;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
  await connection.run(
    'CREATE TABLE events (_time TIMESTAMP, _samplerate BIGINT, "flag.checkout_v2" VARCHAR, status_code BIGINT, duration_ms DOUBLE, "user.id" VARCHAR)',
  );
  const appender = await connection.createAppender('events');
  for (const r of rows) {
    appender.appendTimestamp({ micros: BigInt(r.time) * 1_000_000n } as never);
    appender.appendBigInt(1n);
    appender.appendVarchar(r.flag);
    appender.appendBigInt(BigInt(r.status));
    appender.appendDouble(r.duration);
    appender.appendVarchar(r.user);
    appender.endRow();
  }
  appender.closeSync();
});

afterAll(() => {
  connection?.closeSync();
  instance?.closeSync();
});

const plan = checkPlanAgainstFlag(
  parseCanaryPlan({
    flag: 'checkout_v2',
    dataset: 'checkout',
    guards: ['RATE(status_code >= 500) <= +0.5pp', 'P95(duration_ms) <= +10%'],
  }),
  { key: 'checkout_v2', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' },
);

function canaryAtSecondStep() {
  let state = transition(createCanaryState(0), plan, { type: 'start' }, { now: T0 * 1000, reason: 'start' });
  state = transition(state, plan, { type: 'advance' }, { now: STEP * 1000, reason: 'passed' });
  return state;
}

async function run(sql: string, params: unknown[]): Promise<unknown[][]> {
  const reader = await connection.runAndReadAll(sql, params as never);
  return reader.getRowsJS() as unknown[][];
}

describe('the canary measurement', () => {
  it('is the statement `flagscope compare` builds for the same flag, control, metrics and window', () => {
    const state = canaryAtSecondStep();
    const now = (T0 + 1200) * 1000 - 1;
    const statements = buildCanaryStatements({ plan, guards: plan.guards, schema, table: '"events"', state, now });
    const compareBody = {
      flags: [{ flag: 'checkout_v2', control: 'off' }],
      metrics: ['RATE(status_code >= 500)', 'P95(duration_ms)'],
      start_time: T0,
      end_time: T0 + 1200,
    };
    const validated = validateCompare(parseCompareRequest(compareBody), schema, T0 + 1200);
    const compare = compareStatementOf(validated, '"events"', schema, duckdbDialect);
    expect(statements.guards.sql).toBe(compare.sql);
    expect(statements.guards.params).toEqual(compare.params);
    expect(statements.window).toEqual({ start: T0, end: T0 + 1200 });
    expect(statements.stepWindow).toEqual({ start: STEP, end: T0 + 1200 });
  });

  it('counts the step from its start and the guards from the canary start, and finds the error regression', async () => {
    const state = canaryAtSecondStep();
    const now = (T0 + 1200) * 1000 - 1;
    const statements = buildCanaryStatements({ plan, guards: plan.guards, schema, table: '"events"', state, now });
    const measurement = statements.decode(
      await run(statements.guards.sql, statements.guards.params),
      await run(statements.step.sql, statements.step.params),
    );
    const inWindow = rows.filter((r) => r.time >= T0);
    const inStep = rows.filter((r) => r.time >= STEP);
    expect(measurement.unitColumn).toBe('user.id');
    expect(measurement.cumulative.canary?.rows).toBe(inWindow.filter((r) => r.flag === 'on').length);
    expect(measurement.cumulative.control?.rows).toBe(inWindow.filter((r) => r.flag === 'off').length);
    expect(measurement.step.canary?.units).toBe(new Set(inStep.filter((r) => r.flag === 'on').map((r) => r.user)).size);
    expect(measurement.step.control?.units).toBe(new Set(inStep.filter((r) => r.flag === 'off').map((r) => r.user)).size);

    const evidence = assembleEvidence({ plan, guards: plan.guards, measurement, percent: state.percent, srmLogE: state.srmLogE, now });
    const [errors, latency] = evidence.guards;
    const canaryRows = inWindow.filter((r) => r.flag === 'on');
    expect(errors!.canary).toBeCloseTo(canaryRows.filter((r) => r.status >= 500).length / canaryRows.length, 12);
    expect(errors!.verdict).toBe('fail');
    expect(errors!.toleranceText).toBe('+0.5pp');
    expect(latency!.verdict).not.toBe('fail');
    expect(evidence.sample).toMatchObject({ canary: measurement.step.canary?.units, minimum: 1000, reached: false });
    expect(evidence.sampleRatio.mismatch).toBe(false);
  });
});
