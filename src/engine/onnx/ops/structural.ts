/**
 * Shape primitives: reshape, transpose, broadcast, shrink (static slice), pad, flip,
 * concatenate, split. Lazy broadcast dimensions (value.ts) survive wherever the op keeps a
 * dimension intact, and are expanded only where an op mixes or extends them.
 */
import type { GraphBuilder } from "../graph.ts";
import { type Rule, UnsupportedPrimitiveError } from "../rule.ts";
import { materialize, slice, transpose, unsqueeze, type Val } from "../value.ts";
import { recordView } from "../views.ts";

type Group = { ins: number[]; outs: number[] };

/**
 * Pairs the non-1 dimensions of a reshape into groups of equal element count; a group of one
 * input and one output dimension keeps that dimension (and its laziness) as it is.
 */
function reshapeGroups(from: number[], to: number[]): Group[] | null {
  const a = from.map((d, i) => [d, i]).filter(([d]) => d !== 1);
  const b = to.map((d, i) => [d, i]).filter(([d]) => d !== 1);
  const groups: Group[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i >= a.length || j >= b.length) return null;
    const grp: Group = { ins: [a[i][1]], outs: [b[j][1]] };
    let pa = a[i++][0];
    let pb = b[j++][0];
    while (pa !== pb) {
      if (pa < pb) {
        if (i >= a.length) return null;
        grp.ins.push(a[i][1]);
        pa *= a[i++][0];
      } else {
        if (j >= b.length) return null;
        grp.outs.push(b[j][1]);
        pb *= b[j++][0];
      }
    }
    groups.push(grp);
  }
  return groups;
}

function reshapeRule(g: GraphBuilder, x: Val, shape: number[]): Val {
  const groups = reshapeGroups(x.shape, shape);
  if (!groups) throw new Error(`onnx: reshape [${x.shape}] -> [${shape}] does not factor`);
  const expand: number[] = [];
  const actual = shape.map(() => 1);
  for (const { ins, outs } of groups) {
    if (ins.length === 1 && outs.length === 1) actual[outs[0]] = x.actual[ins[0]];
    else {
      expand.push(...ins);
      for (const o of outs) actual[o] = shape[o];
    }
  }
  const m = materialize(g, x, expand);
  const same = m.actual.length === actual.length && m.actual.every((d, i) => d === actual[i]);
  if (same) return { name: m.name, shape: [...shape], actual, dtype: x.dtype };
  const name = g.op("Reshape", [m.name, g.ints(actual)]);
  // Only size-1 axes come or go: the data keeps its order (views.ts).
  if (expand.length === 0 && groups.every((gr) => gr.ins.length === 1 && gr.outs.length === 1))
    recordView(g, name, m, null);
  return { name, shape: [...shape], actual, dtype: x.dtype };
}

function padRule(g: GraphBuilder, x: Val, width: [number, number][]): Val {
  // Negative widths crop.
  const cropAxes: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  width.forEach(([lo, hi], a) => {
    if (lo < 0 || hi < 0) {
      cropAxes.push(a);
      starts.push(Math.max(0, -lo));
      ends.push(x.shape[a] - Math.max(0, -hi));
    }
  });
  let v = slice(g, x, cropAxes, starts, ends);
  const pos = width.map(([lo, hi]) => [Math.max(0, lo), Math.max(0, hi)]);
  const padded = pos.map(([lo, hi], a) => (lo > 0 || hi > 0 ? a : -1)).filter((a) => a >= 0);
  if (padded.length === 0) return v;
  v = materialize(g, v, padded);
  const pads = [...pos.map(([lo]) => lo), ...pos.map(([, hi]) => hi)];
  const zero = g.constant(v.dtype, [0], []);
  const name = g.op("Pad", [v.name, g.ints(pads), zero], { mode: "constant" });
  const shape = v.shape.map((d, a) => d + pos[a][0] + pos[a][1]);
  const actual = v.actual.map((d, a) => (padded.includes(a) ? shape[a] : d));
  return { name, shape, actual, dtype: v.dtype };
}

