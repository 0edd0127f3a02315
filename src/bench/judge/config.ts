/**
 * The judge's configuration (configs/judge.json), validated once with zod. The
 * resolved config, including the category list, is written to the checkpoint's
 * config.json, so a shipped judge knows which categories it reads.
 */
import { z } from "zod";
import { ALL_CATEGORIES, DEFAULT_NUM_CATEGORIES } from "../../world/vocab.ts";

const range = (lo: number, hi: number) =>
  z
    .tuple([z.number().min(lo).max(hi), z.number().min(lo).max(hi)])
    .refine(([a, b]) => a <= b, "range must be [low, high]");

export const JudgeConfigSchema = z
  .object({
    /** Categories the judge tells apart (default: the world's first 6). */
    categories: z
      .array(z.enum(ALL_CATEGORIES))
      .min(2)
      .refine((c) => new Set(c).size === c.length, "categories must be distinct")
      .default(ALL_CATEGORIES.slice(0, DEFAULT_NUM_CATEGORIES)),
    /** Image sides trained on; the crop makes the classifier size-agnostic. */
    sizes: z
      .array(z.union([z.literal(32), z.literal(64)]))
      .min(1)
      .default([32, 64]),
    /** Probability that a training image is 64×64 when both sizes are listed. */
    size64Prob: z.number().min(0).max(1).default(0.2),
    model: z
      .object({
        /** Hidden widths of the MLP (see model.ts for why not a CNN). */
        hidden: z.array(z.number().int().positive()).min(1).default([192, 128]),
      })
      .strict()
      .default({ hidden: [192, 128] }),
    augment: z
      .object({
        /** Fraction of training images left clean. */
        cleanProb: z.number().min(0).max(1).default(0.2),
        /** Degradation strength is drawn from this range (1 = the eval mix, see degrade.ts). */
        strength: range(0, 3).default([0.3, 1.8]),
        /** Fraction of scenes allowed to overlap a little (minSeparation drawn from overlapSeparation). */
        overlapProb: z.number().min(0).max(1).default(0.15),
        overlapSeparation: range(0.5, 1).default([0.8, 1]),
        /** Fraction of object-free images (noise, smooth colour fields, speckle): negatives. */
        negativeProb: z.number().min(0).max(1).default(0.08),
      })
      .strict()
      .default({
        cleanProb: 0.2,
        strength: [0.3, 1.8],
        overlapProb: 0.15,
        overlapSeparation: [0.8, 1],
        negativeProb: 0.08,
      }),
    train: z
      .object({
        steps: z.number().int().positive().default(2000),
        /** Components (candidate objects) per step. */
        batch: z.number().int().positive().default(256),
        /**
         * Fresh components generated per step; the batch is the last batch/fresh
         * steps' fresh sets, so each example is seen batch/fresh times. Rendering and
         * segmenting in JS costs ~2.5 ms per component, ~10× the MLP's step.
         */
        fresh: z.number().int().positive().default(64),
        lr: z.number().positive().default(2e-3),
        warmupSteps: z.number().int().min(0).default(100),
        weightDecay: z.number().min(0).default(1e-4),
        seed: z.number().int().min(0).default(0),
        checkpointEvery: z.number().int().positive().default(250),
      })
      .strict()
      .refine((t) => t.batch % t.fresh === 0, "train.batch must be a multiple of train.fresh")
      .default({
        steps: 2000,
        batch: 256,
        fresh: 64,
        lr: 2e-3,
        warmupSteps: 100,
        weightDecay: 1e-4,
        seed: 0,
        checkpointEvery: 250,
      }),
    /** Held-out images (seed label "judge/calib") used to fit the score temperature. */
    calibrationImages: z.number().int().min(0).default(1500),
  })
  .strict();

export type JudgeConfig = z.infer<typeof JudgeConfigSchema>;

export function judgeConfig(partial: z.input<typeof JudgeConfigSchema> = {}): JudgeConfig {
  return JudgeConfigSchema.parse(partial);
}

/** Seed-stream labels: training, calibration and evaluation never share an image. */
export const SEED_LABELS = {
  train: "judge/train",
  calib: "judge/calib",
  heldout: "judge/heldout",
} as const;
