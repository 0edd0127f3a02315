import { describe, expect, it } from "vitest";
import {
  addNoise,
  applyDegradation,
  colorJitter,
  DEFAULT_STRENGTH,
  degrade,
  gaussianBlur,
  quantize,
  sampleDegradation,
  scaleStrength,
  warpImage,
} from "../../src/bench/degrade.ts";
import { WorldRng } from "../../src/world/random.ts";
import { type RgbImage, renderScene } from "../../src/world/render.ts";
import { sampleScene } from "../../src/world/scene.ts";

const scene = (i: number) => renderScene(sampleScene(WorldRng.fromParts("test/degrade", i))).image;
const flat = (v: number, W = 16): RgbImage => ({
  width: W,
  height: W,
  data: new Float32Array(W * W * 3).fill(v),
});
const inRange = (img: RgbImage) => img.data.every((v) => v >= 0 && v <= 1 && Number.isFinite(v));

describe("degradations", () => {
  it("are deterministic for a seed, differ across seeds, and never touch the input", () => {
    const img = scene(0);
    const before = img.data.slice();
    for (let i = 0; i < 20; i++) {
      const a = degrade(img, WorldRng.fromParts("t", i));
      const b = degrade(img, WorldRng.fromParts("t", i));
      expect(a.spec).toEqual(b.spec);
      expect(a.image.data).toEqual(b.image.data);
    }
    const spec = { noise: { sigma: 0.05 } };
    expect(applyDegradation(img, spec, 1).data).not.toEqual(applyDegradation(img, spec, 2).data);
    expect(img.data).toEqual(before);
  });

  it("stay in [0, 1] with the image's shape, at 32 and 64 px and at 3× strength", () => {
    for (let i = 0; i < 30; i++) {
      const size = i % 2 ? 64 : 32;
      const img = renderScene(sampleScene(WorldRng.fromParts("test/degrade", i)), { size }).image;
      const d = degrade(img, WorldRng.fromParts("b", i), scaleStrength(DEFAULT_STRENGTH, 3)).image;
      expect([d.width, d.height, d.data.length]).toEqual([size, size, size * size * 3]);
      expect(inRange(d)).toBe(true);
    }
  });

  it("always apply at least one part, with parameters inside the documented ranges", () => {
    for (let i = 0; i < 200; i++) {
      const s = sampleDegradation(WorldRng.fromParts("spec", i));
      expect(Object.keys(s).length).toBeGreaterThan(0);
      if (s.blur) expect(s.blur.sigma).toBeGreaterThanOrEqual(0.5);
      if (s.blur) expect(s.blur.sigma).toBeLessThanOrEqual(1.2);
      if (s.noise) expect(s.noise.sigma).toBeLessThanOrEqual(0.08);
      if (s.quantize) expect(s.quantize.levels).toBeGreaterThanOrEqual(8);
      if (s.quantize) expect(s.quantize.levels).toBeLessThanOrEqual(16);
      if (s.jitter) expect(Math.abs(s.jitter.hue)).toBeLessThanOrEqual(0.02);
    }
  });

  it("blur and warp keep a flat image flat; blur keeps the mean", () => {
    const f = flat(0.4);
    expect(gaussianBlur(f, 1).data.every((v) => Math.abs(v - 0.4) < 1e-6)).toBe(true);
    expect(warpImage(f, 0.6, 4, new WorldRng(1)).data.every((v) => Math.abs(v - 0.4) < 1e-6)).toBe(
      true,
    );
    const img = scene(3);
    const mean = (x: RgbImage) => x.data.reduce((a, b) => a + b, 0) / x.data.length;
    expect(mean(gaussianBlur(img, 1.2))).toBeCloseTo(mean(img), 2);
  });

  it("noise has the requested σ; quantisation leaves `levels` values; neutral jitter is the identity", () => {
    const n = addNoise(flat(0.5, 64), 0.05, new WorldRng(7));
    const sd = Math.sqrt(n.data.reduce((a, v) => a + (v - 0.5) ** 2, 0) / n.data.length);
    expect(sd).toBeGreaterThan(0.045);
    expect(sd).toBeLessThan(0.055);
    const q = quantize(scene(1), 8);
    expect(new Set(q.data).size).toBeLessThanOrEqual(8);
    const img = scene(2);
    const j = colorJitter(img, {
      brightness: 0,
      contrast: 1,
      saturation: 1,
      hue: 0,
      gain: [1, 1, 1],
    });
    for (let i = 0; i < img.data.length; i++) expect(j.data[i]).toBeCloseTo(img.data[i], 2);
  });
});
