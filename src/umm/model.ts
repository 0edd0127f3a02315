/**
 * Model assembly: backbone + generation family, the training task every recipe shares
 * (pretraining, SFT, RecA differ only in the batches they build), and parameter init.
 *
 * A training batch is row-packed so every step has static shapes: row b holds one *generation*
 * example (condition sequence `g_*`, per-row weight, the family's data `f_*` — its targets and
 * edit inputs — and its noise `n_*`) and, when the text loss is on, one *image→text* example
 * (`x_*`). Frozen
 * understanding features arrive as data (`g_feats`, `x_feats`), computed on the host by the
 * encoder, so the encoder can never be updated by accident.
 *
 * A batch may also be text only (no `g_*`: the language-model and VLM-alignment stages,
 * src/train/lm.ts, src/train/vlm.ts): then the loss is the text cross-entropy alone, and a batch
 * without `x_slots`/`x_feats` (pure text, no image) reads no features at all.
 */

import { loadCheckpoint } from "../engine/checkpoint.ts";
import { type JaxArray, numpy as np, random } from "../engine/jax.ts";
import { crossEntropy } from "../engine/losses.ts";
import { initMlp } from "../engine/nn/index.ts";
import { jaxKey, splitKey } from "../engine/rng.ts";
import type { Batch, Task } from "../engine/train-step.ts";
import { frozenPrefixes, type ParamTree, treeDispose, treeRef } from "../engine/tree.ts";
import {
  appendedStates,
  type BackboneConfig,
  type BackboneOptions,
  type BackboneParams,
  backboneCondition,
  backboneStates,
  initBackbone,
  type SequenceBatch,
  textLogits,
} from "./backbone.ts";
import type { ResolvedUmmConfig } from "./config.ts";
import { readModelDir } from "./config-file.ts";
import { buildFamily } from "./families/index.ts";
import type { BackboneCallback, Condition, GenerationFamily } from "./family.ts";

/** `queries` [N, D]: OpenUni's learnable query tokens (present when cfg.queries > 0). */
export type UmmParams = { backbone: BackboneParams; family: ParamTree; queries?: JaxArray };

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
  return buildFamily(cfg.generator, cfg.backbone.dim);
}

/** Side of the images the model reads and writes (its family's). */
export function imageSizeOf(cfg: ResolvedUmmConfig): number {
  return familyOf(cfg).imageSize;
}

