/**
 * Edits: (instruction, source scene) → target scene, for the five ImgEdit-style
 * operations the world can express. Every edit is valid by construction: it
 * names its object unambiguously, changes what it says, and leaves the overlap
 * limit and canvas bounds intact; everything it does not mention is unchanged.
 */
import { pickReference, referable, relationPhrase } from "./phrases.ts";
import type { WorldRng } from "./random.ts";
import {
  isValidLayout,
  randomPosition,
  relationsBetween,
  type Scene,
  type SceneObject,
  type SceneOptions,
  sampleColor,
  sampleRadius,
} from "./scene.ts";
import {
  article,
  type Category,
  COLORS,
  MAX_OBJECTS,
  RELATIONS,
  SIZES,
  worldCategories,
} from "./vocab.ts";

export const EDIT_KINDS = ["add", "remove", "replace", "recolor", "move"] as const;
export type EditKind = (typeof EDIT_KINDS)[number];

export type Edit = {
  kind: EditKind;
  instruction: string;
  source: Scene;
  target: Scene;
  /** The edited object: its index in `target` for "add", in `source` otherwise. */
  object: number;
};

export type EditOptions = SceneOptions & {
  /** Kinds to choose from (default all five, uniformly among those applicable). */
  kinds?: readonly EditKind[];
};

type EditFn = (rng: WorldRng, src: Scene, opts: EditOptions) => Edit | null;

const TRIES = 200;

/** A random applicable edit of `source`, or null if none applies. */
export function sampleEdit(rng: WorldRng, source: Scene, opts: EditOptions = {}): Edit | null {
  const kinds = rng.shuffle([...(opts.kinds ?? EDIT_KINDS)]);
  for (const k of kinds) {
    const e = EDITS[k](rng, source, opts);
    if (e) return e;
  }
  return null;
}

/** An edit of the given kind, or null if the scene does not allow it. */
export function makeEdit(
  rng: WorldRng,
  kind: EditKind,
  source: Scene,
  opts: EditOptions = {},
): Edit | null {
  return EDITS[kind](rng, source, opts);
}

function withObject(scene: Scene, i: number, o: SceneObject): Scene {
  return { objects: scene.objects.map((p, j) => (j === i ? o : { ...p })) };
}

function copy(scene: Scene): Scene {
  return { objects: scene.objects.map((o) => ({ ...o })) };
}

const add: EditFn = (rng, src, opts) => {
  if (src.objects.length >= MAX_OBJECTS) return null;
  const category = rng.pick(opts.categories ?? worldCategories());
  const color = sampleColor(rng, category, opts);
  const size = rng.pick(SIZES);
  const base: SceneObject = {
    category,
    color,
    size,
    x: 0.5,
    y: 0.5,
    radius: sampleRadius(rng, size),
  };
  const np = `${article(color)} ${color} ${category}`;
  // Half the time, say where: relative to an object the instruction can name.
  const anchors = referable(src);
  const anchor = anchors.length > 0 && rng.bool(0.5) ? rng.pick(anchors) : -1;
  const rel = rng.pick(RELATIONS);
  for (let t = 0; t < TRIES; t++) {
    const o = randomPosition(rng, base);
    const target: Scene = { objects: [...copy(src).objects, o] };
    if (!isValidLayout(target.objects, opts)) continue;
    const n = target.objects.length - 1;
    if (anchor >= 0 && !relationsBetween(target, n, anchor).includes(rel)) continue;
    const where =
      anchor >= 0 ? ` ${relationPhrase(rng, rel)} ${pickReference(rng, src, anchor)}` : "";
    const instruction = rng.pick([
      `add ${np}${where}`,
      `put ${np}${where}`,
      `draw ${np}${where}`,
      `place ${np}${where}`,
    ]);
    return { kind: "add", instruction, source: copy(src), target, object: n };
  }
  return null;
};

const remove: EditFn = (rng, src) => {
  if (src.objects.length < 2) return null;
  const cands = referable(src);
  if (cands.length === 0) return null;
  const i = rng.pick(cands);
  const ref = pickReference(rng, src, i)!;
  const instruction = rng.pick([
    `remove ${ref}`,
    `delete ${ref}`,
    `take away ${ref}`,
    `erase ${ref}`,
  ]);
  const target = { objects: copy(src).objects.filter((_, j) => j !== i) };
  return { kind: "remove", instruction, source: copy(src), target, object: i };
};

