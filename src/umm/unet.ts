/**
 * The flow family's velocity network: a conditional U-Net in pixel space (the design that learns
 * on this CPU, docs/DESIGN.md, "Calibration"), NHWC throughout, every conv the engine's
 * im2col conv2d.
 *
 *   in  = [x_t, source · hasSource, hasSource]                       [B, 32, 32, 7]
 *   c   = MLP_silu(timestep(t · 1000)) + Linear(masked mean of the condition states)   [B, E]
 *   stem "s2d": space-to-depth 2 → [B, 16, 16, 28] → conv3 (calibration "design D": the first
 *               resblocks run at 16×16, the level that dominates the cost of im2col convs);
 *        "conv": conv3 at 32×32 (calibration "U-Net B").
 *   down: level i (each halves the grid): [stride-2 conv] → resBlocks × ResBlock   = skip_i
 *   bottom: ResBlock → attention (self and/or cross, per `selfAttention`/`crossAttention`)
 *   up:   level i (deepest first): ResBlock([h, skip_i]) → [attention] → [2× up: conv3 and
 *         nearest 2×, in the order `upsample` says]
 *   head: GroupNorm, SiLU → conv3 → 3 ("conv"), or → 12 + depth-to-space ("s2d",
 *         `headChannels` 0), or 1×1 → 4·hc, depth-to-space, SiLU, concat the 7 input channels,
 *         conv3 → 3 at 32×32 ("s2d", `headChannels` hc > 0): a thin full-resolution conv with
 *         the full-resolution long skip U-Net B has and design D lacks, against the 2×2 block
 *         artefacts of a bare depth-to-space head (calibration.md, "speckled edges").
 *
 * ResBlock(x, c) = skip(x) + conv2(silu(gn2(h) · (1 + scale) + shift)), h = conv1(silu(gn1(x))),
 * [scale, shift] = Linear(silu(c)) (ADM's scale-shift norm, Dhariwal & Nichol, 2021); gn2 has no
 * affine. The output conv starts at zero, so the untrained net predicts v = 0.
 *
 * Attention blocks are pre-LayerNorm residual: self-attention over the grid, then
 * cross-attention to the condition states with a key-padding mask from `valid`, so padding
 * positions of the condition never change the output.
 */
import { type JaxArray, nn, numpy as np } from "../engine/jax.ts";
import {
  type AttentionParams,
  attention,
  type Conv2dParams,
  conv2d,
  depthToSpace,
  type GroupNormParams,
  groupNorm,
  initAttention,
  initConv2d,
  initGroupNorm,
  initLayerNorm,
  initLinear,
  initMlp,
  initResBlock,
  keyPaddingMask,
  type LayerNormParams,
  type LinearParams,
  layerNorm,
  linear,
  type MlpParams,
  mlp,
  type ResBlockParams,
  resBlock,
  spaceToDepth,
  timestepEmbedding,
  upsampleNearest2x,
} from "../engine/nn/index.ts";
import { splitKey } from "../engine/rng.ts";
import { pooledCondition } from "./backbone.ts";

export type UNetConfig = {
  /** Image side (32). */
  image: number;
  stem: "s2d" | "conv";
  /** Channels per level, from the stem's grid (16×16 for s2d, 32×32 for conv) down by halves. */
  channels: number[];
  /** Residual blocks per level on the way down. */
  resBlocks: number;
  /** Width of the time/condition embedding c. */
  embDim: number;
  heads: number;
  groups: number;
  /** Width of the condition states. */
  conditionDim: number;
  /** Grid sides with self-attention / cross-attention to the condition. */
  selfAttention: number[];
  crossAttention: number[];
  /** s2d only: channels of the 32×32 head after the depth-to-space (0 = bare depth-to-space). */
  headChannels: number;
  /**
   * Decoder upsampling: "resize-conv" = nearest 2× then conv3 at the finer grid (ADM, the
   * calibration U-Net); "conv-resize" = conv3 at the coarser grid then nearest 2× (4× fewer
   * flops and im2col copies for the same weights).
   */
  upsample: "resize-conv" | "conv-resize";
};

/** x_t (3) + edit source (3) + hasSource (1). */
export const UNET_IN_CHANNELS = 7;

const LN_EPS = 1e-5;
const GN_EPS = 1e-5;

export type AttnBlockParams = {
  selfNorm?: LayerNormParams;
  self?: AttentionParams;
  crossNorm?: LayerNormParams;
  cross?: AttentionParams; // keys/values from [B, L, conditionDim]
};

export type DownLevelParams = {
  down?: Conv2dParams; // stride 2, absent on the first level
  blocks: ResBlockParams[];
};

export type UpLevelParams = {
  block: ResBlockParams; // [h, skip] -> C
  attn?: AttnBlockParams; // not on the bottom level (the mid block's attention is there)
  up?: Conv2dParams; // conv3 to the next level's width (see `upsample`), absent on the top level
};

