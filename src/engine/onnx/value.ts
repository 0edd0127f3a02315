/**
 * A jaxpr value on its way through ONNX. `shape` is the jax shape; `actual` is the shape the
 * ONNX tensor really has, the same rank, each dimension either equal or 1 where a `broadcast`
 * was left lazy. Materialising broadcasts made gradient graphs run out of memory, so a
 * broadcast is only an Unsqueeze and ONNX's numpy broadcasting does the rest; an op that needs
 * real extents (reshape, pad, concatenate, outputs) expands just the dimensions it needs.
 */
import { type DType, elemType, type GraphBuilder } from "./graph.ts";
import { readInOrder, recordView } from "./views.ts";

export type Val = { name: string; shape: number[]; actual: number[]; dtype: DType };

/** A value whose ONNX tensor has its full jax shape. */
export function full(name: string, shape: number[], dtype: DType): Val {
  return { name, shape: [...shape], actual: [...shape], dtype };
}

export function isLazy(v: Val): boolean {
  return v.actual.some((d, i) => d !== v.shape[i]);
}

/** Expand the lazy dimensions in `axes` (all when omitted) to their jax extent. */
export function materialize(g: GraphBuilder, v: Val, axes?: number[]): Val {
  const want = v.actual.map((d, i) => (axes === undefined || axes.includes(i) ? v.shape[i] : d));
  if (want.every((d, i) => d === v.actual[i])) return v;
  return { ...v, name: g.op("Expand", [v.name, g.ints(want)]), actual: want };
}

export function cast(g: GraphBuilder, v: Val, dtype: DType): Val {
  if (v.dtype === dtype) return v;
  return { ...v, name: g.op("Cast", [v.name], { to: elemType(dtype) }), dtype };
}

/** Reshape a materialised value. */
export function reshape(g: GraphBuilder, v: Val, shape: number[]): Val {
  const m = materialize(g, v);
  if (shape.length === m.shape.length && shape.every((d, i) => d === m.shape[i])) return m;
  const name = g.op("Reshape", [m.name, g.ints(shape)]);
  const nz = (xs: number[]) => xs.filter((d) => d !== 1).join(",");
  if (nz(shape) === nz(m.actual)) recordView(g, name, m, null);
  return full(name, shape, m.dtype);
}

/**
 * Permute axes (lazy dimensions stay lazy). A permutation that keeps the data's order (it only
 * moves size-1 axes, or undoes the transpose this value is a view of) is a Reshape, not a copy.
 */
export function transpose(g: GraphBuilder, v: Val, perm: number[]): Val {
  if (perm.every((p, i) => p === i)) return v;
  const actual = perm.map((p) => v.actual[p]);
  const name =
    readInOrder(g, v, perm, actual) ??
    swappedGemm(g, v, perm, actual) ??
    g.op("Transpose", [v.name], { perm });
  recordView(g, name, v, perm);
  return { name, shape: perm.map((p) => v.shape[p]), actual, dtype: v.dtype };
}

/** (A·B)ᵀ = Bᵀ·Aᵀ: the transpose of a 2-D Gemm's result is the Gemm with its operands swapped. */
function swappedGemm(g: GraphBuilder, v: Val, perm: number[], actual: number[]): string | null {
  const nz = v.actual.flatMap((d, i) => (d !== 1 ? [i] : []));
  if (nz.length !== 2) return null;
  const view = g.views.get(v.name);
  const src = view ? view.src : v.name;
  if (view && !(view.pos[0] === 0 && view.pos[1] === 1)) return null;
  const gm = g.gemms.get(src);
  const order = perm.filter((p) => v.actual[p] !== 1);
  if (!gm || order[0] !== nz[1] || order[1] !== nz[0]) return null;
  const t = g.op("Gemm", [gm.b, gm.a], { transA: 1 - gm.transB, transB: 1 - gm.transA });
  return g.op("Reshape", [t, g.ints(actual)]);
}

/** Unsqueeze new size-1 axes at output positions `axes` (sorted ascending). */
export function unsqueeze(g: GraphBuilder, v: Val, axes: number[]): Val {
  if (axes.length === 0) return v;
  const shape = [...v.shape];
  const actual = [...v.actual];
  for (const a of [...axes].sort((x, y) => x - y)) {
    shape.splice(a, 0, 1);
    actual.splice(a, 0, 1);
  }
  const name = g.op("Unsqueeze", [v.name, g.ints(axes)]);
  recordView(g, name, v, null);
  return { name, shape, actual, dtype: v.dtype };
}

/** Static slice [starts, ends) with steps on `axes` (a no-op slice is skipped). */
export function slice(
  g: GraphBuilder,
  v: Val,
  axes: number[],
  starts: number[],
  ends: number[],
  steps?: number[],
): Val {
  const shape = [...v.shape];
  const actual = [...v.actual];
  const keep: number[] = [];
  axes.forEach((a, i) => {
    const step = steps?.[i] ?? 1;
    const len = Math.max(0, Math.ceil((ends[i] - starts[i]) / step));
    const lazy = v.actual[a] === 1 && v.shape[a] !== 1;
    shape[a] = len;
    // A lazy (broadcast) axis holds one value for every index: any slice of it is that value.
    if (lazy && len > 0) return;
    actual[a] = len;
    if (!(starts[i] === 0 && ends[i] === v.shape[a] && step === 1)) keep.push(i);
  });
  if (keep.length === 0) return { ...v, shape, actual };
  const pick = (xs: number[]) => keep.map((i) => xs[i]);
  const inputs = [v.name, g.ints(pick(starts)), g.ints(pick(ends)), g.ints(pick(axes))];
  if (steps) inputs.push(g.ints(pick(steps)));
  return { name: g.op("Slice", inputs), shape, actual, dtype: v.dtype };
}

/** Numpy broadcasting of two shapes (right-aligned). */
export function broadcastShapes(a: number[], b: number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`onnx: cannot broadcast [${a}] with [${b}]`);
    out.push(x === 1 ? y : x);
  }
  return out;
}