function flipRule(g: GraphBuilder, x: Val, axes: number[]): Val {
  const real = axes.filter((a) => x.actual[a] > 1); // a lazy axis reads the same reversed
  if (real.length === 0) return x;
  const n = real.map((a) => x.actual[a]);
  const name = g.op("Slice", [
    x.name,
    g.ints(n.map((d) => d - 1)),
    g.ints(n.map((d) => -(d + 1))),
    g.ints(real),
    g.ints(real.map(() => -1)),
  ]);
  return { ...x, name };
}

function concatenateRule(g: GraphBuilder, xs: Val[], axis: number, outShape: number[]): Val {
  // A dimension stays lazy only if it is lazy in every input; the axis itself never.
  const rank = outShape.length;
  const keepLazy = Array.from(
    { length: rank },
    (_, d) => d !== axis && xs.every((x) => x.actual[d] === 1 && x.shape[d] !== 1),
  );
  const need = Array.from({ length: rank }, (_, d) => d).filter((d) => !keepLazy[d]);
  const ms = xs.filter((x) => x.shape[axis] > 0).map((x) => materialize(g, x, need));
  const actual = outShape.map((d, i) => (keepLazy[i] ? 1 : d));
  if (ms.length === 1) return { ...ms[0], shape: [...outShape], actual };
  const name = g.op(
    "Concat",
    ms.map((m) => m.name),
    { axis },
  );
  return { name, shape: [...outShape], actual, dtype: xs[0].dtype };
}

function splitRule(g: GraphBuilder, x: Val, axis: number, sizes: number[]): Val[] {
  const m = materialize(g, x, [axis]);
  const shapeOf = (s: number) => m.shape.map((d, i) => (i === axis ? s : d));
  const actualOf = (s: number) => m.actual.map((d, i) => (i === axis ? s : d));
  const nonEmpty = sizes.filter((s) => s > 0);
  let names: string[];
  if (nonEmpty.length === 1) names = [m.name];
  else names = g.node("Split", [m.name, g.ints(nonEmpty)], { axis }, nonEmpty.length);
  let k = 0;
  return sizes.map((s) => {
    if (s === 0) {
      const e = slice(g, m, [axis], [0], [0]);
      return { ...e, shape: shapeOf(0), actual: actualOf(0) };
    }
    return { name: names[k++], shape: shapeOf(s), actual: actualOf(s), dtype: m.dtype };
  });
}

export const structuralRules: Record<string, Rule> = {
  reshape: (g, [x], p: { shape: number[] }) => [reshapeRule(g, x, p.shape)],
  transpose: (g, [x], p: { perm: number[] }) => [transpose(g, x, p.perm)],
  broadcast: (g, [x], p: { shape: number[]; axis: number[] }, [o]) => {
    const u = unsqueeze(g, x, p.axis);
    if (u.shape.length !== o.shape.length)
      throw new UnsupportedPrimitiveError("broadcast", `[${x.shape}] at ${p.axis} -> [${o.shape}]`);
    return [{ ...u, shape: [...o.shape] }];
  },
  shrink: (g, [x], p: { slice: [number, number][] }) => {
    const axes = p.slice.map((_, i) => i);
    return [
      slice(
        g,
        x,
        axes,
        p.slice.map(([s]) => s),
        p.slice.map(([, e]) => e),
      ),
    ];
  },
  pad: (g, [x], p: { width: [number, number][] }) => [padRule(g, x, p.width)],
  flip: (g, [x], p: { axis: number[] }) => [flipRule(g, x, p.axis)],
  concatenate: (g, xs, p: { axis: number }, [o]) => [concatenateRule(g, xs, p.axis, o.shape)],
  split: (g, [x], p: { axis: number; sizes: number[] }) => splitRule(g, x, p.axis, p.sizes),
};
