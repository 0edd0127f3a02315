import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, lax, numpy as np } from "../../src/engine/jax.ts";
import { gradCheck, randn } from "./gradcheck.ts";

beforeAll(async () => {
  await initEngine();
});

describe("gradCheck", () => {
  it("accepts a correct gradient, tightly", async () => {
    const report = await gradCheck(
      ({ a, b }) =>
        np
          .tanh(np.matmul(a.ref, b))
          .sum()
          .add(np.exp(a.ref.mul(0.1)).sum())
          .add(a.sum()),
      { a: randn([3, 4], 1), b: randn([4, 2], 2) },
    );
    for (const r of report) {
      expect(Math.abs(r.numeric - r.analytic)).toBeLessThan(1e-3 * Math.abs(r.analytic) + 1e-4);
    }
  });

  it("rejects a wrong gradient (stopGradient hides half of d/dx x^2)", async () => {
    await expect(
      gradCheck(({ x }) => x.ref.mul(lax.stopGradient(x)).sum(), { x: randn([5], 3) }),
    ).rejects.toThrow(/disagree/);
  });

  it("works through jit(grad)", async () => {
    await gradCheck(({ x }) => np.sin(x).sum(), { x: randn([4, 4], 4) }, { jit: true });
  });
});
