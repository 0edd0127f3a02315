/**
 * Scenes: 1–4 coloured shapes on a gray canvas, in [0,1] coordinates (x right,
 * y down). Sampling is rejection-based: positions are uniform over the canvas,
 * kept only when no two objects come closer than their bounding discs allow and
 * every requested relation holds under GenEval's position rule.
 */
import type { WorldRng } from "./random.ts";
import { shapeExtent } from "./shapes.ts";
import {
  type Category,
  COLORS,
  type Color,
  DEFAULT_DOMINANT_PROB,
  DOMINANT_COLOR,
  MAX_OBJECTS,
  type Relation,
  SIZE_RADIUS,
  SIZES,
  type Size,
  worldCategories,
} from "./vocab.ts";

export type SceneObject = {
  category: Category;
  color: Color;
  size: Size;
  /** Centre, in [0,1] image coordinates (y down). */
  x: number;
  y: number;
  /** In units of the image width. */
  radius: number;
};
export type Scene = { objects: SceneObject[] };

/** Axis-aligned box [x1,y1]–[x2,y2], in whatever units the caller uses. */
export type Box = { x1: number; y1: number; x2: number; y2: number };

export type SceneOptions = {
  /** Active categories (default: the first 6). */
  categories?: readonly Category[];
  /** Unnormalised weights for 1, 2, 3, 4 objects (default 0.3, 0.35, 0.2, 0.15). */
  countWeights?: readonly number[];
  /** "uniform": every colour equally likely; "biased": DOMINANT_COLOR w.p. dominantProb. */
  colorPrior?: "uniform" | "biased";
  dominantProb?: number;
  /** Chance that each object after the first repeats an earlier category (counting data). */
  sameCategoryProb?: number;
  /** Unnormalised weights for small, medium, large (default uniform). */
  sizeWeights?: readonly number[];
  /**
   * Overlap limit: centres must be at least minSeparation·(bound_a·r_a + bound_b·r_b)
   * + minGap apart, where bound·r is the shape's bounding-disc radius. 1 with a gap
   * means shapes never touch (so connected components separate them); below 1
   * allows partial overlap.
   */
  minSeparation?: number;
  /** Extra gap in image widths (default 1/32: one pixel at 32×32). */
  minGap?: number;
};

export const DEFAULT_SCENE_OPTIONS = {
  countWeights: [0.3, 0.35, 0.2, 0.15],
  colorPrior: "uniform",
  dominantProb: DEFAULT_DOMINANT_PROB,
  sameCategoryProb: 0.3,
  sizeWeights: [1, 1, 1],
  minSeparation: 1,
  minGap: 1 / 32,
} as const;

/** Attributes a constrained scene fixes; missing ones are drawn from the priors. */
export type ObjectSpec = { category?: Category; color?: Color; size?: Size };
/** `subject` is `relation` `reference` (indices into `objects`), e.g. 0 left of 1. */
export type RelationSpec = { subject: number; relation: Relation; reference: number };
export type SceneSpec = {
  objects: ObjectSpec[];
  relations?: RelationSpec[];
  /** Require each requested relation to be the only one that holds (no diagonals). */
  exclusive?: boolean;
};

/** The object's box in [0,1] image coordinates (from the shape's measured extent). */
export function objectBox(o: SceneObject): Box {
  const e = shapeExtent(o.category);
  return {
    x1: o.x + e.x1 * o.radius,
    y1: o.y + e.y1 * o.radius,
    x2: o.x + e.x2 * o.radius,
    y2: o.y + e.y2 * o.radius,
  };
}

/**
 * GenEval's position rule (evaluate_images.py), subject A relative to reference B,
 * on boxes: offset of box centres, shrunk per axis by 0.1·(dim_A + dim_B), divided
 * by the length of the original offset; "left of" if dx < −0.5, "right of" if
 * dx > 0.5, "above" if dy < −0.5, "below" if dy > 0.5 (y down). GenEval's 1e-3
 * "no offset" cut is in pixels; boxes here may be in [0,1] units, so the cut is
 * scaled to 1e-3 of the larger box dimension.
 */
