/**
 * DPG-mini items: a dense paragraph about a scene of 3–4 objects (every object
 * with its colour, counts, the total, one to three relations between groups and
 * the background), decomposed into the questions of questions.ts.
 *
 * Item i is built from WorldRng("bench/dpg", seed, i, attempt): objects repeat an
 * earlier (category, colour) w.p. 0.35 (a counted group) or an earlier category in
 * a new colour w.p. 0.2; relations are stated only where they hold for every
 * member pair; an attempt is kept only if every question is answered "yes" on the
 * oracle's reading of its render at 32 and 64 px.
 * Sizes: default 64 prompts, full 1,065 (DPG-Bench's count); seed 11.
 */
import type { SceneExclusion } from "../../data/corpora.ts";
import { capitalize, groupObjects, groupPhrase, joinList } from "../../world/phrases.ts";
import { WorldRng } from "../../world/random.ts";
import { renderScene } from "../../world/render.ts";
import { buildScene, type ObjectSpec, relationsBetween, type Scene } from "../../world/scene.ts";
import {
  article,
  COLORS,
  numberWord,
  OPPOSITE,
  plural,
  type Relation,
  worldCategories,
} from "../../world/vocab.ts";
import { oracleDetections } from "../oracle.ts";
import { answerQuestion, type DpgGroupRef, type DpgQuestion } from "./questions.ts";

export const DPG_SEED = 11;
export const DPG_DEFAULT_SIZE = 64;
export const DPG_FULL_SIZE = 1065;
export const DPG_IMAGES_PER_PROMPT = 4;

export type DpgItem = {
  suite: "dpg";
  id: string;
  prompt: string;
  /** The scene the prompt was written from (ground truth for sample 0). */
  scene: Scene;
  questions: DpgQuestion[];
};

const name = (g: DpgGroupRef) => `${g.color} ${g.count > 1 ? plural(g.category) : g.category}`;

/** Questions for `scene` stating `relations` (subject group, relation, reference group). */
export function decompose(
  scene: Scene,
  groups: DpgGroupRef[],
  relations: [number, Relation, number][],
): DpgQuestion[] {
  const qs: DpgQuestion[] = [];
  const add = (tuple: string, question: string, parents: number[], check: DpgQuestion["check"]) => {
    qs.push({ id: qs.length + 1, tuple, question, parents, check });
    return qs.length;
  };
  const entity = new Map<string, number>();
  for (const g of groups)
    if (!entity.has(g.category))
      entity.set(
        g.category,
        add(
          `entity - whole (${g.category})`,
          `Is there ${article(g.category)} ${g.category}?`,
          [],
          {
            kind: "exists",
            category: g.category,
          },
        ),
      );
  const color = groups.map((g) =>
    add(
      `attribute - color (${g.category}, ${g.color})`,
      `Is there ${article(g.color)} ${g.color} ${g.category}?`,
      [entity.get(g.category)!],
      { kind: "color", category: g.category, color: g.color },
    ),
  );
  groups.forEach((g, k) => {
    if (g.count < 2) return;
    add(
      `count - exact (${g.color} ${g.category}, ${g.count})`,
      `Are there exactly ${numberWord(g.count)} ${name(g)}?`,
      [color[k]],
      { kind: "count", category: g.category, color: g.color, count: g.count },
    );
  });
  const n = scene.objects.length;
  add(`count - total (objects, ${n})`, `Are there ${numberWord(n)} objects in total?`, [], {
    kind: "total",
    count: n,
  });
  for (const [a, rel, b] of relations) {
    const s = groups[a];
    const r = groups[b];
    add(
      `relation - spatial (${s.color} ${s.category}, ${rel}, ${r.color} ${r.category})`,
      `${s.count > 1 ? "Are" : "Is"} the ${name(s)} ${rel} the ${name(r)}?`,
      [color[a], color[b]],
      { kind: "relation", subject: s, relation: rel, reference: r },
    );
  }
  add("global - background (gray)", "Is the background plain gray?", [], { kind: "background" });
  return qs;
}

