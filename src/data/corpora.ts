/**
 * The three training corpora, built lazily: item i is a pure function of
 * (corpus label, corpus seed, i, exclusion set), so a corpus of any length costs
 * no memory and any item can be regenerated alone (resume, sharding, debugging).
 *
 * - encoder corpus: dense captions, uniform colours → the understanding ViT.
 * - UMM corpus: sparse "alt-text" captions over biased colours (the weak signal
 *   RecA corrects), plus dense VQA and edit pairs over uniform colours (the
 *   understanding/editing data the paper's base models are trained with).
 * - unlabeled pool: images only, uniform colours → RecA post-training.
 *
 * Disjointness from benchmark items, two layers:
 * 1. Seed streams: every item's generator is WorldRng.fromParts("corpus/<name>",
 *    seed, i, attempt) — 96 bits keyed by a label that benchmark builders never
 *    use (they key theirs by "bench/<suite>"), so streams do not coincide.
 * 2. Scene signatures: a benchmark builder registers every scene it emits in a
 *    SceneExclusion; a corpus regenerates any item whose scene (or edit source
 *    or target) has a registered signature, with attempt = 1, 2, …. Register the
 *    benchmark scenes before reading items: the set is part of the definition of
 *    item i, and `fingerprint()` names it in run records.
 */
import {
  denseCaption,
  type EditKind,
  mixSeed,
  type RgbImage,
  renderImage,
  type Scene,
  type SceneOptions,
  sampleEdit,
  sampleScene,
  sceneSignature,
  sparseCaption,
  type VqaType,
  vqaQuestions,
  WorldRng,
  worldCategories,
} from "../world/index.ts";

/** Fixed seeds. Changing one changes that corpus for every experiment. */
export const CORPUS_SEEDS = { encoder: 1_001, umm: 2_002, unlabeled: 3_003 } as const;

/**
 * Nominal lengths. Calibration puts a 90-minute jax-js training budget at ~21k
 * samples, so these are several epochs' worth of distinct items; being lazy, they
 * can be raised freely.
 */
export const CORPUS_SIZES = { encoder: 100_000, umm: 100_000, unlabeled: 50_000 } as const;

/** Mix of UMM items (caption / VQA / edit), by weight. */
export const UMM_MIX = { caption: 0.6, vqa: 0.25, edit: 0.15 } as const;

/** Scene signatures that corpora must not produce (benchmark scenes). */
export class SceneExclusion {
  #sigs = new Set<string>();
  add(scene: Scene): void {
    this.#sigs.add(sceneSignature(scene));
  }
  has(scene: Scene): boolean {
    return this.#sigs.has(sceneSignature(scene));
  }
  get size(): number {
    return this.#sigs.size;
  }
  /** An order-independent u32 hex digest of the registered signatures. */
  fingerprint(): string {
    let x = 0;
    for (const s of this.#sigs) x = (x + mixSeed(s)) >>> 0;
    return `${this.#sigs.size}:${x.toString(16).padStart(8, "0")}`;
  }
}

export type CorpusOptions = {
  seed?: number;
  length?: number;
  /** Image side in pixels (32 or 64; default 32). */
  imageSize?: number;
  /** Active categories count (default 6). */
  numCategories?: number;
  exclude?: SceneExclusion;
};

export type Corpus<T> = {
  name: string;
  seed: number;
  length: number;
  imageSize: number;
  get(i: number): T;
};

export type EncoderItem = { index: number; scene: Scene; image: RgbImage; caption: string };
export type UnlabeledItem = {
  index: number;
  image: RgbImage /** for inspection only */;
  scene: Scene;
};
export type UmmItem =
  | { index: number; kind: "caption"; scene: Scene; image: RgbImage; caption: string }
  | {
      index: number;
      kind: "vqa";
      scene: Scene;
      image: RgbImage;
      question: string;
      answer: string;
      type: VqaType;
    }
  | {
      index: number;
      kind: "edit";
      editKind: EditKind;
      instruction: string;
      source: Scene;
      target: Scene;
      sourceImage: RgbImage;
      targetImage: RgbImage;
    };

const MAX_ATTEMPTS = 64;

function lazyCorpus<T>(
  name: string,
  defaults: { seed: number; length: number },
  opts: CorpusOptions,
  make: (rng: WorldRng, index: number) => { item: T; scenes: Scene[] } | null,
): Corpus<T> {
  const seed = opts.seed ?? defaults.seed;
  const length = opts.length ?? defaults.length;
  const imageSize = opts.imageSize ?? 32;
  return {
    name,
    seed,
    length,
    imageSize,
    get(i: number): T {
      if (!Number.isInteger(i) || i < 0 || i >= length)
        throw new RangeError(`${name} corpus: index ${i} outside [0, ${length})`);
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const made = make(WorldRng.fromParts(`corpus/${name}`, seed, i, attempt), i);
        if (made && !made.scenes.some((s) => opts.exclude?.has(s))) return made.item;
      }
      throw new Error(`${name} corpus: item ${i} excluded ${MAX_ATTEMPTS} times`);
    },
  };
}

