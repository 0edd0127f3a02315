/**
 * The training objectives, as the rows they are made of (docs/DESIGN.md, "Objectives"). Every
 * recipe — pretraining, SFT, RecA — and the held-out losses build their rows here, so what "a
 * reconstruction row" or "an SFT row" is has one definition. A row says which condition the
 * backbone reads and which image the family must produce; the family's own loss does the rest.
 *
 *   t2i       caption tokens → image                    (text-to-image; the null prompt for CFG)
 *   edit      source features + instruction → target    (the source also enters the family)
 *   recon     template with the image's understanding features in its `<img>` slots → the image
 *   sft       the image's caption (sparse, or complete: the label-using control) → the image
 *   i2t       image features + question → answer       (VQA, or a dense description)
 *   lm        text only, every token after `<bos>`      (the language-model stage, src/train/lm.ts)
 *
 * Randomness is the caller's: each builder consumes its Rng in a fixed order, so a recipe's
 * batch stays a pure function of (seed, step).
 */
import { SEP_ID } from "../data/tokenizer.ts";
import type { Rng } from "../engine/rng.ts";
import type { GenRow, TextRow } from "../umm/batch.ts";
import { DESCRIBE_PROMPT, IMAGE, NULL_PROMPT, type Part } from "../umm/sequence.ts";
import {
  COMPLETE_CAPTION,
  denseCaption,
  type Scene,
  sparseCaption,
  type VqaType,
  WorldRng,
} from "../world/index.ts";
import type { RgbImage } from "../world/render.ts";
import { drawTemplate } from "./templates.ts";

/** Text-to-image: the caption (or the null prompt: `caption` null) → the image. */
export function t2iRow(caption: string | null, image: RgbImage, weight: number): GenRow {
  return { parts: [caption ?? NULL_PROMPT], target: image, weight };
}

/**
 * Editing: the source's features + the instruction → the target, the source also as the
 * family's edit input. `dropText` (condition dropout) leaves the null prompt and no features.
 */
export function editRow(
  instruction: string,
  source: RgbImage,
  target: RgbImage,
  weight: number,
  dropText = false,
): GenRow {
  return {
    parts: dropText ? [NULL_PROMPT] : [IMAGE, instruction],
    target,
    source,
    features: dropText ? undefined : source,
    weight,
  };
}

/** RecA: a condition with the image's understanding features → the same image. */
export function reconRow(parts: readonly Part[], image: RgbImage, weight: number): GenRow {
  return { parts, target: image, features: image, weight };
}

export type ReconTextOptions = {
  /** One fixed template instead of one drawn per sample (the ablation). */
  single?: boolean;
  /** Probability that the template's text becomes "Generate an image." (features stay). */
  textDropout?: number;
};

/** A reconstruction condition: a drawn template, its text dropped w.p. `textDropout`. */
export function reconParts(rng: Rng, o: ReconTextOptions = {}): readonly Part[] {
  const t = drawTemplate(rng, { single: o.single === true });
  return rng.float() < (o.textDropout ?? 0) ? [IMAGE, NULL_PROMPT] : t.parts;
}

/**
 * SFT: the image's own caption → the image. `complete` names every category, colour, count
 * and a relation (labels RecA never sees); otherwise the world's sparse, biased caption.
 * `index` is the image's index in its pool (the caption's randomness is keyed by it).
 */
export function sftRow(
  scene: Scene,
  image: RgbImage,
  index: number,
  rng: Rng,
  weight: number,
  complete = false,
): GenRow {
  const caption = sparseCaption(
    scene,
    WorldRng.fromParts("reca/sft", index, rng.int(1 << 30)),
    complete ? COMPLETE_CAPTION : {},
  );
  return t2iRow(caption.text, image, weight);
}

/** Image-to-text: a question about the image → its answer. */
export function vqaRow(image: RgbImage, question: string, answer: string): TextRow {
  return { prompt: [IMAGE, question], answer, image };
}

/** Image-to-text: "Describe the image in detail." → a dense description. */
export function describeRow(image: RgbImage, description: string): TextRow {
  return { prompt: [IMAGE, DESCRIBE_PROMPT], answer: description, image };
}

/** A dense description of a scene, keyed by its corpus index and a draw of `rng`. */
export function drawDescription(scene: Scene, index: number, rng: Rng): string {
  return denseCaption(
    scene,
    WorldRng.fromParts("umm/dense", index, Math.floor(rng.float() * 2 ** 30)),
  );
}

/**
 * A language-model row: text only (no image slot), trained on every token after `<bos>`
 * (`lmSequences`, src/umm/sequence.ts). `<sep>` parts divide a prompt from its continuation,
 * as in image→text rows.
 */
export type LmRow = {
  parts: readonly Part[];
  /** In-context questions: the question's type (held-out accuracy is reported per type). */
  vqaType?: VqaType;
};

const SEP: Part = { ids: [SEP_ID] };

/** Plain text: a caption of any kind, a question, a template, the null prompt. */
export function lmTextRow(text: string): LmRow {
  return { parts: [text] };
}

/**
 * The text analogue of an image→text row: `prompt` as in `vqaRow` / `describeRow` / `editRow`
 * / a RecA template, with a caption of the scene (`context`) where the image's `<img>` slots
 * would be, then `<sep>` and the continuation. This teaches the language model to read a scene
 * from its context and answer, describe or restate it — what a frozen LM needs once projected
 * image features take the caption's place (LLaVA-style alignment, docs/DESIGN.md, "Training
 * order").
 */
export function lmContextRow(
  prompt: readonly Part[],
  context: string,
  continuation: string,
): LmRow {
  if (!prompt.includes(IMAGE)) throw new Error("an in-context row needs an image slot to fill");
  return { parts: [...prompt.map((p) => (p === IMAGE ? context : p)), SEP, continuation] };
}

/** Context + question → answer: the text analogue of `vqaRow`. */
export function lmQaRow(context: string, question: string, answer: string): LmRow {
  return lmContextRow([IMAGE, question], context, answer);
}

/** Context + "Describe the image in detail." → a dense description: `describeRow`'s analogue. */
export function lmDescribeRow(context: string, description: string): LmRow {
  return lmContextRow([IMAGE, DESCRIBE_PROMPT], context, description);
}

/** The source's caption + the instruction → the target's caption: `editRow`'s analogue. */
export function lmEditRow(source: string, instruction: string, target: string): LmRow {
  return lmContextRow([IMAGE, instruction], source, target);
}

/** A RecA template read with the scene's caption in its image slot → a complete caption. */
export function lmTemplateRow(template: readonly Part[], context: string, caption: string): LmRow {
  return lmContextRow(template, context, caption);
}
