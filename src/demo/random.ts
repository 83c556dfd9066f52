/**
 * Seeded pseudo-random numbers for the demo data generator: xoshiro128**
 * seeded through splitmix32, plus normal and lognormal samplers and an
 * integer hash for values that must depend only on their inputs (a user's
 * flag variants, browser and country). Pure: no clock, no `Math.random`.
 */

/** Mixes a 32-bit integer into a well-distributed 32-bit unsigned integer (splitmix32 finaliser). */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Hashes three 32-bit integers into one unsigned 32-bit integer (fixed arity: no array per call). */
export function hashInts(a: number, b: number, c: number): number {
  const h = mix32(0x2545f491 ^ mix32(a | 0));
  return mix32(mix32(h ^ mix32(b | 0)) ^ mix32(c | 0));
}

/** A uniform number in [0, 1) that depends only on the three integers. */
export function hashUnit(a: number, b: number, c: number): number {
  return hashInts(a, b, c) / 4294967296;
}

/** A seeded random number source. */
export interface Random {
  /** Uniform unsigned 32-bit integer. */
  nextUint32(): number;
  /** Uniform number in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** Standard normal variate (mean 0, standard deviation 1). */
  normal(): number;
  /** Lognormal variate whose median is `median` and whose log has standard deviation `sigma`. */
  lognormal(median: number, sigma: number): number;
  /** One element of a non-empty list, uniformly. */
  pick<T>(items: readonly T[]): T;
}

/**
 * Creates a xoshiro128** generator. The same seed always yields the same
 * sequence; the four words of state are filled from the seed with splitmix32.
 */
export function createRandom(seed: number): Random {
  let s0 = mix32(seed);
  let s1 = mix32(s0 ^ 0x6a09e667);
  let s2 = mix32(s1 ^ 0xbb67ae85);
  let s3 = mix32(s2 ^ 0x3c6ef372);
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  let spareNormal = 0;
  let hasSpare = false;

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  const next = (): number => nextUint32() / 4294967296;
  const normal = (): number => {
    if (hasSpare) {
      hasSpare = false;
      return spareNormal;
    }
    // Marsaglia's polar method: two independent normals per accepted pair.
    let u: number;
    let v: number;
    let q: number;
    do {
      u = 2 * next() - 1;
      v = 2 * next() - 1;
      q = u * u + v * v;
    } while (q >= 1 || q === 0);
    const factor = Math.sqrt((-2 * Math.log(q)) / q);
    spareNormal = v * factor;
    hasSpare = true;
    return u * factor;
  };
  return {
    nextUint32,
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    normal,
    lognormal: (median, sigma) => median * Math.exp(sigma * normal()),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Picks an index from cumulative weights (ascending, last = total) for a
 * uniform number `u` in [0, 1).
 */
export function pickWeighted(cumulative: readonly number[], u: number): number {
  const total = cumulative[cumulative.length - 1] ?? 0;
  const target = u * total;
  for (let i = 0; i < cumulative.length; i++) {
    if (target < (cumulative[i] as number)) return i;
  }
  return cumulative.length - 1;
}

/** Running sums of a list of weights. */
export function cumulativeWeights(weights: readonly number[]): number[] {
  const out: number[] = [];
  let sum = 0;
  for (const w of weights) {
    sum += w;
    out.push(sum);
  }
  return out;
}
