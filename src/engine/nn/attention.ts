/**
 * Multi-head attention (self and cross) with separate q/k/v/o projections.
 *
 * Two interchangeable cores compute softmax(q k^T / sqrt(H) + mask) v:
 * - "manual" (default): batched matmuls; masked logits are filled with a large finite negative,
 *   so a query whose keys are all masked gets a uniform (finite) average instead of NaN. Padded
 *   queries in a batch therefore never poison gradients through `0 * NaN`.
 * - "sdpa": jax-js `nn.dotProductAttention` (einsum-based; fills with -Infinity, so fully-masked
 *   rows give NaN). Kept for cross-checking; the tests assert both agree.
 */
import { type JaxArray, nn, numpy as np } from "../jax.ts";
import { splitKey } from "../rng.ts";
import { initLinear, type LinearParams, linear } from "./linear.ts";

export type AttentionParams = {
  q: LinearParams; // [D, N*H]
  k: LinearParams; // [Dc, N*H]
  v: LinearParams; // [Dc, N*H]
  o: LinearParams; // [N*H, D]
};

export type AttentionConfig = {
  dim: number;
  heads: number;
  /** Width of the context for cross-attention (default: dim, i.e. self-attention). */
  contextDim?: number;
  /** Per-head width (default dim / heads). */
  headDim?: number;
  /** Biases on the projections (default true). */
  bias?: boolean;
};

export type AttentionCore = "manual" | "sdpa";

/** Large finite negative for masked logits: exp underflows to exactly 0 in f32. */
const MASKED_LOGIT = -1e9;

/** Consumes key. */
export function initAttention(key: JaxArray, cfg: AttentionConfig): AttentionParams {
  const headDim = cfg.headDim ?? cfg.dim / cfg.heads;
  if (!Number.isInteger(headDim)) throw new Error(`attention: ${cfg.dim} / ${cfg.heads} heads`);
  const inner = cfg.heads * headDim;
  const ctx = cfg.contextDim ?? cfg.dim;
  const bias = cfg.bias ?? true;
  const [kq, kk, kv, ko] = splitKey(key, 4);
  return {
    q: initLinear(kq, cfg.dim, inner, { bias }),
    k: initLinear(kk, ctx, inner, { bias }),
    v: initLinear(kv, ctx, inner, { bias }),
    o: initLinear(ko, inner, cfg.dim, { bias }),
  };
}

/** A mask [L, S], [B, L, S] or [B, 1|N, L, S] -> broadcastable to [B, N, L, S]. */
function asScoreMask(mask: JaxArray): JaxArray {
  if (mask.ndim !== 3) return mask;
  const [B, L, S] = mask.shape;
  return mask.reshape([B, 1, L, S]);
}

/**
 * The attention core. q [B, L, N, H], k/v [B, S, N, H], mask boolean (see masks.ts)
 * -> [B, L, N, H]. Consumes q, k, v and mask.
 */
export function scaledDotProductAttention(
  q: JaxArray,
  k: JaxArray,
  v: JaxArray,
  opts: { mask?: JaxArray; core?: AttentionCore } = {},
): JaxArray {
  const mask = opts.mask === undefined ? undefined : asScoreMask(opts.mask);
  if (opts.core === "sdpa") return nn.dotProductAttention(q, k, v, mask ? { mask } : {});
  const H = q.shape[3];
  const qh = q.mul(1 / Math.sqrt(H)).transpose([0, 2, 1, 3]); // [B, N, L, H]
  const kh = k.transpose([0, 2, 3, 1]); // [B, N, H, S]
  const vh = v.transpose([0, 2, 1, 3]); // [B, N, S, H]
  let scores = np.matmul(qh, kh); // [B, N, L, S]
  if (mask) scores = np.where(mask, scores, MASKED_LOGIT);
  const out = np.matmul(nn.softmax(scores, -1), vh); // [B, N, L, H]
  return out.transpose([0, 2, 1, 3]);
}

export type AttentionOpts = {
  heads: number;
  /** Cross-attention: keys/values come from context [B, S, Dc] (default: x itself). */
  context?: JaxArray;
  /** Boolean mask, true = attend (see masks.ts). */
  mask?: JaxArray;
  core?: AttentionCore;
};

/** x [B, L, D] -> [B, L, D]. Consumes x, context and mask. */
export function attention(p: AttentionParams, x: JaxArray, opts: AttentionOpts): JaxArray {
  const [B, L] = x.shape;
  const N = opts.heads;
  const ctx = opts.context ?? x.ref;
  const S = ctx.shape[1];
  const q = linear(p.q, x).reshape([B, L, N, -1]);
  const k = linear(p.k, ctx.ref).reshape([B, S, N, -1]);
  const v = linear(p.v, ctx).reshape([B, S, N, -1]);
  const out = scaledDotProductAttention(q, k, v, { mask: opts.mask, core: opts.core });
  return linear(p.o, out.reshape([B, L, -1]));
}
