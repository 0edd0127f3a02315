/**
 * Perceptual quality (GEdit's PQ = min(naturalness, artifacts), 0–10) read
 * from the judge instead of a GPT rater:
 * - naturalness = 10 × mean confidence of the detections kept (score > 0.3);
 *   0 when nothing is detected (every edit target holds at least one object);
 * - artifacts = 10 × fraction of pixels explained: a pixel is explained if it
 *   is within 0.15 (RGB distance, [0,1]) of the background gray, or lies in a
 *   detected box and within 0.15 of the segment between the gray and that
 *   detection's colour (anti-aliased edges are such mixtures).
 */
import type { RgbImage } from "../../world/render.ts";
import { backgroundRgb, colorRgb } from "../../world/vocab.ts";
import type { Detection } from "../judge/types.ts";

export const PQ_THRESHOLD = 0.3;
export const PIXEL_TOLERANCE = 0.15;

/** Distance from p to the segment a–b in RGB. */
function segmentDistance(p: number[], a: readonly number[], b: readonly number[]): number {
  const d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
  const len2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
  let t =
    len2 > 0 ? ((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1] + (p[2] - a[2]) * d[2]) / len2 : 0;
  t = Math.min(1, Math.max(0, t));
  return Math.hypot(p[0] - a[0] - t * d[0], p[1] - a[1] - t * d[1], p[2] - a[2] - t * d[2]);
}

/** Fraction of pixels explained by the background or by a detected object. */
export function explainedFraction(image: RgbImage, detections: readonly Detection[]): number {
  const bg = backgroundRgb();
  const cols = detections.map((d) => colorRgb(d.color));
  const W = image.width;
  const n = image.width * image.height;
  let ok = 0;
  const p = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    p[0] = image.data[3 * i];
    p[1] = image.data[3 * i + 1];
    p[2] = image.data[3 * i + 2];
    if (Math.hypot(p[0] - bg[0], p[1] - bg[1], p[2] - bg[2]) <= PIXEL_TOLERANCE) {
      ok++;
      continue;
    }
    const x = i % W;
    const y = Math.floor(i / W);
    const hit = detections.some(
      (d, k) =>
        x >= d.box[0] &&
        x < d.box[2] &&
        y >= d.box[1] &&
        y < d.box[3] &&
        segmentDistance(p, bg, cols[k]) <= PIXEL_TOLERANCE,
    );
    if (hit) ok++;
  }
  return n ? ok / n : 0;
}

export type Quality = { naturalness: number; artifacts: number; pq: number };

export function perceptualQuality(image: RgbImage, detections: readonly Detection[]): Quality {
  const kept = detections.filter((d) => d.score > PQ_THRESHOLD);
  const naturalness = kept.length ? (10 * kept.reduce((a, d) => a + d.score, 0)) / kept.length : 0;
  const artifacts = 10 * explainedFraction(image, kept);
  return { naturalness, artifacts, pq: Math.min(naturalness, artifacts) };
}
