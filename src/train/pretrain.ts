/**
 * Pretraining the unified model (`reca train base`): text→image on the sparse, biased caption
 * corpus, editing on the world's edit pairs, and image→text on VQA and dense descriptions, in the
 * ratios and weights of the config. Each step's rows come from a Rng seeded by (seed, step), so a
 * batch is a pure function of its step: resume needs no data cursor, and the next batch can be
 * built on the main thread while data-parallel workers compute the current one.
 *
 * At every checkpoint a sample sheet (samples.png + samples.txt) shows fixed prompts drawn with
 * the EMA weights, so progress is visible without a benchmark run.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type SceneExclusion, type UmmItem, ummCorpus, ummKindHint } from "../data/corpora.ts";
import { contactSheet, encodePng } from "../data/png.ts";
import { readEncoderConfig } from "../encoders/understanding.ts";
import { initEngine } from "../engine/jax.ts";
import type { Parallelism } from "../engine/parallel/index.ts";
import { Rng } from "../engine/rng.ts";
import { fromHost } from "../engine/tree.ts";
import { assembleBatch, type GenRow, openBatchContext, type TextRow } from "../umm/batch.ts";
import {
  type ResolvedUmmConfig,
  type UmmConfig,
  type UmmTrainConfig,
  ummOptim,
} from "../umm/config.ts";
import { resolveSamplerOptions } from "../umm/family.ts";
import { UmmModel } from "../umm/infer.ts";
import { imageSizeOf, UMM_TASK_MODULE, type UmmParams } from "../umm/model.ts";
import { atomicWriteFile } from "../util/fsutil.ts";
import { describeRow, drawDescription, editRow, t2iRow, vqaRow } from "./objectives.ts";
import { type TrainRunOptions, type TrainRunSummary, trainRun } from "./run.ts";

/** Fill in the frozen encoder's feature grid and width (read from its config). */
export function resolveUmmConfig(cfg: UmmConfig): ResolvedUmmConfig {
  const enc = readEncoderConfig(cfg.encoder);
  const m = enc.model;
  const resolution = cfg.featureResolution ?? m.bottleneck;
  const grid = m.imageSize / m.patch;
  if (grid % resolution !== 0)
    throw new Error(
      `featureResolution ${resolution} must divide the encoder's ${grid}×${grid} grid`,
    );
  return { ...cfg, features: { resolution, tokens: resolution * resolution, dim: m.vit.dim } };
}

type Kind = UmmItem["kind"];

/**
 * Draws the rows of one step from the UMM corpus (benchmark scenes excluded). Items are indexed
 * by their kind hint once (no rendering); a row draws indices of its kind until the item really
 * has it.
 */
export class PretrainData {
  readonly #corpus;
  readonly #byKind: Record<Kind, number[]> = { caption: [], vqa: [], edit: [] };

  constructor(
    readonly cfg: ResolvedUmmConfig,
    exclude?: SceneExclusion,
  ) {
    this.#corpus = ummCorpus({
      numCategories: cfg.data.numCategories,
      imageSize: imageSizeOf(cfg),
      exclude,
    });
    for (let i = 0; i < this.#corpus.length; i++)
      this.#byKind[ummKindHint(i, this.#corpus.seed)].push(i);
  }

  /** A random item of `kind` (and its index). */
  draw<K extends Kind>(rng: Rng, kind: K): [number, Extract<UmmItem, { kind: K }>] {
    const xs = this.#byKind[kind];
    for (let attempt = 0; attempt < 64; attempt++) {
      const i = xs[Math.floor(rng.float() * xs.length)];
      const it = this.#corpus.get(i);
      if (it.kind === kind) return [i, it as Extract<UmmItem, { kind: K }>];
    }
    throw new Error(`umm corpus: no ${kind} item in 64 draws`);
  }

  counts(): Record<Kind, number> {
    return {
      caption: this.#byKind.caption.length,
      vqa: this.#byKind.vqa.length,
      edit: this.#byKind.edit.length,
    };
  }

  genRows(rng: Rng, n: number): GenRow[] {
    const { data: d, loss } = this.cfg;
    return Array.from({ length: n }, () => {
      const dropText = rng.float() < d.conditionDropout;
      if (rng.float() < d.editFraction) {
        const [, it] = this.draw(rng, "edit");
        return editRow(it.instruction, it.sourceImage, it.targetImage, loss.edit, dropText);
      }
      const [, it] = this.draw(rng, "caption");
      return t2iRow(dropText ? null : it.caption, it.image, loss.t2i);
    });
  }

  textRows(rng: Rng, n: number): TextRow[] {
    return Array.from({ length: n }, () => {
      const [i, it] = this.draw(rng, "vqa");
      if (rng.float() < this.cfg.data.denseFraction)
        return describeRow(it.image, drawDescription(it.scene, i, rng));
      return vqaRow(it.image, it.question, it.answer);
    });
  }
}

