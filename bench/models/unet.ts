/**
 * The bench's reference U-Net: the calibration U-Net of docs/DESIGN.md, "Calibration" and
 * `UNet` in bench/torch_peer.py, built from src/engine/nn blocks. NHWC throughout.
 *
 *   c = MLP_silu(timestep(t * 1000)) + Linear(mean_s ctx)           conditioning [B, E]
 *   32x32: stem conv -> ResBlock(C1)                         = s32
 *   16x16: stride-2 conv -> ResBlock(C2)                     = s16
 *    8x8:  stride-2 conv -> ResBlock(C3) = s8 -> ResBlock(C3) -> self+cross attention
 *          -> ResBlock([h, s8] -> C3)
 *   16x16: nearest 2x + conv -> ResBlock([h, s16] -> C2)
 *   32x32: nearest 2x + conv -> ResBlock([h, s32] -> C1) -> GroupNorm, SiLU, conv -> 3
 *   loss = MSE against the velocity target v.
 *
 * ResBlock(x, c) = skip(x) + conv2(silu(gn2(h) * (1 + scale) + shift)), h = conv1(silu(gn1(x))),
 * [scale, shift] = Linear(c); gn2 has no affine; skip is a 1x1 conv when widths differ.
 *
 * Parameter-for-parameter the same as the peer. Layout-level differences that change neither
 * the parameter count nor the flops: the sinusoidal embedding is [cos, sin] here and [sin, cos]
 * there (a permutation of the first MLP's inputs); stride-2 convs pad XLA-style (0 before,
 * 1 after) where PyTorch pads 1 on both sides; the 1x1 skip conv is a per-pixel `linear` (a 1x1
 * im2col would only add a copy).
 */
import { type JaxArray, nn, numpy as np } from "../../src/engine/jax.ts";
import { mse } from "../../src/engine/losses.ts";
import {
  type AttentionParams,
  attention,
  type Conv2dParams,
  conv2d,
  type GroupNormParams,
  groupNorm,
  initAttention,
  initConv2d,
  initGroupNorm,
  initLayerNorm,
  initLinear,
  initMlp,
  initResBlock,
  type LayerNormParams,
  type LinearParams,
  layerNorm,
  linear,
  type MlpParams,
  mlp,
  type ResBlockParams,
  resBlock,
  timestepEmbedding,
  upsampleNearest2x,
} from "../../src/engine/nn/index.ts";
import { jaxKey, Rng, splitKey } from "../../src/engine/rng.ts";
import type { Batch, HostBatch, Task } from "../../src/engine/train-step.ts";
import type { ParamTree } from "../../src/engine/tree.ts";

export type UNetBenchConfig = {
  /** Image side (32) and channels per level (32, 64, 96 at 32/16/8). */
  image: number;
  channels: [number, number, number];
  /** Width of the time/condition embedding. */
  embDim: number;
  /** Condition sequence [B, ctxLen, ctxDim]. */
  ctxLen: number;
  ctxDim: number;
  heads: number;
  groups: number;
};

/** The configuration torch_peer.py runs (batch 32). */
export const UNET_BENCH: UNetBenchConfig = {
  image: 32,
  channels: [32, 64, 96],
  embDim: 128,
  ctxLen: 16,
  ctxDim: 128,
  heads: 4,
  groups: 8,
};
export const UNET_BENCH_BATCH = 32;
/** Micro-batch the bench uses: batch 32 in one jitted pass exceeds wasm's 4 GiB. */
export const UNET_BENCH_MICRO_BATCH = 16;

const LN_EPS = 1e-5;
const GN_EPS = 1e-5;

type AttnBlockParams = {
  ln1: LayerNormParams;
  self: AttentionParams;
  ln2: LayerNormParams;
  cross: AttentionParams;
};

export type UNetParams = {
  time: MlpParams; // [E, E] -> [E, E]
  pool: LinearParams; // [ctxDim, E]
  stem: Conv2dParams;
  r32a: ResBlockParams;
  down1: Conv2dParams;
  r16a: ResBlockParams;
  down2: Conv2dParams;
  r8a: ResBlockParams;
  mid: ResBlockParams;
  attn: AttnBlockParams;
  r8b: ResBlockParams;
  up1: Conv2dParams;
  r16b: ResBlockParams;
  up2: Conv2dParams;
  r32b: ResBlockParams;
  outGn: GroupNormParams;
  out: Conv2dParams; // [9*C1, 3]
};

/** Parameters in closed form (PyTorch's count for the same config). */
export function unetParamCount(c: UNetBenchConfig): number {
  const [c1, c2, c3] = c.channels;
  const E = c.embDim;
  const conv = (k: number, i: number, o: number) => k * k * i * o + o;
  const res = (i: number, o: number) =>
    2 * i + conv(3, i, o) + conv(3, o, o) + (E * 2 * o + 2 * o) + (i !== o ? i * o + o : 0);
  // two LayerNorms; self q, k, v, o and cross q, o (C3 -> C3); cross k, v (ctxDim -> C3)
  const attn = 2 * (2 * c3) + 6 * (c3 * c3 + c3) + 2 * (c.ctxDim * c3 + c3);
  return (
    2 * (E * E + E) + // time MLP
    (c.ctxDim * E + E) + // condition pooling
    conv(3, 3, c1) +
    res(c1, c1) +
    conv(3, c1, c2) +
    res(c2, c2) +
    conv(3, c2, c3) +
    2 * res(c3, c3) +
    attn +
    res(2 * c3, c3) +
    conv(3, c3, c2) +
    res(2 * c2, c2) +
    conv(3, c2, c1) +
    res(2 * c1, c1) +
    2 * c1 +
    conv(3, c1, 3)
  );
}

