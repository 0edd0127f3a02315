/**
 * Held-out losses of a unified model: its own training losses on a fixed validation set that no
 * training corpus and no benchmark uses. This is how post-training hyperparameters (RecA's LR) are
 * chosen — never on the benchmark suites, which are the test set.
 *
 * The validation scenes are drawn like the unlabeled pool (uniform colours, so most objects are
 * in a non-dominant colour) from their own corpus seed, with the benchmark scenes excluded. Four
 * losses, each on the same rows and the same noise for every model compared (the noise comes from
 * a Rng seeded by the batch index), so differences between two models are paired:
 *
 *   t2i-null      generation loss from "Generate an image." (the unconditional prior);
 *   t2i-sparse    generation loss from the scene's sparse caption (the base's training style);
 *   t2i-complete  generation loss from a caption in the same grammar that names every category,
 *                 every colour, exact counts and a relation where one is eligible — the
 *                 attribute-rich prompts RecA is meant to improve;
 *   recon         the RecA reconstruction loss (understanding features + a template);
 *   i2t           image→text cross-entropy (VQA answers and dense descriptions): understanding.
 *
 * Most of a flow loss is denoising that no prompt helps with, and post-training on pool-like images
 * lowers it for every prompt alike; what a prompt adds is `promptGain` = t2i-null − t2i-complete
 * (per batch, same noise): how much the complete caption's information lowers the loss.
 *
 * Each is a mean over `batches` batches of `batch` rows; the per-batch means are kept so that
 * paired differences get a standard error.
 */
import { unlabeledPool } from "../data/corpora.ts";
import { initEngine, type JaxArray, jit, numpy as np } from "../engine/jax.ts";
import { Rng } from "../engine/rng.ts";
import { type Batch, toDevice } from "../engine/train-step.ts";
import { type ParamTree, treeDispose, treeRef } from "../engine/tree.ts";
import { backboneCondition, pooledCondition } from "../umm/backbone.ts";
import {
  assembleBatch,
  type BatchContext,
  type GenRow,
  openBatchContext,
  type TextRow,
} from "../umm/batch.ts";
import type { ResolvedUmmConfig } from "../umm/config.ts";
import { readUmmConfig } from "../umm/config-file.ts";
import {
  backboneConfig,
  imageSizeOf,
  loadUmmParams,
  type UmmParams,
  ummLoss,
} from "../umm/model.ts";
import type { Scene } from "../world/index.ts";
import {
  COMPLETE_CAPTION,
  denseCaption,
  sparseCaption,
  vqaQuestions,
  WorldRng,
  worldCategories,
} from "../world/index.ts";
import type { RgbImage } from "../world/render.ts";
import { describeRow, reconRow, t2iRow, vqaRow } from "./objectives.ts";
import { drawTemplate } from "./templates.ts";

/** The validation corpus's seed: distinct from every training corpus (CORPUS_SEEDS). */
export const HELDOUT_SEED = 5_005;
export const HELDOUT_KINDS = ["t2i-null", "t2i-sparse", "t2i-complete", "recon", "i2t"] as const;
export type HeldoutKind = (typeof HELDOUT_KINDS)[number];

export { COMPLETE_CAPTION } from "../world/index.ts";

export type HeldoutOptions = {
  /** Batches per loss (default 16). */
  batches?: number;
  /** Rows per batch (default 16). */
  batch?: number;
  /** Use the EMA weights when the checkpoint has them (default true, as evaluation does). */
  ema?: boolean;
  /** Benchmark scenes to keep out of the validation set. */
  exclude?: import("../data/corpora.ts").SceneExclusion;
  kinds?: readonly HeldoutKind[];
  /** Called after each batch. */
  onBatch?: (kind: HeldoutKind, done: number, total: number) => void;
};

export type HeldoutLoss = { mean: number; batches: number[] };
export type HeldoutResult = { model: string; rows: number } & Partial<
  Record<HeldoutKind, HeldoutLoss>
>;

type Item = { scene: Scene; image: RgbImage; index: number };

