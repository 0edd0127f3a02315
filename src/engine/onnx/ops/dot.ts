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
import { materialize, transpose, unsqueeze, type Val } from "../value.ts";
import { readInOrder } from "../views.ts";

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
  const x = materialize(g, lift(x0), [r - 1]);
  const y = materialize(g, lift(y0), [r - 1]);
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
  const K1 = r - 1;
  const gemm = nB === 1 && (x.dtype === "float32" || x.dtype === "float64");
  const dims = (a: number, b: number) => (gemm ? [a, b] : [nB, a, b]);
  // Each side as [B, n, K] (natural) or [B, K, n] (swapped) — the other side's axes are 1 here
  // and vanish — read in place when the data already has one of those orders (views.ts).
  // The view's source is tried in both orders before `v` itself, so a transpose jax-js wrote
  // only to bring K last is read through (Gemm transA/transB), never copied.
  const side = (v: Val, own: number[], n: number) => {
    for (const from of ["source", "self"] as const) {
      const natural = readInOrder(g, v, [...Bd, ...own, K1], dims(n, K), from);
      if (natural) return { name: natural, swapped: false };
      const swapped = readInOrder(g, v, [...Bd, K1, ...own], dims(K, n), from);
      if (swapped) return { name: swapped, swapped: true };
    }
    const t = transpose(g, v, [...Bd, ...own, K1]);
    return { name: g.op("Reshape", [t.name, g.ints(dims(n, K))]), swapped: false };
  };
  const xs = side(x, [...Md, ...Nd, ...Td], nM);
  const ys = side(y, [...Nd, ...Md, ...Td], nN);
  let out: string;
  if (gemm) {
    const t = { transA: xs.swapped ? 1 : 0, transB: ys.swapped ? 0 : 1 };
    out = g.op("Gemm", [xs.name, ys.name], t);
    g.gemms.set(out, { a: xs.name, b: ys.name, ...t });
  } else {
    // ORT fuses a last-two-axes Transpose into its MatMul (FusedMatMul).
    const swap = (n: string) => g.op("Transpose", [n], { perm: [0, 2, 1] });
    out = g.op("MatMul", [
      xs.swapped ? swap(xs.name) : xs.name,
      ys.swapped ? ys.name : swap(ys.name),
    ]);
  }
  // [B, M, N] -> the output axes, trivial ones as size 1.
  const order = [...Bd, ...Md, ...Nd, ...Td];
  const outDims = order.map((d) => (kind[d] === "T" ? 1 : outShape[d]));
  const same =
    gemm && outDims.filter((d) => d !== 1).join() === [nM, nN].filter((d) => d !== 1).join();
  const splitName = g.op("Reshape", [out, g.ints(outDims)]);
  // Only size-1 axes come or go: a view of the Gemm (a later transpose can swap its operands).
  if (same)
    g.views.set(splitName, {
      src: out,
      srcActual: [nM, nN],
      pos: outDims.filter((d) => d !== 1).map((_, j) => j),
    });
  const split: Val = {
    name: splitName,
    shape: order.map((d) => outShape[d]),
    actual: outDims,
    dtype: x.dtype,
  };
  // A transpose the next consumer may read through (views.ts).
  return transpose(
    g,
    split,
    outShape.map((_, i) => order.indexOf(i)),
  );
}

export const dotRules: Record<string, Rule> = {
  dot: (g, ins, _p, [o]) => {
    const [x, y] = castAll(g, ins, o.dtype);
    return [dot(g, x, y, o.shape)];
  },
};
