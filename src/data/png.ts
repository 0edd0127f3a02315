/**
 * PNG in and out (pngjs), and contact sheets: a grid of images for eyeballing
 * samples. Images are float RGB [H, W, 3] in [0,1]; PNGs are 8-bit RGBA.
 */
import { PNG } from "pngjs";
import { fromRgba8, type RgbImage, toRgba8 } from "../world/render.ts";

export type { RgbImage } from "../world/render.ts";

/** Float RGB → PNG bytes (values rounded to 8 bits). */
export function encodePng(img: RgbImage): Uint8Array {
  checkImage(img);
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(toRgba8(img));
  return new Uint8Array(PNG.sync.write(png));
}

/** PNG bytes (any colour type pngjs reads) → float RGB in [0,1]. Alpha is dropped. */
export function decodePng(bytes: Uint8Array): RgbImage {
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return fromRgba8(new Uint8Array(png.data), png.width, png.height);
}

export function checkImage(img: RgbImage): void {
  if (img.data.length !== img.width * img.height * 3)
    throw new Error(
      `image data has ${img.data.length} values, expected ${img.width}×${img.height}×3`,
    );
}

/** Nearest-neighbour upscale by an integer factor. */
export function upscaleNearest(img: RgbImage, factor: number): RgbImage {
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`bad upscale factor ${factor}`);
  if (factor === 1) return img;
  const W = img.width * factor;
  const H = img.height * factor;
  const data = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < W; x++) {
      const s = 3 * (sy * img.width + Math.floor(x / factor));
      const d = 3 * (y * W + x);
      data[d] = img.data[s];
      data[d + 1] = img.data[s + 1];
      data[d + 2] = img.data[s + 2];
    }
  }
  return { width: W, height: H, data };
}

export type ContactSheetOptions = {
  /** Columns (default ceil(sqrt(n))). */
  cols?: number;
  /** Padding between and around cells, in output pixels (default 2). */
  pad?: number;
  /** Nearest-neighbour upscale applied to every image first (default 1). */
  scale?: number;
  /** Padding colour (default dark slate, distinct from the world's gray background). */
  background?: readonly [number, number, number];
};

/** A grid of images (row-major), each cell as large as the largest image. */
export function contactSheet(
  images: readonly RgbImage[],
  opts: ContactSheetOptions = {},
): RgbImage {
  if (images.length === 0) throw new Error("contactSheet: no images");
  const scale = opts.scale ?? 1;
  const pad = opts.pad ?? 2;
  const cols = Math.max(1, opts.cols ?? Math.ceil(Math.sqrt(images.length)));
  const rows = Math.ceil(images.length / cols);
  const bg = opts.background ?? [0.15, 0.17, 0.2];
  const cellW = Math.max(...images.map((i) => i.width)) * scale;
  const cellH = Math.max(...images.map((i) => i.height)) * scale;
  const W = cols * cellW + (cols + 1) * pad;
  const H = rows * cellH + (rows + 1) * pad;
  const data = new Float32Array(W * H * 3);
  for (let p = 0; p < W * H; p++) data.set(bg, 3 * p);
  images.forEach((img0, k) => {
    checkImage(img0);
    const img = upscaleNearest(img0, scale);
    const ox = pad + (k % cols) * (cellW + pad);
    const oy = pad + Math.floor(k / cols) * (cellH + pad);
    for (let y = 0; y < img.height; y++) {
      const row = img.data.subarray(3 * y * img.width, 3 * (y + 1) * img.width);
      data.set(row, 3 * ((oy + y) * W + ox));
    }
  });
  return { width: W, height: H, data };
}
