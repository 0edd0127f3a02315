/**
 * Edit scoring, GEdit's VIEScore shape with the judge's objects as the rater:
 *   SC = min(edit success, no over-editing), PQ = min(naturalness, artifacts)
 *   (quality.ts), O = √(SC·PQ) per image; mean per type; overall = unweighted
 *   mean over the five types (GEdit's aggregation).
 * Objects are the detections with score > 0.3; "near" means box centres within
 * 0.1 × the image side. The edited image is compared with boxes rendered at its
 * own size, which is GEdit's "resize to the source size" without resampling.
 *
 * Edit success (0–10):
 * | kind    | 10                                             | partial                          | 0              |
 * | add     | a new (category, colour), where `where` says   | 5: new but misplaced; 3: category only | nothing new |
 * | remove  | no (category, colour) left near its old place  | —                                | still there    |
 * | replace | new category, same colour, near the old place  | 5: new category, other colour    | otherwise      |
 * | recolor | same category, new colour, near its place      | —                                | otherwise      |
 * | move    | left its place, to `where` (relation to the anchor, or ≥ 0.1 side along the direction) | 5: moved elsewhere | did not move |
 * No over-editing (0–10) = 10 × (unedited objects found with the same category
 * and colour near their place) / (unedited objects + unexplained extra detections).
 *
 * ImgEdit-style 1–5 (documented mapping, integers as a GPT rater replies):
 * compliance = round(1 + 0.4·SC); naturalness = round(1 + 0.4·naturalness);
 * integrity = round(1 + 0.4·artifacts); the last two capped by compliance (the
 * rubric's "second and third score no higher than first"); item = mean of the
 * three rounded to 2 decimals; per type = mean; overall reported both as the
 * unweighted mean over types (headline) and the item-weighted mean (the script).
 */

import type { RgbImage } from "../../world/render.ts";
import { renderScene } from "../../world/render.ts";
import type { Scene } from "../../world/scene.ts";
import { genevalRelations } from "../geneval/score.ts";
import type { BoxXYXY, Detection } from "../judge/types.ts";
import type { EditItem } from "./items.ts";
import { perceptualQuality } from "./quality.ts";

export const EDIT_THRESHOLD = 0.3;
export const NEAR = 0.1;
/** Half of world's MOVE_MIN_SHIFT (0.2): a directed move must go at least this far. */
export const MOVE_ALONG = 0.1;

export type EditResult = {
  success: number;
  preservation: number;
  sc: number;
  naturalness: number;
  artifacts: number;
  pq: number;
  o: number;
  imgedit: number;
};

type Box = BoxXYXY | null;
const centre = (b: BoxXYXY) => [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];

/** Rendered pixel boxes per object, cached per (scene object, size): items are scored many times. */
const boxCache = new WeakMap<Scene, Map<number, Box[]>>();
function boxes(scene: Scene, size: number): Box[] {
  let bySize = boxCache.get(scene);
  if (!bySize) {
    bySize = new Map();
    boxCache.set(scene, bySize);
  }
  let b = bySize.get(size);
  if (!b) {
    b = renderScene(scene, { size }).boxes.map((p) => (p ? [p.x1, p.y1, p.x2, p.y2] : null));
    bySize.set(size, b);
  }
  return b;
}

/** ImgEdit-style 1–5 item score from SC and the PQ components (mapping above). */
export function imgEditScore(sc: number, naturalness: number, artifacts: number): number {
  const dim = (v: number) => Math.round(1 + 0.4 * Math.min(10, Math.max(0, v)));
  const c = dim(sc);
  const mean = (c + Math.min(c, dim(naturalness)) + Math.min(c, dim(artifacts))) / 3;
  return Math.round(mean * 100) / 100;
}

/** Assemble a result from the two SC parts and the PQ parts. */
export function editResult(
  success: number,
  preservation: number,
  naturalness: number,
  artifacts: number,
): EditResult {
  const sc = Math.min(success, preservation);
  const pq = Math.min(naturalness, artifacts);
  const o = Math.sqrt(sc * pq);
  return {
    success,
    preservation,
    sc,
    naturalness,
    artifacts,
    pq,
    o,
    imgedit: imgEditScore(sc, naturalness, artifacts),
  };
}

