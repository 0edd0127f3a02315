/**
 * Activations as a few ONNX nodes instead of jax-js's decomposition. jax-js wraps `nn.silu`,
 * `nn.gelu` and `np.tanh` in named jits; under `grad` each becomes a pair of jits named
 * `<name>_jvp_peval` (x → [f(x), residuals…]) and `<name>_jvp_resid_t` (residuals…, ct → dx).
 * Inlined, GELU's pair is ~45 elementwise passes over the MLP activations with 16 residuals
 * saved (the largest cost of a transformer step on ORT after the matmuls). For a unary
 * elementwise f the pair is just f(x) and ct · f′(x), so both are emitted from closed forms:
 * the residuals are never computed unless something other than the matching `resid_t` reads
 * them, in which case the peval jit is translated as written (see Translator.read).
 */
import type { GraphBuilder } from "./graph.ts";
import type { Val } from "./value.ts";

type Emit = (g: GraphBuilder, x: string, dtype: Val["dtype"]) => string;
type Activation = { f: Emit; df: Emit };

const k = (g: GraphBuilder, dtype: Val["dtype"], v: number) => g.constant(dtype, [v], []);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

const silu: Activation = {
  f: (g, x) => g.op("Mul", [x, g.op("Sigmoid", [x])]),
  // σ(x)·(1 + x·(1 − σ(x)))
  df: (g, x, d) => {
    const s = g.op("Sigmoid", [x]);
    const oneMinus = g.op("Sub", [k(g, d, 1), s]);
    return g.op("Mul", [s, g.op("Add", [k(g, d, 1), g.op("Mul", [x, oneMinus])])]);
  },
};

/** tanh(√(2/π)·(x + 0.044715·x³)) */
function geluTanh(g: GraphBuilder, x: string, d: Val["dtype"]): string {
  const x2 = g.op("Mul", [x, x]);
  const inner = g.op("Mul", [x, g.op("Add", [k(g, d, 1), g.op("Mul", [x2, k(g, d, GELU_C)])])]);
  return g.op("Tanh", [g.op("Mul", [inner, k(g, d, SQRT_2_OVER_PI)])]);
}

const geluApprox: Activation = {
  f: (g, x, d) => {
    const t = geluTanh(g, x, d);
    return g.op("Mul", [g.op("Mul", [x, k(g, d, 0.5)]), g.op("Add", [t, k(g, d, 1)])]);
  },
  // 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)
  df: (g, x, d) => {
    const t = geluTanh(g, x, d);
    const x2 = g.op("Mul", [x, x]);
    const sech2 = g.op("Sub", [k(g, d, 1), g.op("Mul", [t, t])]);
    const du = g.op("Add", [
      k(g, d, SQRT_2_OVER_PI),
      g.op("Mul", [x2, k(g, d, 3 * GELU_C * SQRT_2_OVER_PI)]),
    ]);
    const a = g.op("Mul", [g.op("Add", [t, k(g, d, 1)]), k(g, d, 0.5)]);
    const b = g.op("Mul", [g.op("Mul", [x, k(g, d, 0.5)]), g.op("Mul", [sech2, du])]);
    return g.op("Add", [a, b]);
  },
};

const geluExact: Activation = {
  f: (g, x, d) => {
    const e = g.op("Erf", [g.op("Mul", [x, k(g, d, Math.SQRT1_2)])]);
    return g.op("Mul", [g.op("Mul", [x, k(g, d, 0.5)]), g.op("Add", [e, k(g, d, 1)])]);
  },
  // 0.5·(1 + erf(x/√2)) + x·exp(−x²/2)/√(2π)
  df: (g, x, d) => {
    const e = g.op("Erf", [g.op("Mul", [x, k(g, d, Math.SQRT1_2)])]);
    const pdf = g.op("Exp", [g.op("Mul", [g.op("Mul", [x, x]), k(g, d, -0.5)])]);
    const a = g.op("Mul", [g.op("Add", [e, k(g, d, 1)]), k(g, d, 0.5)]);
    return g.op("Add", [
      a,
      g.op("Mul", [x, g.op("Mul", [pdf, k(g, d, 1 / Math.sqrt(2 * Math.PI))])]),
    ]);
  },
};

const tanh: Activation = {
  f: (g, x) => g.op("Tanh", [x]),
  df: (g, x, d) => {
    const t = g.op("Tanh", [x]);
    return g.op("Sub", [k(g, d, 1), g.op("Mul", [t, t])]);
  },
};

type InnerJaxpr = { eqns: { primitive: unknown; params: Record<string, any> }[] };

function uses(j: InnerJaxpr, prims: string[]): boolean {
  return j.eqns.some(
    (e) =>
      prims.includes(String(e.primitive)) || (e.primitive === "jit" && uses(e.params.jaxpr, prims)),
  );
}

/**
 * The activation a jit named `name` computes (its base name, before `_jvp_…`), or null.
 * jax-js's `gelu` is one name for two functions: the erf form is told apart by its erf.
 */
export function activationOf(base: string, inner: InnerJaxpr): Activation | null {
  if (base === "silu") return silu;
  if (base === "tanh") return tanh;
  if (base === "gelu") return uses(inner, ["erf", "erfc"]) ? geluExact : geluApprox;
  return null;
}

export type { Activation };
