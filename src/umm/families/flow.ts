/**
 * The flow-matching generation family (BAGEL / OpenUni-style): rectified flow in pixel space
 * (Liu et al., 2023; Esser et al., 2024 "SD3") with the conditional U-Net of ../unet.ts.
 *
 *   x_t = (1 − t)·x0 + t·ε,   target v = ε − x0,   t = sigmoid(N(mean, std))  (SD3's logit-normal)
 *   loss = per-row mean of (v̂ − v)²                                          → [B]
 *   sample: Euler from t = 1 (noise) to t = 0, v = v_null + g·(v_cond − v_null), clipped to
 *   [−1, 1]. Guidance runs the conditional and null rows as one batch of 2B per step.
 *
 * Editing is InstructPix2Pix-style (Brooks et al., 2023): the source image and a hasSource plane
 * are extra input channels; the null branch keeps the source and drops only the condition.
 *
 * Its data side: targets are the images' pixels in [-1, 1] (`target`), edit inputs the source
 * image and a 0/1 plane (`source`, `has_source`); its one sampler option is `steps`.
 */
import { z } from "zod";
import { blockUntilReady, type JaxArray, jit, numpy as np, tree } from "../../engine/jax.ts";
import { UnsupportedPrimitiveError } from "../../engine/onnx/rule.ts";
import { Rng } from "../../engine/rng.ts";
import { configuredEngine } from "../../engine/runner.ts";
import type { HostBatch } from "../../engine/train-step.ts";
import type { Condition, FamilyInputs, GenerationFamily } from "../family.ts";
import { signedImages } from "../pixels.ts";
import {
  checkUNetConfig,
  initUNet,
  type UNetConfig,
  type UNetParams,
  unetForward,
} from "../unet.ts";
import { sampleFlowOrt } from "./flow-ort.ts";

const res = z.number().int().positive();

export const FlowConfigSchema = z
  .object({
    /** Image side (the world renders 32×32). */
    imageSize: res.default(32),
    /**
     * "s2d": 2×2 space-to-depth stem, levels at 16×16 and 8×8 (calibration design D, ~2× cheaper
     * per step in jax-js); "conv": a 32×32 level first (calibration U-Net B).
     */
    stem: z.enum(["s2d", "conv"]).default("s2d"),
    /** Channels per level from the stem's grid down; default [64, 112] (s2d) / [32, 64, 96] (conv). */
    channels: z.array(res).min(1).optional(),
    /** Residual blocks per level on the way down. */
    resBlocks: res.default(1),
    /** Width of the time/condition embedding. */
    embDim: res.default(128),
    heads: res.default(4),
    groups: res.default(8),
    /** Width of the backbone states (Condition.states' last axis). */
    conditionDim: res.default(128),
    /** Grid sides with self-attention over the grid. */
    selfAttention: z.array(res).default([8]),
    /** Grid sides with cross-attention to the condition sequence. */
    crossAttention: z.array(res).default([8, 16]),
    /**
     * s2d: channels of the 32×32 head after the depth-to-space, which also sees the 7 input
     * channels at full resolution (0 = a bare depth-to-space head, calibration design D).
     */
    headChannels: z.number().int().min(0).default(16),
    /** Decoder upsampling (see UNetConfig.upsample). */
    upsample: z.enum(["resize-conv", "conv-resize"]).default("conv-resize"),
    /** Training-time distribution of t (SD3's logit-normal: sigmoid of a normal). */
    tSampling: z
      .object({
        kind: z.literal("logit-normal").default("logit-normal"),
        mean: z.number().default(0),
        std: z.number().positive().default(1),
      })
      .strict()
      .prefault({}),
    /**
     * Euler steps and guidance scale used when a caller gives none (the calibration runs of
     * docs/RESULTS.md: 20 steps, guidance 3.5).
     */
    sampleSteps: res.default(20),
    guidance: z.number().min(0).default(3.5),
  })
  .strict()
  .transform((c) => ({
    ...c,
    channels: c.channels ?? (c.stem === "s2d" ? [64, 112] : [32, 64, 96]),
  }))
  .superRefine((c, ctx) => {
    try {
      checkUNetConfig(unetConfig(c));
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
    }
  });
export type FlowConfig = z.infer<typeof FlowConfigSchema>;

/** A complete config from a partial one (defaults filled in). */
export function flowConfig(partial: z.input<typeof FlowConfigSchema> = {}): FlowConfig {
  return FlowConfigSchema.parse(partial);
}

