/**
 * AdamW with decoupled weight decay (none on 1-D params: biases, norm gains),
 * linear warm-up + cosine schedule, global-norm clipping and parameter EMA.
 * Everything here is pure and jit-safe: the learning rate and step arrive as
 * traced scalars, so changing them never recompiles the train step.
 */
import { z } from "zod";
import { type JaxArray, numpy as np, tree } from "./jax.ts";
import { type FrozenMask, mapNamed, type ParamTree } from "./tree.ts";

export const OptimConfigSchema = z
  .object({
    lr: z.number().positive(),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    eps: z.number().positive().default(1e-8),
    weightDecay: z.number().min(0).default(0.01),
    /** Global-norm clip threshold; null disables clipping. */
    clipNorm: z.number().positive().nullable().default(1.0),
    warmupSteps: z.number().int().min(0).default(0),
    /** Step at which the cosine reaches `minLrRatio × lr`. */
    totalSteps: z.number().int().positive(),
    minLrRatio: z.number().min(0).max(1).default(0.1),
    /** EMA decay for sampling weights; null disables EMA. */
    emaDecay: z.number().min(0).lt(1).nullable().default(null),
    /**
     * Warm the EMA up: decay at step t is min(emaDecay, (1 + t) / (10 + t)), so early EMA
     * weights follow training instead of staying at the initialisation (a fixed 0.999 still
     * weighs the init by 0.999^t, 85% after 160 steps).
     */
    emaWarmup: z.boolean().default(false),
  })
  .strict();
export type OptimConfig = z.infer<typeof OptimConfigSchema>;

export function optimConfig(partial: z.input<typeof OptimConfigSchema>): OptimConfig {
  return OptimConfigSchema.parse(partial);
}

/** Learning rate for 1-based `step`: linear warm-up to `lr`, then cosine to `minLrRatio·lr`. */
export function lrAt(cfg: OptimConfig, step: number): number {
  if (cfg.warmupSteps > 0 && step <= cfg.warmupSteps) return (cfg.lr * step) / cfg.warmupSteps;
  const span = Math.max(1, cfg.totalSteps - cfg.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - cfg.warmupSteps) / span));
  const cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
  return cfg.lr * (cfg.minLrRatio + (1 - cfg.minLrRatio) * cosine);
}

export type OptState = { m: ParamTree; v: ParamTree };

/** Zero first and second moments shaped like `params` (does not consume). */
export function initOptState(params: ParamTree): OptState {
  const zeros = () => tree.map((p: JaxArray) => np.zerosLike(p.ref), params) as ParamTree;
  return { m: zeros(), v: zeros() };
}

/** Global L2 norm of a tree (consumes it). Returns a 0-d array. */
export function globalNorm(t: ParamTree): JaxArray {
  const sq = tree.leaves(tree.map((g: JaxArray) => np.square(g).sum(), t)) as JaxArray[];
  return np.sqrt(sq.reduce((a, b) => a.add(b)));
}

/** Multiply every leaf by a scalar array (consumes both; `s` is shared by reference). */
export function scaleTree(t: ParamTree, s: JaxArray): ParamTree {
  const out = tree.map((g: JaxArray) => g.mul(s.ref), t) as ParamTree;
  s.dispose();
  return out;
}

/** Leaf-wise sum of two trees (consumes both). */
export function addTrees(a: ParamTree, b: ParamTree): ParamTree {
  return tree.map((x: JaxArray, y: JaxArray) => x.add(y), a, b) as ParamTree;
}

export type AdamWResult = { params: ParamTree; opt: OptState; gradNorm: JaxArray };

/**
 * Per-step scalars of an update, computed on the host in float64 and passed into
 * the jitted step as traced scalars (so they never force a recompile). The bias
 * corrections are computed here rather than with `np.power` inside the graph:
 * jax-js 0.1.25's f32 `power(0.999, 1)` returns 0.998988, a 1.2% error in
 * 1 − β2 that would skew the first updates.
 */
export type StepScalars = { lr: number; c1: number; c2: number; ema: number };