export function initUNet(c: UNetBenchConfig, seed: number): UNetParams {
  const [c1, c2, c3] = c.channels;
  const E = c.embDim;
  const k = splitKey(jaxKey(seed), 17);
  return {
    time: initMlp(k[0], E, E),
    pool: initLinear(k[1], c.ctxDim, E),
    stem: initConv2d(k[2], 3, 3, c1),
    r32a: initResBlock(k[3], c1, c1, E),
    down1: initConv2d(k[4], 3, c1, c2),
    r16a: initResBlock(k[5], c2, c2, E),
    down2: initConv2d(k[6], 3, c2, c3),
    r8a: initResBlock(k[7], c3, c3, E),
    mid: initResBlock(k[8], c3, c3, E),
    attn: {
      ln1: initLayerNorm(c3),
      self: initAttention(k[9], { dim: c3, heads: c.heads }),
      ln2: initLayerNorm(c3),
      cross: initAttention(k[10], { dim: c3, heads: c.heads, contextDim: c.ctxDim }),
    },
    r8b: initResBlock(k[11], 2 * c3, c3, E),
    up1: initConv2d(k[12], 3, c3, c2),
    r16b: initResBlock(k[13], 2 * c2, c2, E),
    up2: initConv2d(k[14], 3, c2, c1),
    r32b: initResBlock(k[15], 2 * c1, c1, E),
    outGn: initGroupNorm(c1),
    out: initConv2d(k[16], 3, c1, 3),
  };
}

/** Self-attention over the grid, then cross-attention to ctx [B, S, Dc]. x [B, H, W, C]. */
function attnBlock(p: AttnBlockParams, x: JaxArray, ctx: JaxArray, heads: number): JaxArray {
  const shape = x.shape;
  const [B, H, W, C] = shape;
  let s = x.reshape([B, H * W, C]);
  s = s.ref.add(attention(p.self, layerNorm(p.ln1, s, LN_EPS), { heads }));
  s = s.ref.add(attention(p.cross, layerNorm(p.ln2, s, LN_EPS), { heads, context: ctx }));
  return s.reshape(shape);
}

/**
 * The predicted velocity [B, H, W, 3] for x [B, H, W, 3], t float32 [B] in [0, 1] and the
 * condition ctx [B, S, Dc]. Consumes p, x, t and ctx.
 */
export function unetForward(
  c: UNetBenchConfig,
  p: UNetParams,
  x: JaxArray,
  t: JaxArray,
  ctx: JaxArray,
): JaxArray {
  const G = c.groups;
  const temb = timestepEmbedding(t.mul(1000), c.embDim); // [B, E]
  const cond = mlp(p.time, temb, "silu").add(linear(p.pool, ctx.ref.mean(1))); // [B, E]
  const s32 = resBlock(p.r32a, conv2d(p.stem, x), cond.ref, G);
  const s16 = resBlock(p.r16a, conv2d(p.down1, s32.ref, { stride: 2 }), cond.ref, G);
  const s8 = resBlock(p.r8a, conv2d(p.down2, s16.ref, { stride: 2 }), cond.ref, G);
  let h = attnBlock(p.attn, resBlock(p.mid, s8.ref, cond.ref, G), ctx, c.heads);
  h = resBlock(p.r8b, np.concatenate([h, s8], -1), cond.ref, G);
  h = np.concatenate([conv2d(p.up1, upsampleNearest2x(h)), s16], -1);
  h = resBlock(p.r16b, h, cond.ref, G);
  h = np.concatenate([conv2d(p.up2, upsampleNearest2x(h)), s32], -1);
  h = resBlock(p.r32b, h, cond, G);
  return conv2d(p.out, nn.silu(groupNorm(p.outGn, h, G, GN_EPS)));
}

/** MSE against the velocity target. batch: x, v [B, H, W, 3], t [B], ctx [B, S, Dc]. */
export function unetLoss(c: UNetBenchConfig, p: UNetParams, batch: Batch): JaxArray {
  return mse(unetForward(c, p, batch.x, batch.t, batch.ctx), batch.v);
}

/** Task factory (also loaded by data-parallel workers through a TaskSpec). */
export function unetTask(c: UNetBenchConfig): Task {
  return {
    init: (seed) => initUNet(c, seed) as unknown as ParamTree,
    loss: (p, batch) => unetLoss(c, p as unknown as UNetParams, batch),
  };
}

/**
 * A deterministic synthetic batch, distributed as the peer's: x, v, ctx standard normal,
 * t uniform in [0, 1).
 */
export function unetBatch(c: UNetBenchConfig, batch: number, seed = 0): HostBatch {
  const rng = new Rng(`bench/unet:${seed}`);
  const normal = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.normal();
    return a;
  };
  const img = [batch, c.image, c.image, 3];
  const nImg = batch * c.image * c.image * 3;
  const t = new Float32Array(batch);
  for (let i = 0; i < batch; i++) t[i] = rng.float();
  return {
    x: { dtype: "float32", shape: img, data: normal(nImg) },
    t: { dtype: "float32", shape: [batch], data: t },
    ctx: {
      dtype: "float32",
      shape: [batch, c.ctxLen, c.ctxDim],
      data: normal(batch * c.ctxLen * c.ctxDim),
    },
    v: { dtype: "float32", shape: [...img], data: normal(nImg) },
  };
}
