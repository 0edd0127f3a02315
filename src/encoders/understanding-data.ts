/**
 * Host-side data for the understanding encoder: contrastive batches from encoder-corpus items,
 * the scene keys that decide which captions are interchangeable, and near-miss partners (hard
 * negatives) for each scene.
 */
import type { Corpus, EncoderItem, SceneExclusion } from "../data/corpora.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import type { HostBatch } from "../engine/train-step.ts";
import {
  type Category,
  COLORS,
  denseCaption,
  EDIT_KINDS,
  isValidLayout,
  makeEdit,
  mixSeed,
  relationsBetween,
  renderImage,
  renderScene,
  type Scene,
  WorldRng,
} from "../world/index.ts";

/**
 * What a dense caption can say about a scene: the multiset of (colour, category) objects and,
 * for every ordered pair, the relations between them. Two scenes with the same key have
 * interchangeable captions (up to the optional size words), so they are positives for each
 * other in the contrastive loss. Returned as a hashed int32.
 */
export function semanticKey(scene: Scene): number {
  const desc = scene.objects.map((o) => `${o.color} ${o.category}`);
  const pairs: string[] = [];
  for (let i = 0; i < desc.length; i++)
    for (let j = 0; j < desc.length; j++)
      if (i !== j) pairs.push(`${desc[i]}|${relationsBetween(scene, i, j).join("+")}|${desc[j]}`);
  return mixSeed([...desc].sort().join(","), pairs.sort().join(";")) | 0;
}

/** Where region labels come from: bottleneck side r and the world's categories. */
export type RegionSpec = {
  resolution: number;
  categories: readonly Category[];
  /** Minimum fraction of a cell the labelled object must cover (else background). */
  minCoverage: number;
};

/**
 * Region captions of a scene on an r×r grid, row-major: per cell the category index and colour
 * index of the object covering most of it, or background (index K = #categories, resp. 10)
 * when no object covers `minCoverage` of the cell. Coverage is the renderer's visible
 * (post-occlusion) mask.
 */
export function regionLabels(
  scene: Scene,
  size: number,
  spec: RegionSpec,
): { category: Int32Array; color: Int32Array } {
  const r = spec.resolution;
  const cell = size / r;
  const { masks } = renderScene(scene, { size, samples: 2 });
  const category = new Int32Array(r * r).fill(spec.categories.length);
  const color = new Int32Array(r * r).fill(COLORS.length);
  for (let cy = 0; cy < r; cy++)
    for (let cx = 0; cx < r; cx++) {
      let best = -1;
      let bestCover = spec.minCoverage * cell * cell;
      masks.forEach((m, k) => {
        let c = 0;
        for (let y = cy * cell; y < (cy + 1) * cell; y++)
          for (let x = cx * cell; x < (cx + 1) * cell; x++) c += m[y * size + x];
        if (c >= bestCover) [best, bestCover] = [k, c];
      });
      if (best < 0) continue;
      const o = scene.objects[best];
      category[cy * r + cx] = spec.categories.indexOf(o.category);
      color[cy * r + cx] = COLORS.indexOf(o.color);
    }
  return { category, color };
}

/** (image, caption) items → the task's host batch (with region labels when `region` is given). */
export function encoderBatch(
  items: readonly EncoderItem[],
  tokenizer: Tokenizer,
  maxLen: number,
  region?: RegionSpec,
): HostBatch {
  const B = items.length;
  const S = items[0].image.width;
  const images = new Float32Array(B * S * S * 3);
  for (const [i, it] of items.entries()) images.set(it.image.data, i * S * S * 3);
  const enc = tokenizer.encodeBatch(
    items.map((it) => it.caption),
    maxLen,
    { bos: true, eos: true },
  );
  const cells: HostBatch = {};
  if (region) {
    const R = region.resolution * region.resolution;
    const cat = new Int32Array(B * R);
    const col = new Int32Array(B * R);
    for (const [i, it] of items.entries()) {
      const l = regionLabels(it.scene, S, region);
      cat.set(l.category, i * R);
      col.set(l.color, i * R);
    }
    cells.cellCategory = { dtype: "int32", shape: [B, R], data: cat };
    cells.cellColor = { dtype: "int32", shape: [B, R], data: col };
  }
  return {
    ...cells,
    images: { dtype: "float32", shape: [B, S, S, 3], data: images },
    ids: { dtype: "int32", shape: [B, maxLen], data: enc.ids },
    mask: { dtype: "float32", shape: [B, maxLen], data: enc.mask },
    keys: {
      dtype: "int32",
      shape: [B],
      data: Int32Array.from(items.map((it) => semanticKey(it.scene))),
    },
  };
}

