import { describe, expect, it } from "vitest";
import { colorJitter, DEFAULT_STRENGTH, degrade } from "../../../src/bench/degrade.ts";
import { boxIou, greedyMatch, toXYXY } from "../../../src/bench/judge/match.ts";
import { estimateBackground } from "../../../src/bench/judge/pixels.ts";
import { segment } from "../../../src/bench/judge/segment.ts";
import { WorldRng } from "../../../src/world/random.ts";
import { renderScene } from "../../../src/world/render.ts";
import { sampleScene } from "../../../src/world/scene.ts";
import { backgroundRgb, worldCategories } from "../../../src/world/vocab.ts";

const render = (i: number, size = 32, categories = worldCategories(6)) => {
  const rng = WorldRng.fromParts("test/segment", i);
  const scene = sampleScene(rng, { categories });
  return { rng, scene, r: renderScene(scene, { size }) };
};

/** Components match the objects one to one at IoU ≥ 0.5. */
function segmentsExactly(img: Parameters<typeof segment>[0], boxes: ReturnType<typeof toXYXY>[]) {
  const comps = segment(img).components;
  const m = greedyMatch(
    comps.map((c) => c.box),
    boxes,
  );
  return comps.length === boxes.length && m.every((j) => j >= 0);
}

describe("segmentation (stage 1)", () => {
  it("finds exactly the objects of clean renders, at 32 and 64 px, all ten categories", () => {
    for (const size of [32, 64]) {
      for (let i = 0; i < 80; i++) {
        const { r } = render(i, size, worldCategories(10));
        const boxes = r.boxes.map((b) => toXYXY(b!));
        expect(segmentsExactly(r.image, boxes), `scene ${i} at ${size}px`).toBe(true);
      }
    }
  });

  it("boxes on clean renders are tight (median IoU 1 at 32 px)", () => {
    const ious: number[] = [];
    for (let i = 0; i < 100; i++) {
      const { r } = render(i);
      const comps = segment(r.image).components;
      for (const b of r.boxes) ious.push(Math.max(...comps.map((c) => boxIou(c.box, toXYXY(b!)))));
    }
    ious.sort((a, b) => a - b);
    expect(ious[ious.length >> 1]).toBe(1);
    expect(ious[0]).toBeGreaterThan(0.6);
  });

  it("separates objects under the default degradations in ≥ 98% of scenes", () => {
    let ok = 0;
    const n = 200;
    for (let i = 0; i < n; i++) {
      const { rng, r } = render(i);
      const img = degrade(r.image, rng, DEFAULT_STRENGTH).image;
      if (
        segmentsExactly(
          img,
          r.boxes.map((b) => toXYXY(b!)),
        )
      )
        ok++;
    }
    expect(ok / n).toBeGreaterThanOrEqual(0.98);
  });

  it("finds nothing on a plain background, and follows a jittered background", () => {
    const W = 32;
    const bg = backgroundRgb();
    const data = new Float32Array(W * W * 3);
    for (let p = 0; p < W * W; p++) data.set(bg, 3 * p);
    const plain = { width: W, height: W, data };
    expect(segment(plain).components).toHaveLength(0);
    const { r } = render(5);
    const j = colorJitter(r.image, {
      brightness: 0.05,
      contrast: 1,
      saturation: 1,
      hue: 0,
      gain: [1.05, 0.95, 1],
    });
    const est = estimateBackground(j);
    expect(est[0]).toBeCloseTo((bg[0] + 0.05) * 1.05, 1);
    expect(est[1]).toBeCloseTo((bg[1] + 0.05) * 0.95, 1);
    expect(
      segmentsExactly(
        j,
        r.boxes.map((b) => toXYXY(b!)),
      ),
    ).toBe(true);
  });
});
