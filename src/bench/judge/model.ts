/**
 * Stage 2: the judge's classifier, one small MLP per candidate component:
 *
 *   crop [B,16,16,3] flattened ⊕ features [B,32] → linear → ReLU → linear → ReLU
 *     → { category head [B, K+1], colour head [B, 10] }
 *
 * The category head has one extra class, "none" (index K): noise blobs, fragments
 * and merged objects. The detection score is the softmax probability of the
 * predicted real category, temperature-calibrated on held-out renders, so a blob
 * the network believes is junk scores low.
 *
 * Why an MLP and not a CNN: the crop is already centred and scale-normalised by
 * stage 1, so translation invariance buys little, and on jax-js/wasm a 3-layer
 * im2col CNN on 16×16 crops ran at ~0.6–0.9 s per 256-crop step against 0.06 s for
 * this MLP (2-core box), which would have blown the 10-minute training budget.
 */
import { type JaxArray, nn, numpy as np } from "../../engine/jax.ts";
import { crossEntropy } from "../../engine/losses.ts";
import { initLinear, type LinearParams, linear } from "../../engine/nn/index.ts";
import { jaxKey, splitKey } from "../../engine/rng.ts";
import type { Batch, Task } from "../../engine/train-step.ts";
import type { ParamTree } from "../../engine/tree.ts";
import { COLORS } from "../../world/vocab.ts";
import type { JudgeConfig } from "./config.ts";
import { CROP, CROP_CHANNELS, NUM_FEATURES } from "./features.ts";

export type JudgeParams = {
  hidden: LinearParams[];
  category: LinearParams;
  color: LinearParams;
};

/** What the network needs of the config (also what a checkpoint's config.json holds). */
export type JudgeNetConfig = Pick<JudgeConfig, "categories" | "model">;

export const INPUT_DIM = CROP * CROP * CROP_CHANNELS + NUM_FEATURES;

export function initJudge(seed: number, cfg: JudgeNetConfig): JudgeParams {
  const widths = [INPUT_DIM, ...cfg.model.hidden];
  const keys = splitKey(jaxKey(seed), widths.length + 1);
  const last = widths[widths.length - 1];
  return {
    hidden: widths.slice(1).map((w, i) => initLinear(keys[i], widths[i], w)),
    category: initLinear(keys[widths.length - 1], last, cfg.categories.length + 1, {
      init: { std: 0.01 },
    }),
    color: initLinear(keys[widths.length], last, COLORS.length, { init: { std: 0.01 } }),
  };
}

/** crops [B,CROP,CROP,3], feats [B,F] → [category logits [B,K+1], colour logits [B,10]]. */
export function applyJudge(p: JudgeParams, crops: JaxArray, feats: JaxArray): [JaxArray, JaxArray] {
  const B = crops.shape[0];
  let h = np.concatenate([crops.reshape([B, -1]), feats], -1); // [B, INPUT_DIM]
  for (const l of p.hidden) h = nn.relu(linear(l, h));
  return [linear(p.category, h.ref), linear(p.color, h)];
}

/**
 * The training task: category cross-entropy (with "none") plus colour
 * cross-entropy on real objects only. Batch: crops, feats, category (int32),
 * color (int32), colorMask (f32, 1 for real objects).
 */
export function judgeTask(cfg: JudgeNetConfig): Task {
  return {
    init: (seed) => initJudge(seed, cfg) as unknown as ParamTree,
    loss: (params: ParamTree, b: Batch) => {
      const [cat, col] = applyJudge(params as unknown as JudgeParams, b.crops, b.feats);
      return crossEntropy(cat, b.category).add(crossEntropy(col, b.color, b.colorMask));
    },
  };
}
