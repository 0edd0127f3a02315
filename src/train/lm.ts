/**
 * The language-model stage (`reca train lm`; docs/DESIGN.md, "Training order: LM, then VLM
 * alignment, then generation"): the backbone pretrained as a causal language model on the
 * world's text alone — sparse, dense and complete captions, the null prompt, questions with
 * their answers, dense descriptions, edit instructions and RecA templates — with next-token
 * cross-entropy on every token after `<bos>` and no image slot anywhere. The lab's stand-in for
 * the pretrained LLM inside every real unified model.
 *
 * Rows that mirror an image→text or generation row (question, description, edit, template) read
 * a caption of the scene where the image would be (`lmContextRow`, src/train/objectives.ts), so
 * the LM learns to answer and describe from its context; scenes come from the UMM corpus with
 * the benchmark scenes excluded (sparse captions from its caption items, as pretraining sees
 * them; everything else from its uniform-colour VQA and edit scenes).
 *
 * The output is an ordinary unified-model checkpoint (the same parameter tree as `reca train
 * base`): the projector, the generator (and queries) are frozen at their init, and the config's
 * `stages` record says which parts this stage trained. Each step's rows come from a Rng seeded
 * by (seed, step), so a batch is a pure function of its step and resume is bit-identical.
 */
import { z } from "zod";
import type { SceneExclusion } from "../data/corpora.ts";
import { unlabeledPool } from "../data/corpora.ts";
import { SEP_ID, Tokenizer } from "../data/tokenizer.ts";
import { initEngine, type JaxArray, jit, numpy as np } from "../engine/jax.ts";
import type { Parallelism } from "../engine/parallel/index.ts";
import { Rng } from "../engine/rng.ts";
import { type Batch, type HostBatch, toDevice } from "../engine/train-step.ts";
import { type ParamTree, treeDispose, treeRef } from "../engine/tree.ts";
import { backboneStates, textLogits } from "../umm/backbone.ts";
import { type ResolvedUmmConfig, UmmConfigSchema, UmmTrainSchema } from "../umm/config.ts";
import { readModelDir } from "../umm/config-file.ts";
import {
  backboneConfig,
  familyOf,
  loadUmmParams,
  type UmmParams,
  ummLossParts,
} from "../umm/model.ts";
import { lmIds, lmSequences, NULL_PROMPT } from "../umm/sequence.ts";
import {
  COMPLETE_CAPTION,
  denseCaption,
  type Scene,
  sampleEdit,
  sparseCaption,
  type VqaType,
  vqaQuestions,
  WorldRng,
  worldCategories,
} from "../world/index.ts";
import { HELDOUT_SEED } from "./heldout.ts";
import {
  drawDescription,
  type LmRow,
  lmDescribeRow,
  lmEditRow,
  lmQaRow,
  lmTemplateRow,
  lmTextRow,
} from "./objectives.ts";
import { PretrainData, resolveUmmConfig, ummTrainRun } from "./pretrain.ts";
import type { TrainRunSummary } from "./run.ts";
import { parameterNames, splitGroups, stageRecord } from "./stages.ts";
import { drawTemplate } from "./templates.ts";

/** The kinds of text the LM reads (and is evaluated on, held out). */
export const LM_KINDS = [
  "sparse",
  "dense",
  "complete",
  "null",
  "qa",
  "describe",
  "edit",
  "template",
] as const;
export type LmKind = (typeof LM_KINDS)[number];

const share = (d: number) => z.number().min(0).default(d);

