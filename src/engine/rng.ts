/**
 * Seeded randomness. Two kinds, kept apart on purpose:
 * - `Rng`: a host-side generator (sfc32) for data order, augmentation choices and
 *   anything decided in JS. Its whole state is four u32s, so a trainer can save it
 *   and resume bit-identically.
 * - jax keys (`jaxKey`, `splitKey`): for randomness inside jitted code (param init,
 *   noise), passed as arguments so jit never bakes them in.
 */
import { type JaxArray, random } from "./jax.ts";

export type RngState = [number, number, number, number];

/** Mix a 32-bit seed (or a string label) into a well-spread u32 (murmur3 finaliser). */
export function hash32(x: number | string, h = 0x9e3779b9): number {
  if (typeof x === "string") {
    for (let i = 0; i < x.length; i++) h = hash32(x.charCodeAt(i), h);
    return h >>> 0;
  }
  h = Math.imul(h ^ (x >>> 0), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Small fast counter-based PRNG (sfc32). Not cryptographic; deterministic across platforms. */
export class Rng {
  #s: Uint32Array;

  constructor(seed: number | string | RngState = 0) {
    this.#s = new Uint32Array(4);
    if (Array.isArray(seed)) {
      this.#s.set(seed);
    } else {
      const h = hash32(seed);
      this.#s.set([h, hash32(h, 1), hash32(h, 2), 1]);
      for (let i = 0; i < 12; i++) this.u32(); // warm up past the seeding
    }
  }

  /** A child generator whose stream depends only on this one's seed and `label`. */
  fork(label: string | number): Rng {
    const s = this.state();
    return new Rng(hash32(label, hash32(s[0] ^ s[2], s[1] ^ s[3])));
  }

  state(): RngState {
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
      throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.float() * n);
  }

  bool(p = 0.5): boolean {
    return this.float() < p;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error("Rng.pick: empty list");
    return xs[this.int(xs.length)];
  }

  /** Fisher–Yates, in place; returns the same array. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}

/** A jax PRNG key from a u32 seed. */
export function jaxKey(seed: number): JaxArray {
  return random.key(seed >>> 0);
}

/** Split a key into `n` independent keys (consumes `key`). */
export function splitKey(key: JaxArray, n: number): JaxArray[] {
  const ks = random.split(key, n);
  return [...ks] as JaxArray[];
}
