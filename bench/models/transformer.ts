/**
 * The bench's reference transformer: the same architecture as `Transformer` in
 * bench/torch_peer.py (learned token + position embeddings, pre-LN blocks of causal
 * multi-head self-attention and a 4x GELU-tanh MLP, final LayerNorm, untied output head,
 * next-token cross-entropy), built from src/engine/nn blocks.
 *
 * Parameter-for-parameter it matches PyTorch: our separate q/k/v projections hold exactly
 * the weights of PyTorch's fused `qkv`. What differs is the initialisation (irrelevant to
 * speed) and the embedding lookup, which is a one-hot matmul here (the jit(grad) gather
 * workaround in src/engine/nn/embedding.ts) and a gather in PyTorch.
 */

import type { JaxArray } from "../../src/engine/jax.ts";
import { crossEntropy } from "../../src/engine/losses.ts";
import {
  type AttentionParams,
  addPosEmbedding,
  attention,
  causalMask,
  type EmbeddingParams,
  embed,
  initAttention,
  initEmbedding,
  initLayerNorm,
  initLinear,
  initMlp,
  initPosEmbedding,
  type LayerNormParams,
  type LinearParams,
  layerNorm,
  linear,
  type MlpParams,
  mlp,
  type PosEmbeddingParams,
} from "../../src/engine/nn/index.ts";
import { jaxKey, Rng, splitKey } from "../../src/engine/rng.ts";
import type { Batch, HostBatch, Task } from "../../src/engine/train-step.ts";
import type { ParamTree } from "../../src/engine/tree.ts";

export type TransformerBenchConfig = {
  vocab: number;
  seq: number;
  dim: number;
  layers: number;
  heads: number;
};

/** The configuration torch_peer.py runs (batch 16). */
export const TRANSFORMER_BENCH: TransformerBenchConfig = {
  vocab: 256,
  seq: 128,
  dim: 256,
  layers: 4,
  heads: 4,
};
export const TRANSFORMER_BENCH_BATCH = 16;

/** PyTorch's LayerNorm epsilon, used throughout so the numerics match the peer's. */
const LN_EPS = 1e-5;

type BlockParams = {
  ln1: LayerNormParams;
  attn: AttentionParams;
  ln2: LayerNormParams;
  mlp: MlpParams;
};

export type TransformerParams = {
  emb: EmbeddingParams; // [V, D]
  pos: PosEmbeddingParams; // [T, D]
  blocks: BlockParams[];
  ln: LayerNormParams;
  head: LinearParams; // [D, V], no bias
};

/** Parameters in closed form (PyTorch's count for the same config). */
export function transformerParamCount(c: TransformerBenchConfig): number {
  const d = c.dim;
  const block = 2 * (2 * d) + 4 * (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d);
  return c.vocab * d + c.seq * d + c.layers * block + 2 * d + d * c.vocab;
}

export function initTransformer(c: TransformerBenchConfig, seed: number): TransformerParams {
  const [kEmb, kPos, kHead, ...kBlocks] = splitKey(jaxKey(seed), 3 + c.layers);
  return {
    emb: initEmbedding(kEmb, c.vocab, c.dim),
    pos: initPosEmbedding(kPos, c.seq, c.dim),
    blocks: kBlocks.map((k) => {
      const [ka, km] = splitKey(k, 2);
      return {
        ln1: initLayerNorm(c.dim),
        attn: initAttention(ka, { dim: c.dim, heads: c.heads }),
        ln2: initLayerNorm(c.dim),
        mlp: initMlp(km, c.dim, 4 * c.dim),
      };
    }),
    ln: initLayerNorm(c.dim),
    head: initLinear(kHead, c.dim, c.vocab, { bias: false }),
  };
}

/** Next-token logits [B, T, V] for ids int32 [B, T]. Consumes p and ids. */
export function transformerLogits(
  c: TransformerBenchConfig,
  p: TransformerParams,
  ids: JaxArray,
): JaxArray {
  const T = ids.shape[1];
  const mask = causalMask(T); // [T, T]
  let h = addPosEmbedding(p.pos, embed(p.emb, ids)); // [B, T, D]
  for (const b of p.blocks) {
    const a = attention(b.attn, layerNorm(b.ln1, h.ref, LN_EPS), {
      heads: c.heads,
      mask: mask.ref,
    });
    h = h.add(a);
    h = h.ref.add(mlp(b.mlp, layerNorm(b.ln2, h, LN_EPS), "gelu"));
  }
  mask.dispose();
  return linear(p.head, layerNorm(p.ln, h, LN_EPS));
}

/** Mean next-token cross-entropy. batch: ids, tgt int32 [B, T]. Consumes p and batch. */
export function transformerLoss(c: TransformerBenchConfig, p: TransformerParams, batch: Batch) {
  return crossEntropy(transformerLogits(c, p, batch.ids), batch.tgt);
}

/** Task factory (also loaded by data-parallel workers through a TaskSpec). */
export function transformerTask(c: TransformerBenchConfig): Task {
  return {
    init: (seed) => initTransformer(c, seed) as unknown as ParamTree,
    loss: (p, batch) => transformerLoss(c, p as unknown as TransformerParams, batch),
  };
}

/**
 * A deterministic synthetic batch: uniform random token ids and, as in the peer, the
 * targets are the ids rolled left by one (`ids.roll(-1, 1)`).
 */
export function transformerBatch(c: TransformerBenchConfig, batch: number, seed = 0): HostBatch {
  const rng = new Rng(`bench/transformer:${seed}`);
  const n = batch * c.seq;
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = rng.int(c.vocab);
  const tgt = new Int32Array(n);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < c.seq; t++) tgt[b * c.seq + t] = ids[b * c.seq + ((t + 1) % c.seq)];
  }
  return {
    ids: { dtype: "int32", shape: [batch, c.seq], data: ids },
    tgt: { dtype: "int32", shape: [batch, c.seq], data: tgt },
  };
}
