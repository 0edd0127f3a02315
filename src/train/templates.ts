/**
 * RecA's reconstruction templates: short "describe / redraw this image"-style instructions with
 * one image slot, where the understanding features of an unlabeled image are spliced in
 * (`IMAGE`, R `<img>` positions). The model is then trained to regenerate that image from the
 * row (docs/DESIGN.md, "RecA per architecture"). One template is drawn per sample.
 *
 * Written for this project, in five styles: attribute "audits", keyword lists, natural or polite
 * requests, questions and terse commands. The image slot is mostly first, sometimes in the middle
 * or at the end. Every word is in the tokenizer's vocabulary (version 2 added the new ones), and a
 * template's text encodes to at most `MAX_TEMPLATE_TOKENS` tokens, so `<bos>` + 16 image slots +
 * text (47 tokens) fits the base's 64-token condition rows; with more slots (the 8×8 ablation)
 * `postTrainModelConfig` lengthens the rows to 1 + slots + 31.
 */
import type { Rng } from "../engine/rng.ts";
import { IMAGE } from "../umm/sequence.ts";

export type TemplateStyle = "audit" | "keywords" | "request" | "question" | "command";
export type TemplatePart = string | typeof IMAGE;
export type ReconTemplate = {
  id: string;
  style: TemplateStyle;
  parts: readonly TemplatePart[];
};

/** Longest template text (all parts but the image), in tokens. */
export const MAX_TEMPLATE_TOKENS = 30;

/** Where the image goes in the template sources below. */
const SLOT = "<image>";

const SOURCES: Readonly<Record<TemplateStyle, readonly string[]>> = {
  audit: [
    "<image> list every object, its color, its shape, its size and where it sits.",
    "<image> name each shape, its color and its position in the picture.",
    "<image> for every object give the color, the size and the place where it sits.",
    "<image> count the objects, then give each one a color, a shape and a position.",
    "<image> note the background, then every shape with its color and size.",
    "<image> go through each object: shape, color, size, position.",
    "<image> record how many shapes there are, and where each one sits.",
    "<image> check every object: what shape, what color, how large, where.",
    "<image> describe each object in detail: its shape, its color, its size and its place.",
    "<image> list the shapes from left to right with their colors and sizes.",
    "<image> list the objects from top to bottom, with color, shape and size.",
    "<image> write down every shape, every color and every position you see.",
    "<image> take note of each object, its color, its size and what is next to it.",
    "<image> for each shape: which color, which size, and which objects are near it?",
    "in this picture <image> list all objects with color, shape, size and position.",
    "<image> audit the scene: count, colors, shapes, sizes, positions.",
    "<image> list every object by shape, color, size and location.",
    "<image> catalog the shapes, their colors, their sizes and how they are placed.",
    "<image> give a full account of the objects: shape, color, size, position, count.",
    "<image> go over every object and say where it sits relative to the others.",
    "<image> state the number of objects and the color and shape of each.",
    "<image> report the shape, color, size and place of each object in the frame.",
    "from the image <image> list every shape with its color, size and position, one by one.",
    "<image> examine every object closely and list its shape, color, size and location.",
    "<image> list the colors first, then the shapes, then the sizes, then the positions.",
  ],
  keywords: [
    "<image> shapes, colors, positions.",
    "<image> objects, colors, sizes.",
    "<image> shape, color, size, position.",
    "<image> count, color, layout.",
    "<image> colors and shapes.",
    "<image> layout.",
    "<image> every object.",
    "<image> content, layout, colors.",
    "<image> objects; colors; positions.",
    "<image> background, shapes, colors.",
    "<image> reconstruction.",
    "<image> same image.",
    "<image> exact copy.",
    "<image> shapes: colors, sizes, places.",
    "<image> scene layout, object count.",
    "<image> same scene, same colors.",
    "image: <image>",
    "picture: <image>; copy.",
    "<image> composition, colors, sizes.",
    "<image> objects and positions.",
    "<image> full scene, all details.",
    "<image> color, shape, count.",
    "<image> sizes, shapes, arrangement.",
    "reference: <image>",
    "<image> identical picture.",
  ],
  request: [
    "<image> redraw this picture exactly.",
    "<image> please recreate this image.",
    "<image> please make a copy of this image.",
    "<image> please reproduce this picture as closely as you can.",
    "<image> i would like the same image again, please.",
    "<image> please generate an image just like this one.",
    "<image> kindly redraw the scene with the same objects and colors.",
    "here is a picture: <image> please draw it again.",
    "<image> please rebuild this image, keeping every shape where it is.",
    "<image> please paint this exact scene once more.",
    "<image> i want to see this picture again, drawn the same way.",
    "<image> the goal is to reproduce this image faithfully.",
    "<image> the aim here is a faithful copy of this picture.",
    "<image> this image should be reconstructed as it is.",
    "<image> we need an exact reconstruction of this picture.",
    "look at this image <image> and draw it again, please.",
    "<image> please keep the colors, shapes and layout, and redraw it.",
    "<image> generate the same picture, with nothing added and nothing removed.",
    "<image> reproduce this scene without changing anything.",
    "<image> the task is to regenerate this image.",
    "<image> i need a faithful reconstruction of this picture, please.",
    "<image> please make the same image, with every object in its place.",
    "based on <image> please generate a matching picture.",
    "<image> please recreate this picture for me.",
    "<image> the intent is to draw this image again from what you see.",
  ],
  question: [
    "<image> what does this image show?",
    "<image> what is in this picture?",
    "<image> can you describe this image?",
    "<image> what objects are there, and where are they?",
    "<image> how many shapes are in this image, and what color is each?",
    "<image> what shapes and colors do you see?",
    "what is shown here? <image>",
    "<image> which objects appear in this picture?",
    "<image> can you draw this image again?",
    "<image> could you recreate this picture?",
    "<image> what would this image look like if you drew it?",
    "<image> where does each object sit?",
    "<image> what is the layout of this scene?",
    "<image> what colors are the shapes in this picture?",
    "<image> how are the objects arranged?",
    "<image> what do you see?",
    "<image> can you reproduce this picture exactly?",
    "looking at <image> what does the scene contain?",
    "<image> which shapes are large and which are small?",
    "<image> what is the content of this image?",
    "<image> how would you describe this scene?",
    "<image> what is drawn here?",
    "<image> what does this picture look like?",
    "which objects sit where in <image>?",
    "<image> can you make this picture again?",
  ],
  command: [
    "<image> reconstruct.",
    "<image> redraw.",
    "<image> copy this.",
    "<image> reproduce the image.",
    "<image> describe the image.",
    "<image> describe the image in detail.",
    "<image> regenerate.",
    "<image> draw this.",
    "<image> recreate the picture.",
    "<image> repeat the image.",
    "<image> rebuild the scene.",
    "<image> generate this image.",
    "<image> render it again.",
    "<image> describe.",
    "<image> draw the same.",
    "<image> copy the picture exactly.",
    "<image> paint this scene.",
    "<image> output the same image.",
    "<image> reconstruct the input.",
    "<image> match this image.",
    "redraw: <image>",
    "copy <image>",
    "<image> reproduce.",
    "<image> show this again.",
    "reconstruct <image> exactly.",
  ],
};

