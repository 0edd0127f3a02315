/**
 * The unified model's backbone: a small decoder-only transformer over one sequence of word tokens
 * and projected understanding features (ARCHITECTURE.md §2).
 *
 *   x = embed(tokens) + slots · projector(features) + positions
 *   h = pre-LN blocks(x) with attention mask: text causal, image slots bidirectional among
 *       themselves (BAGEL / Show-o / Transfusion), padding keys masked
 *   states = LayerNorm(h)            → the condition a generation family reads
 *   logits = states · embedᵀ          → the text head (image→text, next-token prediction)
 *
 * Image features enter through `<img>` slots: `slots` [B, L, R] is a 0/1 map from sequence
 * position to feature row (built on the host by src/umm/sequence.ts), so any template can put the
 * R feature tokens anywhere. The `<img>` token's own embedding is added at those positions and
 * acts as a learned "this is an image token" marker.
 *
 * The projector is a two-layer GELU MLP from the frozen encoder's width to the backbone's
 * (LLaVA-1.5). `featureGradScale` scales the gradient that flows into it (and so into the visual
 * path) without changing the forward value: RecA's authors scale it by 0.1 when the backbone is
 * trained, or representations collapse (docs/DESIGN.md, "RecA per architecture").
 *
 * Appended tokens (`appendedStates`): embeddings placed after a condition sequence — OpenUni's
 * learnable queries, or the image tokens of an in-sequence family — see the condition causally
 * and each other both ways; their final states are what the caller reads.
 */

import { type JaxArray, lax, numpy as np, tree } from "../engine/jax.ts";
import {
  addPosEmbedding,
  applyBlocks,
  type BlockParams,
  causalMask,
  type EmbeddingParams,
  embed,
  initBlocks,
  initEmbedding,
  initLayerNorm,
  initMlp,
  initPosEmbedding,
  type LayerNormParams,
  layerNorm,
  type MlpParams,
  mlp,
  type PosEmbeddingParams,
  unembed,
} from "../engine/nn/index.ts";
import { splitKey } from "../engine/rng.ts";
import type { Condition } from "./family.ts";

export type BackboneConfig = {
  vocabSize: number;
  maxLen: number;
  dim: number;
  depth: number;
  heads: number;
  mlpRatio: number;
  /** Width of the frozen understanding features the projector reads. */
  featureDim: number;
};

export type BackboneParams = {
  embed: EmbeddingParams; // [V, D]
  pos: PosEmbeddingParams; // [maxLen, D]
  projector: MlpParams; // featureDim → D → D
  /** Present only in the condition ablation: generation-encoder features → D. */
  conditionProjector?: MlpParams;
  blocks: BlockParams[];
  norm: LayerNormParams;
};

/**
 * One batch of sequences on the device.
 * - tokens int32 [B, L]; valid f32 [B, L] (1 = real token)
 * - slots f32 [B, L, R]: slots[b, l, r] = 1 when position l holds feature row r
 * - features f32 [B, R, F]: frozen understanding features (zeros where a row has no image)
 */
export type SequenceBatch = {
  tokens: JaxArray;
  valid: JaxArray;
  slots: JaxArray;
  features: JaxArray;
};

/** Consumes key. */
export function initBackbone(key: JaxArray, c: BackboneConfig): BackboneParams {
  const [ke, kp, kr, kb] = splitKey(key, 4);
  const projector = initMlp(kr, c.featureDim, c.dim, { outDim: c.dim });
  return {
    embed: initEmbedding(ke, c.vocabSize, c.dim),
    pos: initPosEmbedding(kp, c.maxLen, c.dim),
    projector,
    blocks: initBlocks(kb, c),
    norm: initLayerNorm(c.dim),
  };
}

export type BackboneOptions = {
  /** Gradient scale on the projected features (value unchanged). */
  featureGradScale?: number;
  /** Read the features through `conditionProjector` (the condition ablation) instead. */
  conditionProjector?: boolean;
};

/**
 * Value unchanged (bit for bit), gradient multiplied by s (s = 1: identity). Consumes x.
 * stopGradient(x) + (s·x − stopGradient(s·x)): the bracket is exactly 0 in the forward pass, and
 * only s·x carries a gradient.
 */
export function scaleGradient(x: JaxArray, s: number): JaxArray {
  if (s === 1) return x;
  const sx = x.ref.mul(s);
  return lax.stopGradient(x).add(sx.ref.sub(lax.stopGradient(sx)));
}

/**
 * The attention mask [B, 1, L, L]: causal, plus image slots see each other both ways, and never a
 * padding key. Consumes slots and valid.
 */
