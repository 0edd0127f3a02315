/**
 * Linear probes of the FROZEN bottleneck features (understandingFeatures at resolution r, default
 * the config's), plus zero-shot retrieval: `probeEncoder` is what `reca probe encoder` prints.
 *
 * Every probe is multinomial logistic regression (softmax, L2-regularised, full-batch Adam in
 * plain JS, features standardised on the train split) from a fixed linear read-out of the
 * feature grid F [r·r, D], trained on the first 75% of its held-out scenes and scored on the
 * other 25% (disjoint scenes). Scenes come from seed streams "probe/<task>" that no corpus uses.
 *
 * - category, color: per object, in world scenes of 1–4 objects (uniform colours). Read-out: F
 *   bilinearly interpolated at the object's centre (a given position, so the probe asks "what is
 *   at (x, y)?"; objects elsewhere in the scene are distractors). Labels: 6 categories, 10 colours.
 * - count: the number of objects (1–4) in the same scenes. Read-out: all of F, flattened.
 * - relation: two-object scenes with distinct categories whose relation is exactly one of
 *   left of / right of / above / below (GenEval's rule). The probe is asked where the object of
 *   category c is relative to the other: read-out onehot(c) ⊗ [flatten(F), 1], i.e. one linear map per
 *   queried category over the whole grid (a bias per category too). Reading F at the objects'
 *   positions would hand the probe the answer through the positional encoding; this read-out
 *   has to find the object.
 */
import type { JaxArray } from "../engine/jax.ts";
import {
  buildScene,
  type Category,
  COLORS,
  RELATIONS,
  type Relation,
  renderImage,
  type Scene,
  sampleScene,
  WorldRng,
  worldCategories,
} from "../world/index.ts";
import { imagesToArray, type UnderstandingEncoder } from "./understanding.ts";
import { type RetrievalScore, retrievalAccuracy } from "./understanding-retrieval.ts";

export type ProbeOptions = {
  /** Held-out scenes per probe (default 2000; 75% train, 25% test). Retrieval uses n captions. */
  n?: number;
  /** Bottleneck grid side (default: the encoder's config). */
  resolution?: number;
  seed?: number;
  /** Retrieval candidates per group (default 100). */
  candidates?: number;
  onProgress?: (what: string) => void;
};

export type ProbeScores = { category: number; color: number; count: number; relation: number };

export type ProbeResult = {
  retrieval: number;
  probe: ProbeScores;
  details: {
    resolution: number;
    scenes: number;
    retrieval: RetrievalScore;
    examples: Record<keyof ProbeScores, { train: number; test: number; classes: number }>;
    chance: ProbeScores;
    seconds: number;
  };
};

export const TRAIN_FRACTION = 0.75;

/** Bottleneck features of scenes, on the host: [n, r·r·D]. */
async function sceneFeatures(
  enc: UnderstandingEncoder,
  scenes: readonly Scene[],
  r: number,
): Promise<Float32Array> {
  const size = enc.model.imageSize;
  const D = enc.model.vit.dim;
  const out = new Float32Array(scenes.length * r * r * D);
  const chunk = 100;
  for (let i = 0; i < scenes.length; i += chunk) {
    const imgs = scenes.slice(i, i + chunk).map((s) => renderImage(s, { size }));
    const f: JaxArray = enc.features(imagesToArray(imgs), { resolution: r });
    out.set((await f.data()) as Float32Array, i * r * r * D);
  }
  return out;
}

/** F [r·r, D] (row-major grid) bilinearly read at (x, y) ∈ [0,1]² (clamped to cell centres). */
export function readAt(F: Float32Array, r: number, D: number, x: number, y: number): Float32Array {
  const gx = Math.min(r - 1, Math.max(0, x * r - 0.5));
  const gy = Math.min(r - 1, Math.max(0, y * r - 0.5));
  const x0 = Math.floor(gx);
  const y0 = Math.floor(gy);
  const x1 = Math.min(r - 1, x0 + 1);
  const y1 = Math.min(r - 1, y0 + 1);
  const fx = gx - x0;
  const fy = gy - y0;
  const out = new Float32Array(D);
  const corners: [number, number, number][] = [
    [y0, x0, (1 - fy) * (1 - fx)],
    [y0, x1, (1 - fy) * fx],
    [y1, x0, fy * (1 - fx)],
    [y1, x1, fy * fx],
  ];
  for (const [cy, cx, w] of corners) {
    if (w === 0) continue;
    const o = (cy * r + cx) * D;
    for (let d = 0; d < D; d++) out[d] += w * F[o + d];
  }
  return out;
}

/**
 * A probe dataset: rows of `dim` features; `group` (optional) selects one of `groups` weight
 * blocks (and biases) per row: the one-hot ⊗ [features, 1] read-out, stored without its zero
 * blocks.
 */
