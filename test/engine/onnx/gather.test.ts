import { beforeAll, describe, it } from "vitest";
import { grad, initEngine, type JaxArray, numpy as np } from "../../../src/engine/jax.ts";
import { expectOrtMatches, hrandint, hrandn } from "./helpers.ts";

beforeAll(async () => {
  await initEngine();
});

describe("ONNX mappings: gather and scatter", () => {
  it("gather along one axis (embedding lookups, any axis)", async () => {
    await expectOrtMatches(
      (w: JaxArray, ids: JaxArray) => np.take(w, ids, 0),
      [hrandn([10, 4], 1), hrandint([3, 5], 0, 10, 2)],
      { atol: 0, rtol: 0, prims: ["gather"] },
    );
    await expectOrtMatches(
      (w: JaxArray, ids: JaxArray) => np.take(w, ids, 1),
      [hrandn([3, 10, 4], 3), hrandint([6], 0, 10, 4)],
      { atol: 0, rtol: 0, prims: ["gather"] },
    );
  });

  it("gather over several axes (advanced indexing)", async () => {
    await expectOrtMatches(
      (x: JaxArray, i: JaxArray, j: JaxArray) => x.slice([], i, j),
      [hrandn([2, 5, 6, 3], 5), hrandint([4], 0, 5, 6), hrandint([4], 0, 6, 7)],
      { atol: 0, rtol: 0, prims: ["gather"] },
    );
  });

  it("scatter-add: the gradient of a lookup with repeated ids", async () => {
    const loss = (w: JaxArray, ids: JaxArray, t: JaxArray) =>
      np.square(np.take(w, ids, 0).sub(t)).sum();
    // Repeated ids sum their rows' gradients: ≤ 12 terms of O(1), 1e-5 abs + 1e-5 rel.
    await expectOrtMatches(
      grad(loss),
      [hrandn([6, 4], 8), hrandint([3, 4], 0, 6, 9), hrandn([3, 4, 4], 10)],
      { atol: 1e-5, rtol: 1e-5, prims: ["scatter"] },
    );
  });
});