export const FAILED_EDIT: EditResult = editResult(0, 0, 0, 0);

export function scoreEditImage(
  item: EditItem,
  detections: readonly Detection[],
  image: RgbImage,
): EditResult {
  const W = image.width;
  if (image.height !== W) return FAILED_EDIT;
  const dets = detections.filter((d) => d.score > EDIT_THRESHOLD);
  const src = boxes(item.source, W);
  const tgt = boxes(item.target, W);
  const near = (d: Detection, b: Box) => {
    if (!b) return false;
    const [x, y] = centre(d.box);
    const [u, v] = centre(b);
    return Math.hypot(x - u, y - v) <= NEAR * W;
  };
  const same = (d: Detection, o: { category: string; color: string }) =>
    d.category === o.category && d.color === o.color;

  // Unedited objects: greedy nearest matching to same-category, same-colour detections.
  const unedited = item.source.objects
    .map((_, i) => i)
    .filter((i) => item.kind === "add" || i !== item.object);
  const pairs: [number, number, number][] = [];
  for (const i of unedited)
    dets.forEach((d, k) => {
      if (same(d, item.source.objects[i]) && near(d, src[i])) {
        const [x, y] = centre(d.box);
        const [u, v] = centre(src[i]!);
        pairs.push([Math.hypot(x - u, y - v), i, k]);
      }
    });
  pairs.sort((a, b) => a[0] - b[0]);
  const matchOf = new Map<number, number>();
  const used = new Set<number>();
  for (const [, i, k] of pairs)
    if (!matchOf.has(i) && !used.has(k)) {
      matchOf.set(i, k);
      used.add(k);
    }
  const free = dets.map((_, k) => k).filter((k) => !used.has(k));

  const related = (k: number): boolean => {
    const w = item.where;
    if (!w || !("relation" in w)) return true;
    const a = matchOf.get(w.anchor);
    return a !== undefined && genevalRelations(dets[k].box, dets[a].box).includes(w.relation);
  };
  // The first option that found a detection sets the success score and claims it.
  type Option = [score: number, det: number | undefined];
  const first = (...options: Option[]): Option =>
    options.find(([, k]) => k !== undefined) ?? [0, undefined];
  const o =
    item.kind === "add" ? item.target.objects[item.object] : item.source.objects[item.object];
  let result: Option = [0, undefined];
  switch (item.kind) {
    case "add": {
      const cands = free.filter((k) => same(dets[k], o));
      result = first(
        [10, cands.find(related)],
        [5, cands[0]],
        [3, free.find((k) => dets[k].category === o.category)],
      );
      break;
    }
    case "remove": {
      const left = free.some((k) => same(dets[k], o) && near(dets[k], src[item.object]));
      result = [left ? 0 : 10, undefined];
      break;
    }
    case "replace":
    case "recolor": {
      const t = item.target.objects[item.object];
      const here = free.filter((k) => near(dets[k], tgt[item.object]));
      const sameCategory = here.find((k) => dets[k].category === t.category);
      result = first(
        [10, here.find((k) => same(dets[k], t))],
        [5, item.kind === "replace" ? sameCategory : undefined],
      );
      break;
    }
    case "move": {
      const from = src[item.object];
      const moved = free.filter((k) => same(dets[k], o) && !near(dets[k], from));
      const w = item.where;
      const directed = (k: number) => {
        if (!w || !("direction" in w) || !from) return true;
        const [x, y] = centre(dets[k].box);
        const [u, v] = centre(from);
        const along = { left: u - x, right: x - u, up: v - y, down: y - v }[w.direction];
        return along >= MOVE_ALONG * W;
      };
      result = first([10, moved.find((k) => related(k) && directed(k))], [5, moved[0]]);
      break;
    }
  }
  const [success, claimed] = result;
  const extras = free.filter((k) => k !== claimed).length;
  const denom = unedited.length + extras;
  const preservation = denom ? (10 * matchOf.size) / denom : 10;
  const q = perceptualQuality(image, detections);
  return editResult(success, preservation, q.naturalness, q.artifacts);
}
