/**
 * `conv`: XLA's general dilated convolution (cross-correlation), x [N, C, ...spatial],
 * w [O, C, ...kernel] -> [N, O, ...]. jax-js's own gradient of a conv is two more convs:
 * - the input gradient has lhsDilation = the forward stride: zeros inserted between input
 *   elements (done here with reshape + pad), then an ordinary ONNX Conv;
 * - the weight gradient is a conv whose "kernel" is the output gradient (large) and whose
 *   output is the forward kernel (tiny, e.g. 3×3). ONNX Conv is slow at that shape, so when the
 *   kernel has more positions than the output, each output position becomes one strided slice
 *   (a "tap") and one Gemm.
 * Negative padding crops; positive padding goes to the Conv (or a Pad before the taps).
 */
import type { GraphBuilder } from "../graph.ts";
import { castAll, type Rule, UnsupportedPrimitiveError } from "../rule.ts";
import { full, materialize, slice, type Val } from "../value.ts";

type ConvParams = {
  vmapDims: number;
  strides: number[];
  padding: [number, number][];
  lhsDilation: number[];
  rhsDilation: number[];
};

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/** Insert (s − 1) zeros between neighbours along each spatial axis (x [N, C, ...]). */
function dilateInput(g: GraphBuilder, x: Val, dil: number[]): Val {
  if (dil.every((d) => d === 1)) return x;
  const [N, C, ...sp] = x.shape;
  const spread = sp.flatMap((n) => [n, 1]);
  const r = g.op("Reshape", [x.name, g.ints([N, C, ...spread])]);
  const pads = new Array(2 * (2 + 2 * sp.length)).fill(0);
  const half = 2 + 2 * sp.length;
  dil.forEach((s, i) => {
    pads[half + 2 + 2 * i + 1] = s - 1;
  });
  const p = g.op("Pad", [r, g.ints(pads), g.constant(x.dtype, [0], [])], { mode: "constant" });
  const wide = sp.map((n, i) => n * dil[i]);
  const m = full(g.op("Reshape", [p, g.ints([N, C, ...wide])]), [N, C, ...wide], x.dtype);
  const axes = sp.map((_, i) => 2 + i);
  return slice(
    g,
    m,
    axes,
    axes.map(() => 0),
    sp.map((n, i) => (n - 1) * dil[i] + 1),
  );
}

/** Crop negative padding; returns the value and the remaining (non-negative) padding. */
function cropNegative(g: GraphBuilder, x: Val, padding: [number, number][]) {
  const axes: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  padding.forEach(([lo, hi], i) => {
    if (lo < 0 || hi < 0) {
      axes.push(2 + i);
      starts.push(Math.max(0, -lo));
      ends.push(x.shape[2 + i] - Math.max(0, -hi));
    }
  });
  const pads = padding.map(([lo, hi]) => [Math.max(0, lo), Math.max(0, hi)] as [number, number]);
  return { x: slice(g, x, axes, starts, ends), pads };
}

/** Weight-gradient shape: one slice per output position, one Gemm. */
function convByTaps(
  g: GraphBuilder,
  x: Val,
  w: Val,
  p: ConvParams,
  pads: [number, number][],
  outShape: number[],
): Val {
  const [N, C] = x.shape;
  const [O, , ...ks] = w.shape;
  const outSp = outShape.slice(2);
  let xp = x;
  if (pads.some(([lo, hi]) => lo > 0 || hi > 0)) {
    const all = [0, 0, ...pads.map(([lo]) => lo), 0, 0, ...pads.map(([, hi]) => hi)];
    const name = g.op("Pad", [x.name, g.ints(all), g.constant(x.dtype, [0], [])], {
      mode: "constant",
    });
    const shape = x.shape.map((d, i) => (i < 2 ? d : d + pads[i - 2][0] + pads[i - 2][1]));
    xp = full(name, shape, x.dtype);
  }
  const axes = ks.map((_, i) => 2 + i);
  const cols = C * prod(ks);
  const positions = prod(outSp);
  const w2 = g.op("Reshape", [w.name, g.ints([O, cols])]);
  // One Gemm per tap: concatenating the taps first would copy every one of them again.
  const outs: string[] = [];
  for (let q = 0; q < positions; q++) {
    // Unravel q over the output's spatial grid.
    const pos: number[] = [];
    let rest = q;
    for (let i = outSp.length - 1; i >= 0; i--) {
      pos.unshift(rest % outSp[i]);
      rest = Math.floor(rest / outSp[i]);
    }
    const starts = pos.map((a, i) => a * p.strides[i]);
    const ends = starts.map((s, i) => s + (ks[i] - 1) * p.rhsDilation[i] + 1);
    const t = slice(g, xp, axes, starts, ends, p.rhsDilation); // [N, C, ...ks]
    const a = g.op("Reshape", [t.name, g.ints([N, cols])]);
    outs.push(g.op("Gemm", [a, w2], { transB: 1 })); // [N, O]
  }
  const y = outs.length === 1 ? outs[0] : g.op("Concat", outs, { axis: 0 }); // [P*N, O]
  const grid = g.op("Reshape", [y, g.ints([...outSp, N, O])]);
  const r = outSp.length;
  const perm = [r, r + 1, ...outSp.map((_, i) => i)];
  return full(g.op("Transpose", [grid], { perm }), outShape, x.dtype);
}

export const convRules: Record<string, Rule> = {
  conv: (g, ins, p: ConvParams, [o]) => {
    if (p.vmapDims !== 0)
      throw new UnsupportedPrimitiveError("conv", `vmapDims ${p.vmapDims} (grouped/vmapped)`);
    let [x, w] = castAll(g, ins, o.dtype).map((v) => materialize(g, v));
    x = dilateInput(g, x, p.lhsDilation);
    const c = cropNegative(g, x, p.padding);
    x = c.x;
    const ks = w.shape.slice(2);
    if (prod(ks) > prod(o.shape.slice(2))) return [convByTaps(g, x, w, p, c.pads, o.shape)];
    const name = g.op("Conv", [x.name, w.name], {
      strides: p.strides,
      dilations: p.rhsDilation,
      pads: [...c.pads.map(([lo]) => lo), ...c.pads.map(([, hi]) => hi)],
      kernel_shape: ks,
    });
    return [full(name, o.shape, o.dtype)];
  },
};