export function positionRelations(a: Box, b: Box): Relation[] {
  const ox = (a.x1 + a.x2) / 2 - (b.x1 + b.x2) / 2;
  const oy = (a.y1 + a.y2) / 2 - (b.y1 + b.y2) / 2;
  const wa = Math.abs(a.x2 - a.x1);
  const wb = Math.abs(b.x2 - b.x1);
  const ha = Math.abs(a.y2 - a.y1);
  const hb = Math.abs(b.y2 - b.y1);
  const rx = Math.sign(ox) * Math.max(Math.abs(ox) - 0.1 * (wa + wb), 0);
  const ry = Math.sign(oy) * Math.max(Math.abs(oy) - 0.1 * (ha + hb), 0);
  const eps = 1e-3 * Math.max(wa, wb, ha, hb, 1e-9);
  if (Math.abs(rx) < eps && Math.abs(ry) < eps) return [];
  const norm = Math.hypot(ox, oy);
  const dx = rx / norm;
  const dy = ry / norm;
  const out: Relation[] = [];
  if (dx < -0.5) out.push("left of");
  if (dx > 0.5) out.push("right of");
  if (dy < -0.5) out.push("above");
  if (dy > 0.5) out.push("below");
  return out;
}

/** Relations of object i relative to object j. */
export function relationsBetween(scene: Scene, i: number, j: number): Relation[] {
  return positionRelations(objectBox(scene.objects[i]), objectBox(scene.objects[j]));
}

type Layout = Required<Pick<SceneOptions, "minSeparation" | "minGap">>;

function layoutOptions(opts: SceneOptions): Layout {
  return {
    minSeparation: opts.minSeparation ?? DEFAULT_SCENE_OPTIONS.minSeparation,
    minGap: opts.minGap ?? DEFAULT_SCENE_OPTIONS.minGap,
  };
}

/** Whole box inside the canvas, with half a 32-px pixel to spare. */
export function insideCanvas(o: SceneObject): boolean {
  const b = objectBox(o);
  const m = 0.5 / 32;
  return b.x1 >= m && b.y1 >= m && b.x2 <= 1 - m && b.y2 <= 1 - m;
}

export function separated(a: SceneObject, b: SceneObject, opts: SceneOptions = {}): boolean {
  const { minSeparation, minGap } = layoutOptions(opts);
  const need =
    minSeparation *
      (shapeExtent(a.category).bound * a.radius + shapeExtent(b.category).bound * b.radius) +
    minGap;
  return Math.hypot(a.x - b.x, a.y - b.y) >= need;
}

/** The overlap limit and canvas bounds hold for every object and pair. */
export function isValidLayout(objects: readonly SceneObject[], opts: SceneOptions = {}): boolean {
  for (let i = 0; i < objects.length; i++) {
    if (!insideCanvas(objects[i])) return false;
    for (let j = 0; j < i; j++) if (!separated(objects[i], objects[j], opts)) return false;
  }
  return true;
}

export function sampleRadius(rng: WorldRng, size: Size): number {
  const [lo, hi] = SIZE_RADIUS[size];
  return rng.uniform(lo, hi);
}

/** A colour for `category` under the prior. */
export function sampleColor(rng: WorldRng, category: Category, opts: SceneOptions = {}): Color {
  const prior = opts.colorPrior ?? DEFAULT_SCENE_OPTIONS.colorPrior;
  if (prior === "uniform") return rng.pick(COLORS);
  const dominant = DOMINANT_COLOR[category];
  if (rng.bool(opts.dominantProb ?? DEFAULT_SCENE_OPTIONS.dominantProb)) return dominant;
  return rng.pick(COLORS.filter((c) => c !== dominant));
}

/** A uniformly random position for `o` inside the canvas (ignores other objects). */
export function randomPosition(rng: WorldRng, o: SceneObject): SceneObject {
  const e = shapeExtent(o.category);
  const m = 0.5 / 32;
  const xlo = m - e.x1 * o.radius;
  const xhi = 1 - m - e.x2 * o.radius;
  const ylo = m - e.y1 * o.radius;
  const yhi = 1 - m - e.y2 * o.radius;
  return { ...o, x: rng.uniform(xlo, xhi), y: rng.uniform(ylo, yhi) };
}

function relationsHold(
  objects: readonly SceneObject[],
  placed: readonly boolean[],
  relations: readonly RelationSpec[],
  exclusive: boolean,
): boolean {
  for (const r of relations) {
    if (!placed[r.subject] || !placed[r.reference]) continue;
    const rel = positionRelations(objectBox(objects[r.subject]), objectBox(objects[r.reference]));
    if (!rel.includes(r.relation) || (exclusive && rel.length !== 1)) return false;
  }
  return true;
}

/**
 * Place `objects` (attributes fixed, positions ignored) by sequential rejection
 * sampling; every `shrinkEvery` failed restarts, the largest object whose size
 * was not fixed (`fixedSize[i]` false) drops one size. Throws if impossible.
 */
