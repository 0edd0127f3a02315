/**
 * The world's vocabulary: shape categories, GenEval's ten colours, sizes,
 * relations and number words. Every caption, question, edit instruction and
 * benchmark prompt is built from these words only.
 */

/**
 * All shape categories the world can draw, in a fixed order. A world uses the
 * first `numCategories` of them. The default is 6: calibration
 * (docs/DESIGN.md, "Calibration") found a 1.4M-parameter U-Net learns single
 * objects of 4 shapes in ~10 PyTorch-minutes but not yet compositions, so 6 keeps
 * the generation task learnable on the jax-js budget while giving GenEval-style
 * prompts enough categories to combine (15 unordered pairs). The first six stay
 * distinct at 32×32 with radius 4.5–7 px (they differ in topology or silhouette:
 * disc, axis-aligned square, upward triangle, plus, tall rhombus, annulus); the
 * last four need the larger sizes or 64×64 to read well.
 */
export const ALL_CATEGORIES = [
  "circle",
  "square",
  "triangle",
  "cross",
  "diamond",
  "ring",
  "star",
  "heart",
  "crescent",
  "bar",
] as const;
export type Category = (typeof ALL_CATEGORIES)[number];
export const DEFAULT_NUM_CATEGORIES = 6;
export const MAX_CATEGORIES = ALL_CATEGORIES.length;

/** The first `n` categories (default 6). */
export function worldCategories(n = DEFAULT_NUM_CATEGORIES): readonly Category[] {
  if (!Number.isInteger(n) || n < 2 || n > MAX_CATEGORIES)
    throw new Error(`numCategories must be an integer in [2, ${MAX_CATEGORIES}], got ${n}`);
  return ALL_CATEGORIES.slice(0, n);
}

/** GenEval's ten colours, in GenEval's order (the CLIP classifier's candidate order). */
export const COLORS = [
  "red",
  "orange",
  "yellow",
  "green",
  "blue",
  "purple",
  "pink",
  "brown",
  "black",
  "white",
] as const;
export type Color = (typeof COLORS)[number];

/**
 * Fixed sRGB values (0–255, so PNGs store them exactly). Chosen so every pair,
 * and every colour against the background, is at least ~0.37 apart in RGB
 * Euclidean distance on a [0,1] scale (test/world/vocab.test.ts checks it), while
 * still looking like the colour word: a nearest-palette judge is then unambiguous
 * at object centres.
 */
export const PALETTE: Readonly<Record<Color, readonly [number, number, number]>> = {
  red: [220, 30, 30],
  orange: [255, 130, 0],
  yellow: [255, 225, 30],
  green: [30, 160, 50],
  blue: [30, 80, 230],
  purple: [140, 40, 190],
  pink: [255, 130, 200],
  brown: [125, 70, 20],
  black: [15, 15, 15],
  white: [245, 245, 245],
};

/**
 * Mid-gray background (128,128,128): its luminance sits halfway between black and
 * white, so both of those GenEval colours stay visible with equal contrast, and it
 * is not one of the ten colour words (GenEval itself fills non-object pixels with
 * gray #999 before classifying colour).
 */
export const BACKGROUND: readonly [number, number, number] = [128, 128, 128];

/** A palette entry as floats in [0,1]. */
export function colorRgb(c: Color): [number, number, number] {
  const [r, g, b] = PALETTE[c];
  return [r / 255, g / 255, b / 255];
}
export function backgroundRgb(): [number, number, number] {
  return [BACKGROUND[0] / 255, BACKGROUND[1] / 255, BACKGROUND[2] / 255];
}

/**
 * Dominant colour per category for the biased ("alt-text") colour prior: a
 * bijection, so under the bias every colour word still appears, but each shape
 * shows its own colour ~85% of the time. Fixed forever: changing it changes every
 * biased corpus.
 */
export const DOMINANT_COLOR: Readonly<Record<Category, Color>> = {
  circle: "red",
  square: "blue",
  triangle: "green",
  cross: "yellow",
  diamond: "purple",
  ring: "orange",
  star: "white",
  heart: "pink",
  crescent: "black",
  bar: "brown",
};
export const DEFAULT_DOMINANT_PROB = 0.85;

/**
 * Sizes, as radius ranges in units of the image width (so 64×64 scales with 32×32).
 * At 32×32: small 4.5–5 px, medium 5.5–6 px, large 6.5–7 px — the range
 * calibration used (4.5–6 px) stretched a little, with gaps so the words mean
 * something visible.
 */
export const SIZES = ["small", "medium", "large"] as const;
export type Size = (typeof SIZES)[number];
export const SIZE_RADIUS: Readonly<Record<Size, readonly [number, number]>> = {
  small: [4.5 / 32, 5 / 32],
  medium: [5.5 / 32, 6 / 32],
  large: [6.5 / 32, 7 / 32],
};

/** GenEval's four relations (subject relative to reference), in its words. */
export const RELATIONS = ["left of", "right of", "above", "below"] as const;
export type Relation = (typeof RELATIONS)[number];
export const OPPOSITE: Readonly<Record<Relation, Relation>> = {
  "left of": "right of",
  "right of": "left of",
  above: "below",
  below: "above",
};

/** Exact number words; index = number. Scenes hold at most four objects. */
export const NUMBER_WORDS = ["zero", "one", "two", "three", "four"] as const;
export type NumberWord = (typeof NUMBER_WORDS)[number];
export const MAX_OBJECTS = 4;

/** Vague quantifiers, with the counts each is used for (all plural, so ≥ 2). */
export const VAGUE_COUNTS: Readonly<Record<string, readonly [number, number]>> = {
  some: [2, 4],
  "a few": [2, 3],
  several: [3, 4],
};
export const VAGUE_WORDS = Object.keys(VAGUE_COUNTS);

export function numberWord(n: number): string {
  const w = NUMBER_WORDS[n];
  if (w === undefined) throw new Error(`no number word for ${n}`);
  return w;
}

/** GenEval's plural rule: "es" after a final "s", otherwise "s" (cross → crosses). */
export function plural(noun: string): string {
  return noun.endsWith("s") ? `${noun}es` : `${noun}s`;
}

/** GenEval's article rule: "an" before a vowel letter, otherwise "a". */
export function article(word: string): string {
  return /^[aeiou]/i.test(word) ? "an" : "a";
}

/** "a red circle", "an orange ring", "two red circles". */
export function countedPhrase(count: number | string, words: string[], noun: string): string {
  const head = [...words, noun].join(" ");
  if (count === 1) return `${article(head)} ${head}`;
  const q = typeof count === "number" ? numberWord(count) : count;
  return `${q} ${[...words, plural(noun)].join(" ")}`;
}

/** Everything a reader of captions needs, for `reca world vocab --json`. */
export function vocabulary(numCategories = DEFAULT_NUM_CATEGORIES) {
  return {
    categories: worldCategories(numCategories).map((c) => ({ singular: c, plural: plural(c) })),
    allCategories: [...ALL_CATEGORIES],
    colors: COLORS.map((c) => ({ name: c, rgb: [...PALETTE[c]] })),
    background: [...BACKGROUND],
    dominantColor: { ...DOMINANT_COLOR },
    sizes: SIZES.map((s) => ({ name: s, radiusAt32px: SIZE_RADIUS[s].map((r) => r * 32) })),
    relations: [...RELATIONS],
    numberWords: [...NUMBER_WORDS],
    vagueCounts: { ...VAGUE_COUNTS },
  };
}
