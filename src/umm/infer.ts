/**
 * Using a unified model: text→image, editing, answering and describing. Nothing here differs
 * between a base model and its RecA-aligned version (RecA changes nothing at inference).
 *
 * `UmmModel` holds the parameters used for sampling (the EMA copy when the checkpoint has one),
 * the frozen understanding encoder, the tokenizer and jitted backbone passes.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { EOS_ID, SEP_ID, Tokenizer } from "../data/tokenizer.ts";
import { loadUnderstandingEncoder, type UnderstandingEncoder } from "../encoders/understanding.ts";
import { CheckpointError } from "../engine/checkpoint.ts";
import { type JaxArray, jit, numpy as np, tree } from "../engine/jax.ts";
import { type ParamTree, treeDispose, treeRef } from "../engine/tree.ts";
import type { RgbImage } from "../world/render.ts";
import { type BackboneParams, backboneStates, textLogits } from "./backbone.ts";
import { featureRows, signedImages } from "./batch.ts";
import { type ResolvedUmmConfig, UmmConfigSchema } from "./config.ts";
import type { Condition, GenerationFamily } from "./family.ts";
import { backboneConfig, familyOf, loadUmmParams, type UmmParams } from "./model.ts";
import {
  conditionSequences,
  DESCRIBE_PROMPT,
  IMAGE,
  NULL_PROMPT,
  type Part,
  packRows,
  rowIds,
} from "./sequence.ts";

export type GenerateOptions = { cfg?: number; steps?: number; seed?: number };

function hostImages(x: Float32Array, n: number, side: number): RgbImage[] {
  const per = side * side * 3;
  return Array.from({ length: n }, (_, i) => {
    const data = new Float32Array(per);
    for (let j = 0; j < per; j++) {
      const v = (x[i * per + j] + 1) / 2;
      data[j] = Math.min(Math.max(v, 0), 1);
    }
    return { width: side, height: side, data };
  });
}

function toDevice(a: {
  dtype: "float32" | "int32";
  shape: number[];
  data: Float32Array | Int32Array;
}) {
  return np.array(a.data, { dtype: a.dtype === "int32" ? np.int32 : np.float32 }).reshape(a.shape);
}

export class UmmModel {
  readonly family: GenerationFamily;
  readonly #states;

  constructor(
    readonly params: UmmParams,
    readonly config: ResolvedUmmConfig,
    readonly encoder: UnderstandingEncoder,
    readonly tokenizer: Tokenizer,
  ) {
    this.family = familyOf(config);
    const bc = backboneConfig(config);
    this.#states = jit((p: BackboneParams, tokens, valid, slots, features) =>
      backboneStates(p, { tokens, valid, slots, features }, bc),
    );
  }

  get imageSize(): number {
    return this.config.flow.imageSize;
  }

  /** Features [B, R, F] of images (zeros for missing ones). */
  async #features(images: readonly (RgbImage | undefined)[]): Promise<JaxArray> {
    const blank: RgbImage = {
      width: this.imageSize,
      height: this.imageSize,
      data: new Float32Array(this.imageSize * this.imageSize * 3),
    };
    return toDevice(
      await featureRows(this.encoder, images, this.config.features.resolution, blank),
    );
  }

  /** Backbone states for condition rows; `images[b]` fills row b's `<img>` slots. */
  async condition(
    rows: readonly (readonly Part[])[],
    images: readonly (RgbImage | undefined)[] = [],
  ): Promise<Condition> {
    const R = this.config.features.tokens;
    const s = conditionSequences(this.tokenizer, rows, this.config.sequence.conditionLen, R);
    const feats = await this.#features(rows.map((_, b) => images[b]));
    const valid = toDevice(s.valid);
    const states = this.#states(
      treeRef(this.params.backbone),
      toDevice(s.tokens),
      valid.ref,
      toDevice(s.slots),
      feats,
    ) as JaxArray;
    return { states, valid };
  }

  async #sample(
    rows: readonly (readonly Part[])[],
    featureImages: readonly (RgbImage | undefined)[],
    source: readonly RgbImage[] | undefined,
    o: GenerateOptions,
  ): Promise<RgbImage[]> {
    const n = rows.length;
    const cond = await this.condition(rows, featureImages);
    const nullCond = await this.condition(rows.map(() => [NULL_PROMPT]));
    const side = this.imageSize;
    const src = source ? toDevice(signedImages(source, side)) : undefined;
    try {
      const x = await this.family.sample(this.params.family, cond, nullCond, {
        cfg: o.cfg ?? this.config.flow.cfg,
        steps: o.steps ?? this.config.flow.sampleSteps,
        seed: o.seed ?? 0,
        ...(src ? { source: src } : {}),
      });
      return hostImages((await x.data()) as Float32Array, n, side);
    } finally {
      tree.dispose([cond.states, cond.valid, nullCond.states, nullCond.valid]);
      src?.dispose();
    }
  }

  /** Text→image: one image per prompt. */
  generate(prompts: readonly string[], o: GenerateOptions = {}): Promise<RgbImage[]> {
    for (const p of prompts) this.#checkWords(p);
    return this.#sample(
      prompts.map((p) => [p]),
      [],
      undefined,
      o,
    );
  }

  /** Instruction-based editing: features of the source + instruction, source as extra input. */
  edit(
    images: readonly RgbImage[],
    instructions: readonly string[],
    o: GenerateOptions = {},
  ): Promise<RgbImage[]> {
    if (images.length !== instructions.length)
      throw new Error(`${images.length} images but ${instructions.length} instructions`);
    for (const p of instructions) this.#checkWords(p);
    return this.#sample(
      instructions.map((t) => [IMAGE, t]),
      images,
      images,
      o,
    );
  }

  /** Greedy answers to questions about images (`<img>`×R question `<sep>` → answer `<eos>`). */
  async answer(
    images: readonly RgbImage[],
    questions: readonly string[],
    o: { maxTokens?: number } = {},
  ): Promise<string[]> {
    if (images.length !== questions.length)
      throw new Error(`${images.length} images but ${questions.length} questions`);
    const R = this.config.features.tokens;
    const L = this.config.sequence.textLen;
    const rows = questions.map((q) => [...rowIds(this.tokenizer, [IMAGE, q], R), SEP_ID]);
    const answers: number[][] = rows.map(() => []);
    const done = rows.map(() => false);
    const maxTokens = Math.min(o.maxTokens ?? L, L);
    const feats = await this.#features(images);
    try {
      for (let t = 0; t < maxTokens && done.some((d) => !d); t++) {
        const live = rows.map((r, b) => [...r, ...answers[b]]);
        if (live.some((r) => r.length > L)) break;
        const s = packRows(live, L, R);
        const states = this.#states(
          treeRef(this.params.backbone),
          toDevice(s.tokens),
          toDevice(s.valid),
          toDevice(s.slots),
          feats.ref,
        ) as JaxArray;
        const logits = textLogits(treeRef(this.params.backbone.embed), states);
        const V = logits.shape[2];
        // Greedy over the tokenizer's words only: rows past it (room for later vocabulary
        // versions) are untrained and have no word to decode to.
        const words = logits.slice([], [], [0, Math.min(V, this.tokenizer.size)]);
        const last = (await np.argmax(words, -1).data()) as Int32Array; // [B, L]
        live.forEach((r, b) => {
          if (done[b]) return;
          const id = last[b * L + r.length - 1];
          if (id === EOS_ID) done[b] = true;
          else answers[b].push(id);
        });
        if (V <= 0) break;
      }
    } finally {
      feats.dispose();
    }
    return answers.map((a) => this.tokenizer.decode(a));
  }

  describe(images: readonly RgbImage[], o: { maxTokens?: number } = {}): Promise<string[]> {
    return this.answer(
      images,
      images.map(() => DESCRIBE_PROMPT),
      o,
    );
  }

  #checkWords(text: string): void {
    const unknown = this.tokenizer.unknownWords(text);
    if (unknown.length > 0)
      throw new Error(
        `"${text}": ${unknown.map((w) => `"${w}"`).join(", ")} not in the model's vocabulary`,
      );
  }

  /** Free the parameters and jitted passes, leaving the (possibly shared) encoder alive. */
  disposeOwn(): void {
    this.#states.dispose();
    treeDispose(this.params as unknown as ParamTree);
  }

  dispose(): void {
    this.disposeOwn();
    this.encoder.dispose();
  }
}

