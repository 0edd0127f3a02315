/**
 * The understanding ViT (Dosovitskiy et al., 2021) for 32×32 renders: non-overlapping p×p
 * patches → linear patch embedding + fixed 2-D sin-cos positions (MAE/DiT) → pre-LN transformer
 * blocks (src/engine/nn/transformer.ts) → final LayerNorm. Also the average
 * pooling of the patch grid to the "bottleneck" resolution RecA conditions on
 * (docs/DESIGN.md, "RecA per architecture": the lowest resolution the understanding encoder accepts).
 */
import { type JaxArray, nn } from "../engine/jax.ts";
import {
  applyBlocks,
  type BlockParams,
  type Conv2dParams,
  conv2d,
  initBlocks,
  initConv2d,
  initLayerNorm,
  initLinear,
  type LayerNormParams,
  type LinearParams,
  layerNorm,
  linear,
  patchify,
  sincos2d,
  type TransformerShape,
} from "../engine/nn/index.ts";
import { splitKey } from "../engine/rng.ts";

/** One 3×3 convolution of the stem (GELU after it). */
export type StemConv = { channels: number; stride: 1 | 2 };

/**
 * `stem`: 3×3 convolutions run before patchifying (a convolutional stem; Xiao et al., 2021,
 * "Early convolutions help transformers see better": the ViT sees local shape from its first
 * step instead of having to learn it through attention). The product of the strides must divide
 * the patch size; the rest of the patch is taken by patchify.
 */
export type VitConfig = TransformerShape & {
  imageSize: number;
  patch: number;
  stem?: readonly StemConv[];
};

export type VitParams = {
  stem?: Conv2dParams[]; // [3*3*Cin, Cout] each
  patchEmbed: LinearParams; // [(p/2^s)²·C, D]
  blocks: BlockParams[];
  norm: LayerNormParams;
};

/** Side of the patch grid (8 for 32×32 images and 4-px patches). */
export function gridSide(cfg: Pick<VitConfig, "imageSize" | "patch">): number {
  return cfg.imageSize / cfg.patch;
}

/** Patch side left for patchify after the stem's strides. */
export function stemRemainder(cfg: Pick<VitConfig, "patch" | "stem">): number {
  const stride = (cfg.stem ?? []).reduce((s, c) => s * c.stride, 1);
  const f = cfg.patch / stride;
  if (!Number.isInteger(f) || f < 1)
    throw new Error(`the stem's total stride ${stride} does not divide patch ${cfg.patch}`);
  return f;
}

/** Consumes key. */
export function initVit(key: JaxArray, cfg: VitConfig): VitParams {
  const [kp, kb, ks] = splitKey(key, 3);
  const stem = cfg.stem ?? [];
  const f = stemRemainder(cfg);
  const chans = [3, ...stem.map((c) => c.channels)];
  const keys = splitKey(ks, Math.max(1, stem.length));
  const convs = stem.map((c, i) => initConv2d(keys[i], 3, chans[i], c.channels));
  if (stem.length === 0) keys[0].dispose();
  return {
    ...(convs.length ? { stem: convs } : {}),
    patchEmbed: initLinear(kp, f * f * chans[chans.length - 1], cfg.dim),
    blocks: initBlocks(kb, cfg),
    norm: initLayerNorm(cfg.dim),
  };
}

/**
 * Per-patch features: images [B, H, W, 3] in [0, 1] → [B, (H/p)(W/p), D], row-major patches,
 * after the final LayerNorm. Consumes images (and, outside jit, the params).
 */
export function vitPatchFeatures(p: VitParams, images: JaxArray, cfg: VitConfig): JaxArray {
  const g = gridSide(cfg);
  const [, H, W] = images.shape;
  if (H !== cfg.imageSize || W !== cfg.imageSize)
    throw new Error(`ViT: expected ${cfg.imageSize}×${cfg.imageSize} images, got ${H}×${W}`);
  let x = images.mul(2).sub(1); // centred, [B, H, W, 3]
  (p.stem ?? []).forEach((c, i) => {
    x = nn.gelu(conv2d(c, x, { stride: cfg.stem![i].stride }));
  });
  const tokens = linear(p.patchEmbed, patchify(x, stemRemainder(cfg))); // [B, g*g, D]
  const h = applyBlocks(p.blocks, tokens.add(sincos2d(g, g, cfg.dim)), cfg.heads);
  return layerNorm(p.norm, h);
}

/**
 * Average-pool a g×g token grid to r×r: [B, g*g, D] → [B, r*r, D] (r divides g). Consumes x.
 * This is the bottleneck: each output token is the mean of a (g/r)×(g/r) block of patches.
 */
export function poolGrid(x: JaxArray, g: number, r: number): JaxArray {
  if (!Number.isInteger(r) || r < 1 || g % r !== 0)
    throw new Error(`bottleneck resolution ${r} must divide the ${g}×${g} patch grid`);
  const [B, T, D] = x.shape;
  if (T !== g * g) throw new Error(`poolGrid: ${T} tokens for a ${g}×${g} grid`);
  if (r === g) return x;
  const k = g / r;
  return x
    .reshape([B, r, k, r, k, D])
    .mean([2, 4])
    .reshape([B, r * r, D]);
}