/** The rows of one held-out batch of `kind` (a pure function of the kind and batch index). */
export function heldoutRows(
  kind: HeldoutKind,
  items: readonly Item[],
  numCategories: number,
): { gen: GenRow[]; text: TextRow[] | null } {
  const rng = (i: number) => WorldRng.fromParts("heldout", kind, items[i].index);
  if (kind === "i2t") {
    const categories = worldCategories(numCategories);
    const text = items.map((it, i): TextRow => {
      const r = rng(i);
      if (r.bool(0.5)) return describeRow(it.image, denseCaption(it.scene, r));
      const [q] = vqaQuestions(it.scene, r, { n: 1, categories });
      return vqaRow(it.image, q.question, q.answer);
    });
    // Generation rows are required by the batch layout; weight 0 leaves the text loss alone.
    const gen = items.map((it) => t2iRow(null, it.image, 0));
    return { gen, text };
  }
  const gen = items.map((it, i): GenRow => {
    const r = rng(i);
    if (kind === "recon")
      return reconRow(drawTemplate(new Rng(`heldout/recon:${it.index}`)).parts, it.image, 1);
    if (kind === "t2i-null") return t2iRow(null, it.image, 1);
    const opts = kind === "t2i-complete" ? COMPLETE_CAPTION : {};
    return t2iRow(sparseCaption(it.scene, r, opts).text, it.image, 1);
  });
  return { gen, text: null };
}

/** Held-out losses of the model in `dir`. */
export async function heldoutLosses(dir: string, o: HeldoutOptions = {}): Promise<HeldoutResult> {
  await initEngine();
  const batches = o.batches ?? 16;
  const B = o.batch ?? 16;
  const kinds = o.kinds ?? HELDOUT_KINDS;
  const base = readUmmConfig(dir);
  // Every loss at weight 1, so each kind's number is that loss alone.
  const cfg: ResolvedUmmConfig = { ...base, loss: { ...base.loss, t2i: 1, edit: 1, text: 1 } };
  const m = openHeldout(dir, cfg, o);
  const { family } = m.ctx;
  const lossFn = jit((p: ParamTree, b: Batch) =>
    ummLoss(cfg, family, p as unknown as UmmParams, b),
  );
  const result: HeldoutResult = { model: dir, rows: batches * B };
  try {
    for (const kind of kinds) {
      const losses: number[] = [];
      for (let k = 0; k < batches; k++) {
        const { gen, text } = heldoutRows(kind, m.items(k, B), cfg.data.numCategories);
        const hb = await assembleBatch(m.ctx, gen, text, new Rng(`heldout/noise:${kind}:${k}`));
        const loss = lossFn(treeRef(m.params as unknown as ParamTree), toDevice(hb)) as JaxArray;
        // data() consumes the array.
        const v = ((await loss.data()) as Float32Array)[0];
        if (!Number.isFinite(v)) throw new Error(`held-out ${kind} loss is ${v} (batch ${k})`);
        losses.push(v);
        o.onBatch?.(kind, k + 1, batches);
      }
      result[kind] = { mean: losses.reduce((a, v) => a + v, 0) / losses.length, batches: losses };
    }
  } finally {
    lossFn.dispose();
    m.dispose();
  }
  return result;
}

type HeldoutModel = {
  ctx: BatchContext;
  params: UmmParams;
  /** The `B` validation items of batch `k` (the same for every model). */
  items(k: number, B: number): Item[];
  /** Frees the weights, the encoder and the condition source. */
  dispose(): void;
};

