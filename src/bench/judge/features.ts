/**
 * Stage 2 input: what the learned classifier sees of one candidate component.
 *
 * - A crop, `CROP×CROP×3`, centred on the component's box and scaled so the box
 *   fills ~85% of it (so 32×32 and 64×64 renders look alike). Channels:
 *   0. coverage from the raw image: (I − bg)·(c − bg) / |c − bg|², where c is the
 *      component's colour. This is 1 inside the object and 0 on the background
 *      whatever the colour, so the shape channels are colour-normalised;
 *   1. the same from the smoothed image (less noise, softer edges);
 *   2. membership: 1 on the component's pixels.
 *   Pixels of other components are zeroed in channels 0–1, so a neighbour does
 *   not leak into the shape.
 * - A feature vector: colour, background, their difference, and the distance of
 *   that difference to each palette colour's offset from the world's gray (a
 *   nearest-palette classifier the network can re-weight: jitter moves colour and
 *   background together, so offsets are steadier than raw colours), and
 *   segmentation-quality cues (size, fill, contrast, seed fraction, colour spread,
 *   contact with other components, the image's noise level) for the score.
 */
import type { RgbImage } from "../../world/render.ts";
import { backgroundRgb, COLORS, colorRgb } from "../../world/vocab.ts";
import type { Component, Segmentation } from "./segment.ts";

export const CROP = 16;
export const CROP_CHANNELS = 3;
export const NUM_FEATURES = 32;

/** A component's crop [CROP, CROP, 3] and features [NUM_FEATURES], appended at `at`. */
export function componentInput(
  img: RgbImage,
  seg: Segmentation,
  k: number,
  crops: Float32Array,
  feats: Float32Array,
  at: number,
): void {
  const c = seg.components[k];
  writeCrop(img, seg, k, crops, at * CROP * CROP * CROP_CHANNELS);
  writeFeatures(seg, c, feats, at * NUM_FEATURES);
}

function writeCrop(img: RgbImage, seg: Segmentation, k: number, out: Float32Array, off: number) {
  const { width: W, height: H, data } = img;
  const c = seg.components[k];
  const bg = seg.bg;
  const d = [c.color[0] - bg[0], c.color[1] - bg[1], c.color[2] - bg[2]];
  const d2 = Math.max(1e-4, d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
  const [x1, y1, x2, y2] = c.box;
  const cx = (x1 + x2) / 2;
  const cy = (y1 + y2) / 2;
  const side = Math.max(x2 - x1, y2 - y1) / 0.85;
  const step = side / CROP;
  // The three channel maps over the pixels the crop can touch, computed once.
  const wx0 = Math.max(0, Math.floor(cx - side / 2) - 1);
  const wy0 = Math.max(0, Math.floor(cy - side / 2) - 1);
  const wx1 = Math.min(W, Math.ceil(cx + side / 2) + 1);
  const wy1 = Math.min(H, Math.ceil(cy + side / 2) + 1);
  const ww = wx1 - wx0;
  const map = new Float32Array(ww * (wy1 - wy0) * 3);
  for (let y = wy0; y < wy1; y++)
    for (let x = wx0; x < wx1; x++) {
      const p = y * W + x;
      const l = seg.labels[p];
      const m = 3 * ((y - wy0) * ww + (x - wx0));
      map[m + 2] = l === k ? 1 : 0;
      if (l >= 0 && l !== k) continue;
      const s = seg.smooth;
      map[m] =
        ((data[3 * p] - bg[0]) * d[0] +
          (data[3 * p + 1] - bg[1]) * d[1] +
          (data[3 * p + 2] - bg[2]) * d[2]) /
        d2;
      map[m + 1] =
        ((s[3 * p] - bg[0]) * d[0] +
          (s[3 * p + 1] - bg[1]) * d[1] +
          (s[3 * p + 2] - bg[2]) * d[2]) /
        d2;
    }
  // Bilinear sample at continuous pixel coordinates (pixel centres at +0.5), 0 outside.
  const sample = (x: number, y: number, ch: number): number => {
    const fx = x - 0.5;
    const fy = y - 0.5;
    const x0 = Math.floor(fx);
    const y0 = Math.floor(fy);
    const ax = fx - x0;
    const ay = fy - y0;
    let v = 0;
    for (let j = 0; j < 2; j++)
      for (let i = 0; i < 2; i++) {
        const xx = x0 + i;
        const yy = y0 + j;
        if (xx < wx0 || yy < wy0 || xx >= wx1 || yy >= wy1) continue;
        v += (i ? ax : 1 - ax) * (j ? ay : 1 - ay) * map[3 * ((yy - wy0) * ww + (xx - wx0)) + ch];
      }
    return v;
  };
  for (let oy = 0; oy < CROP; oy++)
    for (let ox = 0; ox < CROP; ox++)
      for (let ch = 0; ch < CROP_CHANNELS; ch++) {
        // 2×2 samples per output pixel: an area average when the crop shrinks (64×64).
        let v = 0;
        for (const sy of [0.25, 0.75])
          for (const sx of [0.25, 0.75])
            v += sample(cx + (ox + sx - CROP / 2) * step, cy + (oy + sy - CROP / 2) * step, ch);
        out[off + (oy * CROP + ox) * CROP_CHANNELS + ch] = Math.max(-1, Math.min(2, v / 4));
      }
}

/** Each palette colour minus the world's background, GenEval's colour order. */
const PALETTE_OFFSETS = COLORS.map((c) => {
  const rgb = colorRgb(c);
  const bg = backgroundRgb();
  return [rgb[0] - bg[0], rgb[1] - bg[1], rgb[2] - bg[2]];
});

function writeFeatures(seg: Segmentation, c: Component, out: Float32Array, off: number) {
  const W = seg.width;
  const [x1, y1, x2, y2] = c.box;
  const bw = Math.max(1, x2 - x1);
  const bh = Math.max(1, y2 - y1);
  const bg = seg.bg;
  const diff = [c.color[0] - bg[0], c.color[1] - bg[1], c.color[2] - bg[2]];
  const f = [
    ...c.color,
    ...bg,
    ...diff,
    Math.sqrt(diff[0] ** 2 + diff[1] ** 2 + diff[2] ** 2),
    (4 * Math.sqrt(c.area)) / W,
    Math.log(bw / bh),
    c.area / (bw * bh),
    c.meanRatio,
    c.seedFrac,
    10 * c.colorSpread,
    c.touching,
    4 * seg.threshold,
    // Uncapped noise levels: a random-noise image is far noisier than any degraded render.
    4 * seg.noise,
    4 * seg.bgNoise,
    c.peak,
    (2 * Math.max(bw, bh)) / W,
    ...PALETTE_OFFSETS.map(
      (o) => 2 * Math.sqrt((diff[0] - o[0]) ** 2 + (diff[1] - o[1]) ** 2 + (diff[2] - o[2]) ** 2),
    ),
  ];
  if (f.length !== NUM_FEATURES) throw new Error(`features: ${f.length} ≠ ${NUM_FEATURES}`);
  out.set(f, off);
}
