import { beforeAll, describe, expect, it } from "vitest";
import { grad, initEngine, type JaxArray, jit, numpy as np } from "../../../src/engine/jax.ts";
import {
  embed,
  initEmbedding,
  initLinear,
  initMlp,
  initSwiGlu,
  linear,
  mlp,
  swiGlu,
  truncatedNormal,
  unembed,
} from "../../../src/engine/nn/index.ts";
import { jaxKey } from "../../../src/engine/rng.ts";
import { gradCheck, host, maxAbsDiff, project, randInt, randn } from "../../helpers/gradcheck.ts";

beforeAll(async () => {
  await initEngine();
});

describe("init", () => {
  it("truncatedNormal has the requested std and stays within 2 std", async () => {
    const v = await host(truncatedNormal(jaxKey(3), [20000], 0.5));
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(std).toBeGreaterThan(0.48);
    expect(std).toBeLessThan(0.52);
    // 2 sigma of the untruncated normal is 2 * 0.5 / 0.8796
    expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual((2 * 0.5) / 0.8796 + 1e-4);
  });

  it("initLinear shapes and options", () => {
    const p = initLinear(jaxKey(1), 4, 3);
    expect(p.w.shape).toEqual([4, 3]);
    expect(p.b?.shape).toEqual([3]);
    const q = initLinear(jaxKey(1), 4, 3, { bias: false, init: "xavier" });
    expect(q.b).toBeUndefined();
    for (const a of [p.w, p.b!, q.w]) a.dispose();
  });
});

describe("linear", () => {
  it("matches x W + b on any leading shape", async () => {
    const p = { w: randn([4, 3], 1), b: randn([3], 2) };
    const x = randn([2, 5, 4], 3);
    const y = linear({ w: p.w.ref, b: p.b.ref }, x.ref);
    expect(y.shape).toEqual([2, 5, 3]);
    expect(await maxAbsDiff(y, np.matmul(x, p.w).add(p.b))).toBeLessThan(1e-5);
  });

  it("gradient w.r.t. params and input", async () => {
    await gradCheck(({ p, x }) => project(linear(p, x)), {
      p: { w: randn([4, 3], 1), b: randn([3], 2) },
      x: randn([2, 5, 4], 3),
    });
  });
});

describe("embedding", () => {
  it("one-hot and take lookups agree; unembed is h table^T", async () => {
    const p = initEmbedding(jaxKey(0), 11, 6);
    const ids = randInt([2, 5], 11, 4);
    const a = embed({ table: p.table.ref }, ids.ref);
    const b = embed({ table: p.table.ref }, ids, { oneHot: false });
    expect(a.shape).toEqual([2, 5, 6]);
    expect(await maxAbsDiff(a, b)).toBeLessThan(1e-6);
    const h = randn([2, 5, 6], 5);
    const logits = unembed({ table: p.table.ref }, h.ref);
    expect(logits.shape).toEqual([2, 5, 11]);
    expect(await maxAbsDiff(logits, np.matmul(h, p.table.transpose()))).toBeLessThan(1e-5);
  });

  it("gradient w.r.t. the table (one-hot and take) and unembed", async () => {
    const ids = randInt([2, 5], 11, 4);
    for (const oneHot of [true, false]) {
      await gradCheck(({ table }) => project(embed({ table }, ids.ref, { oneHot })), {
        table: randn([11, 6], 1),
      });
    }
    ids.dispose();
    await gradCheck(({ table, h }) => project(unembed({ table }, h)), {
      table: randn([11, 6], 1),
      h: randn([2, 3, 6], 2),
    });
  });
});

describe("embedding: why one-hot is the default", () => {
  // Canary for the engine bug in docs/ENGINE.md. If this starts passing after
  // a jax-js upgrade, the take-based lookup has become jit(grad)-safe and the note can go.
  it("jax-js 0.1.25: np.take feeding a matmul fails under jit(grad), one-hot does not", () => {
    const loss = (oneHot: boolean) => (table: JaxArray, ids: JaxArray) =>
      np.matmul(embed({ table }, ids, { oneHot }), np.ones([6, 2])).sum();
    const ids = randInt([2, 5], 11, 4);
    const ok = jit(grad(loss(true)));
    expect(ok(randn([11, 6], 1), ids.ref).shape).toEqual([11, 6]);
    ok.dispose();
    const bad = jit(grad(loss(false)));
    expect(() => bad(randn([11, 6], 1), ids)).toThrow(/scatter input is not imm/);
    bad.dispose();
  });
});

describe("mlp", () => {
  it("gradient for GELU and SiLU MLPs and SwiGLU", async () => {
    for (const act of ["gelu", "silu"] as const) {
      const p = initMlp(jaxKey(2), 4, 8, { outDim: 3 });
      expect(p.fc2.w.shape).toEqual([8, 3]);
      await gradCheck(({ p, x }) => project(mlp(p, x, act)), { p, x: randn([2, 3, 4], 1) });
    }
    const s = initSwiGlu(jaxKey(3), 4, 8);
    await gradCheck(({ p, x }) => project(swiGlu(p, x)), { p: s, x: randn([2, 3, 4], 1) });
  });
});
