/**
 * VQ-VAE generation tokenizer (van den Oord et al., 2017): 32×32×3 ↔ 8×8 = 64 discrete tokens
 * from a codebook of K codes, the AR family's image vocabulary (Show-o's MAGVIT-v2 tokens,
 * docs/DESIGN.md, "RecA per architecture", shrunk to this world).
 *
 * Quantiser, and why (everything is gradient-based, so the generic data-parallel trainer keeps
 * replicas bit-identical and resume exact; there is no EMA codebook or restart state):
 * - Factorised, l2-normalised codes (ViT-VQGAN, Yu et al., 2022): the encoder projects to a
 *   low-dimensional (codeDim, default 8) space; encoder outputs and codes are l2-normalised
 *   and matched by cosine similarity. On the unit sphere every code stays within reach of the
 *   encoder outputs, which is what keeps codebook usage high without restarts.
 * - Straight-through estimator: the decoder reads z + sg(q − z), so the reconstruction
 *   gradient reaches the encoder unchanged.
 * - Codebook loss ‖sg(z) − q‖² pulls the chosen codes to the encoder outputs; commitment
 *   β‖z − sg(q)‖² (β = 0.25, as in VQ-VAE) keeps the encoder near its codes. Both are means
 *   over elements, like the reconstruction loss.
 * - Usage term (entropyWeight > 0): −H(mean soft assignment over the batch), the batch-entropy
 *   half of MAGVIT-v2's entropy penalty (Yu et al., 2024). A code nobody picks gets no codebook
 *   gradient and dies; this term gives every code a gradient toward the encoder outputs. On
 *   this world l2-normalised codes alone let usage decay (512 codes: 65% used at step 250,
 *   45% at step 2000) and the lost capacity showed as small crosses and circles decoded as
 *   blobs; configs/vq.json turns the term on.
 * Lookups are one-hot matmuls, not gathers: a gather's gradient breaks jax-js 0.1.25's
 * jit(grad) (docs/ENGINE.md).
 *
 * Images cross the API in [0, 1], NHWC; tokens are int32 [B, 64], row-major over the 8×8 grid.
 */
import { z } from "zod";
import { type JaxArray, lax, nn, numpy as np, tree } from "../engine/jax.ts";
import { truncatedNormal } from "../engine/nn/index.ts";
import { jaxKey, splitKey } from "../engine/rng.ts";
import type { Batch, Task } from "../engine/train-step.ts";
import type { ParamTree } from "../engine/tree.ts";
import {
  type ConvAeConfig,
  type ConvDecoderParams,
  type ConvEncoderParams,
  convDecoder,
  convEncoder,
  initConvDecoder,
  initConvEncoder,
} from "./conv-blocks.ts";
import { ConvAeSchema, TokenizerDataSchema, TokenizerTrainSchema } from "./tokenizer-config.ts";
import { fromUnitRange, reconError, toUnitRange } from "./vae.ts";

export const TOKEN_GRID = 8;
export const TOKENS_PER_IMAGE = TOKEN_GRID * TOKEN_GRID;

export const VqConfigSchema = z
  .object({
    kind: z.literal("vq").default("vq"),
    model: ConvAeSchema.extend({
      codebookSize: z.number().int().min(2).max(4096).default(512),
      /** Dimension of the (l2-normalised) lookup space. */
      codeDim: z.number().int().positive().default(8),
    })
      .strict()
      .prefault({}),
    loss: z
      .object({
        recon: z.enum(["mse", "l1"]).default("mse"),
        codebookWeight: z.number().min(0).default(1),
        /** β of the commitment term (VQ-VAE's 0.25). */
        commitment: z.number().min(0).default(0.25),
        /** Weight of −H(batch-mean soft code assignment); 0 disables it. */
        entropyWeight: z.number().min(0).default(0),
        /** Temperature of the soft assignment the entropy term uses (cosine similarities). */
        entropyTemperature: z.number().positive().default(0.1),
      })
      .strict()
      .prefault({}),
    train: TokenizerTrainSchema.prefault({}),
    data: TokenizerDataSchema.prefault({}),
  })
  .strict();
export type VqConfig = z.infer<typeof VqConfigSchema>;

export function vqConfig(partial: z.input<typeof VqConfigSchema> = {}): VqConfig {
  return VqConfigSchema.parse(partial);
}

export type VqParams = {
  encoder: ConvEncoderParams;
  /** [K, codeDim], used l2-normalised. */
  codebook: JaxArray;
  decoder: ConvDecoderParams;
};

const convAe = (cfg: VqConfig): ConvAeConfig => cfg.model;

export function initVq(key: JaxArray, cfg: VqConfig): VqParams {
  const [ke, kc, kd] = splitKey(key, 3);
  const { codebookSize: K, codeDim: d } = cfg.model;
  return {
    encoder: initConvEncoder(ke, convAe(cfg), d),
    codebook: truncatedNormal(kc, [K, d], 1),
    decoder: initConvDecoder(kd, convAe(cfg), d),
  };
}

/** x / ‖x‖ over the last axis. Consumes x. */
export function l2Normalize(x: JaxArray, eps = 1e-6): JaxArray {
  const n = np.sqrt(np.square(x.ref).sum(-1, { keepdims: true }).add(eps));
  return x.div(n);
}

