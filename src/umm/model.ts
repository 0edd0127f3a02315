/**
 * Model assembly: backbone + generation family, the training task every recipe shares
 * (pretraining, SFT, RecA differ only in the batches they build), and parameter init.
 *
 * A training batch is row-packed so every step has static shapes: row b holds one *generation*
 * example (condition sequence `g_*` + image target, edit source, per-row weight, the family's
 * noise `n_*`) and, when the text loss is on, one *image→text* example (`x_*`). Frozen
 * understanding features arrive as data (`g_feats`, `x_feats`), computed on the host by the
 * encoder, so the encoder can never be updated by accident.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCheckpoint } from "../engine/checkpoint.ts";
import type { JaxArray } from "../engine/jax.ts";
import { crossEntropy } from "../engine/losses.ts";
import { initMlp } from "../engine/nn/index.ts";
import { jaxKey, splitKey } from "../engine/rng.ts";
import type { Batch, Task } from "../engine/train-step.ts";
import { type ParamTree, treeDispose, treeRef } from "../engine/tree.ts";
import {
  type BackboneConfig,
  type BackboneParams,
  backboneCondition,
  backboneStates,
  initBackbone,
  textLogits,
} from "./backbone.ts";
import type { ResolvedUmmConfig } from "./config.ts";
import { flowFamily } from "./families/flow.ts";
import type { GenerationFamily } from "./family.ts";

export type UmmParams = { backbone: BackboneParams; family: ParamTree };

export function backboneConfig(cfg: ResolvedUmmConfig): BackboneConfig {
  const b = cfg.backbone;
  return {
    vocabSize: b.vocabSize,
    maxLen: b.maxLen,
    dim: b.dim,
    depth: b.depth,
    heads: b.heads,
    mlpRatio: b.mlpRatio,
    featureDim: cfg.features.dim,
  };
}

export function familyOf(cfg: ResolvedUmmConfig): GenerationFamily {
  return flowFamily({ ...cfg.flow, conditionDim: cfg.backbone.dim });
}

export function initUmm(seed: number, cfg: ResolvedUmmConfig): UmmParams {
  const [kb, kf] = splitKey(jaxKey(seed), 2);
  const backbone = initBackbone(kb, backboneConfig(cfg));
  if (cfg.conditionFeatures) backbone.conditionProjector = initConditionProjector(seed, cfg);
  return { backbone, family: familyOf(cfg).init(kf) };
}

/** The condition ablation's projector (its own key stream, so base inits are unchanged). */
function initConditionProjector(seed: number, cfg: ResolvedUmmConfig) {
  const cf = cfg.conditionFeatures;
  if (!cf) throw new Error("no conditionFeatures");
  const D = cfg.backbone.dim;
  return initMlp(jaxKey(seed + 0x5eed), cf.dim, D, { outDim: D });
}

/** The family's per-row noise, stored in batches as `n_<name>`. */
export const NOISE_PREFIX = "n_";

/**
 * Weighted generation loss + text cross-entropy, as in the batch layout above. Consumes params
 * and batch.
 */
export function ummLoss(
  cfg: ResolvedUmmConfig,
  family: GenerationFamily,
  params: UmmParams,
  b: Batch,
): JaxArray {
  const { loss, parts } = ummLossParts(cfg, family, params, b);
  for (const v of Object.values(parts)) v.dispose();
  return loss;
}

/**
 * The loss and its parts: `gen`, the generation rows' weighted loss as it enters the total (the
 * native loss of the family: reconstruction rows in RecA, caption rows in SFT), and `text`, the
 * image→text cross-entropy before its weight `cfg.loss.text` (absent without text rows). The
 * total is gen + text × weight.
 */
export function ummLossParts(
  cfg: ResolvedUmmConfig,
  family: GenerationFamily,
  params: UmmParams,
  b: Batch,
): { loss: JaxArray; parts: Record<string, JaxArray> } {
  const bc = backboneConfig(cfg);
  const withText = b.x_tokens !== undefined;
  const bb = params.backbone;
  const cond = backboneCondition(
    withText ? treeRef(bb) : bb,
    { tokens: b.g_tokens, valid: b.g_valid, slots: b.g_slots, features: b.g_feats },
    bc,
    {
      featureGradScale: cfg.loss.featureGradScale,
      conditionProjector: cfg.conditionFeatures !== undefined,
    },
  );
  const noise: Record<string, JaxArray> = {};
  for (const [k, v] of Object.entries(b))
    if (k.startsWith(NOISE_PREFIX)) noise[k.slice(NOISE_PREFIX.length)] = v;
  const perRow = family.loss(params.family, cond, {
    target: b.target,
    source: b.source,
    hasSource: b.has_source,
    noise,
  });
  const gen = perRow.mul(b.g_weight).mean();
  if (!withText) return { loss: gen.ref, parts: { gen } };
  const states = backboneStates(
    { ...bb, embed: treeRef(bb.embed) },
    { tokens: b.x_tokens, valid: b.x_valid, slots: b.x_slots, features: b.x_feats },
    bc,
    { featureGradScale: cfg.loss.featureGradScale },
  );
  const ce = crossEntropy(textLogits(bb.embed, states), b.x_targets, b.x_mask);
  return { loss: gen.ref.add(ce.ref.mul(cfg.loss.text)), parts: { gen, text: ce } };
}

/**
 * Parameters of a trained checkpoint, checked against this config's shapes: its EMA copy when it
 * has one and `ema` is not false (post-training starts from the weights that were evaluated).
 */
export function loadUmmParams(dir: string, cfg: ResolvedUmmConfig, ema = true): UmmParams {
  const template = initUmm(0, cfg) as unknown as ParamTree;
  try {
    const ck = loadCheckpoint(dir, { expected: template, skipOptimizer: true });
    if (ema && ck.ema) {
      treeDispose(ck.params);
      return ck.ema as unknown as UmmParams;
    }
    if (ck.ema) treeDispose(ck.ema);
    return ck.params as unknown as UmmParams;
  } finally {
    treeDispose(template);
  }
}

/**
 * Task factory (data-parallel workers load it through a TaskSpec). With `initFrom`, `init`
 * starts from that checkpoint instead of a fresh seed (post-training: SFT, RecA).
 */
export function ummTask(cfg: ResolvedUmmConfig & { initFrom?: string }): Task {
  const family = familyOf(cfg);
  const from = cfg.initFrom;
  const init = (seed: number): UmmParams => {
    if (!from) return initUmm(seed, cfg);
    // The base has no condition projector: load it as the base was, then add a fresh one.
    const fresh = cfg.conditionFeatures !== undefined && !readsConditionProjector(from);
    if (!fresh) return loadUmmParams(from, cfg);
    const p = loadUmmParams(from, { ...cfg, conditionFeatures: undefined });
    p.backbone.conditionProjector = initConditionProjector(seed, cfg);
    return p;
  };
  return {
    init: (seed) => init(seed) as unknown as ParamTree,
    loss: (p, b) => ummLoss(cfg, family, p as unknown as UmmParams, b),
    lossParts: (p, b) => ummLossParts(cfg, family, p as unknown as UmmParams, b),
  };
}

/** Whether a checkpoint's config carries the condition ablation's projector. */
function readsConditionProjector(dir: string): boolean {
  const raw = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as {
    conditionFeatures?: unknown;
  };
  return raw.conditionFeatures !== undefined && raw.conditionFeatures !== null;
}

/** The module path workers import `ummTask` from. */
export const UMM_TASK_MODULE = new URL("./model.ts", import.meta.url).href;
