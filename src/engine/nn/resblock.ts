/**
 * The convolutional residual block of diffusion U-Nets, with ADM's scale-shift norm (Dhariwal &
 * Nichol, 2021): the flow family's U-Net and the bench's reference U-Net (the PyTorch peer's
 * model) are both built from it. NHWC.
 *
 *   h   = conv1(silu(gn1(x)))
 *   out = skip(x) + conv2(silu(gn2(h) · (1 + scale) + shift)),   [scale, shift] = Linear(e)
 *
 * gn2 has no affine (the modulation supplies it); skip is a per-pixel linear map (a 1×1 conv)
 * when the widths differ. `e` is the block's conditioning embedding [B, E] as the caller
 * prepares it (e.g. silu of the time + condition embedding).
 */
import { type JaxArray, nn } from "../jax.ts";
import { splitKey } from "../rng.ts";
import { type Conv2dParams, conv2d, initConv2d } from "./conv.ts";
import { initLinear, type LinearParams, linear } from "./linear.ts";
import { type GroupNormParams, groupNorm, groupNormPlain, initGroupNorm } from "./norm.ts";

export type ResBlockParams = {
  gn1: GroupNormParams; // [Cin]
  conv1: Conv2dParams; // [9*Cin, Cout]
  mod: LinearParams; // [E, 2*Cout]
  conv2: Conv2dParams; // [9*Cout, Cout]
  skip?: LinearParams; // [Cin, Cout], only when Cin != Cout
};

/** Consumes key. */
export function initResBlock(
  key: JaxArray,
  cin: number,
  cout: number,
  emb: number,
): ResBlockParams {
  const [k1, k2, km, ks] = splitKey(key, 4);
  const p: ResBlockParams = {
    gn1: initGroupNorm(cin),
    conv1: initConv2d(k1, 3, cin, cout),
    mod: initLinear(km, emb, 2 * cout),
    conv2: initConv2d(k2, 3, cout, cout),
  };
  if (cin !== cout) p.skip = initLinear(ks, cin, cout);
  else ks.dispose();
  return p;
}

/** x [B, H, W, Cin], e [B, E] -> [B, H, W, Cout]. Consumes p, x and e. */
export function resBlock(
  p: ResBlockParams,
  x: JaxArray,
  e: JaxArray,
  groups: number,
  eps = 1e-5,
): JaxArray {
  const B = x.shape[0];
  const h = conv2d(p.conv1, nn.silu(groupNorm(p.gn1, x.ref, groups, eps))); // [B, H, W, Cout]
  const C = h.shape[3];
  const mod = linear(p.mod, e).reshape([B, 1, 1, 2 * C]);
  const scale = mod.ref.slice([], [], [], [0, C]);
  const shift = mod.slice([], [], [], [C, 2 * C]);
  const h2 = conv2d(p.conv2, nn.silu(groupNormPlain(h, groups, eps).mul(scale.add(1)).add(shift)));
  return (p.skip ? linear(p.skip, x) : x).add(h2);
}
