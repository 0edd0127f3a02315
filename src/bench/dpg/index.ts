/** The DPG-mini suite behind one BenchSuite. */
import { WorldRng } from "../../world/random.ts";
import { buildScene, type RelationSpec, type Scene } from "../../world/scene.ts";
import type { BenchSuite } from "../layout.ts";
import { parseDpgMetadata } from "./metadata.ts";
import { allYes, type DpgItem } from "./prompts.ts";
import type { DpgGroupRef } from "./questions.ts";
import { type DpgResult, dpgImageResult, scoreDpgImage, summarizeDpg } from "./score.ts";

export * from "./metadata.ts";
export * from "./prompts.ts";
export * from "./questions.ts";
export * from "./score.ts";

/**
 * Ground truth: sample 0 is the item's own scene; sample k > 0 re-places the same
 * objects (WorldRng("bench/dpg/ground-truth", id, k, attempt)) until every question
 * is answered "yes" again at `size`, falling back to the item's scene.
 */
export function dpgGroundTruth(item: DpgItem, sample: number, size: number): Scene {
  if (sample === 0) return item.scene;
  const objs = item.scene.objects;
  const objects = objs.map((o) => ({ category: o.category, color: o.color, size: o.size }));
  // The stated relations, for every member pair, so placement satisfies them directly.
  const members = (g: DpgGroupRef) =>
    objs.flatMap((o, i) => (o.category === g.category && o.color === g.color ? [i] : []));
  const relations: RelationSpec[] = item.questions.flatMap((q) => {
    const c = q.check;
    if (c.kind !== "relation") return [];
    return members(c.subject).flatMap((subject) =>
      members(c.reference).map((reference) => ({ subject, relation: c.relation, reference })),
    );
  });
  for (let attempt = 0; attempt < 64; attempt++) {
    const rng = WorldRng.fromParts("bench/dpg/ground-truth", item.id, sample, attempt);
    try {
      const scene = buildScene(rng, { objects, relations });
      if (allYes(scene, item.questions, size)) return scene;
    } catch {}
  }
  return item.scene;
}

export function dpgSuite(): BenchSuite<DpgItem, DpgResult> {
  return {
    name: "dpg",
    groupKey: "categories",
    parseMetadata: parseDpgMetadata,
    groundTruth: dpgGroundTruth,
    scoreImage: scoreDpgImage,
    failedResult: (item) =>
      dpgImageResult(
        item.questions,
        item.questions.map(() => 0),
      ),
    summarize: summarizeDpg,
  };
}
