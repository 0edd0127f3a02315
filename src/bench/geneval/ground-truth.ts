/**
 * Ground truth for a GenEval item: a scene that satisfies the prompt, for
 * `--ground-truth` rendering and the oracle. Built from the include clauses
 * (each clause's objects with its colour; every object of a position clause in
 * its relation to every object of the target group) with world's buildScene,
 * then checked by GenEval's own rules on the rendered pixel boxes — a scene the
 * scorer would reject is redrawn (attempt 1, 2, …), so a correct ground-truth
 * image is correct by the same ruler that judges generated ones.
 */

import { WorldRng } from "../../world/random.ts";
import { buildScene, type ObjectSpec, type RelationSpec, type Scene } from "../../world/scene.ts";
import { type Category, MAX_OBJECTS } from "../../world/vocab.ts";
import { sceneDetections } from "../oracle.ts";
import { scoreGenevalImage } from "./score.ts";
import type { GenevalMetadata } from "./templates.ts";

const ATTEMPTS = 64;

/** The objects and relations the include clauses ask for. */
export function genevalSceneSpec(meta: GenevalMetadata): {
  objects: ObjectSpec[];
  relations: RelationSpec[];
} {
  const objects: ObjectSpec[] = [];
  const groups: number[][] = [];
  for (const c of meta.include) {
    const members: number[] = [];
    for (let k = 0; k < c.count; k++) {
      members.push(objects.length);
      objects.push({ category: c.class as Category, ...(c.color ? { color: c.color } : {}) });
    }
    groups.push(members);
  }
  const relations: RelationSpec[] = [];
  meta.include.forEach((c, i) => {
    if (!c.position) return;
    const [relation, g] = c.position;
    for (const subject of groups[i])
      for (const reference of groups[g]) relations.push({ subject, relation, reference });
  });
  return { objects, relations };
}

/** Ground-truth scene number `sample` for `meta`, verified at `size` pixels. */
export function genevalGroundTruth(meta: GenevalMetadata, sample: number, size: number): Scene {
  const spec = genevalSceneSpec(meta);
  if (spec.objects.length > MAX_OBJECTS)
    throw new Error(
      `"${meta.prompt}": ground truth needs ${spec.objects.length} objects; scenes hold at most ${MAX_OBJECTS}`,
    );
  const key = JSON.stringify([meta.tag, meta.include, meta.exclude ?? []]);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const rng = WorldRng.fromParts("bench/geneval/ground-truth", key, sample, attempt);
    let scene: Scene;
    try {
      scene = buildScene(rng, spec);
    } catch {
      continue;
    }
    if (scoreGenevalImage(meta, sceneDetections(scene, size)).correct) return scene;
  }
  throw new Error(`"${meta.prompt}": no ground-truth scene satisfies it (${ATTEMPTS} attempts)`);
}
