/**
 * `reduce` (sum, product, min, max over axes, dropping them). A lazily broadcast axis holds
 * one value n times: min/max of it is the value, its sum is n times the value, so no
 * broadcast is ever expanded to be reduced (the gradient of a broadcast is such a sum).
 */
import { type Rule, UnsupportedPrimitiveError } from "../rule.ts";
import { cast, type Val } from "../value.ts";

const OPS: Record<string, string> = {
  Add: "ReduceSum",
  Mul: "ReduceProd",
  Min: "ReduceMin",
  Max: "ReduceMax",
};

export const reduceRules: Record<string, Rule> = {
  reduce: (g, [x], p: { op: string; axis: number[] }, [o]) => {
    const onnxOp = OPS[p.op];
    if (!onnxOp) throw new UnsupportedPrimitiveError("reduce", `op ${p.op}`);
    const axes = [...p.axis].sort((a, b) => a - b);
    if (axes.length === 0) return [x];
    const lazy = axes.filter((a) => x.actual[a] === 1 && x.shape[a] !== 1);
    if (p.op === "Mul" && lazy.length > 0)
      throw new UnsupportedPrimitiveError("reduce", "a product over a broadcast axis");
    // ORT has no min/max/sum over bool: reduce in int32 (bool min/max are all/any).
    const v = x.dtype === "bool" ? cast(g, x, "int32") : x;
    const name =
      onnxOp === "ReduceSum"
        ? g.op(onnxOp, [v.name, g.ints(axes)], { keepdims: 0 })
        : g.op(onnxOp, [v.name], { axes, keepdims: 0 });
    let r: Val = {
      name,
      shape: [...o.shape],
      actual: x.actual.filter((_, i) => !axes.includes(i)),
      dtype: v.dtype,
    };
    const copies = lazy.reduce((n, a) => n * x.shape[a], 1);
    if (p.op === "Add" && copies !== 1)
      r = { ...r, name: g.op("Mul", [r.name, g.constant(r.dtype, [copies], [])]) };
    return [cast(g, r, o.dtype)];
  },
};
