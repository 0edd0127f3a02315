/**
 * Adaptive LayerNorm conditioning (DiT, Peebles & Xie, 2023). A conditioning vector c [B, Dc]
 * (e.g. timestep + pooled condition) is mapped through SiLU and a zero-initialised linear layer
 * to per-sample shift/scale/gate vectors. Zero init ("adaLN-Zero") makes every residual block
 * start as the identity, which DiT found trains best.
 */
import { type JaxArray, nn, numpy as np } from "../jax.ts";
import { initLinear, type LinearParams, linear } from "./linear.ts";

/** Expand a per-sample vector [B, D] to broadcast against x [B, ..., D]. */
function perSample(v: JaxArray, x: JaxArray): JaxArray {
  if (v.ndim === x.ndim) return v;
  const [B, D] = v.shape;
  return v.reshape([B, ...Array(x.ndim - 2).fill(1), D]);
}

/** x * (1 + scale) + shift. x [B, ..., D], shift/scale [B, D] (or already x's rank). */
export function modulate(x: JaxArray, shift: JaxArray, scale: JaxArray): JaxArray {
  const sc = perSample(scale, x);
  const sh = perSample(shift, x);
  return x.mul(sc.add(1)).add(sh);
}

/** gate * x, for the gated residual x + gate * block(x). x [B, ..., D], gate [B, D]. */
export function applyGate(x: JaxArray, gate: JaxArray): JaxArray {
  return x.mul(perSample(gate, x));
}

export type AdaLNParams = {
  lin: LinearParams; // [Dc, chunks*D], zero-initialised
};

/**
 * `chunks` modulation vectors of width `dim` from a `condDim` conditioning vector: 6 for a
 * DiT block (shift/scale/gate for attention and MLP), 2 for the final layer (shift/scale).
 * Weight and bias start at zero. Consumes key.
 */
export function initAdaLN(
  key: JaxArray,
  condDim: number,
  dim: number,
  chunks: number,
): AdaLNParams {
  return { lin: initLinear(key, condDim, chunks * dim, { init: "zeros" }) };
}

/** c [B, Dc] -> `chunks` arrays [B, D] (SiLU then linear, split evenly). */
export function adaLNChunks(p: AdaLNParams, c: JaxArray, chunks: number): JaxArray[] {
  return np.split(linear(p.lin, nn.silu(c)), chunks, -1);
}

export type Modulation = { shift: JaxArray; scale: JaxArray; gate: JaxArray }; // each [B, D]

/** adaLN-Zero: c [B, Dc] -> `groups` (shift, scale, gate) triples; params need chunks = 3*groups. */
export function adaLNZero(p: AdaLNParams, c: JaxArray, groups: number): Modulation[] {
  const parts = adaLNChunks(p, c, 3 * groups);
  return Array.from({ length: groups }, (_, i) => ({
    shift: parts[3 * i],
    scale: parts[3 * i + 1],
    gate: parts[3 * i + 2],
  }));
}