function sampleSpec(rng: WorldRng, categories: readonly string[]): ObjectSpec[] {
  const n = rng.bool(0.5) ? 3 : 4;
  const objs: ObjectSpec[] = [];
  for (let k = 0; k < n; k++) {
    const prev = k > 0 ? rng.pick(objs) : null;
    const u = rng.float();
    if (prev && u < 0.35) objs.push({ category: prev.category, color: prev.color });
    else if (prev && u < 0.55)
      objs.push({
        category: prev.category,
        color: rng.pick(COLORS.filter((c) => c !== prev.color)),
      });
    else
      objs.push({
        category: rng.pick(categories) as ObjectSpec["category"],
        color: rng.pick(COLORS),
      });
  }
  return objs;
}

/** Every question answered "yes" on the oracle's reading at `size`. */
export function allYes(scene: Scene, questions: readonly DpgQuestion[], size: number): boolean {
  const r = renderScene(scene, { size });
  const dets = oracleDetections(scene, r);
  return questions.every((q) => answerQuestion(q.check, dets, r.image));
}

function buildItem(rng: WorldRng, index: number, categories: readonly string[]): DpgItem | null {
  let scene: Scene;
  try {
    scene = buildScene(rng, { objects: sampleSpec(rng, categories) });
  } catch {
    return null;
  }
  const gs = groupObjects(
    scene,
    scene.objects.map((_, i) => i),
    true,
  );
  const groups = gs.map((g) => ({
    category: g.category,
    color: g.color!,
    count: g.members.length,
  }));
  const cands: [number, Relation, number][] = [];
  for (let i = 0; i < gs.length; i++)
    for (let j = i + 1; j < gs.length; j++) {
      const pairs = gs[i].members.flatMap((p) =>
        gs[j].members.map((q) => relationsBetween(scene, p, q)),
      );
      const common = pairs.reduce((acc, r) => acc.filter((x) => r.includes(x)));
      if (common.length === 0) continue;
      const rel = rng.pick(common);
      // GenEval's rule is antisymmetric, so either group can be the subject.
      cands.push(rng.bool() ? [i, rel, j] : [j, OPPOSITE[rel], i]);
    }
  if (cands.length === 0) return null;
  const relations = rng.shuffle(cands).slice(0, 1 + rng.int(Math.min(3, cands.length)));
  const questions = decompose(scene, groups, relations);
  if (!allYes(scene, questions, 32) || !allYes(scene, questions, 64)) return null;
  const total = `${numberWord(scene.objects.length)} objects`;
  const list = joinList(gs.map((g) => groupPhrase(g)));
  const intro = rng.pick([
    `A plain gray background with ${total}: ${list}.`,
    `An image of ${list} on a plain gray background, ${total} in total.`,
    `On a plain gray background there are ${total}: ${list}.`,
  ]);
  const rel = relations.map(([a, r, b]) => {
    const s = groups[a];
    return capitalize(`the ${name(s)} ${s.count > 1 ? "are" : "is"} ${r} the ${name(groups[b])}.`);
  });
  const prompt = [intro, ...rel].join(" ");
  return { suite: "dpg", id: `dpg-${String(index).padStart(5, "0")}`, prompt, scene, questions };
}

export type DpgSetOptions = {
  full?: boolean;
  /** Number of prompts (overrides full/default). */
  size?: number;
  numCategories?: number;
  seed?: number;
  /** Every emitted scene is registered here so training corpora avoid it. */
  exclude?: SceneExclusion;
};

export function dpgPromptSet(opts: DpgSetOptions = {}): DpgItem[] {
  const seed = opts.seed ?? DPG_SEED;
  const n = opts.size ?? (opts.full ? DPG_FULL_SIZE : DPG_DEFAULT_SIZE);
  const cats = worldCategories(opts.numCategories);
  const out: DpgItem[] = [];
  for (let i = 0; i < n; i++) {
    let item: DpgItem | null = null;
    for (let attempt = 0; !item; attempt++) {
      if (attempt >= 256) throw new Error(`dpg item ${i}: no valid scene in 256 attempts`);
      item = buildItem(WorldRng.fromParts("bench/dpg", seed, i, attempt), i, cats);
    }
    opts.exclude?.add(item.scene);
    out.push(item);
  }
  return out;
}
