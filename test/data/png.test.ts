import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  contactSheet,
  decodePng,
  encodePng,
  readSquarePng,
  resizeImage,
  upscaleNearest,
} from "../../src/data/png.ts";
import { WorldRng } from "../../src/world/random.ts";
import { renderImage } from "../../src/world/render.ts";
import { sampleScene } from "../../src/world/scene.ts";

const quantize = (d: Float32Array) => d.map((v) => Math.round(v * 255) / 255);

describe("png", () => {
  it("round-trips a render to 8-bit precision, and exactly once quantised", () => {
    const img = renderImage(sampleScene(new WorldRng(1)), { size: 64 });
    const bytes = encodePng(img);
    expect(Array.from(bytes.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]); // "PNG"
    const back = decodePng(bytes);
    expect([back.width, back.height]).toEqual([64, 64]);
    for (let i = 0; i < img.data.length; i++)
      expect(Math.abs(back.data[i] - img.data[i])).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    const q = { ...img, data: quantize(img.data) };
    expect(decodePng(encodePng(q)).data).toEqual(q.data);
  });

  it("rejects malformed images", () => {
    expect(() => encodePng({ width: 2, height: 2, data: new Float32Array(5) })).toThrow();
  });

  it("upscales by nearest neighbour", () => {
    const img = { width: 2, height: 1, data: new Float32Array([0, 0, 0, 1, 1, 1]) };
    const up = upscaleNearest(img, 3);
    expect([up.width, up.height]).toEqual([6, 3]);
    expect(up.data[3 * (2 * 6 + 2)]).toBe(0);
    expect(up.data[3 * (2 * 6 + 3)]).toBe(1);
  });

  it("lays out a contact sheet with padding", () => {
    const rng = new WorldRng(2);
    const imgs = Array.from({ length: 5 }, () => renderImage(sampleScene(rng)));
    const sheet = contactSheet(imgs, { cols: 3, pad: 2, scale: 2 });
    expect(sheet.width).toBe(3 * 64 + 4 * 2);
    expect(sheet.height).toBe(2 * 64 + 3 * 2);
    // Cell (row 1, col 1) = image 4, upscaled: its pixel (5,7) sits at 2+66+10, 2+66+14.
    const ox = 2 + 66;
    const oy = 2 + 66;
    const s = 3 * ((oy + 14) * sheet.width + ox + 10);
    const t = 3 * (7 * 32 + 5);
    expect(Array.from(sheet.data.subarray(s, s + 3))).toEqual(
      Array.from(imgs[4].data.subarray(t, t + 3)),
    );
    // Padding and the empty sixth cell keep the sheet colour.
    expect(sheet.data[0]).toBeCloseTo(0.15, 5);
    const e = 3 * ((oy + 5) * sheet.width + 2 + 2 * 66 + 5);
    expect(sheet.data[e]).toBeCloseTo(0.15, 5);
    expect(decodePng(encodePng(sheet)).width).toBe(sheet.width);
  });
});

describe("resize and input images", () => {
  const img = (w: number, h: number, f: (x: number, y: number) => number) => {
    const data = new Float32Array(w * h * 3);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) data.fill(f(x, y), 3 * (y * w + x), 3 * (y * w + x) + 3);
    return { width: w, height: h, data };
  };

  it("box-averages integer downscales, replicates upscales and keeps the mean otherwise", () => {
    const a = img(4, 4, (x, y) => x + 4 * y);
    const half = resizeImage(a, 2, 2);
    expect(Array.from(half.data.filter((_, i) => i % 3 === 0))).toEqual([2.5, 4.5, 10.5, 12.5]);
    const up = resizeImage(
      img(2, 1, (x) => x),
      4,
      2,
    );
    expect(Array.from(up.data.filter((_, i) => i % 3 === 0))).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    const odd = resizeImage(
      img(5, 5, () => 0.25),
      3,
      3,
    );
    for (const v of odd.data) expect(v).toBeCloseTo(0.25, 6);
    // A 64-px render averaged down is close to the 32-px render of the same scene.
    const scene = sampleScene(new WorldRng(3));
    const down = resizeImage(renderImage(scene, { size: 64 }), 32, 32);
    const ref = renderImage(scene, { size: 32 });
    let err = 0;
    for (let i = 0; i < ref.data.length; i++) err += Math.abs(down.data[i] - ref.data[i]);
    expect(err / ref.data.length).toBeLessThan(0.02);
  });

  it("reads a square PNG at the model's side, with errors naming the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "reca-png-"));
    try {
      const ok = join(dir, "ok.png");
      writeFileSync(ok, encodePng(renderImage(sampleScene(new WorldRng(4)), { size: 64 })));
      const r = readSquarePng(ok, 32);
      expect([r.width, r.height, r.data.length]).toEqual([32, 32, 32 * 32 * 3]);
      const wide = join(dir, "wide.png");
      writeFileSync(wide, encodePng(img(8, 4, () => 0.5)));
      expect(() => readSquarePng(wide, 32)).toThrow(/wide\.png: 8×4; expected a square image/);
      const junk = join(dir, "junk.png");
      writeFileSync(junk, "not a png");
      expect(() => readSquarePng(junk, 32)).toThrow(/junk\.png: not a readable PNG/);
      expect(() => readSquarePng(join(dir, "none.png"), 32)).toThrow(
        /none\.png: cannot read \(ENOENT\)/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
