/** Feed-forward blocks: a two-layer MLP (GELU or SiLU) and the gated SwiGLU variant. */
import { type JaxArray, nn } from "../jax.ts";
import { splitKey } from "../rng.ts";
import { initLinear, type LinearParams, linear } from "./linear.ts";

export type MlpParams = {
  fc1: LinearParams; // [D, hidden]
  fc2: LinearParams; // [hidden, out]
};

/** SwiGLU (Shazeer, 2020): down(silu(x Wg) * (x Wu)); no biases, as in LLaMA. */
export type SwiGluParams = {
  gate: LinearParams; // [D, hidden]
  up: LinearParams; // [D, hidden]
  down: LinearParams; // [hidden, out]
};

/** "gelu" is the tanh approximation (GPT-2 / ViT / DiT). */
export type Activation = "gelu" | "silu";

export function activate(x: JaxArray, act: Activation): JaxArray {
  return act === "gelu" ? nn.gelu(x) : nn.silu(x);
}

/** Consumes key. */
export function initMlp(
  key: JaxArray,
  dim: number,
  hidden: number,
  opts: { outDim?: number; bias?: boolean } = {},
): MlpParams {
  const [k1, k2] = splitKey(key, 2);
  return {
    fc1: initLinear(k1, dim, hidden, { bias: opts.bias }),
    fc2: initLinear(k2, hidden, opts.outDim ?? dim, { bias: opts.bias }),
  };
}

/** x [..., D] -> [..., out]. */
export function mlp(p: MlpParams, x: JaxArray, act: Activation = "gelu"): JaxArray {
  return linear(p.fc2, activate(linear(p.fc1, x), act));
}

/** Consumes key. */
export function initSwiGlu(
  key: JaxArray,
  dim: number,
  hidden: number,
  opts: { outDim?: number } = {},
): SwiGluParams {
  const [k1, k2, k3] = splitKey(key, 3);
  return {
    gate: initLinear(k1, dim, hidden, { bias: false }),
    up: initLinear(k2, dim, hidden, { bias: false }),
    down: initLinear(k3, hidden, opts.outDim ?? dim, { bias: false }),
  };
}

/** x [..., D] -> [..., out]. */
export function swiGlu(p: SwiGluParams, x: JaxArray): JaxArray {
  const h = nn.silu(linear(p.gate, x.ref)).mul(linear(p.up, x));
  return linear(p.down, h);
}
