/**
 * Host batches for the unified model's task (layout in src/umm/model.ts). Recipes describe rows —
 * a generation row (condition parts + target image, optionally an edit source and the image whose
 * features fill the `<img>` slots) and an image→text row — and `assembleBatch` tokenises them,
 * runs the frozen understanding encoder on every image that feeds a slot, asks the family for
 * its targets and edit inputs (its data side), and draws the family's noise.
 */
import { Tokenizer } from "../data/tokenizer.ts";
import {
  imagesToArray,
  loadUnderstandingEncoder,
  type UnderstandingEncoder,
} from "../encoders/understanding.ts";
import type { Rng } from "../engine/rng.ts";
import type { HostArray, HostBatch } from "../engine/train-step.ts";
import type { RgbImage } from "../world/render.ts";
import type { ResolvedUmmConfig } from "./config.ts";
import type { FamilyData, GenerationFamily } from "./family.ts";
import { type FeatureSource, VaeFeatureSource } from "./features.ts";
import { FAMILY_PREFIX, familyOf, NOISE_PREFIX } from "./model.ts";
import { conditionSequences, type Part, type TextExample, textSequences } from "./sequence.ts";

export type GenRow = {
  parts: readonly Part[];
  /** The image to produce. */
  target: RgbImage;
  /** Edit rows: the image to edit (enters the family as extra input). */
  source?: RgbImage;
  /** The image whose understanding features fill the row's `<img>` slots. */
  features?: RgbImage;
  weight: number;
};

export type TextRow = TextExample & { image: RgbImage };

export type BatchContext = {
  cfg: ResolvedUmmConfig;
  tokenizer: Tokenizer;
  encoder: FeatureSource;
  family: GenerationFamily;
  /** The family's host data side (targets, edit inputs). */
  familyData: FamilyData;
  /** The condition ablation's encoder for generation rows (cfg.conditionFeatures). */
  conditionSource?: FeatureSource;
};

/**
 * The batch context a model's config asks for: its tokenizer, understanding encoder, generation
 * family and its data side, and (for the condition ablation) the VAE condition source. `dispose`
 * frees the encoders.
 */
export function openBatchContext(
  cfg: ResolvedUmmConfig,
): BatchContext & { encoder: UnderstandingEncoder; dispose: () => void } {
  const encoder = loadUnderstandingEncoder(cfg.encoder);
  const conditionSource = cfg.conditionFeatures
    ? VaeFeatureSource.load(cfg.conditionFeatures.dir)
    : undefined;
  const family = familyOf(cfg);
  const familyData = family.openData();
  return {
    cfg,
    tokenizer: Tokenizer.world(cfg.backbone.vocabVersion),
    encoder,
    family,
    familyData,
    conditionSource,
    dispose: () => {
      encoder.dispose();
      familyData.dispose();
      conditionSource?.dispose();
    },
  };
}

function f32(shape: number[], data: Float32Array): HostArray {
  return { dtype: "float32", shape, data };
}

/**
 * Frozen understanding features [n, R, F] of the given images (rows without one get zeros).
 * One encoder call for the whole list, padded to its full length so the jitted extraction keeps
 * one shape.
 */
export async function featureRows(
  encoder: FeatureSource,
  images: readonly (RgbImage | undefined)[],
  resolution: number,
  blank: RgbImage,
): Promise<HostArray> {
  const x = imagesToArray(images.map((im) => im ?? blank));
  const feats = encoder.features(x, { resolution });
  const [n, R, F] = feats.shape;
  const data = (await feats.data()) as Float32Array;
  images.forEach((im, i) => {
    if (!im) data.fill(0, i * R * F, (i + 1) * R * F);
  });
  return f32([n, R, F], data);
}

/** Tokenise, extract features and draw noise for one batch of rows. */
export async function assembleBatch(
  ctx: BatchContext,
  gen: readonly GenRow[],
  text: readonly TextRow[] | null,
  rng: Rng,
): Promise<HostBatch> {
  const { cfg, tokenizer: tok } = ctx;
  const B = gen.length;
  if (text && text.length !== B) throw new Error(`${B} generation rows but ${text.length} text`);
  const R = cfg.features.tokens;
  const blank = gen[0].target;
  const cf = cfg.conditionFeatures;
  if (cf && !ctx.conditionSource) throw new Error(`conditionFeatures (${cf.source}) need a source`);
  const g = conditionSequences(
    tok,
    gen.map((r) => r.parts),
    cfg.sequence.conditionLen,
    cf ? cf.tokens : R,
  );
  const genImages = gen.map((r) => r.features);
  const textImages = (text ?? []).map((r) => r.image);
  const F = cfg.features.dim;
  let gFeats: HostArray;
  let xData: Float32Array;
  if (cf && ctx.conditionSource) {
    gFeats = await featureRows(ctx.conditionSource, genImages, cf.resolution, blank);
    xData = text
      ? ((await featureRows(ctx.encoder, textImages, cfg.features.resolution, blank))
          .data as Float32Array)
      : new Float32Array(0);
  } else {
    const all = [...genImages, ...textImages];
    const feats = await featureRows(ctx.encoder, all, cfg.features.resolution, blank);
    gFeats = f32([B, R, F], (feats.data as Float32Array).slice(0, B * R * F));
    xData = (feats.data as Float32Array).slice(B * R * F);
  }
  const hb: HostBatch = {
    g_tokens: g.tokens,
    g_valid: g.valid,
    g_slots: g.slots,
    g_feats: gFeats,
    g_weight: f32(
      [B],
      Float32Array.from(gen, (r) => r.weight),
    ),
  };
  const familyArrays = {
    ...(await ctx.familyData.targets(gen.map((r) => r.target))),
    ...ctx.familyData.editInputs(gen.map((r) => r.source)),
  };
  for (const [k, v] of Object.entries(familyArrays)) hb[FAMILY_PREFIX + k] = v;
  for (const [k, v] of Object.entries(ctx.family.lossNoise(rng, B))) hb[NOISE_PREFIX + k] = v;
  if (text) {
    const x = textSequences(tok, text, cfg.sequence.textLen, R);
    Object.assign(hb, {
      x_tokens: x.tokens,
      x_valid: x.valid,
      x_slots: x.slots,
      x_feats: f32([B, R, F], xData),
      x_targets: x.targets,
      x_mask: x.mask,
    });
  }
  return hb;
}

/**
 * A text-only batch (the VLM stages: no generation rows): image→text rows with their images'
 * frozen understanding features, as `x_*` (layout in src/umm/model.ts).
 */
export async function assembleTextBatch(
  ctx: BatchContext,
  text: readonly TextRow[],
): Promise<HostBatch> {
  const { cfg, tokenizer: tok } = ctx;
  if (text.length === 0) throw new Error("a text batch needs rows");
  const R = cfg.features.tokens;
  const feats = await featureRows(
    ctx.encoder,
    text.map((r) => r.image),
    cfg.features.resolution,
    text[0].image,
  );
  const x = textSequences(tok, text, cfg.sequence.textLen, R);
  return {
    x_tokens: x.tokens,
    x_valid: x.valid,
    x_slots: x.slots,
    x_feats: feats,
    x_targets: x.targets,
    x_mask: x.mask,
  };
}
