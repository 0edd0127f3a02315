/**
 * Training driver for the generation tokenizers (`reca train vae|vq`): the generic trainer
 * (data-parallel replicas, progress, metrics.jsonl, checkpoints, bit-identical resume) over
 * unlabeled-pool batches, plus at every checkpoint a contact sheet of held-out originals and
 * their reconstructions (recon.png) and a line in evals.jsonl (held-out PSNR; for VQ, codebook
 * usage). After the last step the VAE's latent statistics go into config.json (`latent`).
 */

import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Corpus, SceneExclusion, UnlabeledItem } from "../data/corpora.ts";
import { contactSheet, encodePng } from "../data/png.ts";
import { checkpointExists, readTrainerState } from "../engine/checkpoint.ts";
import { initEngine, numpy as np } from "../engine/jax.ts";
import { optimConfig } from "../engine/optim.ts";
import type { Parallelism } from "../engine/parallel/index.ts";
import { Rng } from "../engine/rng.ts";
import type { TaskSpec } from "../engine/train-step.ts";
import { fromHost, type HostTensor } from "../engine/tree.ts";
import { type TrainRunSummary, trainRun } from "../train/run.ts";
import { atomicWriteFile } from "../util/fsutil.ts";
import type { RgbImage } from "../world/render.ts";
import { Tokenizer, type TokenizerConfig } from "./tokenizer.ts";
import {
  heldOutImages,
  inBatches,
  meanPsnr,
  reconstructImages,
  tokenizerBatch,
  tokenizerPool,
  tokensOf,
} from "./tokenizer-data.ts";
import { LATENT_GRID } from "./vae.ts";
import { codebookUsage } from "./vq.ts";

/** Held-out images scored at each checkpoint (PSNR, codebook usage). */
export const CHECKPOINT_EVAL_IMAGES = 256;
/** Images the VAE's latent statistics are measured on. */
export const LATENT_STATS_IMAGES = 1024;

export type TrainTokenizerOptions = {
  outDir: string;
  resume?: boolean;
  force?: boolean;
  parallelism?: Parallelism;
  quiet?: boolean;
  /** Scenes kept out of training (the benchmark exclusion). */
  exclude: SceneExclusion;
};

export type CheckpointEval = {
  step: number;
  psnr: number;
  images: number;
  used?: number;
  usedFraction?: number;
  perplexity?: number;
};

export type TrainTokenizerResult = {
  run: TrainRunSummary;
  eval: CheckpointEval | null;
  latent?: { shift: number; scale: number };
};

/** Rows of originals, each followed by a row of their reconstructions. */
export function reconSheet(originals: RgbImage[], recons: RgbImage[], cols = 8): RgbImage {
  const c = Math.min(cols, originals.length);
  const { width, height } = originals[0];
  // A short last row is padded with black cells so reconstructions stay under their originals.
  const row = (imgs: RgbImage[]) => [
    ...imgs,
    ...Array.from({ length: c - imgs.length }, () => ({
      width,
      height,
      data: new Float32Array(width * height * 3),
    })),
  ];
  const cells: RgbImage[] = [];
  for (let at = 0; at < originals.length; at += c)
    cells.push(...row(originals.slice(at, at + c)), ...row(recons.slice(at, at + c)));
  return contactSheet(cells, { cols: c, scale: 4, pad: 2 });
}

/** PSNR (and VQ codebook usage) of `tok` on `images`. */
export async function quickEval(
  tok: Tokenizer,
  images: RgbImage[],
  step: number,
): Promise<{ eval: CheckpointEval; recons: RgbImage[] }> {
  const recons = await reconstructImages(tok, images);
  const ev: CheckpointEval = { step, psnr: meanPsnr(images, recons), images: images.length };
  if (tok.config.kind === "vq") {
    const u = codebookUsage(await tokensOf(tok, images), tok.config.model.codebookSize);
    Object.assign(ev, u);
  }
  return { eval: ev, recons };
}

/**
 * The VAE's latent shift and scale: mean and 1/std of sampled latents z = μ + σ·ε over
 * `n` training images (Stable Diffusion's scale-factor recipe, plus a shift).
 */
export async function latentStats(
  tok: Tokenizer,
  images: readonly RgbImage[],
  seed: number,
): Promise<{ shift: number; scale: number }> {
  if (tok.config.kind !== "vae") throw new Error("latentStats: not a VAE");
  const rng = new Rng(`vae/latent-stats:${seed}`);
  let s = 0;
  let s2 = 0;
  let n = 0;
  await inBatches(
    images,
    (x) => {
      const { mean, logvar } = tok.encodePosterior(x);
      return np.concatenate([mean, logvar], -1);
    },
    async (y, count) => {
      const d = (await y.data()) as Float32Array;
      const C2 = y.shape[3];
      const C = C2 / 2;
      const cells = count * LATENT_GRID * LATENT_GRID;
      for (let i = 0; i < cells; i++)
        for (let c = 0; c < C; c++) {
          const z = d[i * C2 + c] + Math.exp(0.5 * d[i * C2 + C + c]) * rng.normal();
          s += z;
          s2 += z * z;
          n++;
        }
      return [];
    },
  );
  const shift = s / n;
  const std = Math.sqrt(Math.max(s2 / n - shift * shift, 1e-12));
  return { shift, scale: 1 / std };
}

