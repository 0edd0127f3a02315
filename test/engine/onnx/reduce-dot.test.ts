import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, type JaxArray, numpy as np } from "../../../src/engine/jax.ts";
import { expectOrtMatches, hrandn } from "./helpers.ts";

beforeAll(async () => {
  await initEngine();
});

// Sums and contractions reorder f32 additions (ORT's MLAS vs jax-js's tiles): 1e-5 absolute
// plus 1e-5 relative for O(1) values and contraction lengths up to a few hundred.
const tol = { atol: 1e-5, rtol: 1e-5 };

describe("ONNX mappings: reduce", () => {
  it("sum, max, min, prod over axes", async () => {
    const x = () => hrandn([3, 4, 5], 1);
    await expectOrtMatches((a: JaxArray) => a.sum([0, 2]), [x()], { ...tol, prims: ["reduce"] });
    await expectOrtMatches((a: JaxArray) => np.max(a, 1), [x()], { ...tol, prims: ["reduce"] });
    await expectOrtMatches((a: JaxArray) => np.min(a, [0, 1]), [x()], {
      ...tol,
      prims: ["reduce"],
    });
    await expectOrtMatches((a: JaxArray) => np.prod(a, 2), [x()], { ...tol, prims: ["reduce"] });
    await expectOrtMatches((a: JaxArray) => a.mean(), [x()], { ...tol, prims: ["reduce"] });
  });

  it("a sum over a broadcast axis is a multiply, not an expanded broadcast", async () => {
    const r = await expectOrtMatches(
      (a: JaxArray) => {
        const b = np.broadcastTo(a.reshape([3, 1, 5]), [3, 7, 5]);
        return [b.ref.sum([1, 2]), np.max(b, 1)];
      },
      [hrandn([3, 5], 2)],
      { ...tol, prims: ["broadcast", "reduce"] },
    );
    expect(r.ops.Expand ?? 0).toBe(0);
  });
});

describe("ONNX mappings: dot", () => {
  it("matmul: 2-D, batched, broadcast batch, vector", async () => {
    await expectOrtMatches(
      (a: JaxArray, b: JaxArray) => np.matmul(a, b),
      [hrandn([6, 40], 3), hrandn([40, 5], 4)],
      { ...tol, prims: ["dot"] },
    );
    await expectOrtMatches(
      (a: JaxArray, b: JaxArray) => np.matmul(a, b),
      [hrandn([2, 3, 6, 16], 5), hrandn([2, 3, 16, 7], 6)],
      { ...tol, prims: ["dot"] },
    );
    await expectOrtMatches(
      (a: JaxArray, b: JaxArray) => np.matmul(a, b),
      [hrandn([4, 6, 16], 7), hrandn([16, 7], 8)],
      { ...tol, prims: ["dot"] },
    );
    await expectOrtMatches(
      (a: JaxArray, b: JaxArray) => np.matmul(a, b),
      [hrandn([3, 1, 6, 16], 9), hrandn([1, 2, 16, 7], 10)],
      { ...tol, prims: ["dot"] },
    );
    await expectOrtMatches(
      (a: JaxArray, b: JaxArray) => np.dot(a, b),
      [hrandn([16], 11), hrandn([16], 12)],
      { ...tol, prims: ["dot"] },
    );
  });

  it("einsum contractions, and a contraction over a broadcast axis", async () => {
    await expectOrtMatches(
      (q: JaxArray, k: JaxArray) => np.einsum("bqhd,bkhd->bhqk", q, k),
      [hrandn([2, 5, 3, 8], 13), hrandn([2, 6, 3, 8], 14)],
      { ...tol, prims: ["dot"] },
    );
    const r = await expectOrtMatches(
      (a: JaxArray, b: JaxArray) => np.matmul(np.broadcastTo(a.reshape([4, 1]), [4, 9]), b),
      [hrandn([4], 15), hrandn([9, 3], 16)],
      { ...tol, prims: ["dot"] },
    );
    expect(r.outputs).toBe(1);
  });

  it("gradients of a matmul (the transposed contractions of backprop)", async () => {
    const { valueAndGrad } = await import("../../../src/engine/jax.ts");
    const loss = (w: JaxArray, x: JaxArray) => np.square(np.matmul(x, w)).sum();
    await expectOrtMatches(
      valueAndGrad(loss, { argnums: [0, 1] } as never),
      [hrandn([12, 5], 17), hrandn([7, 12], 18)],
      { atol: 1e-4, rtol: 1e-5, prims: ["dot"] },
    );
  });
});
