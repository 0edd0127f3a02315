/**
 * VLM alignment, LLaVA-style (`reca train vlm`; docs/DESIGN.md, "Training order: LM, then VLM
 * alignment, then generation"). Starting from a language-model checkpoint (src/train/lm.ts):
 *
 *   align     the language model frozen (`freeze`: embed, positions, blocks, final norm), only
 *             the projector trains, on dense descriptions of images read from the frozen
 *             understanding encoder's features (`describeRow`): projected image tokens must
 *             come to stand where a caption of the image would, for the frozen LM to describe it;
 *   instruct  VQA and descriptions (`vqaRow`, `describeRow`), with the backbone either kept
 *             frozen (the projector alone) or unfrozen at a low learning rate.
 *
 * Rows are image→text only (no generation rows); the generator (and any learnable queries)
 * always stays frozen at whatever the start checkpoint holds, since text rows give it no
 * gradient and weight decay alone would move it. The output is an ordinary unified-model
 * checkpoint whose `stages` record gains this stage. Each step's rows come from a Rng seeded by
 * (seed, step): a batch is a pure function of its step, and resume is bit-identical.
 */
import { z } from "zod";
import type { SceneExclusion } from "../data/corpora.ts";
import { initEngine } from "../engine/jax.ts";
import type { Parallelism } from "../engine/parallel/index.ts";
import { Rng } from "../engine/rng.ts";
import { assembleTextBatch, openBatchContext } from "../umm/batch.ts";
import { type ResolvedUmmConfig, UmmTrainSchema } from "../umm/config.ts";
import { readModelDir } from "../umm/config-file.ts";
import { PretrainData, ummTrainRun } from "./pretrain.ts";
import type { TrainRunSummary } from "./run.ts";
import { parameterNames, splitGroups, stageRecord } from "./stages.ts";

/** The language model inside the backbone: everything but its projector(s). */
export const LANGUAGE_MODEL = [
  "backbone.embed",
  "backbone.pos",
  "backbone.blocks",
  "backbone.norm",
] as const;

export const VlmConfigSchema = z
  .object({
    /** The stage's name in the model's `stages` record. */
    stage: z.string().min(1).default("vlm-align"),
    /**
     * Parameters this stage freezes, as dotted prefixes (default: the language model, so only
     * the projector trains). The generator is frozen in every text stage regardless.
     */
    freeze: z.array(z.string().min(1)).default([...LANGUAGE_MODEL]),
    data: z
      .object({
        /** Fraction of rows that are dense descriptions (the rest VQA). */
        denseFraction: z.number().min(0).max(1).default(1),
        /** Token positions of an image→text row (null: the start model's `sequence.textLen`). */
        textLen: z.number().int().positive().nullable().default(null),
      })
      .strict()
      .prefault({}),
    train: UmmTrainSchema.extend({
      steps: z.number().int().positive().default(800),
      batch: z.number().int().positive().default(32),
      lr: z.number().positive().default(1e-3),
      warmupSteps: z.number().int().min(0).default(50),
      emaDecay: z.number().min(0).max(1).nullable().default(0.99),
      checkpointEvery: z.number().int().positive().default(200),
    }).prefault({}),
  })
  .strict();
export type VlmConfig = z.infer<typeof VlmConfigSchema>;

/** What a text stage always freezes besides its own list: the generator and the queries. */
export function generatorParts(cfg: Pick<ResolvedUmmConfig, "queries">): string[] {
  return ["family", ...(cfg.queries > 0 ? ["queries"] : [])];
}

/** The unified-model config of a VLM stage started from `base`. */
export function vlmModelConfig(base: ResolvedUmmConfig, vc: VlmConfig): ResolvedUmmConfig {
  if (base.conditionFeatures)
    throw new Error("a VLM stage reads understanding features; this model conditions on VAE ones");
  const textLen = vc.data.textLen ?? base.sequence.textLen;
  if (textLen > base.backbone.maxLen)
    throw new Error(
      `data.textLen ${textLen} exceeds the backbone's maxLen ${base.backbone.maxLen}`,
    );
  const freeze = [...new Set([...vc.freeze, ...generatorParts(base)])];
  return {
    ...base,
    freeze,
    sequence: { ...base.sequence, textLen },
    data: { ...base.data, denseFraction: vc.data.denseFraction },
    loss: { ...base.loss, text: 1, featureGradScale: 1 },
    train: vc.train,
  };
}

export type VlmTrainOptions = {
  /** The start checkpoint (a language model, or an earlier VLM stage). */
  from: string;
  outDir: string;
  resume?: boolean;
  force?: boolean;
  exclude?: SceneExclusion;
  parallelism?: Parallelism;
  quiet?: boolean;
  deadline?: number;
};

/** Train one VLM stage from `o.from` into `o.outDir`. */
export async function trainVlm(vc: VlmConfig, o: VlmTrainOptions): Promise<TrainRunSummary> {
  await initEngine();
  const md = readModelDir(o.from);
  const cfg = vlmModelConfig(md.config, vc);
  const split = splitGroups(await parameterNames(cfg), cfg.freeze);
  const ctx = openBatchContext(cfg);
  const data = new PretrainData(cfg, o.exclude);
  const t = cfg.train;
  const batch = (step: number) => {
    const rng = new Rng(`vlm/${vc.stage}:${t.seed}:${step}`);
    return assembleTextBatch(ctx, data.textRows(rng, t.batch));
  };
  const config = {
    ...cfg,
    tokenizer: md.tokenizer ?? ctx.tokenizer.toJSON(),
    stages: [...(md.stages ?? []), stageRecord(vc.stage, cfg, split, vc.data, o.from)],
  };
  try {
    return await ummTrainRun({ ...cfg, initFrom: o.from }, t, batch, config, {
      ...o,
      label: vc.stage,
    });
  } finally {
    ctx.dispose();
  }
}
