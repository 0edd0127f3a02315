/**
 * The understanding encoder's configuration (configs/encoder.json), validated once with zod at
 * the boundary. A checkpoint's config.json holds this resolved config plus the tokenizer's word
 * list, so a shipped encoder is rebuilt from its own directory alone.
 */
import { z } from "zod";
import { LATEST_VOCAB_VERSION, type TokenizerJSON } from "../data/tokenizer.ts";

/** Bottleneck grid sides the ablation may pick (they divide the 8×8 patch grid). */
export const BOTTLENECK_SIDES = [1, 2, 4, 8] as const;
export type BottleneckSide = (typeof BOTTLENECK_SIDES)[number];

const tower = (dim: number, depth: number) =>
  z
    .object({
      dim: z.number().int().positive().default(dim),
      depth: z.number().int().min(0).default(depth),
      heads: z.number().int().positive().default(4),
      mlpRatio: z.number().int().positive().default(2),
    })
    .strict()
    .refine((t) => t.dim % t.heads === 0, "dim must be divisible by heads");

const bottleneck = z
  .number()
  .int()
  .refine(
    (r) => (BOTTLENECK_SIDES as readonly number[]).includes(r),
    "bottleneck must be 1, 2, 4 or 8",
  );

export const EncoderModelSchema = z
  .object({
    imageSize: z.literal(32).default(32),
    patch: z.literal(4).default(4),
    vit: tower(128, 4).default({ dim: 128, depth: 4, heads: 4, mlpRatio: 2 }),
    /**
     * Convolutional stem: 3×3 convs (GELU) before the patch embedding; their strides multiply
     * to a divisor of the patch (vit.ts). Without one, the ViT learned colours within a few
     * hundred steps but shapes barely.
     */
    stem: z
      .array(
        z
          .object({
            channels: z.number().int().positive(),
            stride: z.union([z.literal(1), z.literal(2)]),
          })
          .strict(),
      )
      .max(4)
      .default([])
      .refine(
        (s) => 4 % s.reduce((p, c) => p * c.stride, 1) === 0,
        "strides must multiply to 1, 2 or 4",
      ),
    text: tower(128, 2).default({ dim: 128, depth: 2, heads: 4, mlpRatio: 2 }),
    /** Caption tokens including <bos>/<eos>; the longest dense caption is ~97 words. */
    maxLen: z.number().int().min(4).default(100),
    vocabVersion: z.number().int().min(1).max(LATEST_VOCAB_VERSION).default(LATEST_VOCAB_VERSION),
    /** Shared image/text embedding width. */
    embedDim: z.number().int().positive().default(128),
    /**
     * Bottleneck grid side r: understanding features are the 8×8 patch features average-pooled
     * to r×r; the image embedding is attention-pooled from these r² tokens, so they carry the
     * semantics the contrastive loss asks for.
     */
    bottleneck: bottleneck.default(4),
  })
  .strict();

export const EncoderLossSchema = z
  .object({
    /** "sigmoid" (SigLIP, default: see contrastive.ts for why) or "softmax" (CLIP InfoNCE). */
    kind: z.enum(["sigmoid", "softmax"]).default("sigmoid"),
    /** log t at init: SigLIP starts at t = 10. */
    logScaleInit: z.number().default(Math.log(10)),
    /** SigLIP's b starts at −10 for batches of 32k; about −log(B) suits B ≈ 32–64. */
    biasInit: z.number().default(-4),
    /**
     * Weight of the region-caption auxiliary loss (0 = contrastive only): each bottleneck token
     * names the category and colour of the object covering its cell, or background — a
     * localized caption, as in LocCa (Wan et al., 2024). Contrastive training alone learned
     * colours and counts but left shapes at chance on a linear probe within our budget.
     */
    regionWeight: z.number().min(0).default(0),
    /** A cell's label is its most-covering object if that covers ≥ this fraction of the cell. */
    regionMinCoverage: z.number().min(0).max(1).default(0.2),
  })
  .strict();

export const EncoderTrainSchema = z
  .object({
    steps: z.number().int().positive().default(1500),
    batch: z.number().int().positive().default(64),
    /** Largest slice per jitted pass; 0 = the whole shard (contrastive negatives come from it). */
    microBatch: z.number().int().min(0).default(0),
    lr: z.number().positive().default(1e-3),
    warmupSteps: z.number().int().min(0).default(100),
    weightDecay: z.number().min(0).default(0.05),
    minLrRatio: z.number().min(0).max(1).default(0.05),
    seed: z.number().int().min(0).default(0),
    checkpointEvery: z.number().int().positive().default(250),
  })
  .strict();

export const EncoderDataSchema = z
  .object({
    /** Active world categories (the default world has 6). */
    numCategories: z.number().int().min(2).max(10).default(6),
    /** Encoder corpus seed (src/data/corpora.ts CORPUS_SEEDS.encoder). */
    corpusSeed: z.number().int().min(0).default(1001),
    /**
     * Pair every scene with a near miss (an edit or a swap, see understanding-data.ts) in the
     * same batch: in-batch negatives of random scenes differ in colours and counts, so without
     * near misses nothing asks the encoder for shapes, positions or bindings.
     */
    nearMisses: z.boolean().default(true),
  })
  .strict();

export const EncoderConfigSchema = z
  .object({
    model: EncoderModelSchema.default(EncoderModelSchema.parse({})),
    loss: EncoderLossSchema.default(EncoderLossSchema.parse({})),
    data: EncoderDataSchema.default(EncoderDataSchema.parse({})),
    train: EncoderTrainSchema.default(EncoderTrainSchema.parse({})),
    /** Written by training into config.json (the vocabulary the text tower was trained on). */
    tokenizer: z.object({ version: z.number().int(), words: z.array(z.string()) }).optional(),
  })
  .strict()
  .refine((c) => !c.data.nearMisses || c.train.batch % 4 === 0, {
    message: "must be a multiple of 4 with near misses (pairs stay within a worker's shard)",
    path: ["train", "batch"],
  });

export type EncoderModelConfig = z.infer<typeof EncoderModelSchema>;
export type EncoderConfig = z.infer<typeof EncoderConfigSchema>;
export type { TokenizerJSON };

export function encoderConfig(partial: z.input<typeof EncoderConfigSchema> = {}): EncoderConfig {
  return EncoderConfigSchema.parse(partial);
}