const replace: EditFn = (rng, src, opts) => {
  const cands = rng.shuffle(referable(src));
  for (const i of cands) {
    const o = src.objects[i];
    const others = (opts.categories ?? worldCategories()).filter((c) => c !== o.category);
    for (const category of rng.shuffle([...others]) as Category[]) {
      const target = withObject(src, i, { ...o, category });
      if (!isValidLayout(target.objects, opts)) continue;
      const ref = pickReference(rng, src, i)!;
      const np = `${article(category)} ${category}`;
      const instruction = rng.pick([
        `replace ${ref} with ${np}`,
        `turn ${ref} into ${np}`,
        `change ${ref} into ${np}`,
        `swap ${ref} for ${np}`,
      ]);
      return { kind: "replace", instruction, source: copy(src), target, object: i };
    }
  }
  return null;
};

const recolor: EditFn = (rng, src) => {
  const cands = referable(src);
  if (cands.length === 0) return null;
  const i = rng.pick(cands);
  const o = src.objects[i];
  const color = rng.pick(COLORS.filter((c) => c !== o.color));
  const ref = pickReference(rng, src, i)!;
  const instruction = rng.pick([
    `make ${ref} ${color}`,
    `change the color of ${ref} to ${color}`,
    `paint ${ref} ${color}`,
    `recolor ${ref} ${color}`,
    `turn ${ref} ${color}`,
  ]);
  return {
    kind: "recolor",
    instruction,
    source: copy(src),
    target: withObject(src, i, { ...o, color }),
    object: i,
  };
};

/** How far an absolute move must go, in image widths, along its direction. */
export const MOVE_MIN_SHIFT = 0.2;
const DIRECTIONS = {
  left: [-1, 0],
  right: [1, 0],
  up: [0, -1],
  down: [0, 1],
} as const;

/**
 * Relative ("move the red circle left of the blue square": afterwards that
 * relation holds and did not before) w.p. 0.7 where possible, else absolute
 * ("move the red circle to the left": it moves ≥ MOVE_MIN_SHIFT that way and
 * ≤ 0.05 across).
 */
const move: EditFn = (rng, src, opts) => {
  const cands = referable(src);
  const relative = rng.bool(0.7);
  for (const i of rng.shuffle([...cands])) {
    const e =
      (relative && moveRelative(rng, src, i, cands, opts)) || moveAbsolute(rng, src, i, opts);
    if (e) return e;
  }
  return null;
};

function moveRelative(
  rng: WorldRng,
  src: Scene,
  i: number,
  cands: readonly number[],
  opts: EditOptions,
): Edit | null {
  const combos = cands
    .filter((j) => j !== i)
    .flatMap((j) => {
      const now = relationsBetween(src, i, j);
      return RELATIONS.filter((r) => !now.includes(r)).map((r) => [j, r] as const);
    });
  for (const [j, rel] of rng.shuffle(combos)) {
    for (let t = 0; t < TRIES / 4; t++) {
      const target = withObject(src, i, randomPosition(rng, src.objects[i]));
      if (!isValidLayout(target.objects, opts)) continue;
      if (!relationsBetween(target, i, j).includes(rel)) continue;
      const ref = pickReference(rng, src, i)!;
      const where = `${relationPhrase(rng, rel)} ${pickReference(rng, src, j)}`;
      const instruction = rng.pick([
        `move ${ref} ${where}`,
        `put ${ref} ${where}`,
        `place ${ref} ${where}`,
      ]);
      return { kind: "move", instruction, source: copy(src), target, object: i };
    }
  }
  return null;
}

function moveAbsolute(rng: WorldRng, src: Scene, i: number, opts: EditOptions): Edit | null {
  const o = src.objects[i];
  for (const dir of rng.shuffle(Object.keys(DIRECTIONS) as (keyof typeof DIRECTIONS)[])) {
    const [dx, dy] = DIRECTIONS[dir];
    for (let t = 0; t < TRIES / 4; t++) {
      const p = randomPosition(rng, o);
      const along = (p.x - o.x) * dx + (p.y - o.y) * dy;
      const across = Math.abs((p.x - o.x) * dy) + Math.abs((p.y - o.y) * dx);
      if (along < MOVE_MIN_SHIFT || across > 0.05) continue;
      const target = withObject(src, i, p);
      if (!isValidLayout(target.objects, opts)) continue;
      const ref = pickReference(rng, src, i)!;
      const word = dir === "up" || dir === "down" ? dir : `to the ${dir}`;
      const instruction = rng.pick([`move ${ref} ${word}`, `shift ${ref} ${word}`]);
      return { kind: "move", instruction, source: copy(src), target, object: i };
    }
  }
  return null;
}

const EDITS: Record<EditKind, EditFn> = { add, remove, replace, recolor, move };
