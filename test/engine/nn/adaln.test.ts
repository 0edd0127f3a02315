import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, type JaxArray, numpy as np } from "../../../src/engine/jax.ts";
import {
  type AdaLNParams,
  adaLNChunks,
  adaLNZero,
  applyGate,
  initAdaLN,
  modulate,
} from "../../../src/engine/nn/index.ts";
import { jaxKey } from "../../../src/engine/rng.ts";
import { gradCheck, host, maxAbsDiff, project, randn } from "../../helpers/gradcheck.ts";

beforeAll(async () => {
  await initEngine();
});

describe("modulate / gate", () => {
  it("x * (1 + scale) + shift, broadcast per sample over tokens", async () => {
    const x = randn([2, 3, 4], 1);
    const shift = randn([2, 4], 2);
    const scale = randn([2, 4], 3);
    const want = x.ref.mul(scale.ref.reshape([2, 1, 4]).add(1)).add(shift.ref.reshape([2, 1, 4]));
    expect(await maxAbsDiff(modulate(x, shift, scale), want)).toBeLessThan(1e-6);
    const g = randn([2, 4], 4);
    const y = randn([2, 3, 4], 5);
    const gated = applyGate(y.ref, g.ref);
    expect(await maxAbsDiff(gated, y.mul(g.reshape([2, 1, 4])))).toBeLessThan(1e-6);
  });

  it("gradients w.r.t. x, shift, scale and gate", async () => {
    await gradCheck(({ x, sh, sc }) => project(modulate(x, sh, sc)), {
      x: randn([2, 3, 4], 1),
      sh: randn([2, 4], 2),
      sc: randn([2, 4], 3),
    });
    await gradCheck(({ x, g }) => project(applyGate(x, g)), {
      x: randn([2, 3, 4], 1),
      g: randn([2, 4], 2),
    });
  });
});

describe("adaLN-Zero", () => {
  it("starts as the identity: zero shift/scale/gate", async () => {
    const p = initAdaLN(jaxKey(0), 5, 4, 6);
    expect(p.lin.w.shape).toEqual([5, 24]);
    const mods = adaLNZero(p, randn([2, 5], 1), 2);
    expect(mods.length).toBe(2);
    const x = randn([2, 3, 4], 2);
    for (const { shift, scale, gate } of mods) {
      expect(shift.shape).toEqual([2, 4]);
      expect(await maxAbsDiff(modulate(x.ref, shift, scale), x.ref)).toBe(0);
      expect(Math.max(...(await host(np.abs(gate))))).toBe(0);
    }
    x.dispose();
  });

  it("chunks are silu(c) W + b split in order; gradient w.r.t. params and c", async () => {
    const p = { lin: { w: randn([5, 8], 1), b: randn([8], 2) } };
    const c = randn([2, 5], 3);
    const [a, b] = adaLNChunks({ lin: { w: p.lin.w.ref, b: p.lin.b.ref } }, c.ref, 2);
    const full = np.matmul(c.ref.mul(np.reciprocal(np.exp(c.neg()).add(1))), p.lin.w).add(p.lin.b);
    const [fa, fb] = np.split(full, 2, -1);
    expect(await maxAbsDiff(a, fa)).toBeLessThan(1e-5);
    expect(await maxAbsDiff(b, fb)).toBeLessThan(1e-5);
    const f = ({ p, c, x }: { p: AdaLNParams; c: JaxArray; x: JaxArray }) => {
      const [m] = adaLNZero(p, c, 1);
      return project(applyGate(modulate(x, m.shift, m.scale), m.gate));
    };
    await gradCheck(f, {
      p: { lin: { w: randn([5, 12], 4, 0.5), b: randn([12], 5, 0.5) } },
      c: randn([2, 5], 6),
      x: randn([2, 3, 4], 7),
    });
  });
});