export function sequenceMask(slots: JaxArray, valid: JaxArray): JaxArray {
  return bidirectionalMask(slots.sum(2).greater(0), valid);
}

/**
 * Causal, plus the positions where `both` [B, L] (boolean) is true see each other both ways, and
 * never a padding key (`valid` [B, L]). Consumes both and valid.
 */
function bidirectionalMask(both: JaxArray, valid: JaxArray): JaxArray {
  const [B, L] = valid.shape;
  const pair = np.logicalAnd(both.ref.reshape([B, 1, L, 1]), both.reshape([B, 1, 1, L]));
  const allowed = np.logicalOr(causalMask(L).reshape([1, 1, L, L]), pair);
  return np.logicalAnd(allowed, valid.astype(np.bool).reshape([B, 1, 1, L]));
}

/** Token embeddings + projected features at their slots [B, L, D] (no positions). */
function embedSequence(p: BackboneParams, s: SequenceBatch, opts: BackboneOptions): JaxArray {
  const useCondition = opts.conditionProjector === true;
  if (useCondition && !p.conditionProjector) throw new Error("backbone has no condition projector");
  const projector = useCondition ? (p.conditionProjector as MlpParams) : p.projector;
  const unused = useCondition ? p.projector : p.conditionProjector;
  if (unused) tree.dispose(unused as unknown as JaxArray[]);
  const feats = scaleGradient(mlp(projector, s.features), opts.featureGradScale ?? 1); // [B,R,D]
  const spliced = np.matmul(s.slots.ref, feats); // [B, L, D]
  return embed(p.embed, s.tokens).add(spliced);
}

/** Final hidden states [B, L, D] (after the last LayerNorm). Consumes p and the batch. */
export function backboneStates(
  p: BackboneParams,
  s: SequenceBatch,
  c: BackboneConfig,
  opts: BackboneOptions = {},
): JaxArray {
  const [B, L] = s.tokens.shape;
  if (L > c.maxLen) throw new Error(`sequence of ${L} tokens exceeds the backbone's ${c.maxLen}`);
  const x = addPosEmbedding(p.pos, embedSequence(p, s, opts));
  const h = applyBlocks(p.blocks, x, c.heads, sequenceMask(s.slots, s.valid));
  if (h.shape[0] !== B) throw new Error("backbone: batch changed");
  return layerNorm(p.norm, h);
}

/**
 * Final states [B, N, D] at `extra` [B, N, D], embeddings appended after the sequence `s`: they
 * get the positions L…L+N−1, see the sequence causally (never its padding) and each other both
 * ways. Consumes p, the batch and extra.
 */
export function appendedStates(
  p: BackboneParams,
  s: SequenceBatch,
  extra: JaxArray,
  c: BackboneConfig,
  opts: BackboneOptions = {},
): JaxArray {
  const [B, L] = s.tokens.shape;
  const N = extra.shape[1];
  if (extra.shape[0] !== B) throw new Error(`appended tokens: ${extra.shape[0]} rows for ${B}`);
  if (L + N > c.maxLen)
    throw new Error(`${L} condition + ${N} appended tokens exceed the backbone's ${c.maxLen}`);
  const bidir = np.concatenate([s.slots.ref.sum(2).greater(0), np.ones([B, N]).astype(np.bool)], 1); // [B, L + N]
  const valid = np.concatenate([s.valid.ref, np.ones([B, N])], 1);
  const x = addPosEmbedding(p.pos, np.concatenate([embedSequence(p, s, opts), extra], 1));
  s.slots.dispose();
  s.valid.dispose();
  const h = applyBlocks(p.blocks, x, c.heads, bidirectionalMask(bidir, valid));
  return layerNorm(p.norm, h).slice([], [L, L + N]);
}

/** Backbone states as a generation condition. Consumes p and the batch. */
export function backboneCondition(
  p: BackboneParams,
  s: SequenceBatch,
  c: BackboneConfig,
  opts: BackboneOptions = {},
): Condition {
  const valid = s.valid.ref;
  return { states: backboneStates(p, s, c, opts), valid };
}

/** Next-token logits [B, L, V] from states (tied embedding). Consumes the table and states. */
export function textLogits(embedding: EmbeddingParams, states: JaxArray): JaxArray {
  return unembed(embedding, states);
}

/** Masked mean over L of states [B, L, D] with valid [B, L] -> [B, D]. Consumes both. */
export function pooledCondition(states: JaxArray, valid: JaxArray): JaxArray {
  const [B, L] = valid.shape;
  const w = valid.astype(np.float32).reshape([B, L, 1]);
  const total = states.mul(w.ref).sum(1); // [B, D]
  return total.div(np.maximum(w.sum(1), 1)); // an all-padding row pools to 0
}
