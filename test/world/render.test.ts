import { describe, expect, it } from "vitest";
import { WorldRng } from "../../src/world/random.ts";
import { fromRgba8, renderScene, toRgba8 } from "../../src/world/render.ts";
import { type Scene, sampleScene } from "../../src/world/scene.ts";
import { ALL_CATEGORIES, backgroundRgb, COLORS, colorRgb } from "../../src/world/vocab.ts";

const px = (data: Float32Array, W: number, x: number, y: number) =>
  Array.from(data.subarray(3 * (y * W + x), 3 * (y * W + x) + 3));

describe("renderer", () => {
  it("is deterministic for (seed, scene)", () => {
    const a = renderScene(sampleScene(new WorldRng(42)));
    const b = renderScene(sampleScene(new WorldRng(42)));
    expect(a.image.data).toEqual(b.image.data);
    const c = renderScene(sampleScene(new WorldRng(43)));
    expect(c.image.data).not.toEqual(a.image.data);
  });

  it("draws every category in every colour on the background", () => {
    const bg = backgroundRgb();
    for (const category of ALL_CATEGORIES)
      for (const color of COLORS) {
        const scene: Scene = {
          objects: [{ category, color, size: "small", x: 0.4, y: 0.55, radius: 4.5 / 32 }],
        };
        const { image, masks, boxes } = renderScene(scene);
        const W = image.width;
        // The fully covered pixel nearest the centre has exactly the palette colour.
        let best = -1;
        let bestD = Infinity;
        let full = 0;
        for (let p = 0; p < W * W; p++) {
          if (masks[0][p] < 1) continue;
          full++;
          const d = Math.hypot((p % W) + 0.5 - 0.4 * W, Math.floor(p / W) + 0.5 - 0.55 * W);
          if (d < bestD) [best, bestD] = [p, d];
        }
        expect(full, `${color} ${category}`).toBeGreaterThan(6);
        expect(bestD).toBeLessThan(4);
        const got = px(image.data, W, best % W, Math.floor(best / W));
        for (let k = 0; k < 3; k++) expect(got[k]).toBeCloseTo(colorRgb(color)[k], 5);
        // Outside the box everything is background; inside, edges are anti-aliased.
        const b = boxes[0]!;
        for (const [x, y] of [
          [0, 0],
          [W - 1, W - 1],
          [b.x2, b.y1],
          [b.x1 - 1, b.y2 - 1],
        ]) {
          const p = px(image.data, W, x, y);
          for (let k = 0; k < 3; k++) expect(p[k]).toBeCloseTo(bg[k], 5);
        }
        expect(masks[0].some((m) => m > 0 && m < 1)).toBe(true);
      }
  });

  it("returns masks and boxes that match the objects, and scales to 64×64", () => {
    const rng = new WorldRng(3);
    for (let k = 0; k < 30; k++) {
      const scene = sampleScene(rng);
      const r32 = renderScene(scene);
      const r64 = renderScene(scene, { size: 64 });
      expect(r64.image.data.length).toBe(64 * 64 * 3);
      scene.objects.forEach((o, i) => {
        const b = r32.boxes[i]!;
        expect(b.x1 <= o.x * 32 && o.x * 32 <= b.x2).toBe(true);
        expect(b.y1 <= o.y * 32 && o.y * 32 <= b.y2).toBe(true);
        const b64 = r64.boxes[i]!;
        expect(Math.abs(b64.x2 - b64.x1 - 2 * (b.x2 - b.x1))).toBeLessThanOrEqual(2);
        const a32 = r32.masks[i].reduce((s, v) => s + v, 0);
        const a64 = r64.masks[i].reduce((s, v) => s + v, 0);
        expect(a64 / a32).toBeCloseTo(4, 0);
      });
      for (let p = 0; p < 32 * 32; p++) {
        const total = r32.masks.reduce((s, m) => s + m[p], 0);
        expect(total).toBeLessThanOrEqual(1 + 1e-6);
      }
    }
  });

  it("converts to and from RGBA bytes", () => {
    const { image } = renderScene(sampleScene(new WorldRng(8)));
    const rgba = toRgba8(image);
    expect(rgba.length).toBe(32 * 32 * 4);
    expect(rgba[3]).toBe(255);
    const back = fromRgba8(rgba, 32, 32);
    for (let i = 0; i < back.data.length; i++)
      expect(Math.abs(back.data[i] - image.data[i])).toBeLessThanOrEqual(0.5 / 255 + 1e-7);
  });
});