function parse(src: string): TemplatePart[] {
  const i = src.indexOf(SLOT);
  if (i < 0 || src.indexOf(SLOT, i + 1) >= 0)
    throw new Error(`template needs exactly one ${SLOT}: "${src}"`);
  const before = src.slice(0, i).trim();
  const after = src.slice(i + SLOT.length).trim();
  const parts: TemplatePart[] = [];
  if (before) parts.push(before);
  parts.push(IMAGE);
  if (after) parts.push(after);
  return parts;
}

/** All reconstruction templates, ids `<style>-<nn>`. */
export const RECON_TEMPLATES: readonly ReconTemplate[] = (
  Object.entries(SOURCES) as [TemplateStyle, readonly string[]][]
).flatMap(([style, srcs]) =>
  srcs.map((src, i) => ({
    id: `${style}-${String(i + 1).padStart(2, "0")}`,
    style,
    parts: Object.freeze(parse(src)),
  })),
);

/** The one fixed template of the "single template vs the full list" ablation. */
export const SINGLE_TEMPLATE: ReconTemplate = {
  id: "single",
  style: "command",
  parts: [IMAGE, "Describe the image in detail."],
};

/** A template's text: its string parts joined by spaces (the image left out). */
export function templateText(t: ReconTemplate): string {
  return t.parts.filter((p): p is string => typeof p === "string").join(" ");
}

export type TemplateDrawOptions = {
  /** Always use `SINGLE_TEMPLATE` (the ablation); the draw still consumes one number. */
  single?: boolean;
  /** Draw from these instead of `RECON_TEMPLATES`. */
  templates?: readonly ReconTemplate[];
};

/** One template drawn uniformly with the host RNG (one `rng.float()` per draw). */
export function drawTemplate(rng: Rng, opts: TemplateDrawOptions = {}): ReconTemplate {
  const u = rng.float();
  if (opts.single) return SINGLE_TEMPLATE;
  const list = opts.templates ?? RECON_TEMPLATES;
  if (list.length === 0) throw new Error("no templates to draw from");
  return list[Math.min(list.length - 1, Math.floor(u * list.length))];
}

/** The parts of one uniformly drawn template, ready for `conditionSequences`. */
export function templateParts(rng: Rng, opts: TemplateDrawOptions = {}): readonly TemplatePart[] {
  return drawTemplate(rng, opts).parts;
}
