/**
 * The text tower the understanding ViT is trained against: word embeddings (one-hot matmul, safe
 * under jit(grad), see engine/nn/embedding.ts) + learned positions → bidirectional pre-LN blocks
 * with a key-padding mask → final LayerNorm → mean over the real tokens. Only training uses it;
 * later stages keep the ViT alone.
 */
import { type JaxArray, numpy as np } from "../engine/jax.ts";
import {
  addPosEmbedding,
  applyBlocks,
  type BlockParams,
  type EmbeddingParams,
  embed,
  initBlocks,
  initEmbedding,
  initLayerNorm,
  initPosEmbedding,
  keyPaddingMask,
  type LayerNormParams,
  layerNorm,
  type PosEmbeddingParams,
  type TransformerShape,
} from "../engine/nn/index.ts";
import { splitKey } from "../engine/rng.ts";

export type TextConfig = TransformerShape & { vocabSize: number; maxLen: number };

export type TextParams = {
  embed: EmbeddingParams; // [V, D]
  pos: PosEmbeddingParams; // [maxLen, D]
  blocks: BlockParams[];
  norm: LayerNormParams;
};

/** Consumes key. */
export function initText(key: JaxArray, cfg: TextConfig): TextParams {
  const [ke, kp, kb] = splitKey(key, 3);
  return {
    embed: initEmbedding(ke, cfg.vocabSize, cfg.dim),
    pos: initPosEmbedding(kp, cfg.maxLen, cfg.dim),
    blocks: initBlocks(kb, cfg),
    norm: initLayerNorm(cfg.dim),
  };
}

/** x [B, T, D], mask [B, T] (1 = real) → mean over real tokens [B, D]. Consumes both. */
export function maskedMeanPool(x: JaxArray, mask: JaxArray): JaxArray {
  const [B, T] = mask.shape;
  const m = mask.reshape([B, T, 1]);
  const total = x.mul(m.ref).sum(1); // [B, D]
  return total.div(np.maximum(m.sum(1), 1)); // [B, D] / [B, 1]
}

/** ids int32 [B, T], mask f32 [B, T] → pooled text features [B, D]. Consumes ids and mask. */
export function textFeatures(p: TextParams, ids: JaxArray, mask: JaxArray, cfg: TextConfig) {
  const x = addPosEmbedding(p.pos, embed(p.embed, ids)); // [B, T, D]
  const h = applyBlocks(p.blocks, x, cfg.heads, keyPaddingMask(mask.ref));
  return maskedMeanPool(layerNorm(p.norm, h), mask);
}
