/**
 * Token embeddings. The default lookup is a one-hot matmul: jax-js 0.1.25's `jit(grad(...))`
 * throws "routine primitive scatter input is not imm" when a gather's gradient arrives as a
 * view (docs/ENGINE.md), and `np.take` feeding a matmul triggers it. The one-hot
 * form costs O(N V D) flops, cheap for the small vocabularies used here; the take form is kept
 * for eager inference with large vocabularies.
 */
import { type JaxArray, nn, numpy as np } from "../jax.ts";
import { truncatedNormal } from "./init.ts";

export type EmbeddingParams = {
  table: JaxArray; // [V, D]
};

/** Truncated normal, std 0.02 by default (GPT-2 / ViT convention). Consumes key. */
export function initEmbedding(
  key: JaxArray,
  vocab: number,
  dim: number,
  opts: { std?: number } = {},
): EmbeddingParams {
  return { table: truncatedNormal(key, [vocab, dim], opts.std ?? 0.02) };
}

/**
 * ids int32 [...] -> [..., D]. `oneHot: true` (default) is safe under jit(grad); `false` uses
 * `np.take` (a gather), fine eagerly and without gradients.
 */
export function embed(
  p: EmbeddingParams,
  ids: JaxArray,
  opts: { oneHot?: boolean } = {},
): JaxArray {
  const [V, D] = p.table.shape;
  const lead = ids.shape;
  if (opts.oneHot === false) return np.take(p.table, ids, 0); // [..., D]
  const oh = nn.oneHot(ids.reshape([-1]), V); // [N, V]
  return np.matmul(oh, p.table).reshape([...lead, D]);
}

/** Tied output projection: h [..., D] -> logits [..., V] = h table^T. */
export function unembed(p: EmbeddingParams, h: JaxArray): JaxArray {
  const [V, D] = p.table.shape;
  const lead = h.shape.slice(0, -1);
  return np.matmul(h.reshape([-1, D]), p.table.transpose()).reshape([...lead, V]);
}
