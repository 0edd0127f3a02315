/**
 * KL-VAE generation tokenizer (Kingma & Welling, 2014; the KL-regularised autoencoder of latent
 * diffusion, Rombach et al., 2022): 32×32×3 ↔ 8×8×C continuous latents. Its latents are the MAR
 * family's targets (Harmon's KL-16 VAE, docs/DESIGN.md, "RecA per architecture") and its encoder
 * means are the "generation-encoder features" of RecA's condition ablation (§1, §7).
 *
 * Loss = mean reconstruction error over pixels + β · mean KL over latent elements. β is small
 * (default 1e-4 in this mean/mean convention): large enough to keep the posterior variance
 * away from zero and the latents in a bounded, smooth range, small enough that the KL never
 * trades reconstruction away. (Latent diffusion's 1e-6 on sums is ≈ 2e-8 in this convention;
 * we want more regular latents because a small MAR head has to model them.)
 *
 * Images cross the API in [0, 1] (the world's RgbImage range), NHWC; the nets work in [-1, 1].
 * After training, `latentStats` measures the latents' mean and standard deviation on training
 * images, and config.latent = {shift, scale} lets the MAR family use unit-variance latents:
 * normalized = (z − shift) · scale (Stable Diffusion's 0.18215 is such a scale).
 */
import { z } from "zod";
import { type JaxArray, numpy as np, tree } from "../engine/jax.ts";
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

export const LATENT_GRID = 8;
export const IMAGE_SIZE = 32;

export const VaeConfigSchema = z
  .object({
    kind: z.literal("vae").default("vae"),
    model: ConvAeSchema.extend({
      /** C in 8×8×C. */
      latentChannels: z.number().int().positive().default(4),
    })
      .strict()
      .prefault({}),
    loss: z
      .object({
        recon: z.enum(["mse", "l1"]).default("mse"),
        /** KL weight, mean-over-latent-elements vs mean-over-pixels (see the module comment). */
        beta: z.number().min(0).default(1e-4),
      })
      .strict()
      .prefault({}),
    train: TokenizerTrainSchema.prefault({}),
    data: TokenizerDataSchema.prefault({}),
    /** Written after training: normalized latent = (z − shift) · scale. */
    latent: z.object({ shift: z.number(), scale: z.number().positive() }).strict().optional(),
  })
  .strict();
export type VaeConfig = z.infer<typeof VaeConfigSchema>;

/** A complete config from a partial one (defaults filled in). */
export function vaeConfig(partial: z.input<typeof VaeConfigSchema> = {}): VaeConfig {
  return VaeConfigSchema.parse(partial);
}

export type VaeParams = { encoder: ConvEncoderParams; decoder: ConvDecoderParams };

const convAe = (cfg: VaeConfig): ConvAeConfig => cfg.model;

export function initVae(key: JaxArray, cfg: VaeConfig): VaeParams {
  const [ke, kd] = splitKey(key, 2);
  const C = cfg.model.latentChannels;
  return {
    encoder: initConvEncoder(ke, convAe(cfg), 2 * C),
    decoder: initConvDecoder(kd, convAe(cfg), C),
  };
}

/** [0, 1] → [-1, 1]. Consumes x. */
export const toUnitRange = (x: JaxArray) => x.mul(2).sub(1);
/** [-1, 1] → [0, 1]. Consumes x. */
export const fromUnitRange = (x: JaxArray) => x.add(1).mul(0.5);

/**
 * Posterior q(z|x): images [B, 32, 32, 3] in [0, 1] → mean, logvar [B, 8, 8, C].
 * logvar is clipped to [-30, 20] as in latent diffusion's DiagonalGaussianDistribution.
 * Like every function here it consumes its arguments, params included (the decoder half is
 * disposed): pass `tree.ref(params)` to keep them, or call it inside `jit`.
 */
export function encode(
  params: VaeParams,
  images: JaxArray,
  cfg: VaeConfig,
): { mean: JaxArray; logvar: JaxArray } {
  tree.dispose(params.decoder as unknown as ParamTree);
  const h = convEncoder(params.encoder, toUnitRange(images), convAe(cfg)); // [B, 8, 8, 2C]
  const [mean, logvar] = np.split(h, 2, -1);
  return { mean, logvar: np.clip(logvar, -30, 20) };
}

