/**
 * `gather` and its gradient `scatter` (numpy advanced indexing). jax-js indexes the operand's
 * axes `axis` with index arrays broadcast to one index shape, and puts the index dimensions at
 * `outDim` among the operand's remaining dimensions:
 *   gather: x [..] -> rest with indexShape inserted at outDim
 *   scatter: zeros(shape) with updates (shaped like that gather's output) written or added.
 * One axis is ONNX Gather; several (and every scatter) go through GatherND / ScatterND on the
 * operand with the indexed axes moved to the front.
 */
import type { GraphBuilder } from "../graph.ts";
import { type Rule, UnsupportedPrimitiveError } from "../rule.ts";
import { broadcastShapes, full, materialize, transpose, type Val } from "../value.ts";

const INT64 = 7;

type GatherParams = { axis: number[]; outDim: number };

/** Index arrays broadcast and stacked on a new last axis, as int64: [...indexShape, k]. */
function stackIndices(g: GraphBuilder, idx: Val[]): { name: string; shape: number[] } {
  const shape = idx.map((i) => i.shape).reduce(broadcastShapes, [] as number[]);
  const cols = idx.map((i) => {
    const lifted = g.op("Unsqueeze", [materialize(g, i).name, g.ints([i.shape.length])]);
    const ones = [...Array(shape.length - i.shape.length).fill(1), ...i.shape, 1];
    const r = ones.length === i.shape.length + 1 ? lifted : g.op("Reshape", [lifted, g.ints(ones)]);
    return g.op("Expand", [r, g.ints([...shape, 1])]);
  });
  const stacked = cols.length === 1 ? cols[0] : g.op("Concat", cols, { axis: -1 });
  return { name: g.op("Cast", [stacked], { to: INT64 }), shape };
}

/** Permutation moving the index dims (at the front, `k` of them) to `outDim` of the rest. */
function frontToOutDim(k: number, rest: number, outDim: number): number[] {
  const restAxes = Array.from({ length: rest }, (_, i) => k + i);
  const idxAxes = Array.from({ length: k }, (_, i) => i);
  return [...restAxes.slice(0, outDim), ...idxAxes, ...restAxes.slice(outDim)];
}

function gather(g: GraphBuilder, x0: Val, idx: Val[], p: GatherParams, outShape: number[]): Val {
  const x = materialize(g, x0);
  const restAxes = x.shape.map((_, i) => i).filter((i) => !p.axis.includes(i));
  if (p.axis.length === 1) {
    const a = p.axis[0];
    const ind = materialize(g, idx[0]);
    const name = g.op("Gather", [x.name, ind.name], { axis: a });
    // ONNX puts the index dims at `a`; jax at `outDim` of the remaining dims.
    const k = ind.shape.length;
    const shapeNow = [...x.shape.slice(0, a), ...ind.shape, ...x.shape.slice(a + 1)];
    const v = full(name, shapeNow, x.dtype);
    if (a === p.outDim) return v;
    const front = [...Array(k).keys()].map((i) => a + i);
    const others = shapeNow.map((_, i) => i).filter((i) => !front.includes(i));
    const toFront = transpose(g, v, [...front, ...others]);
    return transpose(g, toFront, frontToOutDim(k, others.length, p.outDim));
  }
  const xt = transpose(g, x, [...p.axis, ...restAxes]);
  const ind = stackIndices(g, idx);
  const name = g.op("GatherND", [xt.name, ind.name]);
  const k = ind.shape.length;
  const v = full(name, [...ind.shape, ...restAxes.map((a) => x.shape[a])], x.dtype);
  const r = transpose(g, v, frontToOutDim(k, restAxes.length, p.outDim));
  if (r.shape.join() !== outShape.join()) throw new Error("onnx gather: shape mismatch");
  return r;
}

function scatter(
  g: GraphBuilder,
  upd0: Val,
  idx: Val[],
  p: GatherParams & { op: string; shape: number[] },
): Val {
  const reduction = p.op === "add" ? "add" : p.op === "update" ? "none" : null;
  if (!reduction) throw new UnsupportedPrimitiveError("scatter", `op ${p.op}`);
  const upd = materialize(g, upd0);
  const restAxes = p.shape.map((_, i) => i).filter((i) => !p.axis.includes(i));
  const ind = stackIndices(g, idx);
  const k = ind.shape.length;
  // updates: rest with the index dims at outDim -> [...indexShape, ...rest].
  const order = frontToOutDim(k, restAxes.length, p.outDim);
  const inv = order.map((_, i) => order.indexOf(i));
  const u = transpose(g, upd, inv);
  const dataShape = [...p.axis, ...restAxes].map((a) => p.shape[a]);
  const zeros = g.op("Expand", [g.constant(upd.dtype, [0], []), g.ints(dataShape)]);
  const name = g.op("ScatterND", [zeros, ind.name, u.name], { reduction });
  const perm = [...p.axis, ...restAxes];
  const back = perm.map((_, i) => perm.indexOf(i));
  return transpose(g, full(name, dataShape, upd.dtype), back);
}

export const gatherRules: Record<string, Rule> = {
  gather: (g, [x, ...idx], p: GatherParams, [o]) => [gather(g, x, idx, p, o.shape)],
  scatter: (g, [u, ...idx], p: GatherParams & { op: string; shape: number[] }) => [
    scatter(g, u, idx, p),
  ],
};
