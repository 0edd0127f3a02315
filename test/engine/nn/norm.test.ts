import { beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../../../src/engine/jax.ts";
import {
  groupNorm,
  initGroupNorm,
  initLayerNorm,
  initRMSNorm,
  layerNorm,
  normalize,
  rmsNorm,
} from "../../../src/engine/nn/index.ts";
import { gradCheck, host, project, randn } from "../../helpers/gradcheck.ts";

beforeAll(async () => {
  await initEngine();
});

function moments(v: Float32Array, from: number, n: number): [number, number] {
  let m = 0;
  for (let i = 0; i < n; i++) m += v[from + i];
  m /= n;
  let s = 0;
  for (let i = 0; i < n; i++) s += (v[from + i] - m) ** 2;
  return [m, s / n];
}

describe("LayerNorm", () => {
  it("output has mean ~0 and variance ~1 per row", async () => {
    const y = await host(layerNorm(initLayerNorm(16), randn([3, 16], 1, 3).add(5)));
    for (let r = 0; r < 3; r++) {
      const [m, v] = moments(y, r * 16, 16);
      expect(Math.abs(m)).toBeLessThan(1e-5);
      expect(Math.abs(v - 1)).toBeLessThan(1e-4);
    }
  });

  it("gradient w.r.t. scale, bias and input (and the affine-free form)", async () => {
    await gradCheck(({ p, x }) => project(layerNorm(p, x)), {
      p: { scale: randn([6], 1, 0.5).add(1), bias: randn([6], 2) },
      x: randn([2, 3, 6], 3),
    });
    expect(initLayerNorm(6, { affine: false })).toEqual({});
    await gradCheck(({ x }) => project(normalize(x)), { x: randn([4, 6], 4) });
  });
});

describe("RMSNorm", () => {
  it("output has unit mean square; gradient", async () => {
    const y = await host(rmsNorm(initRMSNorm(8), randn([2, 8], 1, 4)));
    for (let r = 0; r < 2; r++) {
      const ms = y.slice(r * 8, r * 8 + 8).reduce((a, b) => a + b * b, 0) / 8;
      expect(Math.abs(ms - 1)).toBeLessThan(1e-4);
    }
    await gradCheck(({ p, x }) => project(rmsNorm(p, x)), {
      p: { scale: randn([6], 1, 0.5).add(1) },
      x: randn([2, 3, 6], 3),
    });
  });
});

describe("GroupNorm", () => {
  it("normalises each (sample, group) over positions and group channels", async () => {
    const [B, H, W, C, G] = [2, 3, 3, 6, 2];
    const y = await host(groupNorm(initGroupNorm(C), randn([B, H, W, C], 1, 2).add(1), G));
    for (let b = 0; b < B; b++) {
      for (let g = 0; g < G; g++) {
        const vals: number[] = [];
        for (let p = 0; p < H * W; p++) {
          for (let c = 0; c < C / G; c++) vals.push(y[(b * H * W + p) * C + g * (C / G) + c]);
        }
        const [m, v] = moments(Float32Array.from(vals), 0, vals.length);
        expect(Math.abs(m)).toBeLessThan(1e-5);
        expect(Math.abs(v - 1)).toBeLessThan(1e-3);
      }
    }
  });

  it("gradient w.r.t. scale, bias and input", async () => {
    await gradCheck(({ p, x }) => project(groupNorm(p, x, 2)), {
      p: { scale: randn([4], 1, 0.5).add(1), bias: randn([4], 2) },
      x: randn([2, 3, 3, 4], 3),
    });
  });
});
