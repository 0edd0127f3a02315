/**
 * Parameter initialisers. Each consumes its key (or takes none) and returns a fresh f32 array.
 *
 * jax-js 0.1.25 has no `random.truncatedNormal` and no `erfinv`, so the truncated normal is
 * inverse-CDF sampling with Giles' single-precision erfinv ("Approximating the erfinv function",
 * 2010), central branch only: that branch is exact to f32 for |u| < 0.9966, i.e. for
 * truncation at up to ~2.9 sigma, and we truncate at 2 sigma as JAX's initialisers do.
 */
import { type JaxArray, numpy as np, random } from "../jax.ts";

/** erf(sqrt(2)): the uniform range whose erfinv image is [-2 sigma, 2 sigma] (after * sqrt 2). */
const ERF_SQRT2 = 0.9544997361036416;
/** Std of a unit normal truncated to [-2, 2]; JAX's variance_scaling divides by it. */
const TRUNC2_STD = 0.8796256610342398;

/** Giles' erfinv, central branch (valid for w = -log(1 - x^2) < 5). Consumes x. */
function erfinvCentral(x: JaxArray): JaxArray {
  const w = np.log(x.ref.mul(x.ref).neg().add(1)).neg().sub(2.5);
  const coeffs = [
    3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 2.1858087e-4, -1.25372503e-3, -4.17768164e-3,
    0.246640727, 1.50140941,
  ];
  let p = w.ref.mul(2.81022636e-8);
  for (const [i, c] of coeffs.entries()) {
    p = p.add(c);
    if (i < coeffs.length - 1) p = p.mul(w.ref);
  }
  w.dispose();
  return p.mul(x);
}

/**
 * Normal samples truncated to +-2 standard deviations, rescaled so the result has standard
 * deviation `std` (the JAX `variance_scaling(..., "truncated_normal")` convention).
 */
export function truncatedNormal(key: JaxArray, shape: number[], std: number): JaxArray {
  const u = random.uniform(key, shape, { minval: -ERF_SQRT2, maxval: ERF_SQRT2 });
  return erfinvCentral(u).mul((Math.SQRT2 * std) / TRUNC2_STD);
}

/** Glorot/Xavier uniform for a [fanIn, fanOut] matrix: U(+-sqrt(6 / (fanIn + fanOut))). */
export function xavierUniform(key: JaxArray, shape: number[], fanIn: number, fanOut: number) {
  const a = Math.sqrt(6 / (fanIn + fanOut));
  return random.uniform(key, shape, { minval: -a, maxval: a });
}

/**
 * How a weight matrix is initialised:
 * - "lecun": truncated normal, std 1/sqrt(fanIn) (JAX `lecun_normal`; the default, keeps
 *   activations' variance roughly constant through linear layers);
 * - "xavier": Glorot uniform;
 * - "zeros": all zero (adaLN-zero modulation, zero-initialised output heads);
 * - { std }: truncated normal with that std (e.g. 0.02 for GPT-style embeddings).
 */
export type WeightInit = "lecun" | "xavier" | "zeros" | { std: number };

/** A [fanIn, fanOut]-style weight (`shape` may carry leading kernel dims). Consumes key. */
export function initWeight(
  key: JaxArray,
  shape: number[],
  fanIn: number,
  fanOut: number,
  init: WeightInit = "lecun",
): JaxArray {
  if (init === "zeros") {
    key.dispose();
    return np.zeros(shape);
  }
  if (init === "xavier") return xavierUniform(key, shape, fanIn, fanOut);
  const std = init === "lecun" ? 1 / Math.sqrt(fanIn) : init.std;
  return truncatedNormal(key, shape, std);
}
