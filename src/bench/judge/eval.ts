/**
 * How good is the judge? Scored on held-out renders (stream "judge/heldout",
 * disjoint from training and calibration) whose objects are known:
 *
 * - detection precision / recall / F1 at score > 0.3 (GenEval's cut): a detection
 *   is a true positive when it takes (greedily, by score) an unmatched object of
 *   the same category with box IoU ≥ 0.5;
 * - colour accuracy over the true positives;
 * - exact count: an image counts when, for every category, the number of
 *   detections above the cut equals the number of objects (at 0.3, and at
 *   GenEval's counting cut 0.9);
 * - precision at score > 0.9 and > 0.3 and a calibration table (score bin →
 *   precision), over every returned detection.
 *
 * Clean and degraded images show the same scenes; degraded ones use the default
 * degradation mix (degrade.ts), which every image gets at least one part of.
 */
import { WorldRng } from "../../world/random.ts";
import type { Category } from "../../world/vocab.ts";
import { DEFAULT_STRENGTH, type DegradeStrength } from "../degrade.ts";
import { SEED_LABELS } from "./config.ts";
import { type JudgeSample, renderSample, type TruthObject } from "./data.ts";
import { greedyMatch } from "./match.ts";
import type { Detection, Detector } from "./types.ts";

export const SCORE_CUT = 0.3;
export const COUNT_CUT = 0.9;

export type EvalOptions = {
  n: number;
  size?: number;
  categories: readonly Category[];
  seed?: number;
  /** null: clean images. */
  strength: DegradeStrength | null;
  /** Scenes' minSeparation (1: never touching, as in every benchmark suite by default). */
  minSeparation?: number;
  /** Images per detector call. */
  batch?: number;
};

export type CalibrationBin = {
  lo: number;
  hi: number;
  n: number;
  precision: number | null;
  meanScore: number | null;
};

export type JudgeMetrics = {
  images: number;
  objects: number;
  precision: number;
  recall: number;
  f1: number;
  colorAccuracy: number;
  countAccuracy: number;
  countAccuracyAt09: number;
  precisionAt09: number;
  recallAt09: number;
  precisionAt03: number;
  detectionsAt09: number;
  calibration: CalibrationBin[];
};

/** The held-out samples (same scenes clean or degraded for a given seed). */
export function heldoutSamples(o: EvalOptions): JudgeSample[] {
  return Array.from({ length: o.n }, (_, i) =>
    renderSample(WorldRng.fromParts(SEED_LABELS.heldout, o.seed ?? 0, i), {
      size: o.size ?? 32,
      categories: o.categories,
      strength: o.strength,
      minSeparation: o.minSeparation,
    }),
  );
}

/** Per detection (score order): whether it is a true positive, and the object it matched. */
function matchImage(dets: Detection[], truth: readonly TruthObject[]) {
  const order = dets.map((_, i) => i).sort((a, b) => dets[b].score - dets[a].score);
  const sorted = order.map((i) => dets[i]);
  const m = greedyMatch(
    sorted.map((d) => d.box),
    truth.map((t) => t.box),
    (p, t) => sorted[p].category === truth[t].category,
  );
  return sorted.map((d, i) => ({ det: d, truth: m[i] >= 0 ? truth[m[i]] : null }));
}

function countsMatch(dets: Detection[], truth: readonly TruthObject[], cut: number): boolean {
  const want = new Map<string, number>();
  for (const t of truth) want.set(t.category, (want.get(t.category) ?? 0) + 1);
  const got = new Map<string, number>();
  for (const d of dets) if (d.score > cut) got.set(d.category, (got.get(d.category) ?? 0) + 1);
  const keys = new Set([...want.keys(), ...got.keys()]);
  for (const k of keys) if ((want.get(k) ?? 0) !== (got.get(k) ?? 0)) return false;
  return true;
}

export async function evaluateDetector(detector: Detector, o: EvalOptions): Promise<JudgeMetrics> {
  const samples = heldoutSamples(o);
  const batch = o.batch ?? 256;
  const all: Detection[][] = [];
  for (let i = 0; i < samples.length; i += batch)
    all.push(...(await detector(samples.slice(i, i + batch).map((s) => s.image))));
  return scoreDetections(samples, all);
}

/** The metrics for given detections on given samples (pure; also used by tests). */
export function scoreDetections(
  samples: readonly JudgeSample[],
  dets: Detection[][],
): JudgeMetrics {
  let objects = 0;
  let tp = 0;
  let fp = 0;
  let colorOk = 0;
  let count03 = 0;
  let count09 = 0;
  let tp09 = 0;
  let n09 = 0;
  const bins = Array.from({ length: 10 }, () => ({ n: 0, ok: 0, sum: 0 }));
  samples.forEach((s, i) => {
    objects += s.truth.length;
    const matched = matchImage(dets[i], s.truth);
    // Detection metrics at the 0.3 cut: a fresh match over the kept detections only.
    const kept = matchImage(
      dets[i].filter((d) => d.score > SCORE_CUT),
      s.truth,
    );
    for (const m of kept) {
      if (m.truth) {
        tp++;
        if (m.truth.color === m.det.color) colorOk++;
      } else fp++;
    }
    for (const m of matched) {
      const b = bins[Math.min(9, Math.floor(m.det.score * 10))];
      b.n++;
      b.sum += m.det.score;
      if (m.truth) b.ok++;
      if (m.det.score > COUNT_CUT) {
        n09++;
        if (m.truth) tp09++;
      }
    }
    if (countsMatch(dets[i], s.truth, SCORE_CUT)) count03++;
    if (countsMatch(dets[i], s.truth, COUNT_CUT)) count09++;
  });
  const precision = tp + fp ? tp / (tp + fp) : 1;
  const recall = objects ? tp / objects : 1;
  return {
    images: samples.length,
    objects,
    precision,
    recall,
    f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
    colorAccuracy: tp ? colorOk / tp : 1,
    countAccuracy: count03 / samples.length,
    countAccuracyAt09: count09 / samples.length,
    precisionAt09: n09 ? tp09 / n09 : 1,
    recallAt09: objects ? tp09 / objects : 1,
    precisionAt03: precision,
    detectionsAt09: n09,
    calibration: bins.map((b, k) => ({
      lo: k / 10,
      hi: (k + 1) / 10,
      n: b.n,
      precision: b.n ? b.ok / b.n : null,
      meanScore: b.n ? b.sum / b.n : null,
    })),
  };
}

export type JudgeReport = {
  size: number;
  seed: number;
  categories: readonly Category[];
  clean: JudgeMetrics;
  degraded: JudgeMetrics;
  wallSeconds: number;
};

/** Clean and degraded metrics on `n` held-out scenes. */
export async function evaluateJudge(
  detector: Detector,
  o: Omit<EvalOptions, "strength"> & { strength?: DegradeStrength },
): Promise<JudgeReport> {
  const t0 = performance.now();
  const clean = await evaluateDetector(detector, { ...o, strength: null });
  const degraded = await evaluateDetector(detector, {
    ...o,
    strength: o.strength ?? DEFAULT_STRENGTH,
  });
  return {
    size: o.size ?? 32,
    seed: o.seed ?? 0,
    categories: o.categories,
    clean,
    degraded,
    wallSeconds: (performance.now() - t0) / 1000,
  };
}
