/**
 * Using a unified model: text→image, editing, answering and describing. Nothing here differs
 * between a base model and its RecA-aligned version (RecA changes nothing at inference).
 *
 * `UmmModel` holds the parameters used for sampling (the EMA copy when the checkpoint has one),
 * the frozen understanding encoder, the tokenizer and jitted backbone passes.
 */
import { EOS_ID, SEP_ID, Tokenizer } from "../data/tokenizer.ts";
import { loadUnderstandingEncoder, type UnderstandingEncoder } from "../encoders/understanding.ts";
import { type JaxArray, jit, numpy as np, tree } from "../engine/jax.ts";
import { type ParamTree, treeDispose, treeRef } from "../engine/tree.ts";
import type { RgbImage } from "../world/render.ts";
import {
  appendedStates,
  type BackboneParams,
  backboneStates,
  type SequenceBatch,
  textLogits,
} from "./backbone.ts";
import { featureRows } from "./batch.ts";
import type { ResolvedUmmConfig } from "./config.ts";
import { readModelDir } from "./config-file.ts";
import {
  type BackboneCallback,
  type Condition,
  type FamilyData,
  type GenerationFamily,
  resolveSamplerOptions,
} from "./family.ts";
import { backboneConfig, familyOf, loadUmmParams, type UmmParams, ummCondition } from "./model.ts";
import { hostImages } from "./pixels.ts";
import {
  conditionSequences,
  DESCRIBE_PROMPT,
  IMAGE,
  NULL_PROMPT,
  type Part,
  packRows,
  rowIds,
} from "./sequence.ts";

/**
 * Sampling options: guidance scale (default: the family's), `steps` (the family's step count
 * where it has one: flow's Euler steps), any other option of the family's sampler, and the seed.
 */
export type GenerateOptions = {
  guidance?: number;
  steps?: number;
  sampler?: Record<string, number>;
  seed?: number;
};

function toDevice(a: {
  dtype: "float32" | "int32";
  shape: number[];
  data: Float32Array | Int32Array;
}) {
  return np.array(a.data, { dtype: a.dtype === "int32" ? np.int32 : np.float32 }).reshape(a.shape);
}

export class UmmModel {
  readonly family: GenerationFamily;
  readonly #familyData: FamilyData;
  readonly #states;
  readonly #condition;

  constructor(
    readonly params: UmmParams,
    readonly config: ResolvedUmmConfig,
    readonly encoder: UnderstandingEncoder,
    readonly tokenizer: Tokenizer,
  ) {
    this.family = familyOf(config);
    this.#familyData = this.family.openData();
    const bc = backboneConfig(config);
    this.#states = jit((p: BackboneParams, tokens, valid, slots, features) =>
      backboneStates(p, { tokens, valid, slots, features }, bc),
    );
    // jit takes arrays only: the queries are an argument only when the model has them.
    this.#condition =
      config.queries > 0
        ? jit(
            (p: BackboneParams, q: JaxArray, tokens, valid, slots, features): Condition =>
              ummCondition(config, p, q, { tokens, valid, slots, features }),
          )
        : jit(
            (p: BackboneParams, tokens, valid, slots, features): Condition =>
              ummCondition(config, p, undefined, { tokens, valid, slots, features }),
          );
  }

  get imageSize(): number {
    return this.family.imageSize;
  }

  /** Features [B, R, F] of images (zeros for missing ones). */
  async #features(images: readonly (RgbImage | undefined)[]): Promise<JaxArray> {
    // Rows without an image get zeros; the encoder still reads an image of its own size.
    const side = this.encoder.config.model.imageSize;
    const blank: RgbImage = { width: side, height: side, data: new Float32Array(side * side * 3) };
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
    const q = this.params.queries ? [this.params.queries.ref] : [];
    return (this.#condition as (...args: unknown[]) => Condition)(
      treeRef(this.params.backbone),
      ...q,
      toDevice(s.tokens),
      toDevice(s.valid),
      toDevice(s.slots),
      feats,
    );
  }

  /**
   * In-sequence families: a callback running the backbone over [condition rows; tokens], and
   * the disposal of what it holds.
   */
  async #callback(
    rows: readonly (readonly Part[])[],
    images: readonly (RgbImage | undefined)[],
  ): Promise<{ run: BackboneCallback; dispose: () => void }> {
    const R = this.config.features.tokens;
    const s = conditionSequences(this.tokenizer, rows, this.config.sequence.conditionLen, R);
    const seq: SequenceBatch = {
      tokens: toDevice(s.tokens),
      valid: toDevice(s.valid),
      slots: toDevice(s.slots),
      features: await this.#features(rows.map((_, b) => images[b])),
    };
    const bc = backboneConfig(this.config);
    const held = (): SequenceBatch => ({
      tokens: seq.tokens.ref,
      valid: seq.valid.ref,
      slots: seq.slots.ref,
      features: seq.features.ref,
    });
    return {
      run: (tokens) => appendedStates(treeRef(this.params.backbone), held(), tokens, bc),
      dispose: () => tree.dispose(Object.values(seq)),
    };
  }

  async #sample(
    rows: readonly (readonly Part[])[],
    featureImages: readonly (RgbImage | undefined)[],
    source: readonly RgbImage[] | undefined,
    o: GenerateOptions,
  ): Promise<RgbImage[]> {
    const n = rows.length;
    const options = resolveSamplerOptions(this.family, { steps: o.steps, ...o.sampler });
    const nullRows = rows.map(() => [NULL_PROMPT]);
    const cond = await this.condition(rows, featureImages);
    const nullCond = await this.condition(nullRows);
    const edit = source
      ? Object.fromEntries(
          Object.entries(this.#familyData.editInputs(source)).map(([k, a]) => [k, toDevice(a)]),
        )
      : undefined;
    const callbacks = this.family.inSequence
      ? [await this.#callback(rows, featureImages), await this.#callback(nullRows, [])]
      : undefined;
    try {
      const x = await this.family.sample(this.params.family, {
        cond,
        nullCond,
        guidance: o.guidance ?? this.family.sampling.guidance,
        seed: o.seed ?? 0,
        options,
        ...(edit ? { edit } : {}),
        ...(callbacks ? { backbone: { cond: callbacks[0].run, null: callbacks[1].run } } : {}),
      });
      return hostImages((await x.data()) as Float32Array, n, this.imageSize);
    } finally {
      tree.dispose([cond.states, cond.valid, nullCond.states, nullCond.valid]);
      if (edit) tree.dispose(Object.values(edit));
      for (const c of callbacks ?? []) c.dispose();
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
    this.#condition.dispose();
    this.#familyData.dispose();
    treeDispose(this.params as unknown as ParamTree);
  }

  dispose(): void {
    this.disposeOwn();
    this.encoder.dispose();
  }
}

export { readUmmConfig } from "./config-file.ts";

/**
 * Load a unified model for inference (EMA weights when present). The engine must be initialised.
 * `encoderDir` overrides the encoder path stored in the config.
 */
export function loadUmm(dir: string, o: { encoderDir?: string; ema?: boolean } = {}): UmmModel {
  const { config, tokenizer: words } = readModelDir(dir);
  const tokenizer = words
    ? Tokenizer.fromJSON(words)
    : Tokenizer.world(config.backbone.vocabVersion);
  const params = loadUmmParams(dir, config, o.ema !== false);
  const encoder = loadUnderstandingEncoder(o.encoderDir ?? config.encoder);
  return new UmmModel(params, config, encoder, tokenizer);
}
