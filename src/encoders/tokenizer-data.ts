/**
 * Host-side data for the generation tokenizers: training batches from the unlabeled pool,
 * a held-out image set, array ↔ RgbImage conversion, batched inference and PSNR.
 *
 * Split: training draws pool items [0, trainItems); held-out images are items
 * [trainItems, pool length), never drawn in training. Both come from the pool built with the
 * benchmark exclusion, so no benchmark scene is trained on either (src/data/corpora.ts).
 */

import {
  CORPUS_SIZES,
  type Corpus,
  type SceneExclusion,
  type UnlabeledItem,
  unlabeledPool,
} from "../data/corpora.ts";
import { type JaxArray, numpy as np } from "../engine/jax.ts";
import type { Rng } from "../engine/rng.ts";
import type { HostBatch } from "../engine/train-step.ts";
import type { RgbImage } from "../world/render.ts";
import type { Tokenizer } from "./tokenizer.ts";
import type { TokenizerDataConfig } from "./tokenizer-config.ts";
import { IMAGE_SIZE } from "./vae.ts";

const PIXELS = IMAGE_SIZE * IMAGE_SIZE * 3;
/** Batch of the jitted inference passes (fixed, so one trace serves every call). */
export const EVAL_BATCH = 64;

/**
 * The unlabeled pool without the `exclude`d scenes (callers pass the benchmark exclusion; ~10 s
 * the first time).
 */
export function tokenizerPool(
  data: TokenizerDataConfig,
  exclude: SceneExclusion,
): Corpus<UnlabeledItem> {
  if (data.trainItems >= CORPUS_SIZES.unlabeled)
    throw new Error(
      `data.trainItems ${data.trainItems} leaves no held-out items in the ${CORPUS_SIZES.unlabeled}-item pool`,
    );
  return unlabeledPool({
    numCategories: data.numCategories,
    imageSize: IMAGE_SIZE,
    exclude,
  });
}

/** Images → one Float32Array [B, 32, 32, 3] (row-major NHWC, [0, 1]). */
export function packImages(images: readonly RgbImage[]): Float32Array {
  const out = new Float32Array(images.length * PIXELS);
  images.forEach((img, b) => {
    if (img.width !== IMAGE_SIZE || img.height !== IMAGE_SIZE)
      throw new Error(`tokenizer images are 32×32, got ${img.width}×${img.height}`);
    out.set(img.data, b * PIXELS);
  });
  return out;
}

/** Images → a device array [B, 32, 32, 3]. */
export function imagesToArray(images: readonly RgbImage[]): JaxArray {
  return np
    .array(packImages(images), { dtype: np.float32 })
    .reshape([images.length, IMAGE_SIZE, IMAGE_SIZE, 3]);
}

/** A device array [B, H, W, 3] → images, clipped to [0, 1]. Consumes x. */
export async function arrayToImages(x: JaxArray): Promise<RgbImage[]> {
  const [B, H, W] = x.shape;
  const data = (await x.data()) as Float32Array;
  return Array.from({ length: B }, (_, b) => {
    const d = Float32Array.from(data.subarray(b * H * W * 3, (b + 1) * H * W * 3), (v) =>
      Math.min(1, Math.max(0, v)),
    );
    return { width: W, height: H, data: d };
  });
}

/**
 * A training batch: `batch` pool items drawn uniformly from [0, trainItems) with the
 * checkpointed host RNG (so resume is bit-identical), plus `noise` standard-normal arrays
 * (the VAE's reparameterisation ε) of the given shapes per item.
 */
export function tokenizerBatch(
  pool: Corpus<UnlabeledItem>,
  data: TokenizerDataConfig,
  batch: number,
  rng: Rng,
  noise: Record<string, number[]> = {},
): HostBatch {
  const images = Array.from({ length: batch }, () => pool.get(rng.int(data.trainItems)).image);
  const out: HostBatch = {
    images: {
      dtype: "float32",
      shape: [batch, IMAGE_SIZE, IMAGE_SIZE, 3],
      data: packImages(images),
    },
  };
  for (const [name, shape] of Object.entries(noise)) {
    const n = batch * shape.reduce((a, b) => a * b, 1);
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = rng.normal();
    out[name] = { dtype: "float32", shape: [batch, ...shape], data: d };
  }
  return out;
}

/** The first `n` held-out images (pool items trainItems, trainItems + 1, …). */
export function heldOutImages(pool: Corpus<UnlabeledItem>, data: TokenizerDataConfig, n: number) {
  const available = pool.length - data.trainItems;
  if (n > available) throw new Error(`only ${available} held-out images, asked for ${n}`);
  return Array.from({ length: n }, (_, i) => pool.get(data.trainItems + i).image);
}

/** PSNR in dB of `b` against `a` (both [0, 1]); capped at 99 for identical images. */
export function psnr(a: RgbImage, b: RgbImage): number {
  if (a.data.length !== b.data.length) throw new Error("psnr: images differ in size");
  let se = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i] - b.data[i];
    se += d * d;
  }
  const mse = se / a.data.length;
  return mse === 0 ? 99 : Math.min(99, -10 * Math.log10(mse));
}

/** Mean per-image PSNR over pairs. */
export function meanPsnr(a: readonly RgbImage[], b: readonly RgbImage[]): number {
  if (a.length !== b.length || a.length === 0) throw new Error("meanPsnr: bad image lists");
  return a.reduce((s, img, i) => s + psnr(img, b[i]), 0) / a.length;
}

/** Run `fn` over `images` in fixed-size batches (the last one padded); results in order. */
export async function inBatches<T>(
  images: readonly RgbImage[],
  fn: (x: JaxArray) => JaxArray,
  read: (y: JaxArray, n: number) => Promise<T[]>,
  batch = EVAL_BATCH,
): Promise<T[]> {
  const out: T[] = [];
  for (let at = 0; at < images.length; at += batch) {
    const chunk = images.slice(at, at + batch);
    const n = chunk.length;
    while (chunk.length < batch) chunk.push(chunk[0]);
    out.push(...(await read(fn(imagesToArray(chunk)), n)));
  }
  return out;
}

/** Reconstructions of `images` (clipped to [0, 1]). */
export function reconstructImages(tok: Tokenizer, images: readonly RgbImage[]) {
  return inBatches(
    images,
    (x) => tok.reconstruct(x),
    async (y, n) => (await arrayToImages(y)).slice(0, n),
  );
}

/** VQ tokens of `images`, concatenated ([n·64] int32). */
export async function tokensOf(tok: Tokenizer, images: readonly RgbImage[]): Promise<Int32Array> {
  const rows = await inBatches(
    images,
    (x) => tok.encodeTokens(x),
    async (y, n) => {
      const d = (await y.data()) as Int32Array;
      return [Int32Array.from(d.subarray(0, n * (d.length / EVAL_BATCH)))];
    },
  );
  const out = new Int32Array(rows.reduce((s, r) => s + r.length, 0));
  let at = 0;
  for (const r of rows) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}
