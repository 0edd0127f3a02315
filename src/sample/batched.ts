/**
 * Many prompts, edits or questions through a unified model in fixed-size chunks. jit traces one
 * program per batch shape, so every call here runs `chunk` rows (the last chunk is padded by
 * repeating its last row, and the padding's outputs dropped): a run of any length traces once.
 *
 * Seeds: the flow sampler draws one noise tensor per call, so chunk c is sampled with
 * mixSeed(label, seed, c). Outputs are a pure function of (seed, chunk size, row order): the
 * same command gives the same images, and a different chunk size gives different (equally
 * valid) ones.
 *
 * Text is checked before any device work: words outside the model's vocabulary and conditions
 * longer than the model's condition length are PromptErrors (user-facing), never a crash.
 */
import type { UmmModel } from "../umm/infer.ts";
import { mixSeed } from "../util/prng.ts";
import type { RgbImage } from "../world/render.ts";

/** What inference needs of a unified model (UmmModel has it). */
export type InferenceModel = Pick<
  UmmModel,
  "imageSize" | "config" | "tokenizer" | "generate" | "edit" | "answer"
>;

/** Bad text for this model (unknown words, too long): user input, not a bug. */
export class PromptError extends Error {
  override name = "PromptError";
}

export const DEFAULT_CHUNK = 16;
/** Answers are one vocabulary item ("left of" is the longest, two words) plus `<eos>`. */
export const DEFAULT_ANSWER_TOKENS = 4;

export type SamplingOptions = {
  /** Guidance scale and the sampler's step count (default: the model's family's). */
  guidance?: number;
  steps?: number;
  seed?: number;
  /** Rows per model call (default 16). */
  chunk?: number;
  onProgress?: (done: number, total: number) => void;
};

/** Throws a PromptError naming the words of `text` the model cannot read. */
export function checkWords(model: Pick<InferenceModel, "tokenizer">, text: string): void {
  const unknown = model.tokenizer.unknownWords(text);
  if (unknown.length > 0)
    throw new PromptError(
      `"${text}": ${unknown.map((w) => `"${w}"`).join(", ")} not in the model's vocabulary ` +
        "(the world's words only; see `reca world vocab`)",
    );
}

/** Tokens a condition row holds for `text` (`<bos>`, `imageSlots` features, the words). */
function conditionTokens(model: InferenceModel, text: string, imageSlots: boolean): number {
  const R = imageSlots ? model.config.features.tokens : 0;
  return 1 + R + model.tokenizer.encode(text).length;
}

/** Checks a prompt (or, with `imageSlots`, an edit instruction) fits the model. */
export function checkCondition(model: InferenceModel, text: string, imageSlots = false): void {
  checkWords(model, text);
  const n = conditionTokens(model, text, imageSlots);
  const L = model.config.sequence.conditionLen;
  if (n > L)
    throw new PromptError(
      `"${text}": ${n} condition tokens, the model reads at most ${L} (its sequence.conditionLen)`,
    );
}

/**
 * `text` cut at a word boundary so the condition fits the model (benchmark prompts written for
 * another condition length); `cut` says whether anything was dropped.
 */
export function fitCondition(model: InferenceModel, text: string): { text: string; cut: boolean } {
  checkWords(model, text);
  const L = model.config.sequence.conditionLen;
  const ids = model.tokenizer.encode(text);
  if (1 + ids.length <= L) return { text, cut: false };
  return { text: model.tokenizer.decode(ids.slice(0, L - 1)), cut: true };
}

/** Checks a question leaves room for an answer in the model's text rows. */
export function checkQuestion(model: InferenceModel, question: string): void {
  checkWords(model, question);
  // <bos> <img>×R question <sep>, then at least one answer token.
  const n = 2 + model.config.features.tokens + model.tokenizer.encode(question).length;
  const L = model.config.sequence.textLen;
  if (n >= L)
    throw new PromptError(
      `"${question}": ${n} tokens with the image, the model reads at most ${L - 1} before answering`,
    );
}