/**
 * A unified model's training run (pretraining and post-training alike): the task `ummTask(cfg)`
 * in every runner, batches prefetched, checkpoints every `t.checkpointEvery` steps, `config`
 * written beside them.
 */
export function ummTrainRun(
  cfg: ResolvedUmmConfig & { initFrom?: string },
  t: UmmTrainConfig,
  batch: TrainRunOptions["batch"],
  config: unknown,
  o: Pick<
    TrainRunOptions,
    "outDir" | "resume" | "force" | "parallelism" | "label" | "quiet" | "deadline" | "onCheckpoint"
  >,
): Promise<TrainRunSummary> {
  return trainRun({
    spec: { module: UMM_TASK_MODULE, exportName: "ummTask", config: cfg },
    optim: ummOptim(t),
    steps: t.steps,
    batch,
    prefetch: true,
    batchSize: t.batch,
    microBatchSize: t.microBatch,
    config,
    seed: t.seed,
    checkpointEvery: t.checkpointEvery,
    outDir: o.outDir,
    resume: o.resume,
    force: o.force,
    parallelism: o.parallelism,
    label: o.label,
    quiet: o.quiet,
    deadline: o.deadline,
    onCheckpoint: o.onCheckpoint,
  });
}

/** Prompts of the sample sheet: single objects, pairs, counts, positions; fixed. */
export const SHEET_PROMPTS = [
  "a red circle",
  "a blue square",
  "a yellow triangle",
  "a green cross",
  "a purple circle and an orange square",
  "a white triangle left of a black circle",
  "a pink square above a brown cross",
  "two blue circles",
];

export type PretrainOptions = {
  outDir: string;
  resume?: boolean;
  force?: boolean;
  exclude?: SceneExclusion;
  parallelism?: Parallelism;
  quiet?: boolean;
  /** Sample sheets at checkpoints (default true). */
  sheets?: boolean;
};

export async function pretrainUmm(
  cfg: ResolvedUmmConfig,
  o: PretrainOptions,
): Promise<TrainRunSummary> {
  await initEngine();
  const t = cfg.train;
  const ctx = openBatchContext(cfg);
  const { tokenizer, encoder, family } = ctx;
  const config = { ...cfg, tokenizer: tokenizer.toJSON() };
  const data = new PretrainData(cfg, o.exclude);
  const withText = cfg.loss.text > 0;
  const batch = (step: number) => {
    const rng = new Rng(`umm/pretrain:${t.seed}:${step}`);
    const gen = data.genRows(rng, t.batch);
    const text = withText ? data.textRows(rng, t.batch) : null;
    return assembleBatch(ctx, gen, text, rng);
  };
  try {
    return await ummTrainRun(cfg, t, batch, config, {
      ...o,
      label: "base",
      onCheckpoint:
        o.sheets === false
          ? undefined
          : async (step, runner) => {
              const state = await runner.getState();
              const params = fromHost(state.ema ?? state.params) as unknown as UmmParams;
              // The sheet's model borrows the training encoder; only its params are its own.
              const model = new UmmModel(params, cfg, encoder, tokenizer);
              const images = await model.generate(SHEET_PROMPTS, { seed: 0 });
              const sheet = contactSheet(images, { cols: SHEET_PROMPTS.length, scale: 2 });
              const png = encodePng(sheet);
              atomicWriteFile(join(o.outDir, "samples.png"), png);
              // The history: one sheet per checkpoint, to watch composition form.
              mkdirSync(join(o.outDir, "samples"), { recursive: true });
              atomicWriteFile(
                join(o.outDir, "samples", `step-${String(step).padStart(6, "0")}.png`),
                png,
              );
              writeFileSync(
                join(o.outDir, "samples.txt"),
                `step ${step} (EMA weights, guidance ${family.sampling.guidance}, ` +
                  `${JSON.stringify(resolveSamplerOptions(family))}, seed 0)\n` +
                  SHEET_PROMPTS.map((p, i) => `${i + 1}. ${p}`).join("\n") +
                  "\n",
              );
              model.disposeOwn();
            },
    });
  } finally {
    ctx.dispose();
  }
}
