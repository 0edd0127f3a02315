/**
 * Reconstruction Alignment (Xie et al., 2025) and the post-training baselines that share its
 * harness. Family-agnostic: it builds rows and calls the unified model's task, which calls
 * `family.loss`; nothing about a family's internals is known here (ARCHITECTURE.md §2).
 *
 * A RecA generation row, per unlabeled image:
 *   condition = `<bos>` + a reconstruction template drawn per sample, with the image's frozen
 *               understanding features (at the bottleneck resolution) in its `<img>` slots;
 *               w.p. `textDropout` the template's text becomes "Generate an image." while the
 *               visual features stay (they are never dropped);
 *   target    = the same image, under the family's native loss.
 * The recipe follows the architecture (docs/DESIGN.md, "RecA per architecture"), unless the
 * config says otherwise:
 * - understanding shared with generation (the backbone trains; Harmon, Show-o, the jointly
 *   trained flow base): each row also carries an image→text example (VQA / dense descriptions),
 *   without which the representation collapses (the authors' rule), and the gradient into the
 *   visual-feature path is scaled by 0.1 (`loss.text` 0.5, `loss.featureGradScale` 0.1);
 * - understanding frozen (OpenUni's frozen LMM, the model config's `freeze`): no text
 *   co-training and no gradient scaling (0 and 1); the frozen parts stay bit-identical.
 * The ViT is frozen by construction: its features are data.
 *
 * Generation rows can instead be SFT rows (`mix.t2i`): the same pool images with their sparse
 * captions under the text→image loss — the baseline the paper compares against. Nothing changes
 * at inference.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { SceneExclusion } from "../data/corpora.ts";
import { unlabeledPool } from "../data/corpora.ts";
import { initEngine } from "../engine/jax.ts";
import type { Parallelism } from "../engine/parallel/index.ts";
import { Rng } from "../engine/rng.ts";
import { assembleBatch, type GenRow, openBatchContext } from "../umm/batch.ts";
import {
  type ResolvedUmmConfig,
  UmmTrainSchema,
  type Understanding,
  understandingOf,
} from "../umm/config.ts";
import { readUmmConfig } from "../umm/config-file.ts";
import type { Part } from "../umm/sequence.ts";
import type { RgbImage } from "../world/render.ts";
import { reconParts, reconRow, sftRow } from "./objectives.ts";
import { PretrainData, ummTrainRun } from "./pretrain.ts";
import type { TrainRunSummary } from "./run.ts";

export const PostTrainConfigSchema = z
  .object({
    /** "list": a template drawn per sample from RECON_TEMPLATES; "single": one fixed template. */
    templates: z.enum(["list", "single"]).default("list"),
    /** Probability that a recon row's text becomes "Generate an image." (features kept). */
    textDropout: z.number().min(0).max(1).default(0.1),
    /** Understanding-feature grid side for recon conditions (null: the base model's). */
    featureResolution: z.number().int().positive().nullable().default(null),
    /**
     * The condition ablation: "vae" reads reconstruction conditions from the KL-VAE's latents
     * (a generation encoder) through a fresh projector, at `resolution` (default its 8×8 grid);
     * image→text rows keep the understanding encoder.
     */
    conditionEncoder: z
      .object({
        kind: z.enum(["understanding", "vae"]).default("understanding"),
        dir: z.string().default("checkpoints/vae"),
        resolution: z.number().int().positive().nullable().default(null),
      })
      .strict()
      .prefault({}),
    /**
     * SFT rows' captions: "sparse" (the world's biased captions, the paper's SFT baseline) or
     * "complete" — every category, colour, exact count and a relation, in the same grammar: an
     * oracle control that uses labels RecA never sees, to measure what dense text supervision
     * could do for this generator in the same budget.
     */
    sftCaptions: z.enum(["sparse", "complete"]).default("sparse"),
    /** Generation rows: relative shares of reconstruction and SFT rows. */
    mix: z
      .object({ recon: z.number().min(0).default(1), t2i: z.number().min(0).default(0) })
      .strict()
      .prefault({}),
    loss: z
      .object({
        recon: z.number().min(0).default(1),
        t2i: z.number().min(0).default(1),
        /** Image→text co-training weight (0 = no text rows); default: the architecture's. */
        text: z.number().min(0).optional(),
        /** Gradient scale on the visual-feature path; default: the architecture's. */
        featureGradScale: z.number().min(0).max(1).optional(),
      })
      .strict()
      .prefault({}),
    /** The unified model's training block, with post-training defaults. */
    train: UmmTrainSchema.extend({
      steps: z.number().int().positive().default(200),
      lr: z.number().positive().default(1e-4),
      warmupSteps: z.number().int().min(0).default(10),
      emaDecay: z.number().min(0).max(1).nullable().default(0.99),
      checkpointEvery: z.number().int().positive().default(100),
    }).prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.mix.recon + c.mix.t2i <= 0)
      ctx.addIssue({ code: "custom", message: "mix.recon + mix.t2i must be positive" });
  });
