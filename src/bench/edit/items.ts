/**
 * Edit-mini items: the five world edits (add, remove, replace, recolor, move),
 * n per kind. Item i of kind k comes from WorldRng("bench/edit", seed, k, i,
 * attempt): a uniform-colour scene and makeEdit; an attempt is kept only when
 * the edit applies and its target scene scores SC = PQ = 10 on the oracle's
 * reading at 32 and 64 px. Where an instruction places the object ("… left of
 * the blue square", "… to the left"), that is stored structurally in `where`.
 * Sizes: default 20 per kind (100 items), full 120 per kind (600 ≈ GEdit-EN's
 * 606); one edited image per item (the authors' setting); seed 13.
 */
import type { SceneExclusion } from "../../data/corpora.ts";
import { EDIT_KINDS, type Edit, type EditKind, makeEdit } from "../../world/edits.ts";
import { referringExpressions } from "../../world/phrases.ts";
import { WorldRng } from "../../world/random.ts";
import { renderScene } from "../../world/render.ts";
import { type Scene, sampleScene } from "../../world/scene.ts";
import { RELATIONS, type Relation, worldCategories } from "../../world/vocab.ts";
import { oracleDetections } from "../oracle.ts";
import { scoreEditImage } from "./score.ts";

export const EDIT_SEED = 13;
export const EDIT_DEFAULT_PER_KIND = 20;
export const EDIT_FULL_PER_KIND = 120;
export const EDIT_IMAGES_PER_ITEM = 1;

export const DIRECTIONS = ["left", "right", "up", "down"] as const;
export type Direction = (typeof DIRECTIONS)[number];
export type EditWhere = { relation: Relation; anchor: number } | { direction: Direction };

export type EditItem = {
  suite: "edit";
  id: string;
  kind: EditKind;
  instruction: string;
  /** The edited object: index in `target` for add, in `source` otherwise. */
  object: number;
  /** Where the instruction puts the object (add, move); anchor indexes `source`. */
  where?: EditWhere;
  source: Scene;
  target: Scene;
};

/** The placement an add/move instruction states, read back from its words. */
export function instructionWhere(e: Edit): EditWhere | undefined {
  if (e.kind !== "add" && e.kind !== "move") return undefined;
  const text = e.instruction;
  for (let j = 0; j < e.source.objects.length; j++) {
    if (e.kind === "move" && j === e.object) continue;
    for (const ref of referringExpressions(e.source, j))
      for (const relation of RELATIONS)
        if (text.endsWith(` ${relation} ${ref}`)) return { relation, anchor: j };
  }
  if (e.kind === "move") {
    const m = /(?:to the (left|right)|\b(up|down))$/.exec(text);
    if (m) return { direction: (m[1] ?? m[2]) as Direction };
  }
  return undefined;
}

/** The target scene passes as a perfect edit on the oracle's reading at `size`. */
export function targetPasses(item: EditItem, size: number): boolean {
  const r = renderScene(item.target, { size });
  const s = scoreEditImage(item, oracleDetections(item.target, r), r.image);
  return s.sc === 10 && s.pq === 10;
}

export type EditSetOptions = {
  full?: boolean;
  /** Items per kind (overrides full/default). */
  perKind?: number;
  kinds?: readonly EditKind[];
  numCategories?: number;
  seed?: number;
  /** Every source and target scene is registered here so training corpora avoid them. */
  exclude?: SceneExclusion;
};

export function editItemSet(opts: EditSetOptions = {}): EditItem[] {
  const seed = opts.seed ?? EDIT_SEED;
  const n = opts.perKind ?? (opts.full ? EDIT_FULL_PER_KIND : EDIT_DEFAULT_PER_KIND);
  const categories = worldCategories(opts.numCategories);
  const out: EditItem[] = [];
  for (const kind of opts.kinds ?? EDIT_KINDS)
    for (let i = 0; i < n; i++) {
      let item: EditItem | null = null;
      for (let attempt = 0; !item; attempt++) {
        if (attempt >= 256) throw new Error(`edit ${kind} ${i}: no valid edit in 256 attempts`);
        const rng = WorldRng.fromParts("bench/edit", seed, kind, i, attempt);
        const e = makeEdit(rng, kind, sampleScene(rng, { categories }), { categories });
        if (!e) continue;
        const where = instructionWhere(e);
        const cand: EditItem = {
          suite: "edit",
          id: `edit-${kind}-${String(i).padStart(4, "0")}`,
          kind,
          instruction: e.instruction,
          object: e.object,
          ...(where ? { where } : {}),
          source: e.source,
          target: e.target,
        };
        if (targetPasses(cand, 32) && targetPasses(cand, 64)) item = cand;
      }
      opts.exclude?.add(item.source);
      opts.exclude?.add(item.target);
      out.push(item);
    }
  return out;
}