/** Latents [B, 8, 8, C] → images [B, 32, 32, 3], ≈[0, 1] (not clipped). Consumes both. */
export function decode(params: VaeParams, latents: JaxArray, cfg: VaeConfig): JaxArray {
  tree.dispose(params.encoder as unknown as ParamTree);
  return fromUnitRange(convDecoder(params.decoder, latents, convAe(cfg)));
}

/** Deterministic reconstruction: decode the posterior mean. Consumes both. */
export function reconstructVae(params: VaeParams, images: JaxArray, cfg: VaeConfig): JaxArray {
  const h = convEncoder(params.encoder, toUnitRange(images), convAe(cfg));
  const [mean, logvar] = np.split(h, 2, -1);
  logvar.dispose();
  return fromUnitRange(convDecoder(params.decoder, mean, convAe(cfg)));
}

/** z = mean + exp(logvar / 2) · ε, ε ~ N(0, I) given. Consumes all three. */
export function reparameterize(mean: JaxArray, logvar: JaxArray, eps: JaxArray): JaxArray {
  return mean.add(np.exp(logvar.mul(0.5)).mul(eps));
}

/**
 * KL(N(mean, exp(logvar)) ‖ N(0, 1)) per element: ½(μ² + σ² − 1 − log σ²). Consumes both.
 */
export function klPerElement(mean: JaxArray, logvar: JaxArray): JaxArray {
  return np.square(mean).add(np.exp(logvar.ref)).sub(1).sub(logvar).mul(0.5);
}

/** Mean reconstruction error, both in the same range. Consumes both. */
export function reconError(pred: JaxArray, target: JaxArray, kind: "mse" | "l1"): JaxArray {
  const d = pred.sub(target);
  return (kind === "mse" ? np.square(d) : np.abs(d)).mean();
}

export type VaeLossParts = { loss: JaxArray; recon: JaxArray; kl: JaxArray };

/**
 * The training objective on one batch: images [B, 32, 32, 3] in [0, 1], eps [B, 8, 8, C]
 * standard normal (drawn on the host so replicas and resumes agree). Reconstruction error is
 * measured in [-1, 1]. Consumes images and eps (not params).
 */
export function vaeLossParts(
  params: VaeParams,
  images: JaxArray,
  eps: JaxArray,
  cfg: VaeConfig,
): VaeLossParts {
  const x = toUnitRange(images); // [B, 32, 32, 3]
  const h = convEncoder(params.encoder, x.ref, convAe(cfg));
  const [mean, logvar0] = np.split(h, 2, -1);
  const logvar = np.clip(logvar0, -30, 20);
  const kl = klPerElement(mean.ref, logvar.ref).mean();
  const zs = reparameterize(mean, logvar, eps);
  const recon = reconError(convDecoder(params.decoder, zs, convAe(cfg)), x, cfg.loss.recon);
  const loss = recon.ref.add(kl.ref.mul(cfg.loss.beta));
  return { loss, recon, kl };
}

/** The Task for the generic trainer (importable by data-parallel workers). */
export function vaeTask(cfg: VaeConfig): Task {
  return {
    init: (seed) => initVae(jaxKey(seed), cfg) as unknown as ParamTree,
    loss: (params, batch: Batch) => {
      const r = vaeLossParts(params as unknown as VaeParams, batch.images, batch.eps, cfg);
      r.recon.dispose();
      r.kl.dispose();
      return r.loss;
    },
  };
}

/** Normalise latents for a generator: (z − shift) · scale. Consumes z. */
export function normalizeLatents(z: JaxArray, cfg: VaeConfig): JaxArray {
  const l = cfg.latent ?? { shift: 0, scale: 1 };
  return z.sub(l.shift).mul(l.scale);
}

/** Inverse of normalizeLatents. Consumes z. */
export function denormalizeLatents(z: JaxArray, cfg: VaeConfig): JaxArray {
  const l = cfg.latent ?? { shift: 0, scale: 1 };
  return z.div(l.scale).add(l.shift);
}
