import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, numpy as np } from "../../../src/engine/jax.ts";
import {
  avgPool2x2,
  depthToSpace,
  patchify,
  spaceToDepth,
  unpatchify,
  upsampleNearest2x,
} from "../../../src/engine/nn/index.ts";
import { gradCheck, host, maxAbsDiff, project, randn } from "../../helpers/gradcheck.ts";

beforeAll(async () => {
  await initEngine();
});

const [B, H, W, C] = [2, 4, 6, 3];

describe("patchify / space-to-depth", () => {
  it("patch tokens are row-major patches with (dy, dx, c) channels", async () => {
    const p = 2;
    const x = randn([B, H, W, C], 1);
    const xs = await host(x.ref);
    const t = await host(patchify(x, p)); // [B, 2*3, 12]
    const w = W / p;
    for (let b = 0; b < B; b++) {
      for (let py = 0; py < H / p; py++) {
        for (let px = 0; px < w; px++) {
          for (let dy = 0; dy < p; dy++) {
            for (let dx = 0; dx < p; dx++) {
              for (let c = 0; c < C; c++) {
                const tok = ((b * (H / p) + py) * w + px) * p * p * C + (dy * p + dx) * C + c;
                const pix = ((b * H + py * p + dy) * W + px * p + dx) * C + c;
                expect(t[tok]).toBe(xs[pix]);
              }
            }
          }
        }
      }
    }
  });

  it("unpatchify(patchify(x)) = x and depthToSpace(spaceToDepth(x)) = x (both ways)", async () => {
    const x = randn([B, H, W, C], 2);
    expect(await maxAbsDiff(unpatchify(patchify(x.ref, 2), 2, H / 2, W / 2), x.ref)).toBe(0);
    expect(await maxAbsDiff(depthToSpace(spaceToDepth(x.ref, 2), 2), x.ref)).toBe(0);
    const z = randn([B, 2, 3, 8], 3);
    expect(await maxAbsDiff(spaceToDepth(depthToSpace(z.ref, 2), 2), z)).toBe(0);
    expect(spaceToDepth(x, 2).shape).toEqual([B, H / 2, W / 2, 4 * C]);
  });

  it("gradients", async () => {
    await gradCheck(({ x }) => project(patchify(x, 2)), { x: randn([B, H, W, C], 4) });
    await gradCheck(({ t }) => project(unpatchify(t, 2, 2, 3)), { t: randn([B, 6, 12], 5) });
    await gradCheck(({ x }) => project(depthToSpace(x, 2)), { x: randn([B, 2, 3, 8], 6) });
    await gradCheck(({ x }) => project(spaceToDepth(x, 2)), { x: randn([B, H, W, C], 7) });
  });
});

describe("upsample / pool", () => {
  it("nearest 2x repeats pixels; 2x2 average pooling averages blocks", async () => {
    const x = np.arange(4).astype(np.float32).reshape([1, 2, 2, 1]);
    expect(upsampleNearest2x(x.ref).reshape([4, 4]).js()).toEqual([
      [0, 0, 1, 1],
      [0, 0, 1, 1],
      [2, 2, 3, 3],
      [2, 2, 3, 3],
    ]);
    // pooling undoes nearest upsampling
    const y = randn([B, H, W, C], 8);
    expect(await maxAbsDiff(avgPool2x2(upsampleNearest2x(y.ref)), y)).toBeLessThan(1e-6);
    const z = np.arange(16).astype(np.float32).reshape([1, 4, 4, 1]);
    expect(avgPool2x2(z).reshape([2, 2]).js()).toEqual([
      [2.5, 4.5],
      [10.5, 12.5],
    ]);
    x.dispose();
  });

  it("gradients", async () => {
    await gradCheck(({ x }) => project(upsampleNearest2x(x)), { x: randn([B, 2, 3, C], 9) });
    await gradCheck(({ x }) => project(avgPool2x2(x)), { x: randn([B, H, W, C], 10) });
  });
});
