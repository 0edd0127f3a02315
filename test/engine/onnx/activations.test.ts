import { beforeAll, describe, expect, it } from "vitest";
import { grad, initEngine, type JaxArray, nn, numpy as np } from "../../../src/engine/jax.ts";
import { OrtFunction } from "../../../src/engine/onnx/program.ts";
import { expectOrtMatches, hrandn } from "./helpers.ts";

beforeAll(async () => {
  await initEngine();
});

// Closed forms against jax-js's decompositions: the same functions in a different order of
// f32 operations, |x| ≤ ~4: 2e-6 absolute + 1e-5 relative.
const tol = { atol: 2e-6, rtol: 1e-5 };
const acts: [string, (x: JaxArray) => JaxArray][] = [
  ["silu", (x) => nn.silu(x)],
  ["gelu", (x) => nn.gelu(x)],
  ["gelu", (x) => nn.gelu(x, { approximate: false })],
  ["tanh", (x) => np.tanh(x)],
];

describe("activations as closed forms (silu, gelu, tanh)", () => {
  it("forward values", async () => {
    for (const [, f] of acts) await expectOrtMatches(f, [hrandn([4, 33], 1, 1.5)], tol);
  });

  it("gradients: the jvp/transpose jit pair becomes ct · f′(x)", async () => {
    for (const [name, f] of acts) {
      const loss = (x: JaxArray, w: JaxArray) => f(x).mul(w).sum();
      await expectOrtMatches(grad(loss), [hrandn([4, 33], 2, 1.5), hrandn([4, 33], 3)], tol);
      const p = new OrtFunction(grad(loss), { threads: 1 });
      const c = await p.compiled([
        { data: new Float32Array(4 * 33), shape: [4, 33] },
        { data: new Float32Array(4 * 33), shape: [4, 33] },
      ]);
      expect(c.program.primitives[`${name} (closed form)`], name).toBe(1);
      await p.dispose();
    }
  });

  it("residuals read elsewhere still come out right (the jit is then translated as written)", async () => {
    // A loss whose gradient also needs silu(x) itself beyond the pair.
    const loss = (x: JaxArray) => {
      const y = nn.silu(x);
      return y.ref.mul(y).sum();
    };
    await expectOrtMatches(grad(loss), [hrandn([3, 7], 4)], tol);
  });
});
