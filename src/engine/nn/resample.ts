/**
 * Reshape-only resampling for NHWC images: space-to-depth / pixel shuffle (depth-to-space),
 * patchify / unpatchify, nearest-neighbour 2x upsampling and 2x2 average pooling. They replace
 * strided and transposed convolutions, which are slow in jax-js on wasm
 * (docs/ENGINE.md). Channel layout of a block is (dy, dx, c), c fastest,
 * matching TensorFlow's space_to_depth and the (p, p, C) patch order of ViT/MAE.
 */
import { type JaxArray, numpy as np } from "../jax.ts";

function checkDivisible(what: string, H: number, W: number, r: number): void {
  if (H % r !== 0 || W % r !== 0) throw new Error(`${what}: ${H}x${W} not divisible by ${r}`);
}

/** x [B, H, W, C] -> [B, H/r, W/r, r*r*C]. */
export function spaceToDepth(x: JaxArray, r: number): JaxArray {
  const [B, H, W, C] = x.shape;
  checkDivisible("spaceToDepth", H, W, r);
  return x
    .reshape([B, H / r, r, W / r, r, C])
    .transpose([0, 1, 3, 2, 4, 5]) // [B, H/r, W/r, r, r, C]
    .reshape([B, H / r, W / r, r * r * C]);
}

/** Pixel shuffle (Shi et al., 2016): x [B, H, W, r*r*C] -> [B, H*r, W*r, C]. */
export function depthToSpace(x: JaxArray, r: number): JaxArray {
  const [B, H, W, D] = x.shape;
  if (D % (r * r) !== 0) throw new Error(`depthToSpace: ${D} channels not divisible by ${r * r}`);
  const C = D / (r * r);
  return x
    .reshape([B, H, W, r, r, C])
    .transpose([0, 1, 3, 2, 4, 5]) // [B, H, r, W, r, C]
    .reshape([B, H * r, W * r, C]);
}

/** Alias: pixel-shuffle upsampling is depth-to-space. */
export const pixelShuffle = depthToSpace;

/** Image to patch tokens: x [B, H, W, C] -> [B, (H/p)(W/p), p*p*C], row-major patches. */
export function patchify(x: JaxArray, p: number): JaxArray {
  const [B, H, W, C] = x.shape;
  return spaceToDepth(x, p).reshape([B, (H / p) * (W / p), p * p * C]);
}

/** Patch tokens back to an image: [B, h*w, p*p*C] -> [B, h*p, w*p, C] for an h x w grid. */
export function unpatchify(tokens: JaxArray, p: number, h: number, w: number): JaxArray {
  const [B, T, D] = tokens.shape;
  if (T !== h * w) throw new Error(`unpatchify: ${T} tokens for a ${h}x${w} grid`);
  return depthToSpace(tokens.reshape([B, h, w, D]), p);
}

/** Nearest-neighbour 2x upsampling: [B, H, W, C] -> [B, 2H, 2W, C]. */
export function upsampleNearest2x(x: JaxArray): JaxArray {
  const [B, H, W, C] = x.shape;
  return np
    .broadcastTo(x.reshape([B, H, 1, W, 1, C]), [B, H, 2, W, 2, C])
    .reshape([B, 2 * H, 2 * W, C]);
}

/** 2x2 average pooling, stride 2: [B, H, W, C] -> [B, H/2, W/2, C]. */
export function avgPool2x2(x: JaxArray): JaxArray {
  const [B, H, W, C] = x.shape;
  checkDivisible("avgPool2x2", H, W, 2);
  return x.reshape([B, H / 2, 2, W / 2, 2, C]).mean([2, 4]);
}
