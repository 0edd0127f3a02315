/**
 * Where the judge's examples come from: rendered scenes with known objects,
 * degraded like generated images, segmented by stage 1, and labelled by matching
 * each candidate to the ground truth with the same IoU ≥ 0.5 rule the evaluation
 * uses. A candidate that matches nothing (noise blob, fragment, two objects
 * merged) is labelled "none". Object-free images (noise, smooth colour fields,
 * speckle) add negatives, so random-noise controls score low.
 *
 * Every image is a pure function of (label, seed, index): training uses its own
 * stream (`judge/train`), never benchmark items; calibration and evaluation use
 * `judge/calib` and `judge/heldout`.
 */
import type { HostBatch } from "../../engine/train-step.ts";
import { WorldRng } from "../../world/random.ts";
import { type RgbImage, renderScene } from "../../world/render.ts";
import { sampleScene } from "../../world/scene.ts";
import { type Category, COLORS, type Color } from "../../world/vocab.ts";
import {
  DEFAULT_STRENGTH,
  type DegradeStrength,
  degrade,
  gaussian,
  gaussianBlur,
  scaleStrength,
} from "../degrade.ts";
import type { JudgeConfig } from "./config.ts";
import { CROP, CROP_CHANNELS, componentInput, NUM_FEATURES } from "./features.ts";
import { boxIou, MATCH_IOU, toXYXY } from "./match.ts";
import { type Segmentation, segment } from "./segment.ts";
import type { BoxXYXY } from "./types.ts";

export type TruthObject = { category: Category; color: Color; box: BoxXYXY };
export type JudgeSample = { image: RgbImage; truth: TruthObject[] };

export type SampleOptions = {
  size: number;
  categories: readonly Category[];
  /** null: clean. */
  strength: DegradeStrength | null;
  /** Scene minSeparation (1 = shapes never touch). */
  minSeparation?: number;
};

/** A scene rendered (and maybe degraded) with its visible objects as truth. */
export function renderSample(rng: WorldRng, o: SampleOptions): JudgeSample {
  const scene = sampleScene(rng, { categories: o.categories, minSeparation: o.minSeparation ?? 1 });
  const r = renderScene(scene, { size: o.size });
  const truth: TruthObject[] = [];
  scene.objects.forEach((obj, k) => {
    const b = r.boxes[k];
    if (b) truth.push({ category: obj.category, color: obj.color, box: toXYXY(b) });
  });
  const image = o.strength ? degrade(r.image, rng, o.strength).image : r.image;
  return { image, truth };
}

/** An object-free image: uniform noise, gray + strong noise, a smooth colour field, or speckle. */
export function negativeImage(rng: WorldRng, size: number): RgbImage {
  const n = size * size;
  const data = new Float32Array(3 * n);
  const kind = rng.int(4);
  if (kind === 0) {
    for (let i = 0; i < 3 * n; i++) data[i] = rng.float();
  } else if (kind === 1) {
    const s = rng.uniform(0.08, 0.3);
    for (let i = 0; i < 3 * n; i++) data[i] = Math.min(1, Math.max(0, 0.502 + s * gaussian(rng)));
  } else if (kind === 2) {
    // Smooth field: a coarse grid of random colours, bilinearly upsampled, blurred.
    const g = 2 + rng.int(5);
    const grid = Float32Array.from({ length: 3 * (g + 1) * (g + 1) }, () => rng.float());
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const u = (x / (size - 1)) * g;
        const v = (y / (size - 1)) * g;
        const i = Math.min(g - 1, Math.floor(u));
        const j = Math.min(g - 1, Math.floor(v));
        const fu = u - i;
        const fv = v - j;
        for (let c = 0; c < 3; c++) {
          const at = (a: number, b: number) => grid[3 * (b * (g + 1) + a) + c];
          data[3 * (y * size + x) + c] =
            (at(i, j) * (1 - fu) + at(i + 1, j) * fu) * (1 - fv) +
            (at(i, j + 1) * (1 - fu) + at(i + 1, j + 1) * fu) * fv;
        }
      }
  } else {
    data.fill(0.502);
    const k = Math.round(rng.uniform(0.01, 0.06) * n);
    for (let t = 0; t < k; t++) {
      const p = rng.int(n);
      for (let c = 0; c < 3; c++) data[3 * p + c] = rng.float();
    }
  }
  const img = { width: size, height: size, data };
  return rng.bool(0.5) ? gaussianBlur(img, rng.uniform(0.3, 1.2) * (size / 32)) : img;
}

/** Training image `i` of `step` (stream "judge/train"): size, overlap, clean/degraded or negative. */
export function trainingSample(cfg: JudgeConfig, step: number, i: number): JudgeSample {
  const rng = WorldRng.fromParts("judge/train", cfg.train.seed, step, i);
  const a = cfg.augment;
  const size = cfg.sizes.length === 1 ? cfg.sizes[0] : rng.bool(cfg.size64Prob) ? 64 : 32;
  if (rng.bool(a.negativeProb)) return { image: negativeImage(rng, size), truth: [] };
  const strength = rng.bool(a.cleanProb)
    ? null
    : scaleStrength(DEFAULT_STRENGTH, rng.uniform(a.strength[0], a.strength[1]));
  const minSeparation = rng.bool(a.overlapProb)
    ? rng.uniform(a.overlapSeparation[0], a.overlapSeparation[1])
    : 1;
  return renderSample(rng, { size, categories: cfg.categories, strength, minSeparation });
}

