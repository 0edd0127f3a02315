/**
 * Folders of real images → float RGB squares, for `reca align --images DIR`.
 *
 * Every (non-hidden) file is sniffed and decoded with sharp (libvips), whatever its
 * extension. PNG, JPEG, WebP and GIF are accepted; anything unreadable or odd —
 * not an image, another format, corrupt, truncated, CMYK, too small, too large —
 * is skipped and listed with a human reason, never thrown. Only a folder that is
 * missing or yields no usable image at all is an error.
 *
 * Each image is auto-oriented (EXIF), flattened onto the world's background grey
 * (alpha), converted to sRGB (greyscale, 16-bit), centre-cropped to a square and
 * resized with lanczos3, then returned as 8-bit-quantised floats in [0,1].
 */
import { open, readdir, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import sharp, { type Metadata } from "sharp";
import type { RgbImage } from "../world/render.ts";
import { BACKGROUND } from "../world/vocab.ts";

export type { RgbImage } from "../world/render.ts";

export type LoadImageOptions = {
  /** Output side in pixels (default 32). */
  size?: number;
  /** Descend into sub-folders (default false). Hidden folders are never entered. */
  recursive?: boolean;
  /** Largest accepted width×height, checked from the header before decoding (default 40e6). */
  maxPixels?: number;
  /** Smallest accepted width or height in pixels (default 8). */
  minSide?: number;
  /** Called after every file, usable or skipped. */
  onProgress?: (done: number, total: number) => void;
};

export type LoadedImage = { path: string; image: RgbImage };
export type SkippedFile = { path: string; reason: string };
export type ImageFolder = { images: LoadedImage[]; skipped: SkippedFile[] };

/** sharp `metadata().format` values we accept. */
const ACCEPTED_FORMATS = new Set(["png", "jpeg", "webp", "gif"]);
const ACCEPTED_LIST = "PNG, JPEG, WebP or GIF";

/**
 * Loads every usable image in `dir` (sorted by path, so the order is deterministic).
 * Throws only when `dir` is not a readable folder or contains no usable image.
 */
export async function loadImageFolder(
  dir: string,
  opts: LoadImageOptions = {},
): Promise<ImageFolder> {
  const size = opts.size ?? 32;
  const maxPixels = opts.maxPixels ?? 40e6;
  const minSide = opts.minSide ?? 8;
  if (!Number.isInteger(size) || size < 1) throw new Error(`image size must be ≥ 1, got ${size}`);
  if (!(maxPixels >= 1)) throw new Error(`maxPixels must be ≥ 1, got ${maxPixels}`);
  if (!(minSide >= 1)) throw new Error(`minSide must be ≥ 1, got ${minSide}`);

  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(dir);
  } catch (e) {
    throw new Error(`image folder ${dir} cannot be read: ${errorText(e)}`);
  }
  if (!info.isDirectory()) throw new Error(`image folder ${dir} is not a folder`);

  const files = await listFiles(dir, opts.recursive ?? false);
  const images: LoadedImage[] = [];
  const skipped: SkippedFile[] = [];
  for (let i = 0; i < files.length; i++) {
    const path = join(dir, files[i]);
    const res = await loadOne(path, size, maxPixels, minSide);
    if ("reason" in res) skipped.push({ path, reason: res.reason });
    else images.push({ path, image: res.image });
    opts.onProgress?.(i + 1, files.length);
  }
  if (images.length === 0) {
    const what =
      files.length === 0
        ? "has no files"
        : `has no usable images (${ACCEPTED_LIST}); all ${files.length} file(s) were skipped`;
    const detail = skipped.length > 0 ? `\n${formatSkipReport(skipped)}` : "";
    throw new Error(`image folder ${dir} ${what}${detail}`);
  }
  return { images, skipped };
}

/** "Skipped N file(s):" and one indented `path: reason` line per file; "" when none. */
export function formatSkipReport(skipped: SkippedFile[]): string {
  if (skipped.length === 0) return "";
  const lines = skipped.map((s) => `  ${s.path}: ${s.reason}`);
  return [`Skipped ${skipped.length} file${skipped.length === 1 ? "" : "s"}:`, ...lines].join("\n");
}

/**
 * Non-hidden entries under `dir` (relative paths, sorted by code unit, so not
 * locale-dependent). Symlinks are followed; in recursive mode each real folder is
 * entered once, so link cycles end.
 */
