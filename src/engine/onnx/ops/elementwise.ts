/**
 * Elementwise primitives. jax-js n-ary primitives broadcast numpy-style, as ONNX's do, so a
 * lazily broadcast input (value.ts) passes straight through and the output's actual shape is
 * the broadcast of the inputs' actual shapes.
 */
import {
  type Aval,
  castAll,
  commonDtype,
  isFloat,
  type Rule,
  UnsupportedPrimitiveError,
} from "../rule.ts";
import { broadcastShapes, cast, type Val } from "../value.ts";

function out(name: string, ins: Val[], o: Aval): Val {
  const actual = ins.map((v) => v.actual).reduce(broadcastShapes);
  // Rank-0 inputs broadcast against everything; the output rank is the jax one.
  const padded = [...Array(o.shape.length - actual.length).fill(1), ...actual];
  return { name, shape: [...o.shape], actual: padded, dtype: o.dtype };
}

/** n-ary op computed in the output dtype. */
function nary(op: string): Rule {
  return (g, ins, _p, [o]) => {
    const xs = castAll(g, ins, o.dtype);
    return [
      out(
        g.op(
          op,
          xs.map((x) => x.name),
        ),
        xs,
        o,
      ),
    ];
  };
}

/**
 * n-ary op whose ONNX form has no bool variant: on bools jax-js's mul/add/min/max are logical
 * and/or (`np.logicalAnd` is a mul), which ONNX spells And / Or.
 */
function naryOrLogical(op: string, boolOp: string): Rule {
  const numeric = nary(op);
  const logical = nary(boolOp);
  return (g, ins, p, outs) => (outs[0].dtype === "bool" ? logical : numeric)(g, ins, p, outs);
}

/** Float-only unary op; on integers `intOp` (or identity). */
function unary(op: string, intOp?: string): Rule {
  return (g, [x], _p, [o]) => {
    if (!isFloat(x.dtype)) {
      if (!intOp) return [{ ...x, shape: [...o.shape] }];
      return [out(g.op(intOp, [x.name]), [x], o)];
    }
    return [out(g.op(op, [x.name]), [x], o)];
  };
}

const identity: Rule = (_g, [x], _p, [o]) => [{ ...x, shape: [...o.shape] }];

const COMPARE: Record<string, string> = {
  less: "Less",
  equal: "Equal",
  not_equal: "Equal",
  less_equal: "LessOrEqual",
};

export const elementwiseRules: Record<string, Rule> = {
  add: naryOrLogical("Add", "Or"),
  mul: naryOrLogical("Mul", "And"),
  min: naryOrLogical("Min", "And"),
  max: naryOrLogical("Max", "Or"),
  // jax-js idiv and mod follow C (truncation, sign of the dividend): ONNX integer Div and Mod
  // with fmod = 1.
  idiv: (g, ins, _p, [o]) => {
    const xs = castAll(g, ins, o.dtype);
    const q = g.op(
      "Div",
      xs.map((x) => x.name),
    );
    if (!isFloat(o.dtype)) return [out(q, xs, o)];
    // Float idiv truncates (jax-js's np.trunc is idiv(x, 1)): ONNX has no Trunc.
    const neg = g.op("Less", [q, g.constant(o.dtype, [0], [])]);
    const t = g.op("Where", [neg, g.op("Ceil", [q]), g.op("Floor", [q])]);
    return [out(t, xs, o)];
  },
  mod: (g, ins, _p, [o]) => {
    const xs = castAll(g, ins, o.dtype);
    return [
      out(
        g.op(
          "Mod",
          xs.map((x) => x.name),
          { fmod: 1 },
        ),
        xs,
        o,
      ),
    ];
  },
  neg: unary("Neg", "Neg"),
  reciprocal: unary("Reciprocal"),
  floor: unary("Floor"),
  ceil: unary("Ceil"),
  sqrt: unary("Sqrt"),
  exp: unary("Exp"),
  log: unary("Log"),
  sin: unary("Sin"),
  cos: unary("Cos"),
  asin: unary("Asin"),
  atan: unary("Atan"),
  erf: unary("Erf"),
  erfc: (g, [x], _p, [o]) => {
    const e = g.op("Erf", [x.name]);
    return [out(g.op("Sub", [g.constant(x.dtype, [1], []), e]), [x], o)];
  },
  stop_gradient: identity,
  cast: (g, [x], _p, [o]) => [{ ...cast(g, x, o.dtype), shape: [...o.shape] }],
  compare: (g, ins, p: { op: string }, [o]) => {
    const op = COMPARE[p.op];
    if (!op) throw new UnsupportedPrimitiveError("compare", `op ${p.op}`);
    const xs = castAll(g, ins, commonDtype(ins));
    let name = g.op(
      op,
      xs.map((x) => x.name),
    );
    if (p.op === "not_equal") name = g.op("Not", [name]);
    return [out(name, xs, o)];
  },
  where: (g, [c, x, y], _p, [o]) => {
    const [a, b] = castAll(g, [x, y], o.dtype);
    const cond = cast(g, c, "bool");
    return [out(g.op("Where", [cond.name, a.name, b.name]), [cond, a, b], o)];
  },
};
