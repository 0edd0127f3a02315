/**
 * The convolutional autoencoder both generation tokenizers share (KL-VAE in vae.ts, VQ-VAE in
 * vq.ts): 32×32×3 → 8×8×D → 32×32×3, downsampling ×4 like the KL-f4/VQ-f4 autoencoders of
 * latent diffusion (Rombach et al., 2022), shrunk to the 32×32 world.
 *
 * Shape of the nets (NHWC; every conv is the engine's im2col conv2d):
 *   encoder: space-to-depth 2 (32×32×3 → 16×16×12, lossless) → conv3 → c16 → [resblocks at 16×16]
 *            → conv3 stride 2 → c8 → resblocks at 8×8 → GroupNorm, SiLU → conv3 → outDim
 *   decoder: conv3 inDim → c8 → resblocks at 8×8 → nearest 2× + conv3 → c16 → resblocks at 16×16
 *            → GroupNorm, SiLU → conv1 → 4·head, pixel shuffle → 32×32×head → SiLU → conv3 → 3
 * Why this shape: the 32×32 level dominates the cost of im2col convolutions on wasm
 * (docs/DESIGN.md, "Calibration"), so the encoder enters by a lossless
 * space-to-depth and the decoder leaves by a pixel shuffle; a thin (head-channel) conv at 32×32
 * after the shuffle smooths the 2×2 block artefacts a bare depth-to-space head leaves
 * (calibration.md saw "speckled edges" without it). Upsampling is nearest + conv, never a
 * transposed conv (slow on wasm, docs/ENGINE.md).
 */
import { type JaxArray, nn } from "../engine/jax.ts";
import {
  type Conv2dParams,
  conv2d,
  depthToSpace,
  type GroupNormParams,
  groupNorm,
  initConv2d,
  initGroupNorm,
  spaceToDepth,
  upsampleNearest2x,
} from "../engine/nn/index.ts";
import { splitKey } from "../engine/rng.ts";

/** Widths of the conv autoencoder. */
export type ConvAeConfig = {
  /** Channels at 16×16 and at 8×8. */
  channels: [number, number];
  /** Residual blocks of the encoder at 16×16 and 8×8. */
  encoderBlocks: [number, number];
  /** Residual blocks of the decoder at 8×8 and 16×16. */
  decoderBlocks: [number, number];
  /** GroupNorm groups (must divide both channel counts). */
  groups: number;
  /** Channels of the decoder's 32×32 head after the pixel shuffle. */
  headChannels: number;
};

export type ResBlockParams = {
  norm1: GroupNormParams;
  conv1: Conv2dParams;
  norm2: GroupNormParams;
  conv2: Conv2dParams;
};

export type ConvEncoderParams = {
  stem: Conv2dParams;
  blocks16: ResBlockParams[];
  down: Conv2dParams;
  blocks8: ResBlockParams[];
  normOut: GroupNormParams;
  out: Conv2dParams;
};

export type ConvDecoderParams = {
  stem: Conv2dParams;
  blocks8: ResBlockParams[];
  up: Conv2dParams;
  blocks16: ResBlockParams[];
  normOut: GroupNormParams;
  toHead: Conv2dParams;
  head: Conv2dParams;
};

/**
 * Pre-activation residual block, channels unchanged (GroupNorm, SiLU, conv3, twice). The second
 * conv starts at zero so every block is the identity at init (as in Goyal et al., 2017's
 * zero-γ trick): a deep stack trains from step 0 without its activations blowing up.
 */
export function initResBlock(key: JaxArray, ch: number): ResBlockParams {
  const [k1, k2] = splitKey(key, 2);
  return {
    norm1: initGroupNorm(ch),
    conv1: initConv2d(k1, 3, ch, ch),
    norm2: initGroupNorm(ch),
    conv2: initConv2d(k2, 3, ch, ch, { init: "zeros" }),
  };
}

