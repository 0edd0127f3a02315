/**
 * Images between the world's form (RgbImage, [0, 1], HWC) and the models' (NHWC float32 in
 * [-1, 1]), on the host.
 */
import type { HostArray } from "../engine/train-step.ts";
import type { RgbImage } from "../world/render.ts";

/** Images in [0, 1] → one [n, side, side, 3] array in [-1, 1] (missing images are zeros). */
export function signedImages(images: readonly (RgbImage | undefined)[], side: number): HostArray {
  const n = side * side * 3;
  const out = new Float32Array(images.length * n);
  images.forEach((img, i) => {
    if (!img) return;
    if (img.width !== side || img.height !== side)
      throw new Error(`image is ${img.width}×${img.height}, the model works at ${side}×${side}`);
    for (let j = 0; j < n; j++) out[i * n + j] = img.data[j] * 2 - 1;
  });
  return { dtype: "float32", shape: [images.length, side, side, 3], data: out };
}

/** n images [n, side, side, 3] in [-1, 1] (host data) → RgbImages in [0, 1] (clamped). */
export function hostImages(x: Float32Array, n: number, side: number): RgbImage[] {
  const per = side * side * 3;
  return Array.from({ length: n }, (_, i) => {
    const data = new Float32Array(per);
    for (let j = 0; j < per; j++) {
      const v = (x[i * per + j] + 1) / 2;
      data[j] = Math.min(Math.max(v, 0), 1);
    }
    return { width: side, height: side, data };
  });
}