/** What both probes open: the model's weights and batch context, and the validation pool. */
function openHeldout(
  dir: string,
  cfg: ResolvedUmmConfig,
  o: Pick<HeldoutOptions, "ema" | "exclude">,
): HeldoutModel {
  const ctx = openBatchContext(cfg);
  const pool = unlabeledPool({
    seed: HELDOUT_SEED,
    numCategories: cfg.data.numCategories,
    imageSize: imageSizeOf(cfg),
    exclude: o.exclude,
  });
  const params = loadUmmParams(dir, cfg, o.ema ?? true);
  return {
    ctx,
    params,
    items: (k, B) =>
      Array.from({ length: B }, (_, j) => {
        const it = pool.get(k * B + j);
        return { scene: it.scene, image: it.image, index: it.index };
      }),
    dispose: () => {
      treeDispose(params as unknown as ParamTree);
      ctx.dispose();
    },
  };
}

/**
 * Per batch, what the complete caption lowers the loss by relative to the null prompt (both on
 * the same images and noise): the conditioning signal of the flow loss.
 */
export function promptGain(r: HeldoutResult): HeldoutLoss | null {
  const nul = r["t2i-null"];
  const full = r["t2i-complete"];
  if (!nul || !full) return null;
  const batches = nul.batches.map((v, i) => v - full.batches[i]);
  return { mean: batches.reduce((a, v) => a + v, 0) / batches.length, batches };
}

/** Mean and standard error of the paired per-batch differences b − a. */
export function pairedDifference(a: HeldoutLoss, b: HeldoutLoss): { mean: number; se: number } {
  if (a.batches.length !== b.batches.length || a.batches.length === 0)
    throw new Error("paired difference needs the same number of batches");
  const d = a.batches.map((v, i) => b.batches[i] - v);
  const n = d.length;
  const mean = d.reduce((s, v) => s + v, 0) / n;
  const variance = n > 1 ? d.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, se: Math.sqrt(variance / n) };
}

export type AlignmentScore = {
  /** How often a query is nearest its own image's caption among its batch. */
  top1: number;
  /** Mean centred cosine of matched and of mismatched pairs. */
  matched: number;
  mismatched: number;
};

export type ConditionAlignment = {
  /** Queries (held-out images). */
  n: number;
  /** Rows per retrieval pool (chance top-1 = 1/batch). */
  batch: number;
  chance: number;
  /** Query: the RecA condition (template + features), pooled as the U-Net pools it. */
  features: AlignmentScore;
  /** Query: the same states pooled over the feature slots only (template tokens left out). */
  featureSlots: AlignmentScore;
  /** Text↔text: query the image's sparse caption (it omits much, so retrieval is partial). */
  sparseCaption: AlignmentScore;
  /** Positive control: the complete caption in another phrasing (the probe can see content). */
  rephrased: AlignmentScore;
};

/**
 * Whether the generator's condition space is shared between text and image: for each held-out
 * image, the pooled backbone condition (the masked mean the U-Net conditions on) of a query is
 * compared with the pooled conditions of the complete captions of every image in its batch
 * (each side centred by its batch mean, cosine). Queries: the image's RecA condition (template +
 * understanding features); the same states pooled over the feature slots only; the image's
 * sparse caption; and, as the positive control that shows the probe can see content, its
 * complete caption drawn in another phrasing. RecA can
 * only carry what it teaches from features over to text prompts if the two land near each other.
 */
