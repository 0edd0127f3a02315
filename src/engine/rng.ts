/**
 * Seeded randomness. Two kinds, kept apart on purpose:
 * - `Rng`: the host-side generator (sfc32, src/util/prng.ts) for data order,
 *   augmentation choices and anything decided in JS. Its whole state is four
 *   u32s, so a trainer can save it and resume bit-identically.
 * - jax keys (`jaxKey`, `splitKey`): for randomness inside jitted code (param init,
 *   noise), passed as arguments so jit never bakes them in.
 */
import { type JaxArray, random } from "./jax.ts";

export { Prng as Rng, type PrngState as RngState } from "../util/prng.ts";

/** A jax PRNG key from a u32 seed. */
export function jaxKey(seed: number): JaxArray {
  return random.key(seed >>> 0);
}

/** Split a key into `n` independent keys (consumes `key`). */
export function splitKey(key: JaxArray, n: number): JaxArray[] {
  const ks = random.split(key, n);
  return [...ks] as JaxArray[];
}
