/**
 * Diffusion / flow-matching timestep conditioning: a sinusoidal embedding of a continuous time
 * followed by a two-layer SiLU MLP (DiT's `TimestepEmbedder`, Peebles & Xie, 2023).
 */
import { type JaxArray, numpy as np } from "../jax.ts";
import { initMlp, type MlpParams, mlp } from "./mlp.ts";

/**
 * t [B] float -> [B, dim] = [cos(t f_0..f_{dim/2-1}), sin(t f_0..)], f_i = maxPeriod^(-i/(dim/2)).
 * Frequencies are tuned for t in ~[0, 1000]; flow-matching times in [0, 1] should be scaled by
 * the caller (e.g. t * 1000), as DiT/SD3 do. Consumes t.
 */
export function timestepEmbedding(t: JaxArray, dim: number, maxPeriod = 10000): JaxArray {
  if (dim % 2 !== 0) throw new Error(`timestep embedding: dim ${dim} must be even`);
  const half = dim / 2;
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp((-Math.log(maxPeriod) * i) / half);
  const B = t.shape[0];
  const args = t
    .astype(np.float32)
    .reshape([B, 1])
    .mul(np.array(freqs).reshape([1, half]));
  return np.concatenate([np.cos(args.ref), np.sin(args)], -1);
}

export type TimestepEmbedderParams = {
  mlp: MlpParams; // [freqDim, D] -> [D, D]
};

/** Consumes key. */
export function initTimestepEmbedder(
  key: JaxArray,
  freqDim: number,
  dim: number,
): TimestepEmbedderParams {
  return { mlp: initMlp(key, freqDim, dim, { outDim: dim }) };
}

/** t [B] -> [B, D]. The frequency width is read from the MLP's input size. */
export function timestepEmbedder(
  p: TimestepEmbedderParams,
  t: JaxArray,
  maxPeriod = 10000,
): JaxArray {
  const freqDim = p.mlp.fc1.w.shape[0];
  return mlp(p.mlp, timestepEmbedding(t, freqDim, maxPeriod), "silu");
}
