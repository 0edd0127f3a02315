/**
 * Controls: inputs that must score low, so a suite's numbers mean something.
 * - noise: every pixel uniform random — no objects, so (nearly) nothing should pass.
 * - shuffled: each item gets the ground-truth images of another item — clean,
 *   well-formed images that answer the wrong prompt.
 */
import { type RgbImage, type Scene, WorldRng } from "../world/index.ts";
import type { BenchSuite, ImageEntry } from "./layout.ts";

export const CONTROLS = ["noise", "shuffled"] as const;
export type ControlKind = (typeof CONTROLS)[number];

/** Seed of the control streams ("bench/control/<kind>", seed, item, sample). */
export const CONTROL_SEED = 7;

/** A square image of uniform random pixels. */
export function noiseImage(rng: WorldRng, size: number): RgbImage {
  const data = new Float32Array(size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.float();
  return { width: size, height: size, data };
}

/** The noise image for (item, sample): a pure function of its indices. */
export function noiseFor(item: number, sample: number, size: number, seed = CONTROL_SEED) {
  return noiseImage(WorldRng.fromParts("bench/control/noise", seed, item, sample), size);
}

/**
 * A derangement of 0..n-1: source[i] is the item whose images item i receives,
 * never i itself (n ≥ 2). Built as one cycle through a seeded permutation.
 */
export function shuffledSources(n: number, seed = CONTROL_SEED): number[] {
  if (n < 2) throw new Error(`the shuffled control needs at least 2 items, got ${n}`);
  const rng = WorldRng.fromParts("bench/control/shuffled", seed, n);
  const perm = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const source = new Array<number>(n);
  for (let k = 0; k < n; k++) source[perm[k]] = perm[(k + 1) % n];
  return source;
}

/**
 * Control images for every (item, sample): noise, or the ground truth of the
 * item `shuffledSources` assigns (rendered by `render`, which may register it
 * with an oracle).
 */
export function controlEntries<M>(
  kind: ControlKind,
  suite: BenchSuite<M>,
  metas: readonly M[],
  perItem: number,
  size: number,
  render: (scene: Scene, size: number) => RgbImage,
  seed = CONTROL_SEED,
): ImageEntry<M>[] {
  const source = kind === "shuffled" ? shuffledSources(metas.length, seed) : [];
  const out: ImageEntry<M>[] = [];
  metas.forEach((meta, item) => {
    for (let sample = 0; sample < perItem; sample++) {
      if (kind === "noise") {
        out.push({ item, meta, sample, image: noiseFor(item, sample, size, seed) });
      } else {
        const scene = suite.groundTruth(metas[source[item]], sample, size);
        out.push({ item, meta, sample, image: render(scene, size), scene });
      }
    }
  });
  return out;
}
