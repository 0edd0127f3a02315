/**
 * PNG in and out (pngjs), and contact sheets: a grid of images for eyeballing
 * samples. Images are float RGB [H, W, 3] in [0,1]; PNGs are 8-bit RGBA.
 */
import { readFileSync } from "node:fs";
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

/**
 * Per output index along one axis: the source indices it covers and their weights (the overlap
 * of [i·s, (i+1)·s) with each source pixel, normalised), s = from / to.
 */
function areaWeights(from: number, to: number): { idx: number[]; w: number[] }[] {
  const s = from / to;
  return Array.from({ length: to }, (_, i) => {
    const lo = i * s;
    const hi = (i + 1) * s;
    const idx: number[] = [];
    const w: number[] = [];
    for (let k = Math.floor(lo); k < Math.min(Math.ceil(hi), from); k++) {
      const overlap = Math.min(hi, k + 1) - Math.max(lo, k);
      if (overlap > 1e-9) {
        idx.push(k);
        w.push(overlap / s);
      }
    }
    return { idx, w };
  });
}

/**
 * Area resampling to width × height: each output pixel is the mean of the source area it
 * covers (exact box averaging for 64→32, pixel replication for 16→32).
 */
export function resizeImage(img: RgbImage, width: number, height: number): RgbImage {
  checkImage(img);
  if (img.width === width && img.height === height) return img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new Error(`bad target size ${width}×${height}`);
  const wx = areaWeights(img.width, width);
  const wy = areaWeights(img.height, height);
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const { idx: ys, w: wys } = wy[y];
      const { idx: xs, w: wxs } = wx[x];
      for (let i = 0; i < ys.length; i++)
        for (let j = 0; j < xs.length; j++) {
          const w = wys[i] * wxs[j];
          const s = 3 * (ys[i] * img.width + xs[j]);
          r += w * img.data[s];
          g += w * img.data[s + 1];
          b += w * img.data[s + 2];
        }
      const d = 3 * (y * width + x);
      data[d] = r;
      data[d + 1] = g;
      data[d + 2] = b;
    }
  return { width, height, data };
}

/**
 * A PNG file as a side × side image: square images of any size are resampled (resizeImage);
 * a missing file, a non-PNG or a non-square image is an Error that says which.
 */
export function readSquarePng(path: string, side: number): RgbImage {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(
      `${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  let img: RgbImage;
  try {
    img = decodePng(bytes);
  } catch (e) {
    throw new Error(`${path}: not a readable PNG (${(e as Error).message})`);
  }
  if (img.width !== img.height)
    throw new Error(`${path}: ${img.width}×${img.height}; expected a square image`);
  return resizeImage(img, side, side);
}
