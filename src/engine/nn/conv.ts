/**
 * 2-D convolution as im2col: pad, k*k shifted (strided) slices, one concatenation, one matmul.
 * jax-js's `lax.convGeneralDilated` is correct but ~30x slower on wasm and compiles for tens of
 * seconds (docs/ENGINE.md); pad/slice/concat/matmul all differentiate, so this
 * also trains. NHWC activations; weight [k*k*Cin, Cout] with rows in (ky, kx, cin) order, i.e. an
 * HWIO kernel flattened. Padding is XLA's "SAME": out = ceil(H / stride), total padding
 * max((out-1)*stride + k - H, 0), the smaller half before (so stride 2 on even H pads 0 before
 * and 1 after for k = 3).
 *
 * This function is the one place the model's convolutions are written, so it is also where the
 * engine chooses how: im2col on jax-js, or — while a program is traced for ONNX Runtime
 * (`withConvLowering("lax", …)`, src/engine/onnx/program.ts) — `lax.convGeneralDilated`, which
 * the ONNX translator maps to ONNX `Conv`. Both are the same function (tested).
 */
import { type JaxArray, lax, numpy as np } from "../jax.ts";
import { initWeight, type WeightInit } from "./init.ts";

export type Conv2dParams = {
  w: JaxArray; // [k*k*Cin, Cout]
  b?: JaxArray; // [Cout]
};

/** Consumes key. Default init "lecun" with fan-in k*k*Cin. */
export function initConv2d(
  key: JaxArray,
  k: number,
  cin: number,
  cout: number,
  opts: { bias?: boolean; init?: WeightInit } = {},
): Conv2dParams {
  if (k % 2 !== 1) throw new Error(`conv2d: kernel size must be odd, got ${k}`);
  const w = initWeight(key, [k * k * cin, cout], k * k * cin, cout, opts.init ?? "lecun");
  return opts.bias === false ? { w } : { w, b: np.zeros([cout]) };
}

/** XLA SAME padding for one spatial dim: [before, after, out]. */
export function samePadding(size: number, k: number, stride: number): [number, number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + k - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before, out];
}

/**
 * The im2col patches: x [B, H, W, C] -> [B, Ho, Wo, k*k*C], SAME padding. Consumes x.
 * Each tap is a slice of length out*stride from the padded input, reshaped to [out, stride]
 * and indexed at 0 (jax-js slices have no step); the padding after gets stride-1 extra rows so
 * the last such slice stays in bounds (those rows are never selected).
 */
export function im2col(x: JaxArray, k: number, stride = 1): JaxArray {
  const [B, H, W, C] = x.shape;
  const [ph0, ph1, Ho] = samePadding(H, k, stride);
  const [pw0, pw1, Wo] = samePadding(W, k, stride);
  const s = stride;
  const xp = np.pad(x, [
    [0, 0],
    [ph0, ph1 + s - 1],
    [pw0, pw1 + s - 1],
    [0, 0],
  ]);
  const cols: JaxArray[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let tap = xp.ref.slice([], [i, i + Ho * s], [j, j + Wo * s], []); // [B, Ho*s, Wo*s, C]
      if (s > 1) tap = tap.reshape([B, Ho, s, Wo, s, C]).slice([], [], 0, [], 0, []);
      cols.push(tap); // [B, Ho, Wo, C]
    }
  }
  xp.dispose();
  return cols.length === 1 ? cols[0] : np.concatenate(cols, -1);
}

/** How conv2d is written into the traced program. */
export type ConvLowering = "im2col" | "lax";
let lowering: ConvLowering = "im2col";

/** Run `f` (a trace) with conv2d lowered as `mode`; restores the previous mode after. */
export function withConvLowering<T>(mode: ConvLowering, f: () => T): T {
  const prev = lowering;
  lowering = mode;
  try {
    return f();
  } finally {
    lowering = prev;
  }
}

/** The same convolution as one `lax.convGeneralDilated` in NCHW/OIHW, SAME padding. */
function laxConv2d(w: JaxArray, x: JaxArray, k: number, stride: number): JaxArray {
  const [, H, W, cin] = x.shape;
  const cout = w.shape[1];
  const [ph0, ph1] = samePadding(H, k, stride);
  const [pw0, pw1] = samePadding(W, k, stride);
  const oihw = w.reshape([k, k, cin, cout]).transpose([3, 2, 0, 1]);
  const y = lax.convGeneralDilated(
    x.transpose([0, 3, 1, 2]),
    oihw,
    [stride, stride],
    [
      [ph0, ph1],
      [pw0, pw1],
    ],
  );
  return y.transpose([0, 2, 3, 1]);
}

/** x [B, H, W, Cin] -> [B, ceil(H/s), ceil(W/s), Cout]. Kernel size read from w. */
export function conv2d(p: Conv2dParams, x: JaxArray, opts: { stride?: number } = {}): JaxArray {
  const cin = x.shape[3];
  const [kkc, cout] = p.w.shape;
  const k = Math.round(Math.sqrt(kkc / cin));
  if (k * k * cin !== kkc) throw new Error(`conv2d: weight rows ${kkc} vs ${cin} input channels`);
  if (lowering === "lax") {
    const y = laxConv2d(p.w, x, k, opts.stride ?? 1);
    return p.b ? y.add(p.b) : y;
  }
  const cols = im2col(x, k, opts.stride ?? 1); // [B, Ho, Wo, k*k*Cin]
  const [B, Ho, Wo] = cols.shape;
  let y = np.matmul(cols.reshape([B * Ho * Wo, kkc]), p.w); // [B*Ho*Wo, Cout]
  if (p.b) y = y.add(p.b);
  return y.reshape([B, Ho, Wo, cout]);
}
