/**
 * Normalisation layers: LayerNorm and RMSNorm over the last axis, GroupNorm over channel
 * groups of NHWC (or [B, T, C]) activations. Their inits are deterministic, so they take no key.
 */
import { type JaxArray, numpy as np } from "../jax.ts";

/** scale/bias are optional: adaLN blocks use a LayerNorm without its own affine. */
export type LayerNormParams = {
  scale?: JaxArray; // [D]
  bias?: JaxArray; // [D]
};

export type RMSNormParams = {
  scale: JaxArray; // [D]
};

export type GroupNormParams = {
  scale: JaxArray; // [C]
  bias: JaxArray; // [C]
};

export function initLayerNorm(dim: number, opts: { affine?: boolean } = {}): LayerNormParams {
  return opts.affine === false ? {} : { scale: np.ones([dim]), bias: np.zeros([dim]) };
}

export function initRMSNorm(dim: number): RMSNormParams {
  return { scale: np.ones([dim]) };
}

export function initGroupNorm(channels: number): GroupNormParams {
  return { scale: np.ones([channels]), bias: np.zeros([channels]) };
}

/** (x - mean) / sqrt(var + eps) over `axes`, biased variance as in LayerNorm. Consumes x. */
function standardizeOver(x: JaxArray, axes: number[], eps: number): JaxArray {
  const centred = x.ref.sub(x.mean(axes, { keepdims: true }));
  const variance = np.square(centred.ref).mean(axes, { keepdims: true });
  return centred.mul(np.reciprocal(np.sqrt(variance.add(eps))));
}

/** Parameter-free LayerNorm over the last axis. x [..., D] -> [..., D]. */
export function normalize(x: JaxArray, eps = 1e-6): JaxArray {
  return standardizeOver(x, [-1], eps);
}

/** x [..., D] -> [..., D]. */
export function layerNorm(p: LayerNormParams, x: JaxArray, eps = 1e-6): JaxArray {
  let y = normalize(x, eps);
  if (p.scale) y = y.mul(p.scale);
  if (p.bias) y = y.add(p.bias);
  return y;
}

/** x [..., D] -> x / rms(x) * scale. */
export function rmsNorm(p: RMSNormParams, x: JaxArray, eps = 1e-6): JaxArray {
  const ms = np.square(x.ref).mean(-1, { keepdims: true });
  return x.mul(np.reciprocal(np.sqrt(ms.add(eps)))).mul(p.scale);
}

/**
 * GroupNorm (Wu & He, 2018). x [B, ..., C] (NHWC or [B, T, C]); statistics per sample over
 * all positions and the C/groups channels of each group.
 */
export function groupNorm(p: GroupNormParams, x: JaxArray, groups: number, eps = 1e-5): JaxArray {
  const shape = x.shape;
  const B = shape[0];
  const C = shape[shape.length - 1];
  if (C % groups !== 0) throw new Error(`groupNorm: ${C} channels not divisible by ${groups}`);
  const g = x.reshape([B, -1, groups, C / groups]); // [B, P, G, C/G]
  return standardizeOver(g, [1, 3], eps).reshape(shape).mul(p.scale).add(p.bias);
}

/**
 * GroupNorm without affine parameters (PyTorch `GroupNorm(g, C, affine=False)`), for blocks whose
 * modulation supplies scale and shift. x [B, ..., C]. Consumes x.
 */
export function groupNormPlain(x: JaxArray, groups: number, eps = 1e-5): JaxArray {
  const shape = x.shape;
  const B = shape[0];
  const C = shape[shape.length - 1];
  if (C % groups !== 0) throw new Error(`groupNorm: ${C} channels not divisible by ${groups}`);
  return standardizeOver(x.reshape([B, -1, groups, C / groups]), [1, 3], eps).reshape(shape);
}