async function listFiles(dir: string, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    const abs = rel === "" ? dir : join(dir, rel);
    const real = await realpath(abs);
    if (seen.has(real)) return;
    seen.add(real);
    const entries = await readdir(abs, { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const child = rel === "" ? e.name : join(rel, e.name);
      let isDir = e.isDirectory();
      if (e.isSymbolicLink()) {
        try {
          isDir = (await stat(join(dir, child))).isDirectory();
        } catch {
          isDir = false; // dangling link: listed, then skipped as unreadable
        }
      }
      if (isDir) {
        if (recursive) await walk(child);
      } else out.push(child);
    }
  };
  await walk("");
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

type Outcome = { image: RgbImage } | { reason: string };

async function loadOne(
  path: string,
  size: number,
  maxPixels: number,
  minSide: number,
): Promise<Outcome> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return { reason: "not a regular file" };
    if (st.size === 0) return { reason: "empty file" };
  } catch (e) {
    return { reason: `cannot read file (${errorText(e)})` };
  }

  // Header only: no pixels are decoded, so no pixel limit is needed here; ours follows.
  let meta: Metadata;
  try {
    meta = await sharp(path, { limitInputPixels: false }).metadata();
  } catch (e) {
    const msg = errorText(e);
    if (/unsupported image format/i.test(msg))
      return { reason: `not an image or unsupported format (use ${ACCEPTED_LIST})` };
    return { reason: `corrupt or unreadable image header (${msg})` };
  }
  const format = meta.format ?? "unknown";
  if (!ACCEPTED_FORMATS.has(format))
    return { reason: `unsupported format ${format.toUpperCase()} (use ${ACCEPTED_LIST})` };
  if (meta.space === "cmyk") return { reason: "CMYK colour space; convert to RGB first" };
  const w = meta.width ?? 0;
  const h = meta.height ?? 0; // for animations: one frame's height
  if (Math.min(w, h) < minSide)
    return { reason: `too small: ${w}×${h} px (need at least ${minSide} px on each side)` };
  if (w * h > maxPixels)
    return {
      reason: `too large: ${w}×${h} px (${megapixels(w * h)}; limit ${megapixels(maxPixels)})`,
    };

  const [r, g, b] = BACKGROUND;
  try {
    const { data, info } = await sharp(path, {
      // Fail on decoder errors (incl. truncation); recoverable libjpeg warnings pass.
      failOn: "error",
      limitInputPixels: Math.max(1, Math.floor(maxPixels)),
      pages: 1, // first frame of an animation / first page
    })
      .autoOrient()
      .flatten({ background: { r, g, b } })
      .toColourspace("srgb")
      .resize(size, size, { fit: "cover", position: "centre", kernel: "lanczos3" })
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.width !== size || info.height !== size || info.channels !== 3)
      return {
        reason: `decoded to an unexpected ${info.width}×${info.height}×${info.channels} shape`,
      };
    const out = new Float32Array(size * size * 3);
    for (let i = 0; i < out.length; i++) out[i] = data[i] / 255;
    return { image: { width: size, height: size, data: out } };
  } catch (e) {
    const msg = errorText(e);
    if (/pixel limit/i.test(msg))
      return { reason: `too large (${msg}; limit ${megapixels(maxPixels)})` };
    if (
      /premature end|truncat|unexpected end|end of file/i.test(msg) ||
      (await endsEarly(path, format))
    )
      return { reason: `truncated: file ends before the image data does (${msg})` };
    return { reason: `corrupt image data (${msg})` };
  }
}

/** Whether the file lacks its format's end marker (a cheap tail check, after a failed decode). */
async function endsEarly(path: string, format: string): Promise<boolean> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, "r");
    const { size } = await fh.stat();
    const n = Math.min(size, 12);
    const tail = Buffer.alloc(n);
    await fh.read(tail, 0, n, size - n);
    if (format === "png") return !tail.subarray(n - 8).equals(PNG_IEND_TAIL);
    if (format === "jpeg") return !(tail[n - 2] === 0xff && tail[n - 1] === 0xd9);
    if (format === "gif") return tail[n - 1] !== 0x3b;
    return false;
  } catch {
    return false;
  } finally {
    await fh?.close();
  }
}

/** "IEND" and its CRC: the last 8 bytes of every complete PNG. */
const PNG_IEND_TAIL = Buffer.from([0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

function megapixels(n: number): string {
  return `${+(n / 1e6).toPrecision(3)} Mpx`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