/** The U-Net's part of the config. */
export function unetConfig(
  c: Omit<FlowConfig, "tSampling" | "sampleSteps" | "guidance">,
): UNetConfig {
  return {
    image: c.imageSize,
    stem: c.stem,
    channels: c.channels,
    resBlocks: c.resBlocks,
    embDim: c.embDim,
    heads: c.heads,
    groups: c.groups,
    conditionDim: c.conditionDim,
    selfAttention: c.selfAttention,
    crossAttention: c.crossAttention,
    headChannels: c.headChannels,
    upsample: c.upsample,
  };
}

export type FlowParams = UNetParams;

/**
 * Per-row flow-matching loss [B]: x0 = data.target, eps [B, H, W, 3], t [B]. Consumes everything.
 */
export function flowMatchingLoss(u: UNetConfig, p: FlowParams, inputs: FamilyInputs): JaxArray {
  const { cond, data } = inputs;
  const { eps, t, ...rest } = inputs.noise;
  for (const a of Object.values(rest)) a.dispose();
  const { target: x0, source, has_source: hasSource, ...extra } = data;
  for (const a of Object.values(extra)) a.dispose();
  const B = x0.shape[0];
  const tb = t.ref.reshape([B, 1, 1, 1]);
  const xt = x0.ref.mul(tb.ref.neg().add(1)).add(eps.ref.mul(tb)); // (1 − t)·x0 + t·ε
  const v = eps.sub(x0); // ε − x0
  const pred = unetForward(u, p, {
    x: xt,
    t,
    source,
    hasSource,
    states: cond.states,
    valid: cond.valid,
  });
  return np.square(pred.sub(v)).mean([1, 2, 3]);
}

/** Pad states [B, L, D] / valid [B, L] with padding positions to length `len`. Consumes cond. */
function padCondition(cond: Condition, len: number): Condition {
  const L = cond.valid.shape[1];
  if (L === len) return cond;
  return {
    states: np.pad(cond.states, [
      [0, 0],
      [0, len - L],
      [0, 0],
    ]),
    valid: np.pad(cond.valid, [
      [0, 0],
      [0, len - L],
    ]),
  };
}

