/**
 * The trained judge as a `Detector`: segment each image (stage 1), run every
 * candidate through the classifier in one batched, jitted pass (stage 2), and
 * turn probabilities into detections:
 *   category = the most probable real category,
 *   score    = its probability under the calibrated temperature (the "none"
 *              class takes the rest, so junk blobs score low),
 *   color    = the colour head's argmax (GenEval's colour classifier has no
 *              "unknown" either),
 *   box      = the component's pixel box [x1, y1, x2, y2] (end exclusive).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadCheckpoint } from "../../engine/checkpoint.ts";
import { initEngine, type JaxArray, jit, numpy as np, tree } from "../../engine/jax.ts";
import type { ParamTree } from "../../engine/tree.ts";
import type { RgbImage } from "../../world/render.ts";
import { COLORS } from "../../world/vocab.ts";
import { type JudgeConfig, JudgeConfigSchema } from "./config.ts";
import { allocExamples, type ExampleBuffers } from "./data.ts";
import { CROP, CROP_CHANNELS, componentInput, NUM_FEATURES } from "./features.ts";
import { applyJudge, initJudge, type JudgeParams } from "./model.ts";
import { segment } from "./segment.ts";
import type { Detection, Detector } from "./types.ts";

/** The shipped judge. */
export const DEFAULT_JUDGE_DIR = fileURLToPath(
  new URL("../../../checkpoints/judge", import.meta.url),
);

/** calibration.json beside the checkpoint (written by `reca judge train`). */
export type Calibration = {
  temperature: number;
  /** Category NLL on the calibration set before and after scaling. */
  nllBefore: number;
  nllAfter: number;
  images: number;
  components: number;
};
export const CALIBRATION_FILE = "calibration.json";

export type DetectorOptions = {
  /** Detections scoring below this are not returned (suites apply their own 0.3 / 0.9). */
  minScore?: number;
};

/** Softmax of `logits[i, :] / T` for row i, into `out`. */
export function softmaxRow(
  logits: Float32Array,
  i: number,
  n: number,
  T: number,
  out: Float64Array,
) {
  let m = -Infinity;
  for (let j = 0; j < n; j++) m = Math.max(m, logits[i * n + j] / T);
  let s = 0;
  for (let j = 0; j < n; j++) s += out[j] = Math.exp(logits[i * n + j] / T - m);
  for (let j = 0; j < n; j++) out[j] /= s;
}

/** Parameters + config on the device, with one jitted forward pass. */
export class JudgeModel {
  readonly #forward = jit((p: JudgeParams, crops: JaxArray, feats: JaxArray) =>
    applyJudge(p, crops, feats),
  );
  constructor(
    readonly params: JudgeParams,
    readonly config: JudgeConfig,
    public temperature = 1,
  ) {}

  get numCategories(): number {
    return this.config.categories.length;
  }

  /** Logits for the first `n` examples of `buf`: category [n, K+1], colour [n, 10]. */
  async logits(
    buf: ExampleBuffers,
    n: number,
  ): Promise<{ category: Float32Array; color: Float32Array }> {
    const K1 = this.numCategories + 1;
    if (n === 0) return { category: new Float32Array(0), color: new Float32Array(0) };
    // Pad to a power of two (≥ 64) so jit compiles a handful of shapes, not one per call.
    const B = Math.max(64, 2 ** Math.ceil(Math.log2(n)));
    const crops = new Float32Array(B * CROP * CROP * CROP_CHANNELS);
    crops.set(buf.crops.subarray(0, n * CROP * CROP * CROP_CHANNELS));
    const feats = new Float32Array(B * NUM_FEATURES);
    feats.set(buf.feats.subarray(0, n * NUM_FEATURES));
    const [c, k] = this.#forward(
      tree.ref(this.params as unknown as ParamTree) as unknown as JudgeParams,
      np.array(crops).reshape([B, CROP, CROP, CROP_CHANNELS]),
      np.array(feats).reshape([B, NUM_FEATURES]),
    ) as [JaxArray, JaxArray];
    const cat = (await c.data()) as Float32Array;
    const col = (await k.data()) as Float32Array;
    return { category: cat.slice(0, n * K1), color: col.slice(0, n * COLORS.length) };
  }

  /** Detections for each image. */
  async detect(images: RgbImage[], opts: DetectorOptions = {}): Promise<Detection[][]> {
    const minScore = opts.minScore ?? 0.05;
    const segs = images.map((img) => segment(img));
    const total = segs.reduce((n, s) => n + s.components.length, 0);
    const buf = allocExamples(total);
    let at = 0;
    segs.forEach((s, i) => {
      for (let k = 0; k < s.components.length; k++)
        componentInput(images[i], s, k, buf.crops, buf.feats, at++);
    });
    const { category, color } = await this.logits(buf, total);
    const K = this.numCategories;
    const probs = new Float64Array(K + 1);
    const out: Detection[][] = [];
    at = 0;
    for (const s of segs) {
      const dets: Detection[] = [];
      for (const comp of s.components) {
        softmaxRow(category, at, K + 1, this.temperature, probs);
        let best = 0;
        for (let j = 1; j < K; j++) if (probs[j] > probs[best]) best = j;
        let bestColor = 0;
        for (let j = 1; j < COLORS.length; j++)
          if (color[at * COLORS.length + j] > color[at * COLORS.length + bestColor]) bestColor = j;
        at++;
        if (probs[best] < minScore) continue;
        dets.push({
          category: this.config.categories[best],
          color: COLORS[bestColor],
          box: [...comp.box],
          score: probs[best],
        });
      }
      dets.sort((a, b) => b.score - a.score);
      out.push(dets);
    }
    return out;
  }

  dispose(): void {
    this.#forward.dispose();
    tree.dispose(this.params as unknown as ParamTree);
  }
}

/** Load a judge checkpoint directory (params, config.json, calibration.json). */
export async function loadJudgeModel(dir: string = DEFAULT_JUDGE_DIR): Promise<JudgeModel> {
  await initEngine();
  const raw = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  const config = JudgeConfigSchema.parse(raw);
  const template = initJudge(0, config) as unknown as ParamTree;
  const ck = loadCheckpoint(dir, { expected: template, skipOptimizer: true });
  tree.dispose(template);
  if (ck.ema) tree.dispose(ck.ema);
  const calPath = join(dir, CALIBRATION_FILE);
  const cal = existsSync(calPath)
    ? (JSON.parse(readFileSync(calPath, "utf8")) as Calibration)
    : null;
  return new JudgeModel(ck.params as unknown as JudgeParams, config, cal?.temperature ?? 1);
}

/** The judge as a `Detector` (default: the shipped checkpoint). */
export async function loadJudge(
  dir: string = DEFAULT_JUDGE_DIR,
  opts: DetectorOptions = {},
): Promise<Detector> {
  const model = await loadJudgeModel(dir);
  return (images) => model.detect(images, opts);
}