function sceneOptions(opts: CorpusOptions, colorPrior: "uniform" | "biased"): SceneOptions {
  return { categories: worldCategories(opts.numCategories), colorPrior };
}

export function encoderCorpus(opts: CorpusOptions = {}): Corpus<EncoderItem> {
  const so = sceneOptions(opts, "uniform");
  const size = opts.imageSize ?? 32;
  return lazyCorpus(
    "encoder",
    { seed: CORPUS_SEEDS.encoder, length: CORPUS_SIZES.encoder },
    opts,
    (rng, index) => {
      const scene = sampleScene(rng, so);
      const caption = denseCaption(scene, rng);
      return {
        item: { index, scene, image: renderImage(scene, { size }), caption },
        scenes: [scene],
      };
    },
  );
}

export function unlabeledPool(opts: CorpusOptions = {}): Corpus<UnlabeledItem> {
  const so = sceneOptions(opts, "uniform");
  const size = opts.imageSize ?? 32;
  return lazyCorpus(
    "unlabeled",
    { seed: CORPUS_SEEDS.unlabeled, length: CORPUS_SIZES.unlabeled },
    opts,
    (rng, index) => {
      const scene = sampleScene(rng, so);
      return { item: { index, scene, image: renderImage(scene, { size }) }, scenes: [scene] };
    },
  );
}

export function ummCorpus(opts: CorpusOptions = {}): Corpus<UmmItem> {
  const biased = sceneOptions(opts, "biased");
  const uniform = sceneOptions(opts, "uniform");
  const size = opts.imageSize ?? 32;
  const render = (s: Scene) => renderImage(s, { size });
  return lazyCorpus<UmmItem>(
    "umm",
    { seed: CORPUS_SEEDS.umm, length: CORPUS_SIZES.umm },
    opts,
    (rng, index) => {
      const k = rng.weighted([UMM_MIX.caption, UMM_MIX.vqa, UMM_MIX.edit]);
      if (k === 0) {
        const scene = sampleScene(rng, biased);
        const caption = sparseCaption(scene, rng).text;
        return {
          item: { index, kind: "caption", scene, image: render(scene), caption },
          scenes: [scene],
        };
      }
      if (k === 1) {
        const scene = sampleScene(rng, uniform);
        const [q] = vqaQuestions(scene, rng, { n: 1, categories: uniform.categories });
        return {
          item: { index, kind: "vqa", scene, image: render(scene), ...q },
          scenes: [scene],
        };
      }
      const source = sampleScene(rng, uniform);
      const e = sampleEdit(rng, source, uniform);
      if (!e) return null;
      return {
        item: {
          index,
          kind: "edit",
          editKind: e.kind,
          instruction: e.instruction,
          source: e.source,
          target: e.target,
          sourceImage: render(e.source),
          targetImage: render(e.target),
        },
        scenes: [e.source, e.target],
      };
    },
  );
}

/**
 * The kind item i of the UMM corpus most likely has, without rendering: the first draw of its
 * first attempt. An excluded or failed first attempt can change the kind, so callers that need a
 * kind check the item itself and draw again on a mismatch (rare).
 */
export function ummKindHint(i: number, seed: number = CORPUS_SEEDS.umm): UmmItem["kind"] {
  const k = WorldRng.fromParts("corpus/umm", seed, i, 0).weighted([
    UMM_MIX.caption,
    UMM_MIX.vqa,
    UMM_MIX.edit,
  ]);
  return k === 0 ? "caption" : k === 1 ? "vqa" : "edit";
}

/** What defines one corpus, for run records (item i is reproducible from this). */
export function corpusManifest(corpus: Corpus<unknown>, opts: CorpusOptions = {}) {
  return {
    name: corpus.name,
    seed: corpus.seed,
    length: corpus.length,
    imageSize: corpus.imageSize,
    ...(corpus.name === "umm" ? { ummMix: { ...UMM_MIX } } : {}),
    numCategories: worldCategories(opts.numCategories).length,
    exclusion: opts.exclude?.fingerprint() ?? "none",
  };
}
