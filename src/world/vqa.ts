/**
 * VQA-style understanding data: short questions about one scene whose answers
 * are single vocabulary items (a category, a colour, a number word, "yes"/"no"
 * or a relation). Only questions with exactly one correct answer are asked.
 */
import { referringExpressions } from "./phrases.ts";
import type { WorldRng } from "./random.ts";
import { relationsBetween, type Scene } from "./scene.ts";
import { type Category, numberWord, plural, RELATIONS, worldCategories } from "./vocab.ts";

export type VqaType = "category" | "color" | "count" | "position";
export type VqaItem = { question: string; answer: string; type: VqaType };
export type VqaOptions = {
  /** Number of questions (default 4; fewer if the scene supports fewer distinct ones). */
  n?: number;
  /** Categories a count question may ask about (default: the first 6). */
  categories?: readonly Category[];
};

/** All askable questions of each type. */
export function vqaCandidates(
  scene: Scene,
  rng: WorldRng,
  categories: readonly Category[] = worldCategories(),
): Record<VqaType, VqaItem[]> {
  const objs = scene.objects;
  const n = objs.length;
  const idx = objs.map((_, i) => i);
  const out: Record<VqaType, VqaItem[]> = { category: [], color: [], count: [], position: [] };
  const add = (type: VqaType, question: string, answer: string) =>
    out[type].push({ question, answer, type });

  // Category: by a unique colour, the only object, or a unique relation to a referable one.
  if (n === 1)
    add(
      "category",
      rng.pick(["what shape is shown?", "what shape is in the image?"]),
      objs[0].category,
    );
  for (const i of idx) {
    const c = objs[i].color;
    if (objs.filter((o) => o.color === c).length !== 1) continue;
    add("category", rng.pick([`what shape is ${c}?`, `what is the ${c} shape?`]), objs[i].category);
  }
  for (const j of idx) {
    const refs = referringExpressions(scene, j);
    if (refs.length === 0) continue;
    for (const r of RELATIONS) {
      const hits = idx.filter((i) => i !== j && relationsBetween(scene, i, j).includes(r));
      if (hits.length !== 1) continue;
      add("category", `what shape is ${r} ${rng.pick(refs)}?`, objs[hits[0]].category);
    }
  }

  // Colour: of an object with a unique category (or unique size within it).
  for (const i of idx) {
    const o = objs[i];
    const sameCat = objs.filter((p) => p.category === o.category);
    let ref: string;
    if (sameCat.length === 1) ref = `the ${o.category}`;
    else if (sameCat.filter((p) => p.size === o.size).length === 1)
      ref = `the ${o.size} ${o.category}`;
    else continue;
    add(
      "color",
      rng.pick([`what color is ${ref}?`, `what is the color of ${ref}?`]),
      objs[i].color,
    );
  }

  // Count: all objects, one category (present or absent), one colour, colour + category.
  add("count", "how many objects are there?", numberWord(n));
  for (const c of categories) {
    const k = objs.filter((o) => o.category === c).length;
    add("count", `how many ${plural(c)} are there?`, numberWord(k));
  }
  const present = [...new Set(objs.map((o) => o.color))];
  for (const c of present) {
    add(
      "count",
      `how many ${c} objects are there?`,
      numberWord(objs.filter((o) => o.color === c).length),
    );
    for (const cat of new Set(objs.filter((o) => o.color === c).map((o) => o.category))) {
      const k = objs.filter((o) => o.color === c && o.category === cat).length;
      add("count", `how many ${c} ${plural(cat)} are there?`, numberWord(k));
    }
  }

  // Position: yes/no for a true and a false relation; "where" when exactly one holds.
  for (const i of idx)
    for (const j of idx) {
      if (i === j) continue;
      const ra = referringExpressions(scene, i);
      const rb = referringExpressions(scene, j);
      if (ra.length === 0 || rb.length === 0) continue;
      const a = rng.pick(ra);
      const b = rng.pick(rb);
      const rels = relationsBetween(scene, i, j);
      if (rels.length > 0) add("position", `is ${a} ${rng.pick(rels)} ${b}?`, "yes");
      const not = RELATIONS.filter((r) => !rels.includes(r));
      add("position", `is ${a} ${rng.pick(not)} ${b}?`, "no");
      if (rels.length === 1) add("position", `where is ${a} relative to ${b}?`, rels[0]);
    }
  return out;
}

/**
 * `n` distinct questions. Types are balanced: each question first picks a type
 * uniformly among those with unused candidates, then a candidate. Count
 * questions about absent categories ("zero") are kept to about one in five;
 * position questions pick "yes", "no" or "where" uniformly first.
 */
export function vqaQuestions(scene: Scene, rng: WorldRng, opts: VqaOptions = {}): VqaItem[] {
  const cands = vqaCandidates(scene, rng, opts.categories);
  const zero = cands.count.filter((q) => q.answer === "zero");
  const nonZero = cands.count.filter((q) => q.answer !== "zero");
  const out: VqaItem[] = [];
  const asked = new Set<string>();
  const want = opts.n ?? 4;
  while (out.length < want) {
    const types = (Object.keys(cands) as VqaType[]).filter((t) =>
      cands[t].some((q) => !asked.has(q.question)),
    );
    if (types.length === 0) break;
    const t = rng.pick(types);
    let pool = cands[t].filter((q) => !asked.has(q.question));
    if (t === "count") {
      const nz = nonZero.filter((q) => !asked.has(q.question));
      const z = zero.filter((q) => !asked.has(q.question));
      pool = nz.length > 0 && (z.length === 0 || rng.bool(0.8)) ? nz : z;
    } else if (t === "position") {
      // Balance "yes", "no" and "where" answers, so no answer is a safe guess.
      const kinds = [...new Set(pool.map(answerKind))];
      const k = rng.pick(kinds);
      pool = pool.filter((q) => answerKind(q) === k);
    }
    const q = rng.pick(pool);
    asked.add(q.question);
    out.push(q);
  }
  return out;
}

function answerKind(q: VqaItem): string {
  return q.answer === "yes" || q.answer === "no" ? q.answer : "where";
}
