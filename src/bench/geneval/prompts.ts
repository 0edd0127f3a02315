/**
 * GenEval-mini prompt sets. Every distinct prompt of each tag over the active
 * categories is enumerated (GenEval draws 100 per tag with numpy seed 43 and
 * drops exact duplicates; with 6 shapes instead of 80 classes several tags have
 * fewer than 100 distinct prompts, so enumerating is the duplicate-free limit of
 * that procedure), shuffled by WorldRng("bench/geneval", seed, tag), and the
 * first n kept. The default set is therefore a prefix, per tag, of the full one.
 *
 * Sizes at the default 6 categories (distinct prompts per tag: single 6, two 30,
 * counting 18, colors 60, position 120, color_attr 2700):
 * - default, 16 per tag:  6 + 16·5 = 86 prompts → 344 images at 4 per prompt;
 * - full, 100 per tag:    6 + 30 + 18 + 60 + 100 + 100 = 314 prompts.
 */
import type { SceneExclusion } from "../../data/corpora.ts";
import { WorldRng } from "../../world/random.ts";
import { COLORS, RELATIONS, worldCategories } from "../../world/vocab.ts";
import { genevalGroundTruth } from "./ground-truth.ts";
import {
  colorAttr,
  colors,
  counting,
  GENEVAL_TAGS,
  type GenevalMetadata,
  type GenevalTag,
  position,
  singleObject,
  twoObject,
} from "./templates.ts";

/** GenEval's own create_prompts.py seed. */
export const GENEVAL_SEED = 43;
export const GENEVAL_DEFAULT_PER_TAG = 16;
export const GENEVAL_FULL_PER_TAG = 100;
/** Counting draws N from {2, 3, 4}, as GenEval. */
export const GENEVAL_COUNTS = [2, 3, 4] as const;
/** Images per prompt in a default evaluation (GenEval's authors use 4–12). */
export const GENEVAL_IMAGES_PER_PROMPT = 4;

/** Every distinct prompt of `tag` over `categories`, in a canonical order. */
export function enumerateTag(tag: GenevalTag, categories: readonly string[]): GenevalMetadata[] {
  const out: GenevalMetadata[] = [];
  const pairs = categories.flatMap((a) => categories.filter((b) => b !== a).map((b) => [a, b]));
  switch (tag) {
    case "single_object":
      for (const a of categories) out.push(singleObject(a));
      break;
    case "two_object":
      for (const [a, b] of pairs) out.push(twoObject(a, b));
      break;
    case "counting":
      for (const a of categories) for (const n of GENEVAL_COUNTS) out.push(counting(a, n));
      break;
    case "colors":
      for (const a of categories) for (const c of COLORS) out.push(colors(a, c));
      break;
    case "position":
      for (const [a, b] of pairs) for (const r of RELATIONS) out.push(position(a, r, b));
      break;
    case "color_attr":
      for (const [a, b] of pairs)
        for (const c1 of COLORS)
          for (const c2 of COLORS) if (c1 !== c2) out.push(colorAttr(a, c1, b, c2));
      break;
  }
  return out;
}

export type GenevalSetOptions = {
  full?: boolean;
  /** Prompts per tag (overrides full/default); capped at the distinct prompts available. */
  perTag?: number;
  numCategories?: number;
  seed?: number;
  /**
   * Register the ground-truth scenes (samples 0–3 at 32 px, what `--ground-truth`
   * renders by default) here, so training corpora avoid them.
   */
  exclude?: SceneExclusion;
};

/** The prompt set, in GenEval's tag order (single, two, counting, colors, position, color_attr). */
export function genevalPromptSet(opts: GenevalSetOptions = {}): GenevalMetadata[] {
  const seed = opts.seed ?? GENEVAL_SEED;
  const n = opts.perTag ?? (opts.full ? GENEVAL_FULL_PER_TAG : GENEVAL_DEFAULT_PER_TAG);
  const cats = worldCategories(opts.numCategories);
  const set = GENEVAL_TAGS.flatMap((tag) =>
    WorldRng.fromParts("bench/geneval", seed, tag).shuffle(enumerateTag(tag, cats)).slice(0, n),
  );
  if (opts.exclude)
    for (const m of set)
      for (let k = 0; k < GENEVAL_IMAGES_PER_PROMPT; k++)
        opts.exclude.add(genevalGroundTruth(m, k, 32));
  return set;
}