export type UNetParams = {
  time: MlpParams; // [E, E] -> [E, E]
  pool: LinearParams; // [conditionDim, E]
  stem: Conv2dParams;
  down: DownLevelParams[];
  mid: ResBlockParams;
  midAttn?: AttnBlockParams;
  up: UpLevelParams[]; // deepest level first
  outNorm: GroupNormParams;
  /** s2d with a head: 1x1 conv to 4*headChannels before the depth-to-space. */
  toHead?: LinearParams;
  out: Conv2dParams; // zero-initialised
};

/** Space-to-depth factor of the stem. */
function stemFactor(c: UNetConfig): number {
  return c.stem === "s2d" ? 2 : 1;
}

/** Grid side of each level. */
export function levelSides(c: UNetConfig): number[] {
  const top = c.image / stemFactor(c);
  return c.channels.map((_, i) => top / 2 ** i);
}

export function checkUNetConfig(c: UNetConfig): void {
  if (c.channels.length < 1) throw new Error("unet: at least one level");
  const sides = levelSides(c);
  if (!sides.every((s) => Number.isInteger(s) && s >= 1))
    throw new Error(`unet: image ${c.image} does not halve ${c.channels.length} times`);
  for (const ch of c.channels) {
    if (ch % c.groups !== 0) throw new Error(`unet: ${ch} channels not divisible by ${c.groups}`);
    if (ch % c.heads !== 0) throw new Error(`unet: ${ch} channels not divisible by ${c.heads}`);
  }
  if (c.resBlocks < 1) throw new Error("unet: resBlocks must be >= 1");
}

/** Attention block for a level of `side`, or undefined when that level has none. */
function initAttnBlock(
  key: JaxArray,
  c: UNetConfig,
  side: number,
  dim: number,
): AttnBlockParams | undefined {
  const withSelf = c.selfAttention.includes(side);
  const withCross = c.crossAttention.includes(side);
  const [ks, kc] = splitKey(key, 2);
  const p: AttnBlockParams = {};
  if (withSelf) {
    p.selfNorm = initLayerNorm(dim);
    p.self = initAttention(ks, { dim, heads: c.heads });
  } else ks.dispose();
  if (withCross) {
    p.crossNorm = initLayerNorm(dim);
    p.cross = initAttention(kc, { dim, heads: c.heads, contextDim: c.conditionDim });
  } else kc.dispose();
  return withSelf || withCross ? p : undefined;
}

/** The output conv (zero-initialised) and the s2d head's 1x1 conv. Consumes key. */
function initHead(key: JaxArray, c: UNetConfig): Pick<UNetParams, "toHead" | "out"> {
  const c0 = c.channels[0];
  const zeros = { init: "zeros" } as const;
  if (c.stem === "conv") return { out: initConv2d(key, 3, c0, 3, zeros) };
  const f = stemFactor(c);
  const hc = c.headChannels;
  if (hc === 0) return { out: initConv2d(key, 3, c0, 3 * f * f, zeros) };
  const [kh, ko] = splitKey(key, 2);
  return {
    toHead: initLinear(kh, c0, f * f * hc),
    out: initConv2d(ko, 3, hc + UNET_IN_CHANNELS, 3, zeros),
  };
}

/** Consumes key. */
export function initUNet(key: JaxArray, c: UNetConfig): UNetParams {
  checkUNetConfig(c);
  const ch = c.channels;
  const n = ch.length;
  const E = c.embDim;
  const sides = levelSides(c);
  const f = stemFactor(c);
  const [kTime, kPool, kStem, kDown, kMid, kMidAttn, kUp, kOut] = splitKey(key, 8);
  const downKeys = splitKey(kDown, n);
  const down: DownLevelParams[] = downKeys.map((k, i) => {
    const ks = splitKey(k, c.resBlocks + 1);
    const level: DownLevelParams = {
      blocks: ks.slice(1).map((kb) => initResBlock(kb, ch[i], ch[i], E)),
    };
    if (i > 0) level.down = initConv2d(ks[0], 3, ch[i - 1], ch[i]);
    else ks[0].dispose();
    return level;
  });
  const upKeys = splitKey(kUp, n);
  const up: UpLevelParams[] = [];
  for (let i = n - 1; i >= 0; i--) {
    const [kb, ka, ku] = splitKey(upKeys[i], 3);
    const level: UpLevelParams = { block: initResBlock(kb, 2 * ch[i], ch[i], E) };
    // The bottom level's attention is the mid block's.
    let attn: AttnBlockParams | undefined;
    if (i < n - 1) attn = initAttnBlock(ka, c, sides[i], ch[i]);
    else ka.dispose();
    if (attn) level.attn = attn;
    if (i > 0) level.up = initConv2d(ku, 3, ch[i], ch[i - 1]);
    else ku.dispose();
    up.push(level);
  }
  const p: UNetParams = {
    time: initMlp(kTime, E, E),
    pool: initLinear(kPool, c.conditionDim, E),
    stem: initConv2d(kStem, 3, UNET_IN_CHANNELS * f * f, ch[0]),
    down,
    mid: initResBlock(kMid, ch[n - 1], ch[n - 1], E),
    up,
    outNorm: initGroupNorm(ch[0]),
    ...initHead(kOut, c),
  };
  const midAttn = initAttnBlock(kMidAttn, c, sides[n - 1], ch[n - 1]);
  if (midAttn) p.midAttn = midAttn;
  return p;
}

