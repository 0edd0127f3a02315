/**
 * Scene → image. Anti-aliased by supersampling (S×S samples on a regular grid in
 * each pixel, 4×4 by default); later objects are drawn over earlier ones. The
 * output is a pure function of (scene, options): no randomness, no platform
 * dependence beyond IEEE arithmetic.
 */
import { objectBox, type Scene } from "./scene.ts";
import { SHAPES } from "./shapes.ts";
import { backgroundRgb, colorRgb } from "./vocab.ts";

/** An RGB image, row-major [H, W, 3], values in [0,1]. */
export type RgbImage = { width: number; height: number; data: Float32Array };

/** Pixel box: columns x1..x2-1 and rows y1..y2-1 (end exclusive). */
export type PixelBox = { x1: number; y1: number; x2: number; y2: number };

export type RenderOptions = {
  /** Square canvas side in pixels (default 32; 64 is the other supported size). */
  size?: number;
  /** Supersampling factor per axis (default 4, i.e. 16 samples per pixel). */
  samples?: number;
};

export type Rendered = {
  image: RgbImage;
  /** Per object, its visible coverage per pixel in [0,1], [H, W] (after occlusion). */
  masks: Float32Array[];
  /** Per object, the box of pixels with any visible coverage; null if fully hidden. */
  boxes: (PixelBox | null)[];
};

export function renderScene(scene: Scene, opts: RenderOptions = {}): Rendered {
  const size = opts.size ?? 32;
  const S = opts.samples ?? 4;
  if (!Number.isInteger(size) || size < 4) throw new Error(`render size must be ≥ 4, got ${size}`);
  if (!Number.isInteger(S) || S < 1) throw new Error(`samples must be ≥ 1, got ${S}`);
  const W = size;
  const H = size;
  const SW = W * S;
  // Owner (object index) of every subsample; -1 is background.
  const owner = new Int8Array(SW * H * S).fill(-1);
  scene.objects.forEach((o, k) => {
    const inside = SHAPES[o.category];
    const b = objectBox(o);
    const r = o.radius * size;
    const cx = o.x * size;
    const cy = o.y * size;
    const px0 = Math.max(0, Math.floor(b.x1 * size));
    const px1 = Math.min(W - 1, Math.floor(b.x2 * size));
    const py0 = Math.max(0, Math.floor(b.y1 * size));
    const py1 = Math.min(H - 1, Math.floor(b.y2 * size));
    for (let sy = py0 * S; sy < (py1 + 1) * S; sy++) {
      const v = ((sy + 0.5) / S - cy) / r;
      for (let sx = px0 * S; sx < (px1 + 1) * S; sx++) {
        const u = ((sx + 0.5) / S - cx) / r;
        if (inside(u, v)) owner[sy * SW + sx] = k;
      }
    }
  });

  const n = scene.objects.length;
  const masks = scene.objects.map(() => new Float32Array(W * H));
  const colors = scene.objects.map((o) => colorRgb(o.color));
  const bg = backgroundRgb();
  const data = new Float32Array(W * H * 3);
  const counts = new Float32Array(n);
  const w = 1 / (S * S);
  for (let py = 0; py < H; py++) {
    for (let px = 0; px < W; px++) {
      counts.fill(0);
      let bgCount = 0;
      for (let sy = py * S; sy < (py + 1) * S; sy++) {
        for (let sx = px * S; sx < (px + 1) * S; sx++) {
          const k = owner[sy * SW + sx];
          if (k < 0) bgCount++;
          else counts[k]++;
        }
      }
      const p = py * W + px;
      let r = bgCount * bg[0];
      let g = bgCount * bg[1];
      let bl = bgCount * bg[2];
      for (let k = 0; k < n; k++) {
        if (counts[k] === 0) continue;
        masks[k][p] = counts[k] * w;
        r += counts[k] * colors[k][0];
        g += counts[k] * colors[k][1];
        bl += counts[k] * colors[k][2];
      }
      data[3 * p] = r * w;
      data[3 * p + 1] = g * w;
      data[3 * p + 2] = bl * w;
    }
  }
  return { image: { width: W, height: H, data }, masks, boxes: masks.map((m) => maskBox(m, W, H)) };
}

/** Just the image. */
export function renderImage(scene: Scene, opts: RenderOptions = {}): RgbImage {
  return renderScene(scene, opts).image;
}

/** The box of pixels with mask value > threshold (end exclusive), or null if none. */
export function maskBox(mask: Float32Array, W: number, H: number, threshold = 0): PixelBox | null {
  let x1 = W;
  let y1 = H;
  let x2 = -1;
  let y2 = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (mask[y * W + x] <= threshold) continue;
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      if (y > y2) y2 = y;
    }
  }
  return x2 < 0 ? null : { x1, y1, x2: x2 + 1, y2: y2 + 1 };
}

/** Float RGB [H,W,3] in [0,1] → Uint8 RGBA [H,W,4] (rounded, clamped, alpha 255). */
export function toRgba8(img: RgbImage): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(n * 4);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) out[4 * p + c] = toByte(img.data[3 * p + c]);
    out[4 * p + 3] = 255;
  }
  return out;
}

export function toByte(v: number): number {
  return Math.round(Math.min(1, Math.max(0, v)) * 255);
}

/** Uint8 RGBA [H,W,4] → float RGB [H,W,3] in [0,1] (alpha dropped). */
export function fromRgba8(rgba: Uint8Array, width: number, height: number): RgbImage {
  const n = width * height;
  if (rgba.length !== n * 4) throw new Error(`expected ${n * 4} RGBA bytes, got ${rgba.length}`);
  const data = new Float32Array(n * 3);
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) data[3 * p + c] = rgba[4 * p + c] / 255;
  return { width, height, data };
}
