/**
 * Layout bookkeeping that saves copies. jax-js writes a matmul as explicit transposes that
 * bring the contraction axis last, then `dot`; its gradients transpose activations the other
 * way. Emitted literally, those are full copies of every activation (a third of a transformer
 * step on ORT). So every Transpose (and every reshape that only adds or drops size-1 axes)
 * records what it is a view of: the source tensor and where each of its non-1 axes sits there.
 * A consumer that wants some axis order can then read the source directly — a Reshape when
 * the order is already right, a Gemm transA/transB when the two halves are swapped — and the
 * jax-level Transpose becomes a dead node that the graph drops.
 */
import type { GraphBuilder } from "./graph.ts";
import type { Val } from "./value.ts";

/** `name` is `src` with its non-1 axes permuted: output non-1 axis j is src non-1 axis pos[j]. */
export type View = { src: string; srcActual: number[]; pos: number[] };

const nonUnit = (actual: number[]) => actual.flatMap((d, i) => (d !== 1 ? [i] : []));

/** Record that `out` (actual shape `outActual`) is a view of `input` reordered by `perm`. */
export function recordView(
  g: GraphBuilder,
  out: string,
  input: Val,
  outAxesFromInput: number[] | null,
): void {
  // outAxesFromInput[i] = input axis of output axis i (a transpose), or null for a reshape
  // that keeps the non-1 axes in order.
  const inner0 = g.views.get(input.name);
  if (out === input.name || out === inner0?.src) return; // read straight from a source
  const inNz = nonUnit(input.actual);
  let pos: number[];
  if (outAxesFromInput === null) pos = inNz.map((_, j) => j);
  else {
    const outNz = outAxesFromInput.filter((a) => input.actual[a] !== 1);
    pos = outNz.map((a) => inNz.indexOf(a));
  }
  const inner = g.views.get(input.name);
  if (inner)
    g.views.set(out, {
      src: inner.src,
      srcActual: inner.srcActual,
      pos: pos.map((p) => inner.pos[p]),
    });
  else g.views.set(out, { src: input.name, srcActual: [...input.actual], pos });
}

/**
 * `v` with its axes in the order `seq`, merged into `dims` (a Reshape target), read straight
 * from the source of its view when that order is already the source's. Returns the tensor
 * name, or null when a real transpose is needed. `from` limits where it may read: the view's
 * source, `v` itself, or either (source first).
 */
export function readInOrder(
  g: GraphBuilder,
  v: Val,
  seq: number[],
  dims: number[],
  from: "source" | "self" | "either" = "either",
): string | null {
  const nz = nonUnit(v.actual);
  const wanted = seq.filter((a) => v.actual[a] !== 1).map((a) => nz.indexOf(a));
  const increasing = (xs: number[]) => xs.every((x, i) => i === 0 || xs[i - 1] < x);
  const reshaped = (name: string, actual: number[]) =>
    actual.length === dims.length && actual.every((d, i) => d === dims[i])
      ? name
      : g.op("Reshape", [name, g.ints(dims)]);
  const view = g.views.get(v.name);
  if (view && from !== "self") {
    const inSrc = wanted.map((j) => view.pos[j]);
    if (increasing(inSrc)) return reshaped(view.src, view.srcActual);
  }
  if (from !== "source" && increasing(wanted)) return reshaped(v.name, v.actual);
  return null;
}