export type PostTrainConfig = z.infer<typeof PostTrainConfigSchema>;

/** RecA's text co-training and feature-gradient scale for an architecture (see the top). */
export function recaLossDefaults(u: Understanding): { text: number; featureGradScale: number } {
  return u === "shared" ? { text: 0.5, featureGradScale: 0.1 } : { text: 0, featureGradScale: 1 };
}

/** The post-training loss weights with the architecture's defaults filled in. */
export function resolvedPostTrainLoss(pt: PostTrainConfig, base: ResolvedUmmConfig) {
  const d = recaLossDefaults(understandingOf(base));
  return {
    ...pt.loss,
    text: pt.loss.text ?? d.text,
    featureGradScale: pt.loss.featureGradScale ?? d.featureGradScale,
  };
}

/** Where unlabeled images come from: the world's pool, or a decoded image folder. */
export type ImageSource = {
  readonly length: number;
  /** Image i (32×32, [0, 1]) and, for world images, its scene (SFT captions need one). */
  get(i: number): { image: RgbImage; scene?: import("../world/scene.ts").Scene };
  readonly name: string;
};

export function worldPool(numCategories: number, exclude?: SceneExclusion): ImageSource {
  const pool = unlabeledPool({ numCategories, exclude });
  return {
    length: pool.length,
    name: `world unlabeled pool (seed ${pool.seed}, ${pool.length} images)`,
    get: (i) => {
      const it = pool.get(i);
      return { image: it.image, scene: it.scene };
    },
  };
}

/**
 * A folder of PNG/JPEG/... files, decoded, centre-cropped and resized to `size` (sharp);
 * unusable files are skipped and listed in `report`. No usable image at all is an error.
 */
export async function folderSource(
  dir: string,
  size: number,
): Promise<ImageSource & { skipped: { path: string; reason: string }[]; report: string }> {
  const { formatSkipReport, loadImageFolder } = await import("../data/images.ts");
  const r = await loadImageFolder(dir, { size });
  return {
    length: r.images.length,
    name: `${dir} (${r.images.length} images${r.skipped.length ? `, ${r.skipped.length} skipped` : ""})`,
    get: (i) => ({ image: r.images[i].image }),
    skipped: r.skipped,
    report: formatSkipReport(r.skipped),
  };
}

