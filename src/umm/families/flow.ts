/**
 * The flow-matching generation family (BAGEL / OpenUni-style): rectified flow in pixel space
 * (Liu et al., 2023; Esser et al., 2024 "SD3") with the conditional U-Net of ../unet.ts.
 *
 *   x_t = (1 − t)·x0 + t·ε,   target v = ε − x0,   t = sigmoid(N(mean, std))  (SD3's logit-normal)
 *   loss = per-row mean of (v̂ − v)²                                          → [B]
 *   sample: Euler from t = 1 (noise) to t = 0, v = v_null + cfg·(v_cond − v_null), clipped to
 *   [−1, 1]. Guidance runs the conditional and null rows as one batch of 2B per step.
 *
 * Editing is InstructPix2Pix-style (Brooks et al., 2023): the source image and a hasSource plane
 * are extra input channels; the null branch keeps the source and drops only the condition.
 */
import { z } from "zod";
import { blockUntilReady, type JaxArray, jit, numpy as np, tree } from "../../engine/jax.ts";
import { Rng } from "../../engine/rng.ts";
import type { HostBatch } from "../../engine/train-step.ts";
import type { Condition, FamilyTarget, GenerationFamily, SampleOptions } from "../family.ts";
import {
  checkUNetConfig,
  initUNet,
  type UNetConfig,
  type UNetParams,
  unetForward,
} from "../unet.ts";

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
    /** Euler steps and guidance scale used when a caller gives none (calibration.md: 20, 3.5). */
    sampleSteps: res.default(20),
    cfg: z.number().min(0).default(3.5),
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
export function unetConfig(c: Omit<FlowConfig, "tSampling" | "sampleSteps" | "cfg">): UNetConfig {
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
 * Per-row flow-matching loss [B]: x0 = target, eps [B, H, W, 3], t [B]. Consumes everything.
 */
export function flowMatchingLoss(
  u: UNetConfig,
  p: FlowParams,
  cond: Condition,
  target: FamilyTarget,
): JaxArray {
  const { eps, t, ...rest } = target.noise;
  for (const a of Object.values(rest)) a.dispose();
  const x0 = target.target;
  const B = x0.shape[0];
  const tb = t.ref.reshape([B, 1, 1, 1]);
  const xt = x0.ref.mul(tb.ref.neg().add(1)).add(eps.ref.mul(tb)); // (1 − t)·x0 + t·ε
  const v = eps.sub(x0); // ε − x0
  const pred = unetForward(u, p, {
    x: xt,
    t,
    source: target.source,
    hasSource: target.hasSource,
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

/** Standard-normal noise [n, side, side, 3] from a host seed (same seed → same noise). */
function initialNoise(seed: number, n: number, side: number): JaxArray {
  const rng = new Rng(`flow/sample:${seed}`);
  const data = new Float32Array(n * side * side * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return np.array(data).reshape([n, side, side, 3]);
}

/**
 * One Euler step x ← x + dt·v(x, t). With guidance the conditioning arrays carry 2B rows
 * (conditional first, null second) and v = v_null + cfg·(v_cond − v_null); without, B rows and
 * v = v_cond. Which one is read from the shapes, so each jit trace is static. Consumes all.
 */
function eulerStep(
  u: UNetConfig,
  p: FlowParams,
  x: JaxArray,
  t: JaxArray,
  dt: JaxArray,
  cfg: JaxArray,
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
    vel = vn.ref.add(vc.sub(vn).mul(cfg));
  } else {
    cfg.dispose();
    vel = v;
  }
  return x.add(vel.mul(dt));
}

export function flowFamily(cfg: FlowConfig): GenerationFamily<FlowParams> {
  const u = unetConfig(cfg);
  const side = cfg.imageSize;
  // One jitted step per family; jit re-traces only for a new shape (batch, condition length,
  // guided or not). Scalars (t, dt, cfg) are traced as weak scalars and never retrace.
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
    init: (key) => initUNet(key, u),
    loss: (params, cond, target) => flowMatchingLoss(u, params, cond, target),

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

    async sample(params, cond, nullCond, o: SampleOptions): Promise<JaxArray> {
      const B = cond.states.shape[0];
      if (nullCond.states.shape[0] !== B)
        throw new Error(`flow sample: ${nullCond.states.shape[0]} null rows for ${B} conditions`);
      const guided = o.cfg !== 1;
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
      if (o.source) {
        source = guided ? np.concatenate([o.source.ref, o.source.ref], 0) : o.source.ref;
        hasSource = np.ones([rows]);
      } else {
        source = np.zeros([rows, side, side, 3]);
        hasSource = np.zeros([rows]);
      }
      let x = initialNoise(o.seed, B, side);
      for (let k = 0; k < o.steps; k++) {
        const t = 1 - k / o.steps;
        const dt = 1 - (k + 1) / o.steps - t; // = −1/steps, from the grid so Σdt = −1 exactly
        x = step(
          tree.ref(params),
          x,
          t,
          dt,
          o.cfg,
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
