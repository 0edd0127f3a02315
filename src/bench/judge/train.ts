/**
 * Training the judge's classifier with the generic loop (progress, metrics,
 * checkpoints, bit-identical resume), then calibrating its scores.
 *
 * Calibration is temperature scaling (Guo et al., 2017): one scalar T dividing
 * the category logits, fitted by minimising the category NLL on held-out renders
 * of their own stream ("judge/calib", half clean, half degraded). It keeps the
 * argmax, so accuracy is unchanged, and makes "score > 0.9" mean ≈ 90%+ correct.
 * T goes to calibration.json beside the checkpoint (checkpoint saves keep it).
 */
import { join } from "node:path";
import { initEngine } from "../../engine/jax.ts";
import { kernelThreads } from "../../engine/node-setup.ts";
import { optimConfig } from "../../engine/optim.ts";
import { LocalRunner } from "../../engine/runner.ts";
import { fromHost } from "../../engine/tree.ts";
import { type LoopResult, runTrainingLoop } from "../../train/loop.ts";
import { atomicWriteFile } from "../../util/fsutil.ts";
import { WorldRng } from "../../world/random.ts";
import { DEFAULT_STRENGTH } from "../degrade.ts";
import { type JudgeConfig, SEED_LABELS } from "./config.ts";
import { addExamples, allocExamples, renderSample, TrainingStream } from "./data.ts";
import { CALIBRATION_FILE, type Calibration, JudgeModel, softmaxRow } from "./detector.ts";
import { type JudgeParams, judgeTask } from "./model.ts";

export type TrainJudgeOptions = {
  outDir: string;
  resume?: boolean;
  force?: boolean;
  quiet?: boolean;
};

export type TrainJudgeResult = { loop: LoopResult; calibration: Calibration | null };

export async function trainJudge(
  cfg: JudgeConfig,
  o: TrainJudgeOptions,
): Promise<TrainJudgeResult> {
  await initEngine();
  const t = cfg.train;
  const optim = optimConfig({
    lr: t.lr,
    totalSteps: t.steps,
    warmupSteps: t.warmupSteps,
    weightDecay: t.weightDecay,
    clipNorm: 1,
  });
  const runner = new LocalRunner(judgeTask(cfg), optim, t.seed, 0, kernelThreads);
  const stream = new TrainingStream(cfg);
  try {
    const loop = await runTrainingLoop({
      runner,
      optim,
      steps: t.steps,
      batch: (step) => stream.batch(step),
      outDir: o.outDir,
      config: cfg,
      seed: t.seed,
      checkpointEvery: t.checkpointEvery,
      resume: o.resume,
      force: o.force,
      label: "judge",
      unitsPerStep: t.batch,
      quiet: o.quiet,
    });
    if (loop.status !== "done" || cfg.calibrationImages === 0) return { loop, calibration: null };
    const state = await runner.getState();
    const model = new JudgeModel(fromHost(state.params) as unknown as JudgeParams, cfg);
    try {
      const calibration = await calibrate(model, cfg);
      atomicWriteFile(
        join(o.outDir, CALIBRATION_FILE),
        `${JSON.stringify(calibration, null, 2)}\n`,
      );
      return { loop, calibration };
    } finally {
      model.dispose();
    }
  } finally {
    await runner.dispose();
  }
}

/** Fit the temperature on `cfg.calibrationImages` renders of the "judge/calib" stream. */
export async function calibrate(model: JudgeModel, cfg: JudgeConfig): Promise<Calibration> {
  const n = cfg.calibrationImages;
  // Scenes hold ≤ 4 objects; degraded ones add a few blobs. 24 per image is ample.
  const all = allocExamples(24 * n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const rng = WorldRng.fromParts(SEED_LABELS.calib, cfg.train.seed, i);
    const size = cfg.sizes.length === 1 ? cfg.sizes[0] : rng.bool(cfg.size64Prob) ? 64 : 32;
    const sample = renderSample(rng, {
      size,
      categories: cfg.categories,
      strength: i % 2 === 0 ? null : DEFAULT_STRENGTH,
    });
    total = addExamples(sample, cfg.categories, all, total);
  }
  const { category } = await model.logits(all, total);
  const K1 = cfg.categories.length + 1;
  const probs = new Float64Array(K1);
  const nll = (T: number) => {
    let s = 0;
    for (let i = 0; i < total; i++) {
      softmaxRow(category, i, K1, T, probs);
      s -= Math.log(Math.max(probs[all.category[i]], 1e-12));
    }
    return s / Math.max(1, total);
  };
  // Golden-section search on log T over [1/4, 4].
  let a = Math.log(0.25);
  let b = Math.log(4);
  const g = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 40; it++) {
    const c = b - g * (b - a);
    const d = a + g * (b - a);
    if (nll(Math.exp(c)) < nll(Math.exp(d))) b = d;
    else a = c;
  }
  const temperature = Math.exp((a + b) / 2);
  model.temperature = temperature;
  return {
    temperature,
    nllBefore: nll(1),
    nllAfter: nll(temperature),
    images: n,
    components: total,
  };
}
