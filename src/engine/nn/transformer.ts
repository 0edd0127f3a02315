/**
 * The pre-LN transformer block (Xiong et al., 2020: x + attn(ln x); x + mlp(ln x)) shared by the
 * understanding ViT, the text tower and the unified model's backbone.
 */
import type { JaxArray } from "../jax.ts";
import { splitKey } from "../rng.ts";
import { type AttentionParams, attention, initAttention } from "./attention.ts";
import { initMlp, type MlpParams, mlp } from "./mlp.ts";
import { initLayerNorm, type LayerNormParams, layerNorm } from "./norm.ts";

export type BlockParams = {
  ln1: LayerNormParams;
  attn: AttentionParams;
  ln2: LayerNormParams;
  mlp: MlpParams;
};

export type TransformerShape = { dim: number; depth: number; heads: number; mlpRatio: number };

/** `depth` pre-LN blocks. Consumes key. */
export function initBlocks(key: JaxArray, s: TransformerShape): BlockParams[] {
  return splitKey(key, s.depth).map((k) => {
    const [ka, km] = splitKey(k, 2);
    return {
      ln1: initLayerNorm(s.dim),
      attn: initAttention(ka, { dim: s.dim, heads: s.heads }),
      ln2: initLayerNorm(s.dim),
      mlp: initMlp(km, s.dim, s.dim * s.mlpRatio),
    };
  });
}

/** x [B, T, D] through pre-LN blocks (x + attn(ln x); x + mlp(ln x)). mask: see engine masks. */
export function applyBlocks(
  blocks: BlockParams[],
  x: JaxArray,
  heads: number,
  mask?: JaxArray,
): JaxArray {
  let h = x;
  blocks.forEach((b, i) => {
    const m = mask === undefined ? undefined : i < blocks.length - 1 ? mask.ref : mask;
    h = h.ref.add(attention(b.attn, layerNorm(b.ln1, h), { heads, mask: m }));
    h = h.ref.add(mlp(b.mlp, layerNorm(b.ln2, h)));
  });
  if (blocks.length === 0) mask?.dispose();
  return h;
}