/** x [B, H, W, C] → [B, H, W, C]. Consumes x. */
export function resBlock(p: ResBlockParams, x: JaxArray, groups: number): JaxArray {
  let h = conv2d(p.conv1, nn.silu(groupNorm(p.norm1, x.ref, groups)));
  h = conv2d(p.conv2, nn.silu(groupNorm(p.norm2, h, groups)));
  return x.add(h);
}

/**
 * An empty block list has no leaves, so it does not survive a host round trip (checkpoints,
 * data-parallel workers): the forward passes read absent lists as empty.
 */
function initBlocks(key: JaxArray, n: number, ch: number): ResBlockParams[] {
  if (n === 0) {
    key.dispose();
    return [];
  }
  return splitKey(key, n).map((k) => initResBlock(k, ch));
}

function checkConfig(c: ConvAeConfig): void {
  for (const ch of c.channels)
    if (ch % c.groups !== 0)
      throw new Error(`conv AE: ${ch} channels not divisible by ${c.groups}`);
}

/** Encoder 32×32×3 → 8×8×outDim. Consumes key. */
export function initConvEncoder(key: JaxArray, c: ConvAeConfig, outDim: number): ConvEncoderParams {
  checkConfig(c);
  const [c16, c8] = c.channels;
  const [k1, k2, k3, k4, k5] = splitKey(key, 5);
  return {
    stem: initConv2d(k1, 3, 12, c16),
    blocks16: initBlocks(k2, c.encoderBlocks[0], c16),
    down: initConv2d(k3, 3, c16, c8),
    blocks8: initBlocks(k4, c.encoderBlocks[1], c8),
    normOut: initGroupNorm(c8),
    out: initConv2d(k5, 3, c8, outDim),
  };
}

/** x [B, 32, 32, 3] (roughly [-1, 1]) → [B, 8, 8, outDim]. Consumes x. */
export function convEncoder(p: ConvEncoderParams, x: JaxArray, c: ConvAeConfig): JaxArray {
  let h = conv2d(p.stem, spaceToDepth(x, 2)); // [B, 16, 16, c16]
  for (const b of p.blocks16 ?? []) h = resBlock(b, h, c.groups);
  h = conv2d(p.down, h, { stride: 2 }); // [B, 8, 8, c8]
  for (const b of p.blocks8 ?? []) h = resBlock(b, h, c.groups);
  return conv2d(p.out, nn.silu(groupNorm(p.normOut, h, c.groups)));
}

/** Decoder 8×8×inDim → 32×32×3. Consumes key. */
export function initConvDecoder(key: JaxArray, c: ConvAeConfig, inDim: number): ConvDecoderParams {
  checkConfig(c);
  const [c16, c8] = c.channels;
  const [k1, k2, k3, k4, k5, k6] = splitKey(key, 6);
  return {
    stem: initConv2d(k1, 3, inDim, c8),
    blocks8: initBlocks(k2, c.decoderBlocks[0], c8),
    up: initConv2d(k3, 3, c8, c16),
    blocks16: initBlocks(k4, c.decoderBlocks[1], c16),
    normOut: initGroupNorm(c16),
    toHead: initConv2d(k5, 1, c16, 4 * c.headChannels),
    head: initConv2d(k6, 3, c.headChannels, 3),
  };
}

/** z [B, 8, 8, inDim] → [B, 32, 32, 3] (the encoder's pixel range). Consumes z. */
export function convDecoder(p: ConvDecoderParams, z: JaxArray, c: ConvAeConfig): JaxArray {
  let h = conv2d(p.stem, z); // [B, 8, 8, c8]
  for (const b of p.blocks8 ?? []) h = resBlock(b, h, c.groups);
  h = conv2d(p.up, upsampleNearest2x(h)); // [B, 16, 16, c16]
  for (const b of p.blocks16 ?? []) h = resBlock(b, h, c.groups);
  h = conv2d(p.toHead, nn.silu(groupNorm(p.normOut, h, c.groups))); // 1×1: [B, 16, 16, 4·head]
  return conv2d(p.head, nn.silu(depthToSpace(h, 2))); // [B, 32, 32, 3]
}