/** The base model's config with the post-training overrides that change the task. */
export function postTrainModelConfig(
  base: ResolvedUmmConfig,
  pt: PostTrainConfig,
): ResolvedUmmConfig {
  const loss = resolvedPostTrainLoss(pt, base);
  const resolution = pt.featureResolution ?? base.features.resolution;
  const tokens = resolution * resolution;
  let conditionFeatures: ResolvedUmmConfig["conditionFeatures"];
  if (pt.conditionEncoder.kind === "vae") {
    const dir = pt.conditionEncoder.dir;
    const path = join(dir, "config.json");
    if (!existsSync(path)) throw new Error(`condition encoder: no VAE at ${dir}`);
    const vae = JSON.parse(readFileSync(path, "utf8")) as {
      kind?: string;
      model?: { latentChannels?: number };
    };
    if (vae.kind !== "vae") throw new Error(`condition encoder: ${dir} is not a VAE`);
    const r = pt.conditionEncoder.resolution ?? 8;
    conditionFeatures = {
      source: "vae",
      dir,
      resolution: r,
      tokens: r * r,
      dim: vae.model?.latentChannels ?? 4,
    };
  }
  const slots = conditionFeatures ? conditionFeatures.tokens : tokens;
  const conditionLen = Math.max(base.sequence.conditionLen, 1 + slots + 31);
  if (conditionLen > base.backbone.maxLen)
    throw new Error(
      `${slots} feature tokens plus a template need ${conditionLen} positions; the base model has ` +
        `${base.backbone.maxLen}: use a lower resolution`,
    );
  return {
    ...base,
    ...(conditionFeatures ? { conditionFeatures } : {}),
    features: { ...base.features, resolution, tokens },
    sequence: { ...base.sequence, conditionLen },
    loss: {
      ...base.loss,
      t2i: pt.loss.t2i,
      text: loss.text,
      featureGradScale: loss.featureGradScale,
    },
  };
}

/** The recon and SFT rows of one step. */
export class PostTrainRows {
  constructor(
    readonly pt: PostTrainConfig,
    readonly images: ImageSource,
  ) {}

  reconParts(rng: Rng): readonly Part[] {
    return reconParts(rng, {
      single: this.pt.templates === "single",
      textDropout: this.pt.textDropout,
    });
  }

  genRows(rng: Rng, n: number): GenRow[] {
    const { mix, loss } = this.pt;
    const pRecon = mix.recon / (mix.recon + mix.t2i);
    return Array.from({ length: n }, () => {
      const i = Math.floor(rng.float() * this.images.length);
      const { image, scene } = this.images.get(i);
      if (rng.float() < pRecon) return reconRow(this.reconParts(rng), image, loss.recon);
      if (!scene)
        throw new Error("SFT rows need captions: use the world pool, not an image folder");
      return sftRow(scene, image, i, rng, loss.t2i, this.pt.sftCaptions === "complete");
    });
  }
}

export type PostTrainOptions = {
  /** The base model's checkpoint directory. */
  from: string;
  outDir: string;
  images: ImageSource;
  resume?: boolean;
  force?: boolean;
  exclude?: SceneExclusion;
  parallelism?: Parallelism;
  quiet?: boolean;
  label?: string;
  /** Wall-clock deadline, `Date.now()` ms (LoopOptions.deadline): the demo's budget. */
  deadline?: number;
};

/** Post-train a unified model (RecA, SFT or a mix) from `o.from`. */
export async function postTrain(
  pt: PostTrainConfig,
  o: PostTrainOptions,
): Promise<TrainRunSummary> {
  await initEngine();
  const base = readUmmConfig(o.from);
  const cfg = postTrainModelConfig(base, pt);
  const ctx = openBatchContext(cfg);
  const rows = new PostTrainRows(pt, o.images);
  const text = cfg.loss.text > 0 ? new PretrainData(cfg, o.exclude) : null;
  const t = pt.train;
  const batch = (step: number) => {
    const rng = new Rng(`reca/post:${t.seed}:${step}`);
    const gen = rows.genRows(rng, t.batch);
    return assembleBatch(ctx, gen, text ? text.textRows(rng, t.batch) : null, rng);
  };
  const postTrain = { ...pt, loss: resolvedPostTrainLoss(pt, base), from: o.from };
  const config = { ...cfg, tokenizer: ctx.tokenizer.toJSON(), postTrain };
  try {
    return await ummTrainRun({ ...cfg, initFrom: o.from }, t, batch, config, {
      ...o,
      label: o.label ?? (pt.mix.t2i > 0 && pt.mix.recon === 0 ? "sft" : "reca"),
    });
  } finally {
    ctx.dispose();
  }
}
