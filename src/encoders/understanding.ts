/**
 * The understanding encoder: a small ViT trained contrastively against a text tower on dense
 * captions, then frozen. What later stages use:
 *
 *   patchFeatures(vit, images, cfg)            → [B, 64, D]   per-patch features (8×8 grid)
 *   understandingFeatures(vit, images, cfg, r) → [B, r·r, D]  the bottleneck RecA conditions on
 *   loadUnderstandingEncoder(dir)              → frozen ViT + jitted feature extraction
 *
 * The image embedding is attention-pooled (SigLIP's MAP head: one learned query) from the
 * bottleneck tokens, not from the patch tokens, so the contrastive loss shapes exactly the
 * tokens RecA reads. All functions are pure over parameter trees and jit-friendly; outside jit
 * they consume their array arguments (params included: pass `tree.ref(params)` to keep them).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "../data/tokenizer.ts";
import { CheckpointError, loadCheckpoint } from "../engine/checkpoint.ts";
import { type JaxArray, jit, numpy as np, tree } from "../engine/jax.ts";
import { crossEntropy } from "../engine/losses.ts";
import {
  type AttentionParams,
  attention,
  initAttention,
  initLayerNorm,
  initLinear,
  type LayerNormParams,
  type LinearParams,
  layerNorm,
  linear,
  truncatedNormal,
} from "../engine/nn/index.ts";
import { jaxKey, splitKey } from "../engine/rng.ts";
import type { Batch, Task } from "../engine/train-step.ts";
import { type ParamTree, treeDispose, treeRef } from "../engine/tree.ts";
import type { RgbImage } from "../world/render.ts";
import { COLORS } from "../world/vocab.ts";
import { contrastiveLoss, l2Normalize, matchMatrix } from "./contrastive.ts";
import { initText, type TextConfig, type TextParams, textFeatures } from "./text.ts";
import {
  type EncoderConfig,
  EncoderConfigSchema,
  type EncoderModelConfig,
} from "./understanding-config.ts";
import {
  gridSide,
  initVit,
  poolGrid,
  type VitConfig,
  type VitParams,
  vitPatchFeatures,
} from "./vit.ts";

export type MapPoolParams = {
  query: JaxArray; // [1, 1, D]
  attn: AttentionParams;
  norm: LayerNormParams;
};

/**
 * Region-caption heads (present when `loss.regionWeight` > 0): per bottleneck token, the
 * category and colour of the object covering its cell, or background (see understanding-data.ts).
 */
export type RegionHeads = {
  category: LinearParams; // [D, K+1]
  color: LinearParams; // [D, 11]
};

export type UnderstandingParams = {
  vit: VitParams;
  region?: RegionHeads;
  pool: MapPoolParams;
  imageProj: LinearParams; // [D, E]
  text: TextParams;
  textProj: LinearParams; // [Dt, E]
  logScale: JaxArray; // [1]
  bias: JaxArray; // [1]
};

export function vitConfig(m: EncoderModelConfig): VitConfig {
  return { imageSize: m.imageSize, patch: m.patch, stem: m.stem, ...m.vit };
}

export function textConfig(m: EncoderModelConfig): TextConfig {
  return { ...m.text, vocabSize: Tokenizer.world(m.vocabVersion).size, maxLen: m.maxLen };
}

/** Fresh parameters. */
export function initUnderstanding(seed: number, cfg: EncoderConfig): UnderstandingParams {
  const m = cfg.model;
  const [kv, kq, ka, ki, kt, kp, kr1, kr2] = splitKey(jaxKey(seed), 8);
  const region: RegionHeads | undefined =
    cfg.loss.regionWeight > 0
      ? {
          category: initLinear(kr1, m.vit.dim, cfg.data.numCategories + 1),
          color: initLinear(kr2, m.vit.dim, COLORS.length + 1),
        }
      : undefined;
  if (!region) tree.dispose([kr1, kr2]);
  return {
    ...(region ? { region } : {}),
    vit: initVit(kv, vitConfig(m)),
    pool: {
      query: truncatedNormal(kq, [1, 1, m.vit.dim], 0.02),
      attn: initAttention(ka, { dim: m.vit.dim, heads: m.vit.heads }),
      norm: initLayerNorm(m.vit.dim),
    },
    imageProj: initLinear(ki, m.vit.dim, m.embedDim),
    text: initText(kt, textConfig(m)),
    textProj: initLinear(kp, m.text.dim, m.embedDim),
    logScale: np.array([cfg.loss.logScaleInit]),
    bias: np.array([cfg.loss.biasInit]),
  };
}