export type ProbeData = {
  x: Float32Array;
  y: Int32Array;
  group?: Int32Array;
  n: number;
  dim: number;
  groups: number;
  classes: number;
};

export type SoftmaxProbeOptions = { l2?: number; iterations?: number; lr?: number };

/**
 * Fit softmax regression on `train` (features standardised with train statistics), return test
 * accuracy. Full-batch Adam on the mean NLL + l2/2·‖W‖², deterministic (zero init).
 */
export function fitSoftmaxProbe(
  train: ProbeData,
  test: ProbeData,
  opts: SoftmaxProbeOptions = {},
): number {
  const { dim: P, classes: K, groups: G } = train;
  const l2 = opts.l2 ?? 1e-3;
  const iters = opts.iterations ?? 300;
  const lr = opts.lr ?? 0.05;
  // Standardise with train statistics.
  const mean = new Float64Array(P);
  const sd = new Float64Array(P);
  for (let i = 0; i < train.n; i++)
    for (let d = 0; d < P; d++) mean[d] += train.x[i * P + d] / train.n;
  for (let i = 0; i < train.n; i++)
    for (let d = 0; d < P; d++) sd[d] += (train.x[i * P + d] - mean[d]) ** 2 / train.n;
  for (let d = 0; d < P; d++) sd[d] = Math.sqrt(sd[d]) + 1e-6;
  const norm = (data: ProbeData) => {
    const z = new Float32Array(data.n * P);
    for (let i = 0; i < data.n; i++)
      for (let d = 0; d < P; d++) z[i * P + d] = (data.x[i * P + d] - mean[d]) / sd[d];
    return z;
  };
  const xs = norm(train);
  const xt = norm(test);
  const W = new Float32Array(G * K * P); // [G, K, P]
  const b = new Float32Array(G * K); // [G, K]
  const mW = new Float32Array(W.length);
  const vW = new Float32Array(W.length);
  const mb = new Float32Array(b.length);
  const vb = new Float32Array(b.length);
  const gW = new Float32Array(W.length);
  const gb = new Float32Array(b.length);
  const logits = new Float64Array(K);
  const logitsOf = (z: Float32Array, i: number, g: number) => {
    for (let k = 0; k < K; k++) {
      let s = b[g * K + k];
      const w = (g * K + k) * P;
      for (let d = 0; d < P; d++) s += W[w + d] * z[i * P + d];
      logits[k] = s;
    }
  };
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  for (let t = 1; t <= iters; t++) {
    gW.fill(0);
    gb.fill(0);
    for (let i = 0; i < train.n; i++) {
      const g = train.group?.[i] ?? 0;
      logitsOf(xs, i, g);
      let mx = -Infinity;
      for (let k = 0; k < K; k++) mx = Math.max(mx, logits[k]);
      let se = 0;
      for (let k = 0; k < K; k++) se += Math.exp(logits[k] - mx);
      for (let k = 0; k < K; k++) {
        const pk = Math.exp(logits[k] - mx) / se - (train.y[i] === k ? 1 : 0);
        gb[g * K + k] += pk / train.n;
        const w = (g * K + k) * P;
        const c = pk / train.n;
        for (let d = 0; d < P; d++) gW[w + d] += c * xs[i * P + d];
      }
    }
    const c1 = 1 - b1 ** t;
    const c2 = 1 - b2 ** t;
    for (let j = 0; j < W.length; j++) {
      const gj = gW[j] + l2 * W[j];
      mW[j] = b1 * mW[j] + (1 - b1) * gj;
      vW[j] = b2 * vW[j] + (1 - b2) * gj * gj;
      W[j] -= (lr * mW[j]) / c1 / (Math.sqrt(vW[j] / c2) + eps);
    }
    for (let j = 0; j < b.length; j++) {
      mb[j] = b1 * mb[j] + (1 - b1) * gb[j];
      vb[j] = b2 * vb[j] + (1 - b2) * gb[j] * gb[j];
      b[j] -= (lr * mb[j]) / c1 / (Math.sqrt(vb[j] / c2) + eps);
    }
  }
  let right = 0;
  for (let i = 0; i < test.n; i++) {
    logitsOf(xt, i, test.group?.[i] ?? 0);
    let best = 0;
    for (let k = 1; k < K; k++) if (logits[k] > logits[best]) best = k;
    if (best === test.y[i]) right++;
  }
  return right / Math.max(1, test.n);
}

/** Rows [from, to) of a dataset. */
function rows(d: ProbeData, from: number, to: number): ProbeData {
  return {
    ...d,
    x: d.x.subarray(from * d.dim, to * d.dim),
    y: d.y.subarray(from, to),
    group: d.group?.subarray(from, to),
    n: to - from,
  };
}

