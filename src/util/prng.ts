/**
 * reca's one host-side PRNG: sfc32 (Chris Doty-Humphrey's "small fast counter"
 * generator, 128-bit state) seeded through a murmur3-style hash. Its whole state
 * is four u32s, so a generator can be saved in a checkpoint and resumed exactly.
 *
 * A dependency-free leaf: the world (`WorldRng`, which must not depend on the
 * engine) and the engine (`Rng`, data order in the training loop) both re-export
 * it, so there is one implementation and one stream definition.
 * `Prng.fromParts(label, seed, i)` keys a stream by several parts (96 bits), so
 * corpus items and benchmark items can be built lazily by index.
 */

export type PrngState = [number, number, number, number];

/** Mix a number or a string label into a well-spread u32 (murmur3 finaliser). */
export function mixSeed(...parts: (number | string)[]): number {
  return mixFrom(0x2545f491, parts);
}

function mixFrom(h: number, parts: readonly (number | string)[]): number {
  for (const p of parts) {
    if (typeof p === "string") {
      h = fmix(h ^ 0x5bd1e995);
      for (let i = 0; i < p.length; i++) h = fmix(h ^ p.charCodeAt(i));
    } else {
      // Fold in both 32-bit halves so seeds up to 2^53 stay distinct.
      h = fmix(h ^ (p >>> 0));
      h = fmix(h ^ Math.floor(p / 4294967296));
    }
  }
  return h >>> 0;
}

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Prng {
  #s: Uint32Array;

  constructor(seed: number | string | PrngState = 0) {
    this.#s = new Uint32Array(4);
    if (Array.isArray(seed)) {
      this.#s.set(seed);
    } else {
      const h = mixSeed(seed);
      this.#s.set([h, mixSeed(h, 1), mixSeed(h, 2), 1]);
      for (let i = 0; i < 15; i++) this.u32(); // move past the seeding correlations
    }
  }

  /**
   * A generator keyed by several parts (labels, seeds, indices), with 96 bits of
   * seed material so distinct keys practically never share a stream.
   */
  static fromParts(...parts: (number | string)[]): Prng {
    const r = new Prng([
      mixFrom(0x2545f491, parts),
      mixFrom(0x9e3779b9, parts),
      mixFrom(0x85ebca6b, parts),
      1,
    ]);
    for (let i = 0; i < 15; i++) r.u32();
    return r;
  }

  /** A child generator whose stream depends only on this one's current state and `label`. */
  fork(label: number | string): Prng {
    const s = this.#s;
    return Prng.fromParts(s[0], s[1], s[2], s[3], label);
  }

  state(): PrngState {
    return [this.#s[0], this.#s[1], this.#s[2], this.#s[3]];
  }

  u32(): number {
    const s = this.#s;
    const t = (((s[0] + s[1]) >>> 0) + s[3]) >>> 0;
    s[3] = (s[3] + 1) >>> 0;
    s[0] = s[1] ^ (s[1] >>> 9);
    s[1] = (s[2] + (s[2] << 3)) >>> 0;
    s[2] = ((s[2] << 21) | (s[2] >>> 11)) >>> 0;
    s[2] = (s[2] + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`Prng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.float() * n);
  }

  bool(p = 0.5): boolean {
    return this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error("Prng.pick: empty list");
    return xs[this.int(xs.length)];
  }

  /** Index drawn from unnormalised non-negative weights. */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((a, b) => a + b, 0);
    if (!(total > 0)) throw new Error("Prng.weighted: weights must have a positive sum");
    let u = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u < 0) return i;
    }
    return weights.length - 1;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** Fisher–Yates, in place; returns the same array. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }
}
