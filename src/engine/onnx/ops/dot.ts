/**
 * `dot`: out[...] = Σ_k x[..., k] · y[..., k], the leading axes broadcast numpy-style. jax-js
 * lowers matmul, einsum and their gradients to it through broadcasts, which arrive lazy
 * (value.ts), so each leading axis is, by the actual ONNX extents of the two sides:
 *   batch (both full), M (x only), N (y only) or trivial (neither: the output stays lazy there).
 * That is a batched MatMul [B, M, K] × [B, K, N] (a Gemm when there is no batch) after two
 * transposes and reshapes, never an expanded broadcast.
 */
import type { GraphBuilder } from "../graph.ts";
import { castAll, type Rule } from "../rule.ts";
import { materialize, reshape, transpose, unsqueeze, type Val } from "../value.ts";

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

function dot(g: GraphBuilder, x0: Val, y0: Val, outShape: number[]): Val {
  const r = outShape.length + 1;
  const lift = (v: Val) =>
    unsqueeze(
      g,
      v,
      Array.from({ length: r - v.shape.length }, (_, i) => i),
    );
  // A contraction axis that is itself broadcast must be real on both sides.
  let x = materialize(g, lift(x0), [r - 1]);
  let y = materialize(g, lift(y0), [r - 1]);
  const K = x.shape[r - 1];
  const kind = outShape.map((n, i) => {
    const [a, b] = [x.actual[i], y.actual[i]];
    if (n === 1 || (a === 1 && b === 1)) return "T";
    if (a === n && b === n) return "B";
    return a === n ? "M" : "N";
  });
  const axes = (k: string) => kind.flatMap((c, i) => (c === k ? [i] : []));
  const [Bd, Md, Nd, Td] = [axes("B"), axes("M"), axes("N"), axes("T")];
  const size = (ds: number[]) => prod(ds.map((d) => outShape[d]));
  const [nB, nM, nN] = [size(Bd), size(Md), size(Nd)];
  // x -> [B, M, K] and y -> [B, N, K]: the other side's axes are 1 on each, so they vanish.
  x = transpose(g, x, [...Bd, ...Md, ...Nd, ...Td, r - 1]);
  y = transpose(g, y, [...Bd, ...Nd, ...Md, ...Td, r - 1]);
  let out: string;
  const isF = x.dtype === "float32" || x.dtype === "float64";
  if (nB === 1 && isF) {
    const xm = reshape(g, { ...x, shape: x.actual }, [nM, K]);
    const ym = reshape(g, { ...y, shape: y.actual }, [nN, K]);
    out = g.op("Gemm", [xm.name, ym.name], { transB: 1 });
  } else {
    const xm = reshape(g, { ...x, shape: x.actual }, [nB, nM, K]);
    const ym = reshape(g, { ...y, shape: y.actual }, [nB, nN, K]);
    const yt = g.op("Transpose", [ym.name], { perm: [0, 2, 1] });
    out = g.op("MatMul", [xm.name, yt]);
  }
  // [B, M, N] -> the output axes, trivial ones as size 1.
  const order = [...Bd, ...Md, ...Nd, ...Td];
  const dims = order.map((d) => (kind[d] === "T" ? 1 : outShape[d]));
  const split = g.op("Reshape", [out, g.ints(dims)]);
  const perm = outShape.map((_, i) => order.indexOf(i));
  const name = perm.every((p, i) => p === i) ? split : g.op("Transpose", [split], { perm });
  const actual = outShape.map((n, i) => (kind[i] === "T" ? 1 : n));
  return { name, shape: [...outShape], actual, dtype: x.dtype };
}

export const dotRules: Record<string, Rule> = {
  dot: (g, ins, _p, [o]) => {
    const [x, y] = castAll(g, ins, o.dtype);
    return [dot(g, x, y, o.shape)];
  },
};
