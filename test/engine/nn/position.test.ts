import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, numpy as np } from "../../../src/engine/jax.ts";
import {
  addPosEmbedding,
  initPosEmbedding,
  initTimestepEmbedder,
  sincos1d,
  sincos2d,
  timestepEmbedder,
  timestepEmbedding,
} from "../../../src/engine/nn/index.ts";
import { jaxKey } from "../../../src/engine/rng.ts";
import { gradCheck, host, maxAbsDiff, project, randn } from "../../helpers/gradcheck.ts";

beforeAll(async () => {
  await initEngine();
});

function expectClose(actual: ArrayLike<number>, expected: number[], tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++)
    expect(Math.abs(actual[i] - expected[i])).toBeLessThan(tol);
}

describe("sin-cos position embeddings", () => {
  it("1-D values at known positions", async () => {
    const t = await host(sincos1d(5, 4)); // w = [1, 10000^(-1/2)]
    expectClose(t.slice(0, 4), [0, 0, 1, 1]);
    expectClose(t.slice(12, 16), [Math.sin(3), Math.sin(0.03), Math.cos(3), Math.cos(0.03)]);
  });

  it("2-D: first half encodes the row, second half the column", async () => {
    const [h, w, dim] = [3, 4, 8];
    const t = await host(sincos2d(h, w, dim));
    expectClose(t.slice(0, 8), [0, 0, 1, 1, 0, 0, 1, 1]);
    const tok = 1 * w + 2; // row 1, column 2
    expectClose(t.slice(tok * dim, tok * dim + dim), [
      Math.sin(1),
      Math.sin(0.01),
      Math.cos(1),
      Math.cos(0.01),
      Math.sin(2),
      Math.sin(0.02),
      Math.cos(2),
      Math.cos(0.02),
    ]);
    expect(() => sincos2d(2, 2, 6)).toThrow(/divisible by 4/);
  });
});

describe("learned position embedding", () => {
  it("adds table rows offset..offset+T; gradient w.r.t. table and input", async () => {
    const p = initPosEmbedding(jaxKey(0), 10, 4);
    const x = randn([2, 3, 4], 1);
    const y = addPosEmbedding({ table: p.table.ref }, x.ref, 5);
    expect(await maxAbsDiff(y, x.add(p.table.ref.slice([5, 8])))).toBeLessThan(1e-7);
    expect(() => addPosEmbedding({ table: p.table }, randn([1, 6, 4], 2), 5)).toThrow(/positions/);
    await gradCheck(({ p, x }) => project(addPosEmbedding(p, x, 2)), {
      p: { table: randn([10, 4], 3) },
      x: randn([2, 3, 4], 4),
    });
  });
});

describe("timestep embedding", () => {
  it("values: [cos(t f), sin(t f)], f_i = 10000^(-i / half)", async () => {
    const e = await host(timestepEmbedding(np.array([0, 1, 2.5]), 4));
    expectClose(e.slice(0, 4), [1, 1, 0, 0]);
    expectClose(e.slice(4, 8), [Math.cos(1), Math.cos(0.01), Math.sin(1), Math.sin(0.01)]);
    expectClose(e.slice(8, 12), [Math.cos(2.5), Math.cos(0.025), Math.sin(2.5), Math.sin(0.025)]);
  });

  it("embedder gradient w.r.t. params and t", async () => {
    const p = initTimestepEmbedder(jaxKey(1), 8, 6);
    const out = timestepEmbedder(p, np.array([0.1, 0.7]));
    expect(out.shape).toEqual([2, 6]);
    out.dispose();
    await gradCheck(({ p, t }) => project(timestepEmbedder(p, t)), {
      p: initTimestepEmbedder(jaxKey(2), 8, 6),
      t: np.array([0.3, 0.9, 0.5]),
    });
  });
});