/** Read and validate a unified model's config.json. */
export function readUmmConfig(dir: string): ResolvedUmmConfig {
  const path = join(dir, "config.json");
  if (!existsSync(path))
    throw new CheckpointError(`${dir}: no config.json (not a model directory)`);
  let raw: { features?: unknown; tokenizer?: unknown; postTrain?: unknown };
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read (${(e as Error).message})`);
  }
  // A post-trained model (reca align) also records its recipe; it does not change the model.
  const {
    features,
    tokenizer: _t,
    postTrain: _p,
    conditionFeatures,
    ...rest
  } = raw as typeof raw & {
    conditionFeatures?: ResolvedUmmConfig["conditionFeatures"];
  };
  const r = UmmConfigSchema.safeParse(rest);
  if (!r.success)
    throw new CheckpointError(`${path}: not a unified-model config: ${r.error.message}`);
  const f = features as ResolvedUmmConfig["features"] | undefined;
  if (!f || !Number.isInteger(f.resolution) || !Number.isInteger(f.dim))
    throw new CheckpointError(`${path}: missing the resolved "features" block`);
  return { ...r.data, features: f, ...(conditionFeatures ? { conditionFeatures } : {}) };
}

/**
 * Load a unified model for inference (EMA weights when present). The engine must be initialised.
 * `encoderDir` overrides the encoder path stored in the config.
 */
export function loadUmm(dir: string, o: { encoderDir?: string; ema?: boolean } = {}): UmmModel {
  const config = readUmmConfig(dir);
  const raw = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as {
    tokenizer?: { version: number; words: string[] };
  };
  const tokenizer = raw.tokenizer
    ? Tokenizer.fromJSON(raw.tokenizer)
    : Tokenizer.world(config.backbone.vocabVersion);
  const params = loadUmmParams(dir, config, o.ema !== false);
  const encoder = loadUnderstandingEncoder(o.encoderDir ?? config.encoder);
  return new UmmModel(params, config, encoder, tokenizer);
}