export const LmDataSchema = z
  .object({
    /** Token positions per row (`<bos>` … `<eos>`; longer rows are cut). */
    seqLen: z.number().int().positive().default(112),
    /**
     * Pack documents end to end in each row (GPT-style; a document attends to the ones before
     * it in its row, and `<bos>` marks where a new one starts) instead of one per row: the
     * world's documents average ~31 tokens, so one per row leaves most positions as padding.
     */
    pack: z.boolean().default(true),
    /** Relative shares of the row kinds. */
    mix: z
      .object({
        sparse: share(0.15),
        dense: share(0.1),
        complete: share(0.1),
        null: share(0.02),
        qa: share(0.28),
        describe: share(0.12),
        edit: share(0.1),
        template: share(0.13),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type LmData = z.infer<typeof LmDataSchema>;

export const LmConfigSchema = z
  .object({
    /**
     * The unified model whose backbone is trained: backbone, generator, encoder, sequences —
     * everything but `freeze`, `loss` and `train`, which this stage sets.
     */
    model: UmmConfigSchema.omit({ freeze: true, loss: true, train: true }).prefault({}),
    data: LmDataSchema.prefault({}),
    train: UmmTrainSchema.extend({
      steps: z.number().int().positive().default(2000),
      batch: z.number().int().positive().default(32),
      lr: z.number().positive().default(1e-3),
      warmupSteps: z.number().int().min(0).default(100),
      emaDecay: z.number().min(0).max(1).nullable().default(0.995),
    }).prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const total = Object.values(c.data.mix).reduce((a, v) => a + v, 0);
    if (total <= 0)
      ctx.addIssue({ code: "custom", path: ["data", "mix"], message: "mix must sum above 0" });
    if (c.data.seqLen > c.model.backbone.maxLen)
      ctx.addIssue({
        code: "custom",
        path: ["data", "seqLen"],
        message: `seqLen ${c.data.seqLen} exceeds the backbone's maxLen ${c.model.backbone.maxLen}`,
      });
  });
export type LmConfig = z.infer<typeof LmConfigSchema>;

/** What the LM stage freezes: everything outside the language model (and its projector). */
export function lmFrozen(cfg: Pick<ResolvedUmmConfig, "queries">): string[] {
  return ["backbone.projector", "family", ...(cfg.queries > 0 ? ["queries"] : [])];
}

/** The unified-model config the LM stage trains (freeze, a text-only loss, its train block). */
export function lmModelConfig(lc: LmConfig): ResolvedUmmConfig {
  const m = UmmConfigSchema.parse({ ...lc.model, train: lc.train, loss: { text: 1 } });
  return resolveUmmConfig({ ...m, freeze: lmFrozen(m) });
}

type Captioner = (scene: Scene, key: string) => string;

/** Caption makers keyed by a string (each caption's randomness is its own). */
const captions: Record<"dense" | "complete", Captioner> = {
  dense: (s, key) => denseCaption(s, WorldRng.fromParts("lm/dense", key)),
  complete: (s, key) =>
    sparseCaption(s, WorldRng.fromParts("lm/complete", key), COMPLETE_CAPTION).text,
};

/**
 * One row of `kind` about `scene` (edits: a source with its edit), keyed by `key` and drawing
 * from `rng` in a fixed order. Shared by training and the held-out set.
 */
export function lmRowOf(
  kind: Exclude<LmKind, "sparse" | "null">,
  scene: Scene,
  key: string,
  rng: Rng,
  numCategories: number,
  edit?: { instruction: string; target: Scene },
): LmRow {
  // The context: a dense or a complete caption of the scene, half and half.
  const ctxKind = rng.float() < 0.5 ? "dense" : "complete";
  switch (kind) {
    case "dense":
    case "complete":
      return lmTextRow(captions[kind](scene, key));
    case "qa": {
      const wr = WorldRng.fromParts("lm/qa", key);
      const [q] = vqaQuestions(scene, wr, { n: 1, categories: worldCategories(numCategories) });
      const row = lmQaRow(captions[ctxKind](scene, `${key}/ctx`), q.question, q.answer);
      return { ...row, vqaType: q.type };
    }
    case "describe":
      return lmDescribeRow(
        captions.complete(scene, `${key}/ctx`),
        captions.dense(scene, `${key}/desc`),
      );
    case "template": {
      const t = drawTemplate(rng);
      return lmTemplateRow(
        t.parts,
        captions[ctxKind](scene, `${key}/ctx`),
        captions.complete(scene, `${key}/out`),
      );
    }
    case "edit": {
      if (!edit) throw new Error("an edit row needs its edit");
      return lmEditRow(
        captions[ctxKind](scene, `${key}/src`),
        edit.instruction,
        captions[ctxKind](edit.target, `${key}/dst`),
      );
    }
  }
}

/** The rows of one training step, drawn from the UMM corpus (benchmark scenes excluded). */
export class LmRows {
  readonly #data: PretrainData;
  readonly #kinds: LmKind[];
  readonly #weights: number[];

  constructor(
    readonly cfg: ResolvedUmmConfig,
    readonly lm: LmData,
    exclude?: SceneExclusion,
  ) {
    this.#data = new PretrainData(cfg, exclude);
    this.#kinds = [...LM_KINDS];
    this.#weights = this.#kinds.map((k) => lm.mix[k]);
  }

  /** One document, drawing from `rng` in a fixed order. */
  draw(rng: Rng): { kind: LmKind; row: LmRow } {
    const nc = this.cfg.data.numCategories;
    const kind = this.#kinds[rng.weighted(this.#weights)];
    const key = `${rng.int(1 << 30)}`;
    if (kind === "null") return { kind, row: lmTextRow(NULL_PROMPT) };
    if (kind === "sparse") {
      const [, it] = this.#data.draw(rng, "caption");
      return { kind, row: lmTextRow(it.caption) };
    }
    if (kind === "edit") {
      const [i, it] = this.#data.draw(rng, "edit");
      const edit = { instruction: it.instruction, target: it.target };
      return { kind, row: lmRowOf(kind, it.source, `${i}/${key}`, rng, nc, edit) };
    }
    const [i, it] = this.#data.draw(rng, "vqa");
    // Descriptions as the VLM stages and pretraining draw them (src/train/objectives.ts).
    if (kind === "describe") {
      const row = lmDescribeRow(
        captions.complete(it.scene, `${i}/${key}`),
        drawDescription(it.scene, i, rng),
      );
      return { kind, row };
    }
    return { kind, row: lmRowOf(kind, it.scene, `${i}/${key}`, rng, nc) };
  }

  /**
   * The documents of one step's `B` rows of `L` tokens: one per row, or with `pack` as many as
   * fit, end to end (a document that does not fit the current row starts the next; the first
   * that fits no row ends the step and is dropped).
   */
  step(rng: Rng, tok: Tokenizer, B: number, L: number, pack: boolean): LmRow[][] {
    if (!pack) return Array.from({ length: B }, () => [this.draw(rng).row]);
    const rows: LmRow[][] = [[]];
    let used = 0;
    for (;;) {
      const { row } = this.draw(rng);
      const n = Math.min(lmIds(tok, row.parts).length, L);
      if (used + n > L) {
        if (rows.length === B) return rows;
        rows.push([]);
        used = 0;
      }
      rows[rows.length - 1].push(row);
      used += n;
    }
  }
}

/** A host batch of LM rows (text only: `x_tokens`, `x_valid`, `x_targets`, `x_mask`). */
export function lmBatch(tok: Tokenizer, rows: readonly (readonly LmRow[])[], L: number): HostBatch {
  const x = lmSequences(
    tok,
    rows.map((docs) => docs.map((d) => d.parts)),
    L,
  );
  return { x_tokens: x.tokens, x_valid: x.valid, x_targets: x.targets, x_mask: x.mask };
}

export type LmTrainOptions = {
  outDir: string;
  resume?: boolean;
  force?: boolean;
  exclude?: SceneExclusion;
  parallelism?: Parallelism;
  quiet?: boolean;
  deadline?: number;
  /**
   * Continue the language model in this checkpoint (an earlier LM stage) instead of starting
   * from a fresh init: its model block wins over the config's, and the new stage is appended to
   * its `stages`. Its batches are drawn from their own stream, never replaying the earlier
   * stage's.
   */
  from?: string;
};

/** The unified-model config of an LM stage that continues the model in `from`. */
export function lmContinueConfig(base: ResolvedUmmConfig, lc: LmConfig): ResolvedUmmConfig {
  if (lc.data.seqLen > base.backbone.maxLen)
    throw new Error(
      `data.seqLen ${lc.data.seqLen} exceeds the backbone's maxLen ${base.backbone.maxLen}`,
    );
  return { ...base, freeze: lmFrozen(base), loss: { ...base.loss, text: 1 }, train: lc.train };
}

/** Train the language-model stage; the checkpoint in `o.outDir` is a unified model. */
export async function trainLm(lc: LmConfig, o: LmTrainOptions): Promise<TrainRunSummary> {
  await initEngine();
  const start = o.from ? readModelDir(o.from) : undefined;
  const cfg = start ? lmContinueConfig(start.config, lc) : lmModelConfig(lc);
  const split = splitGroups(await parameterNames(cfg), cfg.freeze);
  const tokenizer = Tokenizer.world(cfg.backbone.vocabVersion);
  const rows = new LmRows(cfg, lc.data, o.exclude);
  const t = cfg.train;
  const prior = start?.stages ?? [];
  const stream = start ? `lm/continue:${prior.length}` : "lm";
  const batch = (step: number) => {
    const rng = new Rng(`${stream}:${t.seed}:${step}`);
    const L = lc.data.seqLen;
    return lmBatch(tokenizer, rows.step(rng, tokenizer, t.batch, L, lc.data.pack), L);
  };
  const config = {
    ...cfg,
    tokenizer: tokenizer.toJSON(),
    stages: [...prior, stageRecord("lm", cfg, split, lc.data, o.from)],
  };
  const task = o.from ? { ...cfg, initFrom: o.from } : cfg;
  return ummTrainRun(task, t, batch, config, { ...o, label: "lm" });
}

/** Held-out text of one kind: rows from the validation scenes (no training corpus, no benchmark). */
export function heldoutLmRows(
  kind: LmKind,
  n: number,
  numCategories: number,
  exclude?: SceneExclusion,
): LmRow[] {
  const pool = unlabeledPool({ seed: HELDOUT_SEED, numCategories, exclude });
  const categories = worldCategories(numCategories);
  const out: LmRow[] = [];
  for (let i = 0; out.length < n; i++) {
    const { scene } = pool.get(i);
    const key = `heldout/${i}`;
    const rng = new Rng(`lm/heldout:${kind}:${i}`);
    if (kind === "null") out.push(lmTextRow(NULL_PROMPT));
    else if (kind === "sparse")
      out.push(lmTextRow(sparseCaption(scene, WorldRng.fromParts("lm/heldout/sparse", i)).text));
    else if (kind === "edit") {
      const e = sampleEdit(WorldRng.fromParts("lm/heldout/edit", i), scene, { categories });
      if (!e) continue;
      out.push(lmRowOf(kind, e.source, key, rng, numCategories, e));
    } else out.push(lmRowOf(kind, scene, key, rng, numCategories));
  }
  return out;
}

export type LmPerplexity = {
  /** Mean next-token NLL (nats) and perplexity over every token after `<bos>`. */
  nll: number;
  perplexity: number;
  tokens: number;
  /**
   * The same over the continuation only (the tokens after `<sep>`), where a row has one, and
   * `top1`: how often the greedy (argmax) first continuation token is the right one — for
   * questions, the answer word read from the caption in context.
   */
  continuation?: {
    nll: number;
    perplexity: number;
    tokens: number;
    top1: number;
    /** Questions: `top1` per question type (category, color, count, position). */
    top1ByType?: Partial<Record<VqaType, number>>;
  };
};

export type LmHeldout = {
  model: string;
  rows: number;
  kinds: Partial<Record<LmKind, LmPerplexity>>;
};

/** The mask of the tokens after a row's `<sep>` (0 where it has none). */
function continuationMask(hb: HostBatch, sepId: number): Float32Array {
  const [B, L] = hb.x_tokens.shape;
  const tokens = hb.x_tokens.data as Int32Array;
  const mask = hb.x_mask.data as Float32Array;
  const out = new Float32Array(B * L);
  for (let b = 0; b < B; b++) {
    let after = false;
    for (let l = 0; l < L; l++) {
      if (after) out[b * L + l] = mask[b * L + l];
      // Position l predicts token l + 1: the first target after <sep> is read at <sep> itself.
      if (tokens[b * L + l] === sepId) {
        after = true;
        out[b * L + l] = mask[b * L + l];
      }
    }
  }
  return out;
}

/** Each row's first `<sep>` whose next token is a target: its row and flat position b·L + l. */
function firstContinuation(hb: HostBatch, sepId: number): { row: number; pos: number }[] {
  const [B, L] = hb.x_tokens.shape;
  const tokens = hb.x_tokens.data as Int32Array;
  const mask = hb.x_mask.data as Float32Array;
  const out: { row: number; pos: number }[] = [];
  for (let b = 0; b < B; b++)
    for (let l = 0; l < L; l++)
      if (tokens[b * L + l] === sepId && mask[b * L + l] > 0) {
        out.push({ row: b, pos: b * L + l });
        break;
      }
  return out;
}

/**
 * The language model's held-out perplexity on each kind of text: `rows` rows per kind from the
 * validation scenes (src/train/heldout.ts's pool), the same rows for every model compared.
 */
export async function lmHeldout(
  dir: string,
  o: { rows?: number; batch?: number; seqLen?: number; exclude?: SceneExclusion } = {},
): Promise<LmHeldout> {
  await initEngine();
  const n = o.rows ?? 128;
  const B = o.batch ?? 32;
  const md = readModelDir(dir);
  const cfg: ResolvedUmmConfig = { ...md.config, loss: { ...md.config.loss, text: 1 } };
  const seqLen = o.seqLen ?? Math.min(112, cfg.backbone.maxLen);
  const tokenizer = md.tokenizer
    ? Tokenizer.fromJSON(md.tokenizer)
    : Tokenizer.world(cfg.backbone.vocabVersion);
  const family = familyOf(cfg);
  const params = loadUmmParams(dir, cfg);
  const ce = jit((p: ParamTree, b: Batch) => {
    const { loss, parts } = ummLossParts(cfg, family, p as unknown as UmmParams, b);
    loss.dispose();
    return parts.text;
  });
  const bc = backboneConfig(cfg);
  const words = Math.min(cfg.backbone.vocabSize, tokenizer.size);
  const greedy = jit((bb: ParamTree, tokens: JaxArray, valid: JaxArray) => {
    const p = bb as unknown as UmmParams["backbone"];
    const [Bn, Ln] = tokens.shape;
    const states = backboneStates(
      { ...p, embed: treeRef(p.embed) },
      { tokens, valid, slots: np.zeros([Bn, Ln, 1]), features: np.zeros([Bn, 1, bc.featureDim]) },
      bc,
    );
    return np.argmax(textLogits(p.embed, states).slice([], [], [0, words]), -1);
  });
  const out: LmHeldout = { model: dir, rows: n, kinds: {} };
  try {
    for (const kind of LM_KINDS) {
      const rows = heldoutLmRows(kind, n, cfg.data.numCategories, o.exclude);
      let all = 0;
      let allTokens = 0;
      let cont = 0;
      let contTokens = 0;
      let firstRight = 0;
      let firstTotal = 0;
      const byType: Partial<Record<VqaType, [number, number]>> = {};
      for (let at = 0; at < n; at += B) {
        const hb = lmBatch(
          tokenizer,
          rows.slice(at, at + B).map((r) => [r]),
          seqLen,
        );
        const masks: [Float32Array, "all" | "cont"][] = [
          [hb.x_mask.data as Float32Array, "all"],
          [continuationMask(hb, SEP_ID), "cont"],
        ];
        const first = firstContinuation(hb, SEP_ID);
        if (first.length > 0) {
          const am = (await (
            greedy(
              treeRef(params.backbone as unknown as ParamTree),
              toDevice({ t: hb.x_tokens }).t,
              toDevice({ v: hb.x_valid }).v,
            ) as JaxArray
          ).data()) as Int32Array;
          const targets = hb.x_targets.data as Int32Array;
          for (const { row, pos } of first) {
            const ok = am[pos] === targets[pos] ? 1 : 0;
            firstRight += ok;
            const type = rows[at + row].vqaType;
            if (type) {
              const h = byType[type] ?? [0, 0];
              byType[type] = [h[0] + ok, h[1] + 1];
            }
          }
          firstTotal += first.length;
        }
        for (const [mask, which] of masks) {
          const count = mask.reduce((a, v) => a + v, 0);
          if (count === 0) continue;
          const b = toDevice({ ...hb, x_mask: { ...hb.x_mask, data: mask } });
          const v = (
            (await (
              ce(treeRef(params as unknown as ParamTree), b) as JaxArray
            ).data()) as Float32Array
          )[0];
          if (which === "all") {
            all += v * count;
            allTokens += count;
          } else {
            cont += v * count;
            contTokens += count;
          }
        }
      }
      const nll = all / allTokens;
      out.kinds[kind] = {
        nll,
        perplexity: Math.exp(nll),
        tokens: allTokens,
        ...(contTokens > 0
          ? {
              continuation: {
                nll: cont / contTokens,
                perplexity: Math.exp(cont / contTokens),
                tokens: contTokens,
                top1: firstTotal > 0 ? firstRight / firstTotal : 0,
                ...(Object.keys(byType).length > 0
                  ? {
                      top1ByType: Object.fromEntries(
                        Object.entries(byType).map(([k, [a, m]]) => [k, (a as number) / m]),
                      ),
                    }
                  : {}),
              },
            }
          : {}),
      };
    }
  } finally {
    ce.dispose();
    greedy.dispose();
    treeDispose(params as unknown as ParamTree);
  }
  return out;
}