/**
 * evals.jsonl lives beside the checkpoint, so checkpoint saves carry it over: start it afresh
 * for a new run, and on resume drop the lines past the checkpoint (the loop does the same for
 * metrics.jsonl). A run refused for an existing checkpoint (no --resume/--force) leaves it.
 */
function syncEvalLog(o: TrainTokenizerOptions): void {
  const path = join(o.outDir, "evals.jsonl");
  if (!existsSync(path)) return;
  const exists = checkpointExists(o.outDir);
  if (o.resume && exists) {
    const trainer = readTrainerState<{ step: number }>(o.outDir)?.step ?? 0;
    const kept = readFileSync(path, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "" && (JSON.parse(l) as CheckpointEval).step <= trainer);
    writeFileSync(path, kept.map((l) => `${l}\n`).join(""));
  } else if (o.force || !exists) {
    writeFileSync(path, "");
  }
}

export async function trainTokenizer(
  cfg: TokenizerConfig,
  o: TrainTokenizerOptions,
): Promise<TrainTokenizerResult> {
  await initEngine();
  const t = cfg.train;
  const pool = tokenizerPool(cfg.data, o.exclude);
  // Rendering costs ~3 ms an image; a run draws each training item several times, so
  // keep every rendered item (8-bit, as PNGs store them: 3 KB each, ≤ 150 MB at 48k items).
  const cache = new Map<number, Uint8Array>();
  const cachedPool: Corpus<UnlabeledItem> = {
    ...pool,
    get(i: number) {
      let bytes = cache.get(i);
      if (!bytes) {
        bytes = Uint8Array.from(pool.get(i).image.data, (v) => Math.round(v * 255));
        cache.set(i, bytes);
      }
      const data = Float32Array.from(bytes, (v) => v / 255);
      return { index: i, scene: { objects: [] }, image: { width: 32, height: 32, data } };
    },
  };
  const noise: Record<string, number[]> =
    cfg.kind === "vae" ? { eps: [LATENT_GRID, LATENT_GRID, cfg.model.latentChannels] } : {};
  const spec: TaskSpec = {
    module: new URL(cfg.kind === "vae" ? "./vae.ts" : "./vq.ts", import.meta.url).href,
    exportName: cfg.kind === "vae" ? "vaeTask" : "vqTask",
    config: cfg,
  };
  const optim = optimConfig({
    lr: t.lr,
    totalSteps: t.steps,
    warmupSteps: t.warmupSteps,
    minLrRatio: t.minLrRatio,
    weightDecay: t.weightDecay,
    clipNorm: t.clipNorm,
  });
  const evalImages = heldOutImages(pool, cfg.data, Math.max(CHECKPOINT_EVAL_IMAGES, t.sheetImages));
  // Written by onCheckpoint (a closure, so held in an object TypeScript does not narrow).
  const last: { eval: CheckpointEval | null; params: Map<string, HostTensor> | null } = {
    eval: null,
    params: null,
  };

  syncEvalLog(o);

  const run = await trainRun({
    spec,
    optim,
    steps: t.steps,
    batch: (_step, rng) => tokenizerBatch(cachedPool, cfg.data, t.batch, rng, noise),
    batchSize: t.batch,
    microBatchSize: t.microBatch,
    outDir: o.outDir,
    config: cfg,
    seed: t.seed,
    checkpointEvery: t.checkpointEvery,
    resume: o.resume,
    force: o.force,
    parallelism: o.parallelism,
    label: `train ${cfg.kind}`,
    quiet: o.quiet,
    onCheckpoint: async (step, runner) => {
      const state = await runner.getState();
      last.params = state.params;
      const tok = new Tokenizer(cfg, fromHost(state.params));
      try {
        const { eval: ev, recons } = await quickEval(tok, evalImages, step);
        const sheet = reconSheet(
          evalImages.slice(0, t.sheetImages),
          recons.slice(0, t.sheetImages),
        );
        writeFileSync(join(o.outDir, "recon.png"), encodePng(sheet));
        appendFileSync(join(o.outDir, "evals.jsonl"), `${JSON.stringify(ev)}\n`);
        last.eval = ev;
      } finally {
        tok.dispose();
      }
    },
  });

  const result: TrainTokenizerResult = { run, eval: last.eval };
  if (run.status === "done" && cfg.kind === "vae" && last.params) {
    const tok = new Tokenizer(cfg, fromHost(last.params));
    try {
      const images = Array.from(
        { length: LATENT_STATS_IMAGES },
        (_, i) => cachedPool.get(i % cfg.data.trainItems).image,
      );
      const latent = await latentStats(tok, images, t.seed);
      result.latent = latent;
      const path = join(o.outDir, "config.json");
      const saved = JSON.parse(readFileSync(path, "utf8"));
      atomicWriteFile(path, `${JSON.stringify({ ...saved, latent }, null, 2)}\n`);
    } finally {
      tok.dispose();
    }
  }
  return result;
}