/** images [B, 32, 32, 3] in [0, 1] → per-patch features [B, 64, D]. */
export function patchFeatures(vit: VitParams, images: JaxArray, m: EncoderModelConfig): JaxArray {
  return vitPatchFeatures(vit, images, vitConfig(m));
}

/**
 * The bottleneck: patch features average-pooled to r×r (default `m.bottleneck`) → [B, r·r, D],
 * row-major. r = 8 returns the patch features unchanged.
 */
export function understandingFeatures(
  vit: VitParams,
  images: JaxArray,
  m: EncoderModelConfig,
  opts: { resolution?: number } = {},
): JaxArray {
  const r = opts.resolution ?? m.bottleneck;
  const g = gridSide(m);
  if (!Number.isInteger(r) || r < 1 || g % r !== 0)
    throw new Error(`bottleneck resolution ${r} must divide the ${g}×${g} patch grid`);
  return poolGrid(patchFeatures(vit, images, m), g, r);
}

/** MAP pooling: one learned query attends over tokens [B, T, D] → [B, D]. */
export function mapPool(p: MapPoolParams, tokens: JaxArray, heads: number): JaxArray {
  const [B, , D] = tokens.shape;
  const q = np.broadcastTo(p.query, [B, 1, D]);
  const out = attention(p.attn, q, { heads, context: tokens });
  return layerNorm(p.norm, out.reshape([B, D]));
}

/** Bottleneck tokens [B, r·r, D] → L2-normalised image embeddings [B, E]. */
export function embedTokens(
  p: Pick<UnderstandingParams, "pool" | "imageProj">,
  tokens: JaxArray,
  m: EncoderModelConfig,
): JaxArray {
  return l2Normalize(linear(p.imageProj, mapPool(p.pool, tokens, m.vit.heads)));
}

/** images → L2-normalised image embeddings [B, E] (pooled from the bottleneck). */
export function imageEmbedding(
  p: UnderstandingParams,
  images: JaxArray,
  m: EncoderModelConfig,
): JaxArray {
  return embedTokens(p, understandingFeatures(p.vit, images, m), m);
}

/** Token ids int32 [B, T] + mask [B, T] → L2-normalised text embeddings [B, E]. */
export function textEmbedding(
  p: UnderstandingParams,
  ids: JaxArray,
  mask: JaxArray,
  m: EncoderModelConfig,
): JaxArray {
  return l2Normalize(linear(p.textProj, textFeatures(p.text, ids, mask, textConfig(m))));
}

/**
 * Contrastive training task. Batch: images f32 [B, 32, 32, 3], ids int32 [B, T], mask f32
 * [B, T], keys int32 [B] (equal keys = interchangeable captions, treated as positives); with
 * `loss.regionWeight` > 0 also cellCategory / cellColor int32 [B, r·r] (region captions).
 */
export function understandingTask(cfg: EncoderConfig): Task {
  const m = cfg.model;
  const loss = contrastiveLoss(cfg.loss.kind);
  const w = cfg.loss.regionWeight;
  return {
    init: (seed) => initUnderstanding(seed, cfg) as unknown as ParamTree,
    loss: (params: ParamTree, b: Batch) => {
      const p = params as unknown as UnderstandingParams;
      const tokens = understandingFeatures(p.vit, b.images, m); // [B, r·r, D]
      const txt = textEmbedding(p, b.ids, b.mask, m);
      const region = p.region;
      const img = embedTokens(p, region ? tokens.ref : tokens, m);
      const contrastive = loss(img, txt, p.logScale, p.bias, matchMatrix(b.keys));
      if (!region) return contrastive;
      const ce = crossEntropy(linear(region.category, tokens.ref), b.cellCategory).add(
        crossEntropy(linear(region.color, tokens), b.cellColor),
      );
      return contrastive.add(ce.mul(w / 2));
    },
  };
}

