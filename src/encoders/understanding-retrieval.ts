/**
 * Zero-shot image→caption retrieval on held-out scenes, and the retrieval sheet written at each
 * training checkpoint.
 *
 * Held-out items come from the encoder corpus's generator under its own seed (`HELDOUT_SEED`),
 * a stream training never reads. A retrieval is correct when the top-ranked caption is the
 * image's own or one with the same scene key (same coloured objects and pairwise relations:
 * a caption that is equally true of the image; see `semanticKey`).
 *
 * Sheet (retrieval.png): one row per query — the query image (white frame), then the images whose
 * captions rank top-3 for it among the 64 candidates (green frame: key matches, red: not).
 * retrieval.txt lists the same rows as text with the captions and similarities.
 */
import { join } from "node:path";
import { type EncoderItem, encoderCorpus } from "../data/corpora.ts";
import { contactSheet, encodePng } from "../data/png.ts";
import { atomicWriteFile } from "../util/fsutil.ts";
import type { RgbImage } from "../world/render.ts";
import { imagesToArray, type UnderstandingEncoder } from "./understanding.ts";
import type { EncoderConfig } from "./understanding-config.ts";
import { semanticKey } from "./understanding-data.ts";

/** Seed of the held-out encoder-corpus stream (training uses CORPUS_SEEDS.encoder = 1001). */
export const HELDOUT_SEED = 7_007;

/** Held-out (image, dense caption) items `offset … offset+n−1`. */
export function heldoutItems(cfg: EncoderConfig, n: number, offset = 0): EncoderItem[] {
  const c = encoderCorpus({
    seed: HELDOUT_SEED,
    length: offset + n,
    numCategories: cfg.data.numCategories,
    imageSize: cfg.model.imageSize,
  });
  return Array.from({ length: n }, (_, i) => c.get(offset + i));
}

export type RetrievalReport = {
  /** Cosine similarities, image i × caption j, row-major [n, n]. */
  sims: Float32Array;
  /** Per image, the top-k caption indices, best first. */
  ranked: number[][];
  /** Top-1 is the own caption or one with the same scene key. */
  correct: boolean[];
  accuracy: number;
  /** Top-1 is exactly the own caption. */
  strictAccuracy: number;
};

const CHUNK = 100;

async function embedImages(enc: UnderstandingEncoder, images: RgbImage[]): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (let i = 0; i < images.length; i += CHUNK)
    parts.push(
      (await enc.imageEmbeddings(imagesToArray(images.slice(i, i + CHUNK))).data()) as Float32Array,
    );
  return concat(parts);
}

async function embedTexts(enc: UnderstandingEncoder, texts: string[]): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += CHUNK)
    parts.push((await enc.textEmbeddings(texts.slice(i, i + CHUNK)).data()) as Float32Array);
  return concat(parts);
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Rank every caption of `items` for every image of `items`. */
export async function retrievalReport(
  enc: UnderstandingEncoder,
  items: readonly EncoderItem[],
  k = 3,
): Promise<RetrievalReport> {
  const n = items.length;
  const E = enc.model.embedDim;
  const img = await embedImages(
    enc,
    items.map((it) => it.image),
  );
  const txt = await embedTexts(
    enc,
    items.map((it) => it.caption),
  );
  const keys = items.map((it) => semanticKey(it.scene));
  const sims = new Float32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let e = 0; e < E; e++) s += img[i * E + e] * txt[j * E + e];
      sims[i * n + j] = s;
    }
  const ranked = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => j)
      .sort((a, b) => sims[i * n + b] - sims[i * n + a] || a - b)
      .slice(0, k),
  );
  const correct = ranked.map((r, i) => keys[r[0]] === keys[i]);
  return {
    sims,
    ranked,
    correct,
    accuracy: correct.filter(Boolean).length / n,
    strictAccuracy: ranked.filter((r, i) => r[0] === i).length / n,
  };
}

export type RetrievalScore = {
  /** Mean top-1 accuracy (own caption or same scene key) over groups of `candidates`. */
  accuracy: number;
  strictAccuracy: number;
  candidates: number;
  queries: number;
};

/** Top-1 image→caption retrieval among `candidates` captions, over n held-out items. */
export async function retrievalAccuracy(
  enc: UnderstandingEncoder,
  cfg: EncoderConfig,
  n: number,
  candidates = 100,
  offset = 0,
): Promise<RetrievalScore> {
  const groups = Math.max(1, Math.floor(n / candidates));
  let acc = 0;
  let strict = 0;
  for (let g = 0; g < groups; g++) {
    const r = await retrievalReport(
      enc,
      heldoutItems(cfg, Math.min(candidates, n), offset + g * candidates),
      1,
    );
    acc += r.accuracy;
    strict += r.strictAccuracy;
  }
  return {
    accuracy: acc / groups,
    strictAccuracy: strict / groups,
    candidates: Math.min(candidates, n),
    queries: groups * Math.min(candidates, n),
  };
}

/** `img` inside a 2-px frame of `rgb`. */
function framed(img: RgbImage, rgb: readonly [number, number, number]): RgbImage {
  const W = img.width + 4;
  const H = img.height + 4;
  const data = new Float32Array(W * H * 3);
  for (let p = 0; p < W * H; p++) data.set(rgb, 3 * p);
  for (let y = 0; y < img.height; y++)
    data.set(img.data.subarray(3 * y * img.width, 3 * (y + 1) * img.width), 3 * ((y + 2) * W + 2));
  return { width: W, height: H, data };
}

const WHITE = [1, 1, 1] as const;
const GREEN = [0.1, 0.8, 0.2] as const;
const RED = [0.9, 0.1, 0.1] as const;

/** Write retrieval.png and retrieval.txt into `dir` for the first `queries` items. */
export function writeRetrievalSheet(
  dir: string,
  items: readonly EncoderItem[],
  rep: RetrievalReport,
  queries = 8,
): void {
  const n = items.length;
  const keys = items.map((it) => semanticKey(it.scene));
  const cells: RgbImage[] = [];
  const lines = [
    `image→caption retrieval among ${n} held-out captions: top-1 ${(100 * rep.accuracy).toFixed(1)}% (same scene key), ${(100 * rep.strictAccuracy).toFixed(1)}% (own caption)`,
    "",
  ];
  const k = rep.ranked[0].length;
  for (let q = 0; q < Math.min(queries, n); q++) {
    cells.push(framed(items[q].image, WHITE));
    lines.push(`query ${q}: ${items[q].caption}`);
    rep.ranked[q].forEach((j, rank) => {
      const ok = keys[j] === keys[q];
      cells.push(framed(items[j].image, ok ? GREEN : RED));
      lines.push(
        `  ${rank + 1}. ${ok ? "✓" : "✗"} ${rep.sims[q * n + j].toFixed(3)}  [${j}] ${items[j].caption}`,
      );
    });
    lines.push("");
  }
  const sheet = contactSheet(cells, { cols: 1 + k, scale: 3, pad: 4 });
  atomicWriteFile(join(dir, "retrieval.png"), encodePng(sheet));
  atomicWriteFile(join(dir, "retrieval.txt"), `${lines.join("\n")}\n`);
}