export function placeObjects(
  rng: WorldRng,
  objects: SceneObject[],
  opts: SceneOptions = {},
  relations: readonly RelationSpec[] = [],
  exclusive = false,
  fixedSize: readonly boolean[] = objects.map(() => false),
): SceneObject[] {
  const objs = objects.map((o) => ({ ...o }));
  const shrinkEvery = 10;
  for (let restart = 0; restart < 200; restart++) {
    if (restart > 0 && restart % shrinkEvery === 0) shrinkOne(rng, objs, fixedSize);
    // Largest first: the hardest to fit go where there is still room.
    const order = objs.map((_, i) => i).sort((a, b) => objs[b].radius - objs[a].radius);
    const placed = objs.map(() => false);
    let n = 0;
    for (; n < order.length; n++) {
      const k = order[n];
      let ok = false;
      for (let t = 0; t < 40 && !ok; t++) {
        objs[k] = randomPosition(rng, objs[k]);
        ok = true;
        for (let m = 0; m < n && ok; m++) ok = separated(objs[order[m]], objs[k], opts);
        placed[k] = true;
        ok &&= relationsHold(objs, placed, relations, exclusive);
      }
      if (!ok) break;
    }
    if (n === objs.length) return objs;
  }
  throw new Error(
    `could not place ${objs.length} objects (${objs.map((o) => `${o.size} ${o.category}`).join(", ")}) with the requested relations`,
  );
}

function shrinkOne(rng: WorldRng, objs: SceneObject[], fixedSize: readonly boolean[]): void {
  let best = -1;
  for (let i = 0; i < objs.length; i++) {
    if (fixedSize[i] || objs[i].size === "small") continue;
    if (best < 0 || objs[i].radius > objs[best].radius) best = i;
  }
  if (best < 0) return;
  const size = SIZES[SIZES.indexOf(objs[best].size) - 1];
  objs[best] = { ...objs[best], size, radius: sampleRadius(rng, size) };
}

/** Draw the attributes for one object from the priors, honouring the fixed ones. */
function fillObject(
  rng: WorldRng,
  spec: ObjectSpec,
  previous: readonly SceneObject[],
  opts: SceneOptions,
): SceneObject {
  const cats = opts.categories ?? worldCategories();
  const same = opts.sameCategoryProb ?? DEFAULT_SCENE_OPTIONS.sameCategoryProb;
  const category =
    spec.category ??
    (previous.length > 0 && rng.bool(same) ? rng.pick(previous).category : rng.pick(cats));
  const color = spec.color ?? sampleColor(rng, category, opts);
  const weights = opts.sizeWeights ?? DEFAULT_SCENE_OPTIONS.sizeWeights;
  const size = spec.size ?? SIZES[rng.weighted(weights)];
  return { category, color, size, x: 0.5, y: 0.5, radius: sampleRadius(rng, size) };
}

/** A scene that satisfies `spec` (fixed attributes and relations); the rest from the priors. */
export function buildScene(rng: WorldRng, spec: SceneSpec, opts: SceneOptions = {}): Scene {
  if (spec.objects.length < 1 || spec.objects.length > MAX_OBJECTS)
    throw new Error(`a scene holds 1..${MAX_OBJECTS} objects, got ${spec.objects.length}`);
  for (const r of spec.relations ?? []) {
    const n = spec.objects.length;
    if (r.subject === r.reference || r.subject >= n || r.reference >= n)
      throw new Error(`bad relation indices ${r.subject} ${r.relation} ${r.reference}`);
  }
  const objs: SceneObject[] = [];
  for (const s of spec.objects) objs.push(fillObject(rng, s, objs, opts));
  const fixed = spec.objects.map((s) => s.size !== undefined);
  const placed = placeObjects(
    rng,
    objs,
    opts,
    spec.relations ?? [],
    spec.exclusive ?? false,
    fixed,
  );
  return { objects: placed };
}

/** A random scene: object count, categories, colours and sizes from the priors. */
export function sampleScene(rng: WorldRng, opts: SceneOptions = {}): Scene {
  const weights = opts.countWeights ?? DEFAULT_SCENE_OPTIONS.countWeights;
  if (weights.length > MAX_OBJECTS) throw new Error(`countWeights: at most ${MAX_OBJECTS}`);
  const n = 1 + rng.weighted(weights);
  return buildScene(rng, { objects: Array.from({ length: n }, () => ({})) }, opts);
}

/**
 * A canonical string for a scene, order-independent, with positions quantised to
 * 1/64 of the canvas and radii to 1/256: two scenes with the same signature render
 * to (nearly) the same image. Corpora use it to exclude benchmark scenes.
 */
export function sceneSignature(scene: Scene): string {
  return scene.objects
    .map(
      (o) =>
        `${o.category}:${o.color}:${Math.round(o.x * 64)}:${Math.round(o.y * 64)}:${Math.round(o.radius * 256)}`,
    )
    .sort()
    .join("|");
}