/** Host images (all the same size) → a device batch [B, H, W, 3]. */
export function imagesToArray(images: readonly RgbImage[]): JaxArray {
  if (images.length === 0) throw new Error("imagesToArray: no images");
  const { width: W, height: H } = images[0];
  const data = new Float32Array(images.length * H * W * 3);
  images.forEach((img, i) => {
    if (img.width !== W || img.height !== H) throw new Error("imagesToArray: mixed image sizes");
    data.set(img.data, i * H * W * 3);
  });
  return np.array(data).reshape([images.length, H, W, 3]);
}

/** A trained encoder, frozen: parameters, config, tokenizer and jitted extraction. */
export class UnderstandingEncoder {
  readonly tokenizer: Tokenizer;
  readonly #features = new Map<number, ReturnType<typeof jit>>();
  readonly #image;
  readonly #text;

  constructor(
    readonly params: UnderstandingParams,
    readonly config: EncoderConfig,
  ) {
    const m = config.model;
    this.tokenizer = config.tokenizer
      ? Tokenizer.fromJSON(config.tokenizer)
      : Tokenizer.world(m.vocabVersion);
    this.#image = jit((p: UnderstandingParams, x: JaxArray) => imageEmbedding(p, x, m));
    this.#text = jit((p: UnderstandingParams, ids: JaxArray, mask: JaxArray) =>
      textEmbedding(p, ids, mask, m),
    );
  }

  get model(): EncoderModelConfig {
    return this.config.model;
  }

  /** The frozen ViT's parameters (what RecA's conditioning path reads). */
  get vit(): VitParams {
    return this.params.vit;
  }

  /** Bottleneck features [B, r·r, D] (r defaults to the config's). Consumes images. */
  features(images: JaxArray, opts: { resolution?: number } = {}): JaxArray {
    const r = opts.resolution ?? this.model.bottleneck;
    let f = this.#features.get(r);
    if (!f) {
      const m = this.model;
      f = jit((vit: VitParams, x: JaxArray) => understandingFeatures(vit, x, m, { resolution: r }));
      this.#features.set(r, f);
    }
    return f(treeRef(this.params.vit), images) as JaxArray;
  }

  /** L2-normalised image embeddings [B, E]. Consumes images. */
  imageEmbeddings(images: JaxArray): JaxArray {
    return this.#image(treeRef(this.params), images) as JaxArray;
  }

  /** L2-normalised caption embeddings [B, E]. */
  textEmbeddings(texts: readonly string[]): JaxArray {
    const m = this.model;
    const enc = this.tokenizer.encodeBatch(texts, m.maxLen, { bos: true, eos: true });
    const ids = np.array(enc.ids, { dtype: np.int32 }).reshape([texts.length, m.maxLen]);
    const mask = np.array(enc.mask).reshape([texts.length, m.maxLen]);
    return this.#text(treeRef(this.params), ids, mask) as JaxArray;
  }

  dispose(): void {
    for (const f of this.#features.values()) f.dispose();
    this.#image.dispose();
    this.#text.dispose();
    treeDispose(this.params as unknown as ParamTree);
  }
}

/** Read and validate `dir/config.json` (no device work). */
export function readEncoderConfig(dir: string): EncoderConfig {
  const path = join(dir, "config.json");
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read encoder config (${(e as Error).message})`);
  }
  const r = EncoderConfigSchema.safeParse(raw);
  if (!r.success)
    throw new CheckpointError(`${path}: not an understanding-encoder config: ${r.error.message}`);
  return r.data;
}

/**
 * Load a trained encoder from a checkpoint directory (e.g. checkpoints/encoder). The engine must
 * be initialised (`await initEngine()`). Names and shapes are checked against the config.
 */
export function loadUnderstandingEncoder(dir: string): UnderstandingEncoder {
  const config = readEncoderConfig(dir);
  const template = initUnderstanding(0, config) as unknown as ParamTree;
  try {
    const ck = loadCheckpoint<EncoderConfig>(dir, { expected: template, skipOptimizer: true });
    if (ck.ema) treeDispose(ck.ema);
    return new UnderstandingEncoder(ck.params as unknown as UnderstandingParams, config);
  } finally {
    tree.dispose(template);
  }
}