/**
 * Truth index per component (−1 = none): pairs taken in order of decreasing IoU,
 * each side at most once, IoU ≥ 0.5.
 */
export function matchComponents(seg: Segmentation, truth: readonly TruthObject[]): number[] {
  const pairs: [number, number, number][] = [];
  seg.components.forEach((c, i) => {
    truth.forEach((t, j) => {
      const iou = boxIou(c.box, t.box);
      if (iou >= MATCH_IOU) pairs.push([iou, i, j]);
    });
  });
  pairs.sort((a, b) => b[0] - a[0]);
  const out = new Array<number>(seg.components.length).fill(-1);
  const used = new Set<number>();
  for (const [, i, j] of pairs) {
    if (out[i] >= 0 || used.has(j)) continue;
    out[i] = j;
    used.add(j);
  }
  return out;
}

export type ExampleBuffers = {
  crops: Float32Array;
  feats: Float32Array;
  category: Int32Array;
  color: Int32Array;
  colorMask: Float32Array;
};

export function allocExamples(n: number): ExampleBuffers {
  return {
    crops: new Float32Array(n * CROP * CROP * CROP_CHANNELS),
    feats: new Float32Array(n * NUM_FEATURES),
    category: new Int32Array(n),
    color: new Int32Array(n),
    colorMask: new Float32Array(n),
  };
}

/**
 * Append the labelled components of `sample` at `at` (stopping at capacity).
 * Returns the new fill level.
 */
export function addExamples(
  sample: JudgeSample,
  categories: readonly Category[],
  buf: ExampleBuffers,
  at: number,
): number {
  const seg = segment(sample.image);
  const match = matchComponents(seg, sample.truth);
  const cap = buf.category.length;
  for (let k = 0; k < seg.components.length && at < cap; k++, at++) {
    componentInput(sample.image, seg, k, buf.crops, buf.feats, at);
    const t = match[k] >= 0 ? sample.truth[match[k]] : null;
    const ci = t ? categories.indexOf(t.category) : -1;
    buf.category[at] = ci >= 0 ? ci : categories.length;
    buf.color[at] = t ? COLORS.indexOf(t.color) : 0;
    buf.colorMask[at] = t ? 1 : 0;
  }
  return at;
}

/** Chunk `c` of the training stream: `train.fresh` components from images (seed, c, 0), (seed, c, 1), … */
export function trainingChunk(cfg: JudgeConfig, c: number): ExampleBuffers {
  const buf = allocExamples(cfg.train.fresh);
  let n = 0;
  for (let i = 0; n < cfg.train.fresh; i++)
    n = addExamples(trainingSample(cfg, c, i), cfg.categories, buf, n);
  return buf;
}

/**
 * Batches for the training loop. The batch of step s is chunks s, s−1, …, s−R+1
 * (R = batch / fresh) concatenated, so every chunk is generated once and used in
 * R consecutive steps. A pure function of (config, s): resuming regenerates the
 * chunks it needs and gets the same batches.
 */
export class TrainingStream {
  readonly #cache = new Map<number, ExampleBuffers>();
  constructor(readonly cfg: JudgeConfig) {}

  batch(step: number): HostBatch {
    const { batch: B, fresh: F } = this.cfg.train;
    const R = B / F;
    for (const c of [...this.#cache.keys()]) if (c <= step - R || c > step) this.#cache.delete(c);
    const out = allocExamples(B);
    for (let r = 0; r < R; r++) {
      const c = step - r;
      let chunk = this.#cache.get(c);
      if (!chunk) {
        chunk = trainingChunk(this.cfg, c);
        this.#cache.set(c, chunk);
      }
      out.crops.set(chunk.crops, r * F * CROP * CROP * CROP_CHANNELS);
      out.feats.set(chunk.feats, r * F * NUM_FEATURES);
      out.category.set(chunk.category, r * F);
      out.color.set(chunk.color, r * F);
      out.colorMask.set(chunk.colorMask, r * F);
    }
    return toHostBatch(out);
  }
}

export function toHostBatch(buf: ExampleBuffers): HostBatch {
  const B = buf.category.length;
  return {
    crops: { dtype: "float32", shape: [B, CROP, CROP, CROP_CHANNELS], data: buf.crops },
    feats: { dtype: "float32", shape: [B, NUM_FEATURES], data: buf.feats },
    category: { dtype: "int32", shape: [B], data: buf.category },
    color: { dtype: "int32", shape: [B], data: buf.color },
    colorMask: { dtype: "float32", shape: [B], data: buf.colorMask },
  };
}