/** Standard-normal noise [n, side, side, 3] on the host from a seed (same seed → same noise). */
function initialNoise(seed: number, n: number, side: number): Float32Array {
  const rng = new Rng(`flow/sample:${seed}`);
  const data = new Float32Array(n * side * side * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return data;
}

/**
 * One Euler step x ← x + dt·v(x, t). With guidance the conditioning arrays carry 2B rows
 * (conditional first, null second) and v = v_null + g·(v_cond − v_null); without, B rows and
 * v = v_cond. Which one is read from the shapes, so each jit trace is static. Consumes all.
 */
export function eulerStep(
  u: UNetConfig,
  p: FlowParams,
  x: JaxArray,
  t: JaxArray,
  dt: JaxArray,
  guidance: JaxArray,
  source: JaxArray,
  hasSource: JaxArray,
  states: JaxArray,
  valid: JaxArray,
): JaxArray {
  const B = x.shape[0];
  const guided = states.shape[0] === 2 * B;
  const xin = guided ? np.concatenate([x.ref, x.ref], 0) : x.ref;
  const rows = xin.shape[0];
  const v = unetForward(u, p, {
    x: xin,
    t: np.ones([rows]).mul(t),
    source,
    hasSource,
    states,
    valid,
  });
  let vel: JaxArray;
  if (guided) {
    const vc = v.ref.slice([0, B]);
    const vn = v.slice([B, 2 * B]);
    vel = vn.ref.add(vc.sub(vn).mul(guidance));
  } else {
    guidance.dispose();
    vel = v;
  }
  return x.add(vel.mul(dt));
}

export function flowFamily(cfg: FlowConfig): GenerationFamily<FlowParams> & { name: "flow" } {
  const u = unetConfig(cfg);
  const side = cfg.imageSize;
  let ortUnsupported = false;
  // One jitted step per family; jit re-traces only for a new shape (batch, condition length,
  // guided or not). Scalars (t, dt, guidance) are traced as weak scalars and never retrace.
  const step = jit(
    (
      p: FlowParams,
      x: JaxArray,
      t: JaxArray,
      dt: JaxArray,
      g: JaxArray,
      source: JaxArray,
      hasSource: JaxArray,
      states: JaxArray,
      valid: JaxArray,
    ) => eulerStep(u, p, x, t, dt, g, source, hasSource, states, valid),
  );

  return {
    name: "flow",
    conditionDim: cfg.conditionDim,
    imageSize: side,
    inSequence: false,
    sampling: {
      guidance: cfg.guidance,
      options: { steps: { default: cfg.sampleSteps, help: "Euler steps" } },
    },
    init: (key) => initUNet(key, u),
    loss: (params, inputs) => flowMatchingLoss(u, params, inputs),

    openData: () => ({
      targets: async (images) => ({ target: signedImages(images, side) }),
      editInputs: (sources) => ({
        source: signedImages(sources, side),
        has_source: {
          dtype: "float32",
          shape: [sources.length],
          data: Float32Array.from(sources, (s) => (s ? 1 : 0)),
        },
      }),
      dispose: () => {},
    }),

    lossNoise(rng: Rng, n: number): HostBatch {
      const eps = new Float32Array(n * side * side * 3);
      for (let i = 0; i < eps.length; i++) eps[i] = rng.normal();
      const t = new Float32Array(n);
      const { mean, std } = cfg.tSampling;
      for (let i = 0; i < n; i++) t[i] = 1 / (1 + Math.exp(-(mean + std * rng.normal())));
      return {
        eps: { dtype: "float32", shape: [n, side, side, 3], data: eps },
        t: { dtype: "float32", shape: [n], data: t },
      };
    },

    async sample(params, r): Promise<JaxArray> {
      const { cond, nullCond } = r;
      const B = cond.states.shape[0];
      if (nullCond.states.shape[0] !== B)
        throw new Error(`flow sample: ${nullCond.states.shape[0]} null rows for ${B} conditions`);
      const steps = r.options.steps;
      if (!Number.isInteger(steps) || steps < 1)
        throw new Error(`flow sample: steps must be a positive integer, got ${steps}`);
      const noise = initialNoise(r.seed, B, side);
      if (configuredEngine() === "ort" && !ortUnsupported) {
        // The same step on ONNX Runtime (docs/ENGINE.md); images agree with jax-js to ~1e-5.
        try {
          const o = { guidance: r.guidance, steps, ...(r.edit ? { source: r.edit.source } : {}) };
          return await sampleFlowOrt(u, params, cond, nullCond, o, noise);
        } catch (e) {
          if (!(e instanceof UnsupportedPrimitiveError)) throw e;
          process.stderr.write(`note: ${e.message}; flow samples on jax-js\n`);
          ortUnsupported = true;
        }
      }
      const guided = r.guidance !== 1;
      let c: Condition = { states: cond.states.ref, valid: cond.valid.ref };
      if (guided) {
        const len = Math.max(cond.valid.shape[1], nullCond.valid.shape[1]);
        const a = padCondition(c, len);
        const b = padCondition({ states: nullCond.states.ref, valid: nullCond.valid.ref }, len);
        c = {
          states: np.concatenate([a.states, b.states], 0),
          valid: np.concatenate([a.valid, b.valid], 0),
        };
      }
      const rows = guided ? 2 * B : B;
      let source: JaxArray;
      let hasSource: JaxArray;
      const edit = r.edit;
      if (edit) {
        const twice = (a: JaxArray) => (guided ? np.concatenate([a.ref, a.ref], 0) : a.ref);
        source = twice(edit.source);
        hasSource = twice(edit.has_source);
      } else {
        source = np.zeros([rows, side, side, 3]);
        hasSource = np.zeros([rows]);
      }
      let x = np.array(noise).reshape([B, side, side, 3]);
      for (let k = 0; k < steps; k++) {
        const t = 1 - k / steps;
        const dt = 1 - (k + 1) / steps - t; // = −1/steps, from the grid so Σdt = −1 exactly
        x = step(
          tree.ref(params),
          x,
          t,
          dt,
          r.guidance,
          source.ref,
          hasSource.ref,
          c.states.ref,
          c.valid.ref,
        ) as JaxArray;
        // jax-js holds every queued kernel's buffers until the queue runs: run each step to
        // completion so memory stays at one step's.
        await blockUntilReady(x);
      }
      for (const a of [source, hasSource, c.states, c.valid]) a.dispose();
      return np.clip(x, -1, 1);
    },
  };
}
