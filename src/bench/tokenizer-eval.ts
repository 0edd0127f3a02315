/**
 * `reca tokenizer eval`: how much of what the benchmarks measure survives a trip through a
 * generation tokenizer.
 * - PSNR of reconstructions of held-out unlabeled-pool renders;
 * - the judge's GenEval score on reconstructions of the suite's ground-truth renders, against
 *   its score on the renders themselves (the same scoring path as `reca bench geneval
 *   --ground-truth`: groundTruthEntries → scoreEntries → summarize). The ratio is the metric
 *   that matters: a generator trained on these latents/tokens can at best reach
 *   ratio × its ground-truth score. Target ≥ 0.95 (issue 4);
 * - VQ: codebook usage (fraction of codes used, perplexity) on the held-out renders.
 */

import type { Tokenizer } from "../encoders/tokenizer.ts";
import {
  heldOutImages,
  meanPsnr,
  reconstructImages,
  tokenizerPool,
  tokensOf,
} from "../encoders/tokenizer-data.ts";
import { codebookUsage } from "../encoders/vq.ts";
import type { RgbImage } from "../world/render.ts";
import { renderImage } from "../world/render.ts";
import { benchmarkExclusion } from "./exclusion.ts";
import { genevalPromptSet, genevalSuite } from "./geneval/index.ts";
import type { Detector } from "./judge/types.ts";
import { type BenchSuite, groundTruthEntries, type ImageEntry, scoreEntries } from "./layout.ts";

export type TokenizerEvalOptions = {
  /** Held-out images for PSNR / usage. */
  n: number;
  /** First `items` GenEval items (default: the whole default set). */
  items?: number;
  /** Ground-truth renders per item (GenEval's 4 by default). */
  perItem: number;
  detector: Detector;
  /** Images per detector call. */
  batch?: number;
  onProgress?: (what: string, done: number, total: number) => void;
};

export type GenevalComparison = {
  original: number;
  reconstructed: number;
  ratio: number;
  /** Per-tag scores. */
  tags: { original: Record<string, number>; reconstructed: Record<string, number> };
  images: number;
  psnr: number;
};

export type TokenizerEvalResult = {
  kind: "vae" | "vq";
  psnr: { heldOut: number; images: number };
  geneval: GenevalComparison;
  codebook?: { size: number; used: number; usedFraction: number; perplexity: number };
  timings: { reconstructMs: number; judgeMs: number; totalMs: number };
};

async function genevalScore<M>(
  suite: BenchSuite<M>,
  entries: ImageEntry<M>[],
  o: TokenizerEvalOptions,
  label: string,
) {
  o.onProgress?.(label, 0, entries.length);
  const { scored } = await scoreEntries(suite, entries, o.detector, {
    batchSize: o.batch ?? 64,
    onProgress: (done, total) => o.onProgress?.(label, done, total),
  });
  const s = suite.summarize(scored);
  return { overall: s.overall, tags: s[suite.groupKey] as Record<string, number> };
}

export async function evaluateTokenizer(
  tok: Tokenizer,
  o: TokenizerEvalOptions,
): Promise<TokenizerEvalResult> {
  const t0 = performance.now();
  const cfg = tok.config;
  const pool = tokenizerPool(cfg.data, benchmarkExclusion(cfg.data.numCategories));
  const held = heldOutImages(pool, cfg.data, o.n);
  const tr = performance.now();
  const heldRecon = await reconstructImages(tok, held);

  const suite = genevalSuite({ numCategories: cfg.data.numCategories });
  let metas = genevalPromptSet({ numCategories: cfg.data.numCategories });
  if (o.items !== undefined) metas = metas.slice(0, o.items);
  const size = 32;
  const originals = groundTruthEntries(suite, metas, o.perItem, size, (scene, s) =>
    renderImage(scene, { size: s }),
  );
  const origImages = originals.map((e) => e.image as RgbImage);
  const recImages = await reconstructImages(tok, origImages);
  const reconstructed = originals.map((e, i) => ({ ...e, image: recImages[i] }));
  let codebook: TokenizerEvalResult["codebook"];
  if (cfg.kind === "vq") {
    const K = cfg.model.codebookSize;
    codebook = { size: K, ...codebookUsage(await tokensOf(tok, held), K) };
  }
  const reconstructMs = performance.now() - tr;

  const tj = performance.now();
  const orig = await genevalScore(suite, originals, o, "judge originals");
  const rec = await genevalScore(suite, reconstructed, o, "judge reconstructions");
  const judgeMs = performance.now() - tj;

  return {
    kind: cfg.kind,
    psnr: { heldOut: meanPsnr(held, heldRecon), images: held.length },
    geneval: {
      original: orig.overall,
      reconstructed: rec.overall,
      ratio: orig.overall > 0 ? rec.overall / orig.overall : 0,
      tags: { original: orig.tags, reconstructed: rec.tags },
      images: originals.length,
      psnr: meanPsnr(origImages, recImages),
    },
    ...(codebook ? { codebook } : {}),
    timings: {
      reconstructMs: Math.round(reconstructMs),
      judgeMs: Math.round(judgeMs),
      totalMs: Math.round(performance.now() - t0),
    },
  };
}
