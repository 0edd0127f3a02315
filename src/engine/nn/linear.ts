/** Dense layer `y = x W + b` over the last axis. */
import { type JaxArray, numpy as np } from "../jax.ts";
import { initWeight, type WeightInit } from "./init.ts";

export type LinearParams = {
  w: JaxArray; // [in, out]
  b?: JaxArray; // [out]
};

export type LinearInit = {
  /** Add a bias (zeros). Default true. */
  bias?: boolean;
  /** Weight initialiser. Default "lecun" (truncated normal, std 1/sqrt(in)). */
  init?: WeightInit;
};

/** Consumes key. */
export function initLinear(
  key: JaxArray,
  inDim: number,
  outDim: number,
  opts: LinearInit = {},
): LinearParams {
  const w = initWeight(key, [inDim, outDim], inDim, outDim, opts.init ?? "lecun");
  return opts.bias === false ? { w } : { w, b: np.zeros([outDim]) };
}

/**
 * x [..., in] -> [..., out]. Flattens leading dims so the contraction is one 2-D matmul
 * (jax-js runs 2-D matmuls faster than 3-D-by-2-D ones in eager mode).
 */
export function linear(p: LinearParams, x: JaxArray): JaxArray {
  const lead = x.shape.slice(0, -1);
  const [inDim, outDim] = p.w.shape;
  const y = np.matmul(x.reshape([-1, inDim]), p.w); // [N, out]
  const yb = p.b ? y.add(p.b) : y;
  return yb.reshape([...lead, outDim]);
}