/** The EMA decay used at 1-based `step` (0 when EMA is off). */
export function emaDecayAt(cfg: OptimConfig, step: number): number {
  if (cfg.emaDecay === null) return 0;
  return cfg.emaWarmup ? Math.min(cfg.emaDecay, (1 + step) / (10 + step)) : cfg.emaDecay;
}

export function stepScalars(cfg: OptimConfig, lr: number, step: number): StepScalars {
  if (!Number.isInteger(step) || step < 1)
    throw new Error(`step must be an integer ≥ 1, got ${step}`);
  return { lr, c1: 1 - cfg.beta1 ** step, c2: 1 - cfg.beta2 ** step, ema: emaDecayAt(cfg, step) };
}

type Scalar = JaxArray | number;
const asArray = (x: Scalar) => (typeof x === "number" ? np.array(x) : x);

/**
 * One AdamW update. `grads` is the (already averaged) gradient; `k` holds the
 * learning rate and bias corrections (numbers, or traced scalars under jit).
 * Consumes params, opt, grads and the scalars.
 */
export function adamwUpdate(
  params: ParamTree,
  opt: OptState,
  grads: ParamTree,
  k: { lr: Scalar; c1: Scalar; c2: Scalar },
  cfg: OptimConfig,
  frozen?: FrozenMask,
): AdamWResult {
  const { beta1: b1, beta2: b2, eps, weightDecay: wd } = cfg;
  // Frozen leaves' gradients are zeros (stopGradient in TrainStep): they add exactly 0 here.
  const gradNorm = globalNorm(tree.ref(grads));
  if (cfg.clipNorm !== null) {
    // Scale by min(1, clip / norm): a no-op under the threshold.
    const s = np.minimum(1, np.reciprocal(gradNorm.ref.add(1e-6)).mul(cfg.clipNorm));
    grads = scaleTree(grads, s);
  }
  const [lr, c1, c2] = [asArray(k.lr), asArray(k.c1), asArray(k.c2)];
  // A frozen leaf passes through untouched (its gradient is disposed).
  const keep = (name: string, x: JaxArray, g?: JaxArray): JaxArray | undefined => {
    if (!frozen?.(name)) return undefined;
    g?.dispose();
    return x;
  };
  const m = mapNamed(
    (name, mi: JaxArray, g: JaxArray) => keep(name, mi, g) ?? mi.mul(b1).add(g.mul(1 - b1)),
    opt.m,
    tree.ref(grads),
  );
  const v = mapNamed(
    (name, vi: JaxArray, g: JaxArray) =>
      keep(name, vi, g) ?? vi.mul(b2).add(np.square(g).mul(1 - b2)),
    opt.v,
    grads,
  );
  const newParams = mapNamed(
    (name, p: JaxArray, mi: JaxArray, vi: JaxArray) => {
      if (frozen?.(name)) {
        mi.dispose();
        vi.dispose();
        return p;
      }
      let upd = mi.div(c1.ref).div(np.sqrt(vi.div(c2.ref)).add(eps));
      // Decoupled weight decay on matrices only (AdamW; no decay on biases/norm gains).
      if (p.ndim >= 2 && wd > 0) upd = upd.add(p.ref.mul(wd));
      return p.sub(upd.mul(lr.ref));
    },
    params,
    tree.ref(m),
    tree.ref(v),
  );
  c1.dispose();
  c2.dispose();
  lr.dispose();
  return { params: newParams, opt: { m, v }, gradNorm };
}

/**
 * ema ← decay·ema + (1−decay)·params (consumes ema and a traced decay, not params). `decay` is a
 * number or a traced scalar (the warm-up schedule passes it per step without a recompile).
 */
export function emaUpdate(
  ema: ParamTree,
  params: ParamTree,
  decay: number | JaxArray,
  frozen?: FrozenMask,
): ParamTree {
  const out = mapNamed(
    (name, e: JaxArray, p: JaxArray) => {
      if (frozen?.(name)) return e;
      if (typeof decay === "number") return e.mul(decay).add(p.ref.mul(1 - decay));
      return e.sub(p.ref).mul(decay.ref).add(p.ref);
    },
    ema,
    params,
  );
  if (typeof decay !== "number") decay.dispose();
  return out;
}
