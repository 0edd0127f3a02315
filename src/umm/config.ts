/**
 * The unified model's configuration (configs/base-flow.json): backbone, generator (a family from
 * the registry and its config), the frozen understanding encoder it reads, learnable queries,
 * frozen parameters, sequence lengths, the pretraining data mix, loss weights and the
 * optimisation schedule. Validated with zod; unknown keys are errors so a typo never silently
 * falls back to a default. Reading a model directory's config.json (and migrating the layout of
 * earlier checkpoints) is src/umm/config-file.ts.
 */
import { z } from "zod";
import { LATEST_VOCAB_VERSION, VOCAB_CAPACITY } from "../data/tokenizer.ts";
import { type OptimConfig, optimConfig } from "../engine/optim.ts";
import { GeneratorConfigSchema } from "./families/index.ts";

export const BackboneConfigSchema = z
  .object({
    dim: z.number().int().positive().default(128),
    depth: z.number().int().min(1).default(4),
    heads: z.number().int().positive().default(4),
    mlpRatio: z.number().int().positive().default(4),
    /** Position-table length: the longest sequence the backbone reads. */
    maxLen: z.number().int().positive().default(128),
    /** Word-vocabulary version (src/data/tokenizer.ts) and embedding rows (room to grow). */
    vocabVersion: z.number().int().min(1).max(LATEST_VOCAB_VERSION).default(LATEST_VOCAB_VERSION),
    vocabSize: z.number().int().positive().default(VOCAB_CAPACITY),
  })
  .strict();

export const UmmDataSchema = z
  .object({
    numCategories: z.number().int().min(2).max(10).default(6),
    /** Fraction of generation rows that are edits (the rest text→image). */
    editFraction: z.number().min(0).max(1).default(0.25),
    /** Fraction of image→text rows that are dense descriptions (the rest VQA). */
    denseFraction: z.number().min(0).max(1).default(0.5),
    /** Probability that a generation row's text is replaced by the null prompt. */
    conditionDropout: z.number().min(0).max(1).default(0.1),
  })
  .strict();

export const UmmLossSchema = z
  .object({
    t2i: z.number().min(0).default(1),
    edit: z.number().min(0).default(1),
    /** Weight of the image→text cross-entropy (0 = no text rows at all). */
    text: z.number().min(0).default(0.5),
    /**
     * Gradient scale on the visual-feature path (the projector's output, in generation
     * conditions and image→text rows alike): value unchanged, gradient × this. RecA uses 0.1 on a
     * shared backbone (Harmon's rule; docs/DESIGN.md, "RecA per architecture").
     */
    featureGradScale: z.number().min(0).max(1).default(1),
  })
  .strict();

export const UmmTrainSchema = z
  .object({
    steps: z.number().int().positive().default(3000),
    /** Rows per step; each row holds one generation example and one image→text example. */
    batch: z.number().int().positive().default(16),
    microBatch: z.number().int().min(0).default(0),
    lr: z.number().positive().default(1e-3),
    warmupSteps: z.number().int().min(0).default(100),
    minLrRatio: z.number().min(0).max(1).default(0.1),
    weightDecay: z.number().min(0).default(0.01),
    clipNorm: z.number().positive().nullable().default(1),
    emaDecay: z.number().min(0).max(1).nullable().default(0.999),
    seed: z.number().int().min(0).default(0),
    /** Checkpoint (and sample sheet) every this many steps. */
    checkpointEvery: z.number().int().positive().default(250),
  })
  .strict();

export const UmmConfigSchema = z
  .object({
    /** The generation family and its config (src/umm/families/index.ts). */
    generator: GeneratorConfigSchema.prefault({ family: "flow" }),
    /** Directory of the frozen understanding encoder (relative to the working directory). */
    encoder: z.string().default("checkpoints/encoder"),
    /** Side of the feature grid read from the encoder (default: its bottleneck). */
    featureResolution: z.number().int().positive().nullable().default(null),
    backbone: BackboneConfigSchema.default(BackboneConfigSchema.parse({})),
    /**
     * Learnable query tokens appended to the backbone's input (OpenUni): with N > 0 the
     * generation condition is the backbone's final states at the N query positions.
     */
    queries: z.number().int().min(0).default(0),
    /**
     * Parameters frozen whenever this model trains, as dotted prefixes of parameter names
     * ("backbone" = the whole language model; "backbone.projector"): no gradient, no weight
     * decay, no EMA change. Post-training inherits it.
     */
    freeze: z.array(z.string().min(1)).default([]),
    sequence: z
      .object({
        /** Generation-condition rows: prompt / `<img>`×R + instruction (DPG prompts reach 59 tokens). */
        conditionLen: z.number().int().positive().default(64),
        /** Image→text rows: `<img>`×R + question `<sep>` answer `<eos>`. */
        textLen: z.number().int().positive().default(112),
      })
      .strict()
      .default({ conditionLen: 64, textLen: 112 }),
    data: UmmDataSchema.default(UmmDataSchema.parse({})),
    loss: UmmLossSchema.default(UmmLossSchema.parse({})),
    train: UmmTrainSchema.default(UmmTrainSchema.parse({})),
  })
  .strict();

export type UmmConfig = z.infer<typeof UmmConfigSchema>;

/**
 * How understanding and generation share the backbone: "shared" when generation training also
 * trains the backbone (BAGEL without --freeze_und, Harmon, Show-o), "frozen" when the backbone is
 * frozen (OpenUni's frozen LMM). RecA's recipe follows from it (src/train/reca.ts).
 */
export type Understanding = "shared" | "frozen";

export function understandingOf(cfg: Pick<UmmConfig, "freeze">): Understanding {
  return cfg.freeze.includes("backbone") ? "frozen" : "shared";
}
export type UmmTrainConfig = z.infer<typeof UmmTrainSchema>;

/** The optimiser of a unified-model training block (pretraining and post-training alike). */
export function ummOptim(t: UmmTrainConfig): OptimConfig {
  return optimConfig({
    lr: t.lr,
    totalSteps: t.steps,
    warmupSteps: t.warmupSteps,
    weightDecay: t.weightDecay,
    minLrRatio: t.minLrRatio,
    clipNorm: t.clipNorm,
    emaDecay: t.emaDecay,
    emaWarmup: true,
  });
}

/**
 * What the task needs beyond the config, fixed when training starts and stored with the
 * checkpoint: the feature grid (R = side²) and width of the frozen encoder.
 */
export type ResolvedUmmConfig = UmmConfig & {
  features: { resolution: number; tokens: number; dim: number };
  /**
   * RecA's condition ablation: generation conditions read features from another (generation)
   * encoder through their own projector, while image→text keeps the understanding encoder.
   */
  conditionFeatures?: {
    source: "vae";
    dir: string;
    resolution: number;
    tokens: number;
    dim: number;
  };
};

export function ummConfig(partial: z.input<typeof UmmConfigSchema> = {}): UmmConfig {
  return UmmConfigSchema.parse(partial);
}
