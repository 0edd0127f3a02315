/**
 * Position embeddings: a learned table added to token sequences, and fixed sin-cos tables
 * (1-D and the 2-D form used by MAE / DiT for image patches). The fixed tables are computed on
 * the host in f64 and returned as constant f32 arrays, never parameters.
 */
import { type JaxArray, numpy as np } from "../jax.ts";
import { truncatedNormal } from "./init.ts";

export type PosEmbeddingParams = {
  table: JaxArray; // [maxLen, D]
};

/** Truncated normal, std 0.02. Consumes key. */
export function initPosEmbedding(key: JaxArray, maxLen: number, dim: number): PosEmbeddingParams {
  return { table: truncatedNormal(key, [maxLen, dim], 0.02) };
}

/**
 * x [B, T, D] + table[offset : offset + T]. A static slice, not a gather, so it is safe under
 * jit(grad).
 */
export function addPosEmbedding(p: PosEmbeddingParams, x: JaxArray, offset = 0): JaxArray {
  const T = x.shape[1];
  if (offset + T > p.table.shape[0]) {
    throw new Error(`position embedding: ${offset + T} positions > table ${p.table.shape[0]}`);
  }
  return x.add(p.table.slice([offset, offset + T])); // broadcast [T, D] over B
}

/**
 * 1-D sin-cos values for positions `pos`: [sin(pos w_0..w_{D/2-1}), cos(pos w_0..)] with
 * w_i = 10000^(-i / (D/2)) (Vaswani et al., 2017, in MAE's concatenated layout). Host values.
 */
export function sincos1dValues(pos: ArrayLike<number>, dim: number): Float64Array {
  if (dim % 2 !== 0) throw new Error(`sin-cos embedding: dim ${dim} must be even`);
  const half = dim / 2;
  const out = new Float64Array(pos.length * dim);
  for (let t = 0; t < pos.length; t++) {
    for (let i = 0; i < half; i++) {
      const a = pos[t] * 10000 ** (-i / half);
      out[t * dim + i] = Math.sin(a);
      out[t * dim + half + i] = Math.cos(a);
    }
  }
  return out;
}

/** Fixed 1-D sin-cos table for positions 0..len-1 -> [len, dim]. */
export function sincos1d(len: number, dim: number): JaxArray {
  const pos = Array.from({ length: len }, (_, i) => i);
  return np.array(Float32Array.from(sincos1dValues(pos, dim))).reshape([len, dim]);
}

/**
 * Fixed 2-D sin-cos table for an h x w grid in row-major token order -> [h*w, dim]. The first
 * dim/2 channels encode the row, the last dim/2 the column, each as `sincos1dValues` with
 * dim/2 (MAE's `get_2d_sincos_pos_embed`, also used by DiT). dim must be divisible by 4.
 */
export function sincos2d(h: number, w: number, dim: number): JaxArray {
  if (dim % 4 !== 0) throw new Error(`2-D sin-cos embedding: dim ${dim} must be divisible by 4`);
  const half = dim / 2;
  const rows = sincos1dValues(
    Array.from({ length: h }, (_, i) => i),
    half,
  );
  const cols = sincos1dValues(
    Array.from({ length: w }, (_, i) => i),
    half,
  );
  const out = new Float32Array(h * w * dim);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * dim;
      out.set(rows.subarray(y * half, (y + 1) * half), o);
      out.set(cols.subarray(x * half, (x + 1) * half), o + half);
    }
  }
  return np.array(out).reshape([h * w, dim]);
}