export function initUmm(seed: number, cfg: ResolvedUmmConfig): UmmParams {
  const [kb, kf] = splitKey(jaxKey(seed), 2);
  const backbone = initBackbone(kb, backboneConfig(cfg));
  if (cfg.conditionFeatures) backbone.conditionProjector = initConditionProjector(seed, cfg);
  const p: UmmParams = { backbone, family: familyOf(cfg).init(kf) };
  // Their own key stream, so models without queries keep the inits they always had.
  if (cfg.queries > 0)
    p.queries = random.normal(jaxKey(seed + 0x9e37), [cfg.queries, cfg.backbone.dim]).mul(0.02);
  return p;
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
/** The family's data arrays (targets, edit inputs), stored in batches as `f_<name>`. */
export const FAMILY_PREFIX = "f_";

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
  if (b.g_tokens === undefined) return textOnlyLossParts(cfg, params, b);
  const withText = b.x_tokens !== undefined;
  const { backbone: bb, queries } = params;
  const seq: SequenceBatch = {
    tokens: b.g_tokens,
    valid: b.g_valid,
    slots: b.g_slots,
    features: b.g_feats,
  };
  const opts: BackboneOptions = {
    featureGradScale: cfg.loss.featureGradScale,
    conditionProjector: cfg.conditionFeatures !== undefined,
  };
  const held = family.inSequence ? { bb: treeRef(bb), seq: refSequence(seq) } : undefined;
  const cond = ummCondition(cfg, withText ? treeRef(bb) : bb, queries, seq, opts);
  const data: Record<string, JaxArray> = {};
  const noise: Record<string, JaxArray> = {};
  for (const [k, v] of Object.entries(b)) {
    if (k.startsWith(NOISE_PREFIX)) noise[k.slice(NOISE_PREFIX.length)] = v;
    else if (k.startsWith(FAMILY_PREFIX)) data[k.slice(FAMILY_PREFIX.length)] = v;
  }
  const backbone: BackboneCallback | undefined = held
    ? (tokens) => appendedStates(treeRef(held.bb), refSequence(held.seq), tokens, bc, opts)
    : undefined;
  const perRow = family.loss(params.family, {
    cond,
    data,
    noise,
    ...(backbone ? { backbone } : {}),
  });
  if (held) {
    treeDispose(held.bb as unknown as ParamTree);
    disposeSequence(held.seq);
  }
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
 * A text-only batch (no generation rows): `text` × `cfg.loss.text` is the loss. Rows without an
 * image (no `x_slots`) get an empty feature grid, so no position reads the projector. Consumes
 * params and batch.
 */
function textOnlyLossParts(
  cfg: ResolvedUmmConfig,
  params: UmmParams,
  b: Batch,
): { loss: JaxArray; parts: Record<string, JaxArray> } {
  if (b.x_tokens === undefined) throw new Error("a batch with neither generation nor text rows");
  treeDispose(params.family);
  params.queries?.dispose();
  const { backbone: bb } = params;
  const [B, L] = b.x_tokens.shape;
  const slots = b.x_slots ?? np.zeros([B, L, 1]);
  const features = b.x_feats ?? np.zeros([B, 1, cfg.features.dim]);
  const states = backboneStates(
    { ...bb, embed: treeRef(bb.embed) },
    { tokens: b.x_tokens, valid: b.x_valid, slots, features },
    backboneConfig(cfg),
    { featureGradScale: cfg.loss.featureGradScale },
  );
  const ce = crossEntropy(textLogits(bb.embed, states), b.x_targets, b.x_mask);
  return { loss: ce.ref.mul(cfg.loss.text), parts: { text: ce } };
}

/**
 * The generation condition of a sequence batch: the backbone's states over it, or with learnable
 * queries (cfg.queries > 0) the states at the N query positions appended after it (valid
 * everywhere). Consumes the backbone, queries and the batch.
 */
export function ummCondition(
  cfg: ResolvedUmmConfig,
  bb: BackboneParams,
  queries: JaxArray | undefined,
  seq: SequenceBatch,
  opts: BackboneOptions = {},
): Condition {
  const bc = backboneConfig(cfg);
  if (cfg.queries === 0 || !queries) {
    queries?.dispose();
    return backboneCondition(bb, seq, bc, opts);
  }
  const B = seq.tokens.shape[0];
  const [N, D] = queries.shape;
  const extra = np.broadcastTo(queries.reshape([1, N, D]), [B, N, D]);
  return { states: appendedStates(bb, seq, extra, bc, opts), valid: np.ones([B, N]) };
}

function refSequence(s: SequenceBatch): SequenceBatch {
  return {
    tokens: s.tokens.ref,
    valid: s.valid.ref,
    slots: s.slots.ref,
    features: s.features.ref,
  };
}

function disposeSequence(s: SequenceBatch): void {
  for (const a of Object.values(s)) a.dispose();
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
  const frozen = frozenPrefixes(cfg.freeze);
  return {
    ...(frozen ? { frozen } : {}),
    init: (seed) => init(seed) as unknown as ParamTree,
    loss: (p, b) => ummLoss(cfg, family, p as unknown as UmmParams, b),
    lossParts: (p, b) => ummLossParts(cfg, family, p as unknown as UmmParams, b),
  };
}

/** Whether a checkpoint's config carries the condition ablation's projector. */
function readsConditionProjector(dir: string): boolean {
  return readModelDir(dir).config.conditionFeatures !== undefined;
}

/** The module path workers import `ummTask` from. */
export const UMM_TASK_MODULE = new URL("./model.ts", import.meta.url).href;
