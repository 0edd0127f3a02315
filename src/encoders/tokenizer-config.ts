/**
 * Config pieces the two generation tokenizers (vae.ts, vq.ts) share: the conv autoencoder's
 * widths and the training run. Validated once at the boundary (the CLI), never deep inside.
 */
import { z } from "zod";

const blockCounts = z.tuple([z.number().int().min(0).max(4), z.number().int().min(0).max(4)]);

export const ConvAeSchema = z
  .object({
    /** Channels at 16×16 and 8×8. */
    channels: z.tuple([z.number().int().positive(), z.number().int().positive()]).default([32, 64]),
    /**
     * Residual blocks at [16×16, 8×8] in the encoder and [8×8, 16×16] in the decoder. The
     * decoder gets more: drawing sharp edges is harder than finding them, and every block at
     * 16×16 costs as much as four at 8×8 with twice the channels.
     */
    encoderBlocks: blockCounts.default([0, 1]),
    decoderBlocks: blockCounts.default([1, 1]),
    groups: z.number().int().positive().default(8),
    headChannels: z.number().int().positive().default(16),
  })
  .strict();

export const TokenizerTrainSchema = z
  .object({
    steps: z.number().int().positive().default(3000),
    batch: z.number().int().positive().default(32),
    /** Largest slice per jitted pass (0 = whole shard). */
    microBatch: z.number().int().min(0).default(0),
    lr: z.number().positive().default(2e-3),
    warmupSteps: z.number().int().min(0).default(100),
    minLrRatio: z.number().min(0).max(1).default(0.05),
    weightDecay: z.number().min(0).default(0),
    clipNorm: z.number().positive().default(1),
    seed: z.number().int().min(0).default(0),
    checkpointEvery: z.number().int().positive().default(500),
    /** Originals shown (with their reconstructions) in recon.png. */
    sheetImages: z.number().int().min(1).max(64).default(16),
  })
  .strict();

export const TokenizerDataSchema = z
  .object({
    /** World categories (the benchmarks use 6). */
    numCategories: z.number().int().min(2).max(10).default(6),
    /**
     * Training images are unlabeled-pool items [0, trainItems); the held-out PSNR set is taken
     * from [trainItems, pool length) (see tokenizer-data.ts).
     */
    trainItems: z.number().int().positive().default(48_000),
  })
  .strict();

export type ConvAeConfigInput = z.input<typeof ConvAeSchema>;
export type TokenizerTrainConfig = z.infer<typeof TokenizerTrainSchema>;
export type TokenizerDataConfig = z.infer<typeof TokenizerDataSchema>;