/** The scenes of the object/count probes: world scenes of 1–4 objects. */
export function objectScenes(n: number, seed: number, categories: readonly Category[]): Scene[] {
  return Array.from({ length: n }, (_, i) =>
    sampleScene(WorldRng.fromParts("probe/objects", seed, i), {
      categories,
      countWeights: [1, 1, 1, 1],
    }),
  );
}

/** Two objects of distinct categories, object 0 `rel` object 1 and nothing else; rel balanced. */
export function relationScenes(
  n: number,
  seed: number,
  categories: readonly Category[],
): { scene: Scene; relation: Relation }[] {
  return Array.from({ length: n }, (_, i) => {
    const rng = WorldRng.fromParts("probe/relation", seed, i);
    const relation = RELATIONS[i % RELATIONS.length];
    const a = rng.pick(categories);
    const b = rng.pick(categories.filter((c) => c !== a));
    const scene = buildScene(
      rng,
      {
        objects: [{ category: a }, { category: b }],
        relations: [{ subject: 0, relation, reference: 1 }],
        exclusive: true,
      },
      { categories },
    );
    return { scene, relation };
  });
}

/** Run every probe and the retrieval metric on an encoder. */
export async function probeEncoder(
  enc: UnderstandingEncoder,
  opts: ProbeOptions = {},
): Promise<ProbeResult> {
  const t0 = performance.now();
  const n = opts.n ?? 2000;
  const seed = opts.seed ?? 0;
  const r = opts.resolution ?? enc.model.bottleneck;
  const D = enc.model.vit.dim;
  const F = r * r * D;
  const cfg = enc.config;
  const categories = worldCategories(cfg.data.numCategories);
  const say = opts.onProgress ?? (() => {});
  const split = Math.round(n * TRAIN_FRACTION);

  say("retrieval");
  const retrieval = await retrievalAccuracy(enc, cfg, n, opts.candidates ?? 100);

  say("object and count features");
  const scenes = objectScenes(n, seed, categories);
  const feats = await sceneFeatures(enc, scenes, r);
  // Per-object rows; objects of train scenes first so the split is by scene.
  const objRows: { f: Float32Array; category: number; color: number }[] = [];
  let objSplit = 0;
  scenes.forEach((s, i) => {
    if (i === split) objSplit = objRows.length;
    const grid = feats.subarray(i * F, (i + 1) * F);
    for (const o of s.objects)
      objRows.push({
        f: readAt(grid, r, D, o.x, o.y),
        category: categories.indexOf(o.category),
        color: COLORS.indexOf(o.color),
      });
  });
  const objX = new Float32Array(objRows.length * D);
  for (const [i, o] of objRows.entries()) objX.set(o.f, i * D);
  const objData = (key: "category" | "color", classes: number): ProbeData => ({
    x: objX,
    y: Int32Array.from(objRows.map((o) => o[key])),
    n: objRows.length,
    dim: D,
    groups: 1,
    classes,
  });
  const countData: ProbeData = {
    x: feats,
    y: Int32Array.from(scenes.map((s) => s.objects.length - 1)),
    n,
    dim: F,
    groups: 1,
    classes: 4,
  };

  say("relation features");
  const rel = relationScenes(n, seed, categories);
  const relFeats = await sceneFeatures(
    enc,
    rel.map((x) => x.scene),
    r,
  );
  // Ask about object 0 or object 1 (alternating): the answer flips with the subject.
  const opposite: Record<Relation, Relation> = {
    "left of": "right of",
    "right of": "left of",
    above: "below",
    below: "above",
  };
  const relData: ProbeData = {
    x: relFeats,
    y: Int32Array.from(
      rel.map((x, i) => RELATIONS.indexOf(i % 8 < 4 ? x.relation : opposite[x.relation])),
    ),
    group: Int32Array.from(
      rel.map((x, i) => categories.indexOf(x.scene.objects[i % 8 < 4 ? 0 : 1].category)),
    ),
    n,
    dim: F,
    groups: categories.length,
    classes: 4,
  };

  const examples = {} as ProbeResult["details"]["examples"];
  const fitProbe = (name: keyof ProbeScores, d: ProbeData, at: number) => {
    say(`${name} probe`);
    examples[name] = { train: at, test: d.n - at, classes: d.classes };
    return fitSoftmaxProbe(rows(d, 0, at), rows(d, at, d.n));
  };
  const probe: ProbeScores = {
    category: fitProbe("category", objData("category", categories.length), objSplit),
    color: fitProbe("color", objData("color", COLORS.length), objSplit),
    count: fitProbe("count", countData, split),
    relation: fitProbe("relation", relData, split),
  };
  return {
    retrieval: retrieval.accuracy,
    probe,
    details: {
      resolution: r,
      scenes: n,
      retrieval,
      examples,
      chance: {
        category: 1 / categories.length,
        color: 1 / COLORS.length,
        count: 0.25,
        relation: 0.25,
      },
      seconds: (performance.now() - t0) / 1000,
    },
  };
}