/** The condition as attention sees it: states [B, L, D], key mask boolean [B, 1, 1, L]. */
type Context = { states: JaxArray; mask: JaxArray };

/** x [B, H, W, C] -> [B, H, W, C]. Consumes p and x; borrows ctx. */
function attnBlock(p: AttnBlockParams, x: JaxArray, ctx: Context, heads: number): JaxArray {
  const shape = x.shape;
  const [B, H, W, C] = shape;
  let s = x.reshape([B, H * W, C]);
  if (p.self && p.selfNorm)
    s = s.ref.add(attention(p.self, layerNorm(p.selfNorm, s, LN_EPS), { heads }));
  if (p.cross && p.crossNorm) {
    const q = layerNorm(p.crossNorm, s.ref, LN_EPS);
    const opts = { heads, context: ctx.states.ref, mask: ctx.mask.ref };
    s = s.add(attention(p.cross, q, opts));
  }
  return s.reshape(shape);
}

export type UNetInputs = {
  /** x_t [B, H, W, 3]. */
  x: JaxArray;
  /** Flow time [B] in [0, 1]. */
  t: JaxArray;
  /** Edit source [B, H, W, 3] (ignored where hasSource is 0). */
  source: JaxArray;
  /** [B]: 1 on rows with a source. */
  hasSource: JaxArray;
  /** Condition states [B, L, conditionDim] and valid [B, L] (1 real, 0 padding). */
  states: JaxArray;
  valid: JaxArray;
};

/** Predicted velocity [B, H, W, 3]. Consumes p and every input. */
export function unetForward(c: UNetConfig, p: UNetParams, inp: UNetInputs): JaxArray {
  const G = c.groups;
  const [B, H, W] = inp.x.shape;
  const f = stemFactor(c);
  const has = inp.hasSource.astype(np.float32).reshape([B, 1, 1, 1]);
  const source = inp.source.mul(has.ref);
  const hasPlane = np.broadcastTo(has, [B, H, W, 1]);
  const full = np.concatenate([inp.x, source, hasPlane], -1); // [B, H, W, 7]
  const useHead = p.toHead !== undefined;
  const input = f > 1 ? spaceToDepth(useHead ? full.ref : full, f) : full; // [B, H/2, W/2, 28]

  const temb = timestepEmbedding(inp.t.mul(1000), c.embDim); // [B, E]
  const pooled = linear(p.pool, pooledCondition(inp.states.ref, inp.valid.ref));
  const cond = nn.silu(mlp(p.time, temb, "silu").add(pooled)); // silu(c) [B, E]
  const ctx: Context = { states: inp.states, mask: keyPaddingMask(inp.valid) };

  let h = conv2d(p.stem, input);
  const skips: JaxArray[] = [];
  for (const level of p.down) {
    if (level.down) h = conv2d(level.down, h, { stride: 2 });
    for (const b of level.blocks) h = resBlock(b, h, cond.ref, G);
    skips.push(h.ref);
  }
  h = resBlock(p.mid, h, cond.ref, G);
  if (p.midAttn) h = attnBlock(p.midAttn, h, ctx, c.heads);
  for (const level of p.up) {
    const skip = skips.pop() as JaxArray;
    h = resBlock(level.block, np.concatenate([h, skip], -1), cond.ref, G);
    if (level.attn) h = attnBlock(level.attn, h, ctx, c.heads);
    if (level.up)
      h =
        c.upsample === "resize-conv"
          ? conv2d(level.up, upsampleNearest2x(h))
          : upsampleNearest2x(conv2d(level.up, h));
  }
  cond.dispose();
  ctx.states.dispose();
  ctx.mask.dispose();

  h = nn.silu(groupNorm(p.outNorm, h, G, GN_EPS));
  if (f === 1) return conv2d(p.out, h);
  if (p.toHead) {
    const head = nn.silu(depthToSpace(linear(p.toHead, h), f)); // [B, H, W, hc]
    return conv2d(p.out, np.concatenate([head, full], -1));
  }
  return depthToSpace(conv2d(p.out, h), f);
}
