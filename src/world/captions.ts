/**
 * Captioners. Dense captions (for the understanding encoder) state every object
 * with its colour and count and every pairwise relation. Sparse "alt-text"
 * captions (for UMM pretraining) mention only some objects, rarely a colour and
 * rarely a position — the under-specified captions RecA's paper blames for weak
 * generation, which reconstruction alignment then corrects from the image itself.
 */
import {
  capitalize,
  type Group,
  groupObjects,
  groupPhrase,
  joinList,
  referringExpressions,
  relationsPhrase,
} from "./phrases.ts";
import type { WorldRng } from "./random.ts";
import { relationsBetween, type Scene } from "./scene.ts";
import { article, numberWord, type Relation, VAGUE_COUNTS, VAGUE_WORDS } from "./vocab.ts";

export type DenseCaptionOptions = {
  /** Chance of naming the size of each single object (default 0.3). */
  pSize?: number;
};

/**
 * Every object (grouped by colour and category with exact counts), then one
 * sentence per unordered pair giving all GenEval relations that hold ("next to"
 * when none does). Phrasings and pair orientation vary with `rng`.
 */
export function denseCaption(scene: Scene, rng: WorldRng, opts: DenseCaptionOptions = {}): string {
  const pSize = opts.pSize ?? 0.3;
  const n = scene.objects.length;
  const groups = groupObjects(
    scene,
    scene.objects.map((_, i) => i),
    true,
  );
  const items = groups.map((g) => {
    const o = scene.objects[g.members[0]];
    if (g.members.length === 1 && rng.bool(pSize))
      return `${article(o.size)} ${o.size} ${o.color} ${o.category}`;
    return groupPhrase(g);
  });
  const list = joinList(items);
  const total = `${numberWord(n)} ${n === 1 ? "object" : "objects"}`;
  const verb = groups[0].members.length === 1 ? "is" : "are";
  const inventory = rng.pick([
    `${total}: ${list}.`,
    `an image of ${list}.`,
    `there ${verb} ${list}.`,
    `${list} on a gray background, ${total} in all.`,
    `a picture with ${total}: ${list}.`,
  ]);
  const sentences = [capitalize(inventory)];
  const pairs: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairs.push([i, j]);
  for (const [i0, j0] of rng.shuffle(pairs)) {
    const [i, j] = rng.bool() ? [i0, j0] : [j0, i0];
    sentences.push(capitalize(pairSentence(scene, i, j, rng)));
  }
  return sentences.join(" ");
}

function pairSentence(scene: Scene, i: number, j: number, rng: WorldRng): string {
  const a = scene.objects[i];
  const b = scene.objects[j];
  const refA = referringExpressions(scene, i);
  const refB = referringExpressions(scene, j);
  let subj: string;
  let ref: string;
  if (refA.length > 0 && refB.length > 0) {
    subj = rng.pick(refA.slice(-1).concat(refA));
    ref = rng.pick(refB.slice(-1).concat(refB));
  } else if (a.category === b.category && a.color === b.color) {
    subj = `one ${a.color} ${a.category}`;
    ref = "the other";
  } else {
    subj = refA.at(-1) ?? `${article(a.color)} ${a.color} ${a.category}`;
    ref = refB.at(-1) ?? `${article(b.color)} ${b.color} ${b.category}`;
  }
  const rels = relationsBetween(scene, i, j);
  const where = rels.length === 0 ? "next to" : relationsPhrase(rng, rels);
  const verb = rng.pick(["is", "is", "sits", "appears"]);
  return `${subj} ${verb} ${where} ${ref}.`;
}

export type SparseCaptionOptions = {
  /** Chance of naming each mentioned category's colour(s) (default 0.25). */
  pColor?: number;
  /** Chance of stating one relation when two single objects are mentioned (default 0.1). */
  pPos?: number;
  /** Chance each category present is mentioned at all; at least one always is (default 0.6). */
  pMention?: number;
  /** Chance a count ≥ 2 is said vaguely ("some", "a few", "several") (default 0.3). */
  pVague?: number;
  /** Chance of the suffix "and other shapes" when something was left out (default 0.3). */
  pOthers?: number;
};