/** Run `rows` through `call` in chunks of exactly `chunk` (last one padded), in order. */
export async function inChunks<T, R>(
  rows: readonly T[],
  chunk: number,
  call: (batch: T[], index: number) => Promise<R[]>,
  onProgress?: (done: number, total: number) => void,
): Promise<R[]> {
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`bad chunk size ${chunk}`);
  const out: R[] = [];
  for (let at = 0, c = 0; at < rows.length; at += chunk, c++) {
    const batch = rows.slice(at, at + chunk);
    const real = batch.length;
    while (batch.length < chunk) batch.push(batch[real - 1]);
    const got = await call(batch, c);
    if (got.length !== chunk)
      throw new Error(`chunk ${c}: ${got.length} results for ${chunk} rows`);
    out.push(...got.slice(0, real));
    onProgress?.(out.length, rows.length);
  }
  return out;
}

function checkSizes(model: InferenceModel, images: readonly RgbImage[]): void {
  const side = model.imageSize;
  for (const im of images)
    if (im.width !== side || im.height !== side)
      throw new PromptError(`the model reads ${side}×${side} images, got ${im.width}×${im.height}`);
}

const chunkSeed = (label: string, seed: number, c: number) => mixSeed(label, seed, c);

/** One image per prompt. Prompts must fit the model (checkCondition / fitCondition). */
export async function generateMany(
  model: InferenceModel,
  prompts: readonly string[],
  o: SamplingOptions = {},
): Promise<RgbImage[]> {
  for (const p of prompts) checkCondition(model, p);
  return inChunks(
    prompts,
    o.chunk ?? DEFAULT_CHUNK,
    (batch, c) =>
      model.generate(batch, {
        guidance: o.guidance,
        steps: o.steps,
        seed: chunkSeed("sample/generate", o.seed ?? 0, c),
      }),
    o.onProgress,
  );
}

/** One edited image per (source, instruction). Sources must be model.imageSize square. */
export async function editMany(
  model: InferenceModel,
  sources: readonly RgbImage[],
  instructions: readonly string[],
  o: SamplingOptions = {},
): Promise<RgbImage[]> {
  if (sources.length !== instructions.length)
    throw new Error(`${sources.length} images but ${instructions.length} instructions`);
  for (const t of instructions) checkCondition(model, t, true);
  checkSizes(model, sources);
  const rows = sources.map((image, i) => ({ image, text: instructions[i] }));
  return inChunks(
    rows,
    o.chunk ?? DEFAULT_CHUNK,
    (batch, c) =>
      model.edit(
        batch.map((r) => r.image),
        batch.map((r) => r.text),
        { guidance: o.guidance, steps: o.steps, seed: chunkSeed("sample/edit", o.seed ?? 0, c) },
      ),
    o.onProgress,
  );
}

/**
 * Greedy answers, one per (image, question), each at most `maxTokens` tokens (default: as long
 * as the model's text rows allow; benchmarks pass DEFAULT_ANSWER_TOKENS).
 */
export async function answerMany(
  model: InferenceModel,
  images: readonly RgbImage[],
  questions: readonly string[],
  o: {
    chunk?: number;
    maxTokens?: number;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<string[]> {
  if (images.length !== questions.length)
    throw new Error(`${images.length} images but ${questions.length} questions`);
  for (const q of questions) checkQuestion(model, q);
  checkSizes(model, images);
  const rows = images.map((image, i) => ({ image, q: questions[i] }));
  return inChunks(
    rows,
    o.chunk ?? DEFAULT_CHUNK,
    (batch) =>
      model.answer(
        batch.map((r) => r.image),
        batch.map((r) => r.q),
        o.maxTokens === undefined ? {} : { maxTokens: o.maxTokens },
      ),
    o.onProgress,
  );
}
