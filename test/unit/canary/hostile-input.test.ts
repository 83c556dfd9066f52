/**
 * Whatever a client sends as a plan or a guard, the canary core answers with the plan or with an
 * `invalid_input` error that says what to do; it never throws anything else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { guardFromInput, parseCanaryPlan, parseGuard } from '../../../src/canary/index.js';
import { FlagscopeError } from '../../../src/errors.js';

function refusesClearly(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FlagscopeError);
    expect((error as FlagscopeError).code).toBe('invalid_input');
    expect((error as FlagscopeError).message.length).toBeGreaterThan(0);
  }
}

const planField = fc.oneof(
  fc.anything(),
  fc.constantFrom('1,5,25,50,100', '10m', '1s', 'on', 'off', [1, 5, 100], [50], 1000, 0.05, null),
  fc.array(fc.oneof(fc.double(), fc.integer(), fc.string()), { maxLength: 6 }),
);
const plans = fc.record(
  {
    flag: fc.oneof(fc.constant('checkout_v2'), fc.anything()),
    dataset: fc.oneof(fc.constant('checkout'), fc.anything()),
    variant: planField,
    baseline: planField,
    steps: planField,
    interval: planField,
    approveAt: planField,
    minSample: planField,
    maxWait: planField,
    guards: fc.oneof(
      fc.array(fc.oneof(fc.string(), fc.constantFrom('P95(duration_ms) <= +10%', 'RATE(error = true) <= +0.5pp')), { maxLength: 3 }),
      fc.anything(),
    ),
    alpha: planField,
    unit: planField,
  },
  { requiredKeys: [] },
);

describe('hostile input to the canary core', () => {
  it('parseCanaryPlan returns a plan or refuses with invalid_input', () => {
    fc.assert(
      fc.property(fc.oneof(plans, fc.anything()), (body) => refusesClearly(() => parseCanaryPlan(body))),
      { numRuns: 2000, seed: 20261205 },
    );
  });

  it('parseGuard and guardFromInput return a guard or refuse with invalid_input', () => {
    const pieces = fc.constantFrom(
      'P95(duration_ms)',
      'RATE(status_code >= 500)',
      'INCOMPLETE',
      'COUNT',
      ' <= ',
      ' >= ',
      '+0.5pp',
      '+10%',
      '-2',
      'then pause',
      '(',
      ')',
      '"',
      '<=',
      'pp',
      '%',
    );
    const texts = fc.oneof(
      fc.string(),
      fc.array(pieces, { maxLength: 6 }).map((parts) => parts.join(' ')),
    );
    fc.assert(
      fc.property(texts, (text) => refusesClearly(() => parseGuard(text))),
      { numRuns: 2000, seed: 7 },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record({
            metric: fc.oneof(texts, fc.anything()),
            op: fc.anything(),
            tolerance: fc.oneof(texts, fc.anything()),
            action: fc.anything(),
          }),
        ),
        (input) => refusesClearly(() => guardFromInput(input, 'guards[0]')),
      ),
      { numRuns: 2000, seed: 8 },
    );
  });
});
