/**
 * Noun phrases shared by captions, questions and edit instructions: counted
 * groups ("two red circles"), unambiguous references ("the red circle") and
 * relation phrases. All text is lower case; sentences end with ".".
 */
import type { WorldRng } from "./random.ts";
import type { Scene, SceneObject } from "./scene.ts";
import { type Color, countedPhrase, type Relation } from "./vocab.ts";

/** "a, b and c". */
export function joinList(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

export function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Objects grouped by (colour, category), in order of first appearance. */
export type Group = { category: SceneObject["category"]; color: Color | null; members: number[] };

export function groupObjects(
  scene: Scene,
  indices: readonly number[],
  withColor: boolean,
): Group[] {
  const groups: Group[] = [];
  for (const i of indices) {
    const o = scene.objects[i];
    const color = withColor ? o.color : null;
    const g = groups.find((h) => h.category === o.category && h.color === color);
    if (g) g.members.push(i);
    else groups.push({ category: o.category, color, members: [i] });
  }
  return groups;
}

export function groupPhrase(g: Group, count: number | string = g.members.length): string {
  return countedPhrase(count, g.color ? [g.color] : [], g.category);
}

/**
 * Definite descriptions that pick out object i alone, shortest first:
 * "the circle", "the red circle", "the small red circle". Empty when the object
 * has an exact twin in category, colour and size.
 */
export function referringExpressions(scene: Scene, i: number): string[] {
  const o = scene.objects[i];
  const others = scene.objects.filter((_, j) => j !== i);
  const out: string[] = [];
  if (!others.some((p) => p.category === o.category)) out.push(`the ${o.category}`);
  if (!others.some((p) => p.category === o.category && p.color === o.color))
    out.push(`the ${o.color} ${o.category}`);
  else if (
    !others.some((p) => p.category === o.category && p.color === o.color && p.size === o.size)
  )
    out.push(`the ${o.size} ${o.color} ${o.category}`);
  return out;
}

/** A random unambiguous reference, preferring ones that name the colour; null if none. */
export function pickReference(rng: WorldRng, scene: Scene, i: number): string | null {
  const refs = referringExpressions(scene, i);
  if (refs.length === 0) return null;
  // Colour-bearing references are what benchmarks use; the bare noun adds variety.
  return refs.length > 1 && rng.bool(0.3) ? refs[0] : refs[refs.length - 1];
}

/** Indices of objects that have at least one unambiguous reference. */
export function referable(scene: Scene): number[] {
  return scene.objects.map((_, i) => i).filter((i) => referringExpressions(scene, i).length > 0);
}

/** "left of" is GenEval's own wording; "to the left of" is a common paraphrase. */
export function relationPhrase(rng: WorldRng, r: Relation, geneval = false): string {
  if (geneval || r === "above" || r === "below") return r;
  return rng.bool(0.5) ? r : `to the ${r}`;
}

/** One or two relations as a phrase: "above", "above and left of". Vertical first. */
export function relationsPhrase(rng: WorldRng, rels: readonly Relation[]): string {
  const sorted = [...rels].sort((a, b) => order(a) - order(b));
  return sorted.map((r) => relationPhrase(rng, r)).join(" and ");
}

function order(r: Relation): number {
  return r === "above" || r === "below" ? 0 : 1;
}
