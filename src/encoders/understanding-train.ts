/**
 * Training the understanding encoder with the generic loop (data-parallel replicas, progress,
 * metrics, checkpoints, bit-identical resume): batches of (render, dense caption) from the
 * encoder corpus, scene keys for the contrastive positives, and a retrieval sheet at every
 * checkpoint.
 *
 * A batch is a pure function of its step (corpus items are pure in their index), so resume
 * needs no data cursor.
 */
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { encoderCorpus, type SceneExclusion } from "../data/corpora.ts";
import { Tokenizer } from "../data/tokenizer.ts";
import { optimConfig } from "../engine/optim.ts";
import type { Parallelism } from "../engine/parallel/index.ts";
import type { HostBatch } from "../engine/train-step.ts";
import { fromHost } from "../engine/tree.ts";
import { type TrainRunSummary, trainRun } from "../train/run.ts";
import { worldCategories } from "../world/vocab.ts";
import { UnderstandingEncoder, type UnderstandingParams } from "./understanding.ts";
import type { EncoderConfig } from "./understanding-config.ts";
import { encoderBatch, withNearMiss } from "./understanding-data.ts";
import { heldoutItems, retrievalReport, writeRetrievalSheet } from "./understanding-retrieval.ts";

/** The encoder corpus as configured (with the benchmark exclusion when given). */
export function trainingCorpus(cfg: EncoderConfig, exclude?: SceneExclusion) {
  return encoderCorpus({
    seed: cfg.data.corpusSeed,
    numCategories: cfg.data.numCategories,
    imageSize: cfg.model.imageSize,
    exclude,
  });
}

/** The resolved config a checkpoint stores: the run config plus the tokenizer's words. */
export function checkpointConfig(cfg: EncoderConfig): EncoderConfig {
  return { ...cfg, tokenizer: Tokenizer.world(cfg.model.vocabVersion).toJSON() };
}

export type TrainEncoderOptions = {
  outDir: string;
  resume?: boolean;
  force?: boolean;
  /** Benchmark scenes to keep out of training (src/bench/exclusion.ts). */
  exclude?: SceneExclusion;
  parallelism?: Parallelism;
  quiet?: boolean;
  /** Write retrieval.png / retrieval.txt at each checkpoint (default true). */
  sheets?: boolean;
};

export async function trainUnderstandingEncoder(
  cfg: EncoderConfig,
  o: TrainEncoderOptions,
): Promise<TrainRunSummary> {
  const t = cfg.train;
  const config = checkpointConfig(cfg);
  const tokenizer = Tokenizer.fromJSON(config.tokenizer!);
  const corpus = trainingCorpus(cfg, o.exclude);
  const optim = optimConfig({
    lr: t.lr,
    totalSteps: t.steps,
    warmupSteps: t.warmupSteps,
    weightDecay: t.weightDecay,
    minLrRatio: t.minLrRatio,
    clipNorm: 1,
  });
  const paired = {
    corpus,
    categories: worldCategories(cfg.data.numCategories),
    exclude: o.exclude,
  };
  const region =
    cfg.loss.regionWeight > 0
      ? {
          resolution: cfg.model.bottleneck,
          categories: paired.categories,
          minCoverage: cfg.loss.regionMinCoverage,
        }
      : undefined;
  const batch = (step: number): HostBatch => {
    // With near misses, slots 2k and 2k+1 hold a scene and its near miss (shards of an even
    // size never split a pair); batch b of step s reads base items from (s−1)·B/2.
    const per = cfg.data.nearMisses ? t.batch / 2 : t.batch;
    const items = Array.from({ length: per }, (_, k) => {
      const i = ((step - 1) * per + k) % corpus.length;
      return cfg.data.nearMisses ? withNearMiss(paired, i) : [corpus.get(i)];
    }).flat();
    return encoderBatch(items, tokenizer, cfg.model.maxLen, region);
  };
  const sheetItems = o.sheets === false ? [] : heldoutItems(cfg, 64);
  return trainRun({
    spec: {
      module: new URL("./understanding.ts", import.meta.url).href,
      exportName: "understandingTask",
      config: cfg,
    },
    optim,
    steps: t.steps,
    batch,
    batchSize: t.batch,
    microBatchSize: t.microBatch,
    outDir: o.outDir,
    config,
    seed: t.seed,
    checkpointEvery: t.checkpointEvery,
    resume: o.resume,
    force: o.force,
    parallelism: o.parallelism,
    label: "encoder",
    quiet: o.quiet,
    onCheckpoint:
      o.sheets === false
        ? undefined
        : async (_step, runner) => {
            const state = await runner.getState();
            const enc = new UnderstandingEncoder(
              fromHost(state.params) as unknown as UnderstandingParams,
              config,
            );
            try {
              const rep = await retrievalReport(enc, sheetItems);
              writeRetrievalSheet(o.outDir, sheetItems, rep);
            } finally {
              enc.dispose();
            }
          },
  });
}

/** Files a shipped encoder needs (no optimizer or trainer state), plus its records. */
const SHIPPED = [
  "model.safetensors",
  "config.json",
  "metrics.jsonl",
  "retrieval.png",
  "retrieval.txt",
];

/** Copy a finished run's params, config and records to `shipDir` (e.g. checkpoints/encoder). */
export function shipEncoder(runDir: string, shipDir: string): string[] {
  mkdirSync(shipDir, { recursive: true });
  const copied: string[] = [];
  for (const f of SHIPPED) {
    if (!existsSync(join(runDir, f))) continue;
    copyFileSync(join(runDir, f), join(shipDir, f));
    copied.push(f);
  }
  return copied;
}