export async function conditionAlignment(
  dir: string,
  o: Pick<HeldoutOptions, "batches" | "batch" | "ema" | "exclude"> = {},
): Promise<ConditionAlignment> {
  await initEngine();
  const batches = o.batches ?? 16;
  const B = o.batch ?? 16;
  const cfg = readUmmConfig(dir);
  if (cfg.conditionFeatures)
    throw new Error("condition alignment reads understanding features; this model's are VAE");
  const m = openHeldout(dir, cfg, o);
  const bc = backboneConfig(cfg);
  // Pooled over valid positions, and over the feature slots only.
  const pooled = jit((bb: ParamTree, b: Batch) => {
    const slotMask = b.g_slots.ref.sum(2).greater(0).astype(np.float32);
    const c = backboneCondition(
      bb as unknown as UmmParams["backbone"],
      { tokens: b.g_tokens, valid: b.g_valid, slots: b.g_slots, features: b.g_feats },
      bc,
    );
    return [pooledCondition(c.states.ref, c.valid), pooledCondition(c.states, slotMask)];
  });
  const embed = async (rows: GenRow[], k: number) => {
    const hb = await assembleBatch(m.ctx, rows, null, new Rng(`heldout/align:${k}`));
    const keep = ["g_tokens", "g_valid", "g_slots", "g_feats"];
    const sub = Object.fromEntries(Object.entries(hb).filter(([name]) => keep.includes(name)));
    const [all, slots] = pooled(
      treeRef(m.params.backbone as unknown as ParamTree),
      toDevice(sub),
    ) as JaxArray[];
    return {
      all: centredUnit((await all.data()) as Float32Array, rows.length),
      slots: centredUnit((await slots.data()) as Float32Array, rows.length),
    };
  };
  const tally = (): Tally => ({ hits: 0, matched: 0, mismatched: 0 });
  const t = {
    features: tally(),
    featureSlots: tally(),
    sparseCaption: tally(),
    rephrased: tally(),
  };
  const nc = cfg.data.numCategories;
  try {
    for (let k = 0; k < batches; k++) {
      const items = m.items(k, B);
      const feats = await embed(heldoutRows("recon", items, nc).gen, k);
      const caps = (await embed(heldoutRows("t2i-complete", items, nc).gen, k)).all;
      const sparse = (await embed(heldoutRows("t2i-sparse", items, nc).gen, k)).all;
      const rephrasedRows = items.map(
        (it): GenRow => ({
          parts: [
            sparseCaption(
              it.scene,
              WorldRng.fromParts("heldout/rephrase", it.index),
              COMPLETE_CAPTION,
            ).text,
          ],
          target: it.image,
          weight: 1,
        }),
      );
      const rephrased = (await embed(rephrasedRows, k)).all;
      for (let i = 0; i < B; i++) {
        retrievalTally(t.features, feats.all[i], caps, i);
        retrievalTally(t.featureSlots, feats.slots[i], caps, i);
        retrievalTally(t.sparseCaption, sparse[i], caps, i);
        retrievalTally(t.rephrased, rephrased[i], caps, i);
      }
    }
  } finally {
    pooled.dispose();
    m.dispose();
  }
  const n = batches * B;
  const out = (a: Tally): AlignmentScore => ({
    top1: a.hits / n,
    matched: a.matched / n,
    mismatched: a.mismatched / n,
  });
  return {
    n,
    batch: B,
    chance: 1 / B,
    features: out(t.features),
    featureSlots: out(t.featureSlots),
    sparseCaption: out(t.sparseCaption),
    rephrased: out(t.rephrased),
  };
}

/** n row vectors of `data`, each minus the rows' mean, scaled to unit length (0 stays 0). */
export function centredUnit(data: Float32Array, n: number): Float32Array[] {
  const D = data.length / n;
  if (!Number.isInteger(D)) throw new Error(`${data.length} values do not split into ${n} rows`);
  const vs = Array.from({ length: n }, (_, i) => data.slice(i * D, (i + 1) * D));
  const mean = new Float32Array(D);
  for (const v of vs) for (let d = 0; d < D; d++) mean[d] += v[d] / n;
  return vs.map((v) => {
    const c = v.map((x, d) => x - mean[d]);
    const norm = Math.hypot(...c) || 1;
    return c.map((x) => x / norm);
  });
}

export type Tally = { hits: number; matched: number; mismatched: number };

/**
 * Add one query to a retrieval tally: a hit when `keys[i]` is its most similar key (dot product
 * of unit vectors; ties go to the first), plus its matched and mean mismatched similarity.
 */
export function retrievalTally(acc: Tally, query: Float32Array, keys: Float32Array[], i: number) {
  const sims = keys.map((c) => c.reduce((a, x, d) => a + x * query[d], 0));
  if (sims.indexOf(Math.max(...sims)) === i) acc.hits++;
  acc.matched += sims[i];
  acc.mismatched += (sims.reduce((a, v) => a + v, 0) - sims[i]) / (keys.length - 1);
}