/**
 * Nearest codes by cosine similarity. z [B, 8, 8, d] and codes [K, d], both already
 * l2-normalised → sims [B·64, K], tokens int32 [B, 64], q [B, 8, 8, d] (the chosen codes).
 * Consumes z and codes.
 */
export function quantize(
  z: JaxArray,
  codes: JaxArray,
): { sims: JaxArray; tokens: JaxArray; q: JaxArray } {
  const [B, H, W, d] = z.shape;
  const K = codes.shape[0];
  const sims = np.matmul(z.reshape([B * H * W, d]), codes.ref.transpose()); // [N, K]
  const idx = np.argmax(sims.ref, -1).astype(np.int32); // [N]
  const q = np.matmul(nn.oneHot(idx.ref, K), codes).reshape([B, H, W, d]);
  return { sims, tokens: idx.reshape([B, H * W]), q };
}

/** Images [B, 32, 32, 3] in [0, 1] → tokens int32 [B, 64]. Consumes params and images. */
export function encodeTokens(params: VqParams, images: JaxArray, cfg: VqConfig): JaxArray {
  tree.dispose(params.decoder as unknown as ParamTree);
  const z = l2Normalize(convEncoder(params.encoder, toUnitRange(images), convAe(cfg)));
  const r = quantize(z, l2Normalize(params.codebook));
  r.sims.dispose();
  r.q.dispose();
  return r.tokens;
}

/** Tokens int32 [B, 64] → images [B, 32, 32, 3], ≈[0, 1] (not clipped). Consumes both. */
export function decodeTokens(params: VqParams, tokens: JaxArray, cfg: VqConfig): JaxArray {
  tree.dispose(params.encoder as unknown as ParamTree);
  const { codebookSize: K, codeDim: d } = cfg.model;
  const [B, T] = tokens.shape;
  const q = np.matmul(nn.oneHot(tokens.reshape([B * T]), K), l2Normalize(params.codebook));
  return fromUnitRange(
    convDecoder(params.decoder, q.reshape([B, TOKEN_GRID, TOKEN_GRID, d]), convAe(cfg)),
  );
}

/** Images → reconstructions through the codebook (encode, quantise, decode). Consumes both. */
export function reconstructVq(params: VqParams, images: JaxArray, cfg: VqConfig): JaxArray {
  const z = l2Normalize(convEncoder(params.encoder, toUnitRange(images), convAe(cfg)));
  const r = quantize(z, l2Normalize(params.codebook));
  r.sims.dispose();
  r.tokens.dispose();
  return fromUnitRange(convDecoder(params.decoder, r.q, convAe(cfg)));
}

/** −H(mean over rows of softmax(sims / T)): lower when the batch spreads over more codes. */
function negBatchEntropy(sims: JaxArray, temperature: number): JaxArray {
  const p = nn.softmax(sims.div(temperature), -1).mean(0); // [K]
  return p.ref.mul(np.log(p.add(1e-8))).sum();
}

export type VqLossParts = {
  loss: JaxArray;
  recon: JaxArray;
  codebook: JaxArray;
  commit: JaxArray;
  tokens: JaxArray;
};

/** The objective on images [B, 32, 32, 3] in [0, 1]. Consumes params and images. */
export function vqLossParts(params: VqParams, images: JaxArray, cfg: VqConfig): VqLossParts {
  const L = cfg.loss;
  const x = toUnitRange(images);
  const z = l2Normalize(convEncoder(params.encoder, x.ref, convAe(cfg))); // [B, 8, 8, d]
  const r = quantize(z.ref, l2Normalize(params.codebook));
  const codebook = np.square(lax.stopGradient(z.ref).sub(r.q.ref)).mean();
  const commit = np.square(z.ref.sub(lax.stopGradient(r.q.ref))).mean();
  const zst = z.ref.add(lax.stopGradient(r.q.sub(z))); // straight-through
  const recon = reconError(convDecoder(params.decoder, zst, convAe(cfg)), x, L.recon);
  let loss = recon.ref
    .add(codebook.ref.mul(L.codebookWeight))
    .add(commit.ref.mul(L.codebookWeight * L.commitment));
  if (L.entropyWeight > 0)
    loss = loss.add(negBatchEntropy(r.sims, L.entropyTemperature).mul(L.entropyWeight));
  else r.sims.dispose();
  return { loss, recon, codebook, commit, tokens: r.tokens };
}

/** The Task for the generic trainer (importable by data-parallel workers). */
export function vqTask(cfg: VqConfig): Task {
  return {
    init: (seed) => initVq(jaxKey(seed), cfg) as unknown as ParamTree,
    loss: (params, batch: Batch) => {
      const r = vqLossParts(params as unknown as VqParams, batch.images, cfg);
      for (const a of [r.recon, r.codebook, r.commit, r.tokens]) a.dispose();
      return r.loss;
    },
  };
}

/**
 * Codebook usage of a token histogram: the fraction of codes used at least once and the
 * perplexity exp(H(p)) of the empirical code distribution (K when all codes are equally used).
 */
export function codebookUsage(
  tokens: Int32Array,
  K: number,
): { used: number; usedFraction: number; perplexity: number } {
  const counts = new Float64Array(K);
  for (const t of tokens) counts[t]++;
  let used = 0;
  let h = 0;
  for (const c of counts) {
    if (c === 0) continue;
    used++;
    const p = c / tokens.length;
    h -= p * Math.log(p);
  }
  return { used, usedFraction: used / K, perplexity: Math.exp(h) };
}
