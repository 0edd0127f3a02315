import { beforeAll, describe, expect, it } from "vitest";
import type { Corpus, UnlabeledItem } from "../../src/data/corpora.ts";
import {
  arrayToImages,
  imagesToArray,
  meanPsnr,
  psnr,
  tokenizerBatch,
} from "../../src/encoders/tokenizer-data.ts";
import { reconSheet } from "../../src/encoders/tokenizer-train.ts";
import { initEngine } from "../../src/engine/jax.ts";
import { Rng } from "../../src/engine/rng.ts";
import type { RgbImage } from "../../src/world/render.ts";

const flat = (v: number): RgbImage => ({
  width: 32,
  height: 32,
  data: new Float32Array(32 * 32 * 3).fill(v),
});

/** A stand-in pool: item i is a flat image of value i / 100. */
const pool: Corpus<UnlabeledItem> = {
  name: "fake",
  seed: 0,
  length: 100,
  imageSize: 32,
  get: (i) => ({ index: i, scene: { objects: [] }, image: flat(i / 100) }),
};
const data = { numCategories: 6, trainItems: 50 };

beforeAll(async () => {
  await initEngine();
});

describe("tokenizer data", () => {
  it("PSNR of a known error", () => {
    expect(psnr(flat(0.5), flat(0.6))).toBeCloseTo(20, 5); // mse 0.01
    expect(psnr(flat(0.5), flat(0.5))).toBe(99);
    expect(meanPsnr([flat(0.5), flat(0)], [flat(0.6), flat(0.001)])).toBeCloseTo(40, 5);
  });

  it("images ↔ device arrays round-trip, clipped to [0, 1]", async () => {
    const x = imagesToArray([flat(0.25), flat(1.5)]);
    expect(x.shape).toEqual([2, 32, 32, 3]);
    const back = await arrayToImages(x);
    expect(back[0].data[5]).toBeCloseTo(0.25, 6);
    expect(back[1].data[0]).toBe(1);
  });

  it("batches draw training items only, with noise, reproducibly from the rng", () => {
    const a = tokenizerBatch(pool, data, 64, new Rng(3), { eps: [8, 8, 4] });
    const b = tokenizerBatch(pool, data, 64, new Rng(3), { eps: [8, 8, 4] });
    expect(a.images.shape).toEqual([64, 32, 32, 3]);
    expect(a.eps.shape).toEqual([64, 8, 8, 4]);
    expect(Buffer.from(a.eps.data.buffer).equals(Buffer.from(b.eps.data.buffer))).toBe(true);
    for (let k = 0; k < 64; k++) expect(a.images.data[k * 3072]).toBeLessThan(0.5);
  });

  it("recon sheet keeps reconstructions under their originals", () => {
    const origs = Array.from({ length: 5 }, (_, i) => flat(i / 10));
    const sheet = reconSheet(origs, origs, 4); // 2 pairs of rows, 4 columns
    expect(sheet.width).toBe(4 * 128 + 5 * 2);
    expect(sheet.height).toBe(4 * 128 + 5 * 2);
  });
});