export const SPARSE_DEFAULTS = {
  pColor: 0.25,
  pPos: 0.1,
  pMention: 0.6,
  pVague: 0.3,
  pOthers: 0.3,
} as const;

/** A caption in the sparse grammar that commits to everything it can (a "complete" caption). */
export const COMPLETE_CAPTION = {
  pColor: 1,
  pMention: 1,
  pPos: 1,
  pVague: 0,
  pOthers: 0,
} as const;

/** A sparse caption and what it committed to (for tests and for data statistics). */
export type SparseCaption = {
  text: string;
  /** The mentioned groups; `color` is null where the colour was not named. */
  groups: { category: string; color: string | null; count: number; countWord: string }[];
  /** Per mentioned category: whether its colour was named. */
  colorNamed: boolean[];
  /** Whether a relation could have been stated (two single mentioned objects). */
  relationEligible: boolean;
  relation: { subject: number; relation: Relation; reference: number } | null;
};

export function sparseCaption(
  scene: Scene,
  rng: WorldRng,
  opts: SparseCaptionOptions = {},
): SparseCaption {
  const o = { ...SPARSE_DEFAULTS, ...opts };
  const cats = [...new Set(scene.objects.map((x) => x.category))];
  let mentioned = cats.filter(() => rng.bool(o.pMention));
  if (mentioned.length === 0) mentioned = [rng.pick(cats)];
  const groups: Group[] = [];
  const colorNamed: boolean[] = [];
  for (const c of mentioned) {
    const named = rng.bool(o.pColor);
    colorNamed.push(named);
    const idx = scene.objects.map((_, i) => i).filter((i) => scene.objects[i].category === c);
    groups.push(...groupObjects(scene, idx, named));
  }
  const countWords = groups.map((g) => countWord(g.members.length, rng, o.pVague));
  const phrases = groups.map((g, k) => groupPhrase(g, countWords[k] === "one" ? 1 : countWords[k]));

  // Relations only between singletons, so "a circle left of a square" is true of the scene.
  const singles = groups.map((_, k) => k).filter((k) => groups[k].members.length === 1);
  const candidates: [number, number, Relation[]][] = [];
  for (const a of singles)
    for (const b of singles) {
      if (a === b) continue;
      const rels = relationsBetween(scene, groups[a].members[0], groups[b].members[0]);
      if (rels.length > 0) candidates.push([a, b, rels]);
    }
  const relationEligible = candidates.length > 0;
  let relation: SparseCaption["relation"] = null;
  let items = phrases;
  if (relationEligible && rng.bool(o.pPos)) {
    const [a, b, rels] = rng.pick(candidates);
    const r = rng.pick(rels);
    relation = { subject: groups[a].members[0], relation: r, reference: groups[b].members[0] };
    items = phrases.flatMap((p, k) => (k === a ? [`${p} ${r} ${phrases[b]}`] : k === b ? [] : [p]));
  }
  let list = joinList(items);
  const leftOut = mentioned.length < cats.length;
  if (leftOut && rng.bool(o.pOthers)) list += " and other shapes";
  const text = rng.pick([
    list,
    `a photo of ${list}`,
    `an image of ${list}`,
    `a picture of ${list}`,
    `${list} on a gray background`,
    `${list}, drawn on gray`,
    `there ${countWords[0] === "one" ? "is" : "are"} ${list}`,
  ]);
  return {
    text,
    groups: groups.map((g, k) => ({
      category: g.category,
      color: g.color,
      count: g.members.length,
      countWord: countWords[k],
    })),
    colorNamed,
    relationEligible,
    relation,
  };
}

/** "one", an exact number word, or (w.p. pVague, counts ≥ 2) a fitting vague word. */
function countWord(n: number, rng: WorldRng, pVague: number): string {
  if (n >= 2 && rng.bool(pVague)) {
    const fits = VAGUE_WORDS.filter((w) => n >= VAGUE_COUNTS[w][0] && n <= VAGUE_COUNTS[w][1]);
    return rng.pick(fits);
  }
  return numberWord(n);
}

export { type VqaItem, type VqaOptions, type VqaType, vqaQuestions } from "./vqa.ts";