/**
 * Ways to turn a scene into a near miss. The world's edits change one object (add, remove,
 * replace, recolor, move); the two swaps keep the inventory and change only the binding — which
 * object is where, which shape has which colour — the distinctions a bag-of-words encoder misses
 * (Yuksekgonul et al., 2023, "When and why VLMs behave like bags-of-words", whose NegCLIP adds
 * such swapped captions as hard negatives; here the swap is made in the scene, so the near miss
 * is a real image and a real caption, and both towers get a hard negative).
 */
export const NEAR_MISS_KINDS = [...EDIT_KINDS, "swap-position", "swap-color"] as const;
export type NearMissKind = (typeof NEAR_MISS_KINDS)[number];

/** Objects i and j exchange places (centres), if the layout stays valid. */
function swapPositions(scene: Scene, i: number, j: number): Scene | null {
  const objects = scene.objects.map((o) => ({ ...o }));
  [objects[i].x, objects[j].x] = [scene.objects[j].x, scene.objects[i].x];
  [objects[i].y, objects[j].y] = [scene.objects[j].y, scene.objects[i].y];
  return isValidLayout(objects) ? { objects } : null;
}

/** A scene that differs from `scene` in one thing its dense caption states, or null. */
export function nearMiss(
  scene: Scene,
  rng: WorldRng,
  categories: readonly Category[],
): { kind: NearMissKind; scene: Scene } | null {
  const n = scene.objects.length;
  const key = semanticKey(scene);
  const pairs: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairs.push([i, j]);
  for (const kind of rng.shuffle([...NEAR_MISS_KINDS])) {
    if (kind === "swap-position" || kind === "swap-color") {
      // Only swaps that change the binding: different categories (positions) or colours.
      const differ = pairs.filter(([i, j]) =>
        kind === "swap-position"
          ? scene.objects[i].category !== scene.objects[j].category ||
            scene.objects[i].color !== scene.objects[j].color
          : scene.objects[i].color !== scene.objects[j].color &&
            scene.objects[i].category !== scene.objects[j].category,
      );
      for (const [i, j] of rng.shuffle(differ)) {
        if (kind === "swap-color") {
          const objects = scene.objects.map((o) => ({ ...o }));
          [objects[i].color, objects[j].color] = [scene.objects[j].color, scene.objects[i].color];
          return { kind, scene: { objects } };
        }
        const s = swapPositions(scene, i, j);
        if (s) return { kind, scene: s };
      }
      continue;
    }
    const e = makeEdit(rng, kind, scene, { categories });
    // A move that keeps every relation (or moves a lone object) changes nothing a caption says.
    if (e && semanticKey(e.target) !== key) return { kind, scene: e.target };
  }
  return null;
}

export type PairedCorpusOptions = {
  /** Base items (uniform colours, dense captions), e.g. `encoderCorpus(...)`. */
  corpus: Corpus<EncoderItem>;
  categories: readonly Category[];
  exclude?: SceneExclusion;
};

/**
 * Item i of the corpus and its near miss (rendered, densely captioned). When no near miss
 * applies, or every try lands on an excluded (benchmark) scene, the partner is an unrelated
 * corpus item instead. Pure in (corpus, i).
 */
export function withNearMiss(o: PairedCorpusOptions, i: number): [EncoderItem, EncoderItem] {
  const base = o.corpus.get(i);
  for (let attempt = 0; attempt < 8; attempt++) {
    const rng = WorldRng.fromParts("encoder/near-miss", o.corpus.seed, i, attempt);
    const m = nearMiss(base.scene, rng, o.categories);
    if (!m) break;
    if (o.exclude?.has(m.scene)) continue;
    const image = renderImage(m.scene, { size: o.corpus.imageSize });
    return [base, { index: i, scene: m.scene, image, caption: denseCaption(m.scene, rng) }];
  }
  return [base, o.corpus.get((i + Math.floor(o.corpus.length / 2)) % o.corpus.length)];
}
