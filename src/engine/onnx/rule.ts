/**
 * What a primitive's ONNX mapping sees: the graph, its input values (possibly lazily broadcast,
 * see value.ts), the equation's params and the jax types of its outputs. A mapping returns one
 * value per output, with `shape` equal to the output's jax shape.
 */
import type { DType, GraphBuilder } from "./graph.ts";
import { cast, type Val } from "./value.ts";

export type Aval = { shape: number[]; dtype: DType };
export type Rule = (g: GraphBuilder, ins: Val[], params: any, outs: Aval[]) => Val[];

/** A primitive with no ONNX mapping: the caller must run that program on jax-js instead. */
export class UnsupportedPrimitiveError extends Error {
  override name = "UnsupportedPrimitiveError";
  constructor(
    readonly primitive: string,
    detail = "",
  ) {
    super(
      `onnx: no ONNX mapping for jax-js primitive "${primitive}"${detail ? ` (${detail})` : ""}; ` +
        "run this program on jax-js (RECA_ENGINE=jax) or add a mapping in src/engine/onnx/ops/",
    );
  }
}

const RANK: Record<DType, number> = {
  bool: 0,
  uint32: 1,
  int32: 2,
  float16: 3,
  float32: 4,
  float64: 5,
};

/** The widest dtype among values (literals arrive typed, so this only settles mixed ones). */
export function commonDtype(vals: Val[]): DType {
  return vals.map((v) => v.dtype).reduce((a, b) => (RANK[a] >= RANK[b] ? a : b));
}

/** Cast every value to `dtype`. */
export function castAll(g: GraphBuilder, vals: Val[], dtype: DType): Val[] {
  return vals.map((v) => cast(g, v, dtype));
}

export const isFloat = (d: DType) => d === "float32" || d === "float16" || d === "float64";
