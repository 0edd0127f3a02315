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
 *
 * Randomness is the caller's: each builder consumes its Rng in a fixed order, so a recipe's
 * batch stays a pure function of (seed, step).
 */
import type { Rng } from "../engine/rng.ts";
import type { GenRow, TextRow } from "../umm/batch.ts";
import { DESCRIBE_PROMPT, IMAGE, NULL_PROMPT, type Part } from "../umm/sequence.ts";
import {
  COMPLETE_CAPTION,
  denseCaption,
  type Scene,
  sparseCaption,
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
