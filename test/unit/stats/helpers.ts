import { expect } from 'vitest';

/**
 * Asserts that `actual` agrees with a published value printed with `decimals`
 * decimal places: |actual − published| ≤ half a unit in the last printed place
 * (plus a hair for binary rounding), i.e. `actual` rounds to what was printed.
 */
export function expectPublished(actual: number, published: number, decimals: number): void {
  const tolerance = 0.5 * 10 ** -decimals * (1 + 1e-9) + 1e-15;
  expect(Math.abs(actual - published), `${actual} vs published ${published} (${decimals} decimals)`).toBeLessThanOrEqual(tolerance);
}

/** Asserts agreement to `digits` significant digits (default 4) with a value printed with more digits. */
export function expectSignificant(actual: number, published: number, digits = 4): void {
  const exponent = Math.floor(Math.log10(Math.abs(published)));
  const tolerance = 0.5 * 10 ** (exponent - digits + 1);
  expect(Math.abs(actual - published), `${actual} vs published ${published} (${digits} significant digits)`).toBeLessThanOrEqual(tolerance);
}

/** Small deterministic PRNG (mulberry32) with uniform, normal and Bernoulli draws. */
export function seededRandom(seed: number): { uniform(): number; normal(): number; bernoulli(p: number): number } {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  const normal = (): number => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    let u = uniform();
    while (u === 0) u = uniform();
    const v = uniform();
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  };
  return { uniform, normal, bernoulli: (p: number) => (uniform() < p ? 1 : 0) };
}
