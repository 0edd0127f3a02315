/**
 * The world's seeded PRNG: reca's sfc32 generator (src/util/prng.ts), named for
 * the world. Everything in the world that is random takes a `WorldRng`; item i
 * of a corpus is `WorldRng.fromParts(corpusLabel, corpusSeed, i)`.
 */
export { mixSeed, Prng as WorldRng, type PrngState as WorldRngState } from "../util/prng.ts";
