import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { deflateSync } from "node:zlib";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatSkipReport, loadImageFolder, type RgbImage } from "../../src/data/images.ts";
import { backgroundRgb } from "../../src/world/vocab.ts";

type Rgb = { r: number; g: number; b: number };
const RED = { r: 255, g: 0, b: 0 };
const BLUE = { r: 0, g: 0, b: 255 };

const solid = (width: number, height: number, background: Rgb) =>
  sharp({ create: { width, height, channels: 3, background } });

/** Raw 3-channel bytes from a per-pixel colour function. */
function rawRgb(width: number, height: number, f: (x: number, y: number) => number[]) {
  const buf = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) buf.set(f(x, y), 3 * (y * width + x));
  return buf;
}

/** Deterministic noise (compresses badly, so half a file is really half the data). */
function noise(n: number, seed = 1): Buffer {
  const buf = Buffer.alloc(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    buf[i] = s >>> 24;
  }
  return buf;
}

/** A minimal, well-formed PNG whose header claims width×height RGB pixels. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (b: Buffer) => {
    let c = 0xffffffff;
    for (const v of b) c = crcTable[(c ^ v) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.alloc(64))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const i = 3 * (y * img.width + x);
  return Array.from(img.data.subarray(i, i + 3));
}

function expectColor(actual: number[], expected: number[], tol: number) {
  for (let c = 0; c < 3; c++) expect(Math.abs(actual[c] - expected[c])).toBeLessThanOrEqual(tol);
}

const USABLE = [
  "a-red.png",
  "b-blue.jpg",
  "c-gray.png",
  "d-alpha.png",
  "e-deep.png",
  "f-anim.gif",
  "g-green.webp",
  "h-rotated.jpg",
];
const BAD: Record<string, RegExp> = {
  "i-cmyk.jpg": /^CMYK colour space; convert to RGB first$/,
  "j-tiny.png": /^too small: 1×1 px/,
  "k-truncated.png": /^truncated/,
  "l-truncated.jpg": /^truncated/,
  "m-corrupt.png": /^not an image or unsupported format/,
  "m2-damaged.png": /^corrupt image data/,
  "n-huge.png": /^too large: 100000×100000 px/,
  "notes.txt": /^not an image or unsupported format/,
  "o-empty.png": /^empty file$/,
  "p-drawing.svg": /^unsupported format SVG/,
};

let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "reca-images-"));
  const put = async (name: string, data: Buffer | Promise<Buffer>) =>
    writeFileSync(join(dir, name), await data);

  await put("a-red.png", solid(40, 30, RED).png().toBuffer());
  await put("b-blue.jpg", solid(40, 30, BLUE).jpeg({ quality: 95 }).toBuffer());
  // One-channel 8-bit greyscale.
  await put(
    "c-gray.png",
    solid(24, 24, { r: 100, g: 100, b: 100 }).toColourspace("b-w").png().toBuffer(),
  );
  // Left half opaque red, right half fully transparent blue: the blue must not show.
  const rgba = Buffer.alloc(40 * 40 * 4);
  for (let p = 0; p < 40 * 40; p++)
    rgba.set(p % 40 < 20 ? [255, 0, 0, 255] : [0, 0, 255, 0], 4 * p);
  await put(
    "d-alpha.png",
    sharp(rgba, { raw: { width: 40, height: 40, channels: 4 } })
      .png()
      .toBuffer(),
  );
  await put("e-deep.png", solid(20, 20, RED).toColourspace("rgb16").png().toBuffer());
  // Two frames: light grey then near-black; the first one is used.
  const frames = Buffer.concat([Buffer.alloc(16 * 16 * 3, 200), Buffer.alloc(16 * 16 * 3, 10)]);
  await put(
    "f-anim.gif",
    sharp(frames, { raw: { width: 16, height: 32, channels: 3, pageHeight: 16 } })
      .gif({ loop: 0 })
      .toBuffer(),
  );
  await put(
    "g-green.webp",
    solid(20, 20, { r: 0, g: 255, b: 0 }).webp({ lossless: true }).toBuffer(),
  );
  // Stored 40×20 with red left / blue right; EXIF orientation 6 (90° clockwise)
  // makes it 20×40 with red on top and blue below.
  const sideBySide = rawRgb(40, 20, (x) => (x < 20 ? [255, 0, 0] : [0, 0, 255]));
  await put(
    "h-rotated.jpg",
    sharp(sideBySide, { raw: { width: 40, height: 20, channels: 3 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer(),
  );

  await put(
    "i-cmyk.jpg",
    solid(40, 30, { r: 0, g: 128, b: 255 }).toColourspace("cmyk").jpeg().toBuffer(),
  );
  await put("j-tiny.png", solid(1, 1, RED).png().toBuffer());
  const noisy = sharp(noise(64 * 64 * 3), { raw: { width: 64, height: 64, channels: 3 } });
  const fullPng = await noisy.clone().png({ compressionLevel: 0 }).toBuffer();
  const fullJpg = await noisy.clone().jpeg().toBuffer();
  await put("k-truncated.png", fullPng.subarray(0, fullPng.length >> 1));
  await put("l-truncated.jpg", fullJpg.subarray(0, fullJpg.length >> 1));
  await put("m-corrupt.png", noise(2000, 7));
  // Complete file (intact header and IEND) with garbage in the middle of its pixel data.
  const damaged = Buffer.from(fullPng);
  for (let i = damaged.length >> 1; i < (damaged.length >> 1) + 32; i++) damaged[i] ^= 0x5a;
  await put("m2-damaged.png", damaged);
  await put("n-huge.png", pngHeaderOnly(100_000, 100_000));
  await put("notes.txt", Buffer.from("these are not pixels\n"));
  await put("o-empty.png", Buffer.alloc(0));
  await put(
    "p-drawing.svg",
    Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"/>'),
  );

  await put(".hidden.png", solid(20, 20, RED).png().toBuffer());
  mkdirSync(join(dir, "sub"));
  await put(join("sub", "q-nested.png"), solid(20, 20, BLUE).png().toBuffer());
  mkdirSync(join(dir, ".git"));
  await put(join(".git", "r-ignored.png"), solid(20, 20, BLUE).png().toBuffer());
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadImageFolder", () => {
  it("loads every usable image as size×size RGB in [0,1], and skips the rest with reasons", async () => {
    const progress: [number, number][] = [];
    const { images, skipped } = await loadImageFolder(dir, {
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(images.map((i) => basename(i.path))).toEqual(USABLE);
    for (const { path, image } of images) {
      expect(path.startsWith(dir)).toBe(true);
      expect([image.width, image.height, image.data.length]).toEqual([32, 32, 32 * 32 * 3]);
      for (const v of image.data) expect(v >= 0 && v <= 1).toBe(true);
    }
    expect(skipped.map((s) => basename(s.path))).toEqual(Object.keys(BAD).sort());
    for (const s of skipped) expect(s.reason).toMatch(BAD[basename(s.path)]);

    const n = USABLE.length + Object.keys(BAD).length;
    expect(progress).toEqual(Array.from({ length: n }, (_, i) => [i + 1, n]));
  });

  it("gets the colours right: solid, greyscale, 16-bit, alpha, first frame, EXIF rotation", async () => {
    const { images } = await loadImageFolder(dir);
    const img = (name: string) => images.find((i) => basename(i.path) === name)!.image;
    const everywhere = (name: string, rgb: number[], tol: number) => {
      const im = img(name);
      for (let y = 0; y < 32; y += 5)
        for (let x = 0; x < 32; x += 5) expectColor(pixel(im, x, y), rgb, tol);
    };
    everywhere("a-red.png", [1, 0, 0], 1e-6);
    everywhere("b-blue.jpg", [0, 0, 1], 0.05);
    everywhere("c-gray.png", [100 / 255, 100 / 255, 100 / 255], 1e-6);
    everywhere("e-deep.png", [1, 0, 0], 1e-6);
    everywhere("f-anim.gif", [200 / 255, 200 / 255, 200 / 255], 2 / 255);
    everywhere("g-green.webp", [0, 1, 0], 1e-6);

    // Transparent pixels become the world's background grey, opaque ones keep their colour.
    const bg = backgroundRgb();
    expect(bg).toEqual([128 / 255, 128 / 255, 128 / 255]);
    const alpha = img("d-alpha.png");
    for (let y = 0; y < 32; y += 3) {
      expectColor(pixel(alpha, 2, y), [1, 0, 0], 1e-6);
      expectColor(pixel(alpha, 29, y), bg, 1e-6);
    }

    // Red on top, blue at the bottom once the EXIF orientation is applied.
    const rot = img("h-rotated.jpg");
    for (let x = 0; x < 32; x += 5) {
      expectColor(pixel(rot, x, 3), [1, 0, 0], 0.1);
      expectColor(pixel(rot, x, 28), [0, 0, 1], 0.1);
    }
  });

  it("is deterministic, honours size, recursive, maxPixels and minSide", async () => {
    const a = await loadImageFolder(dir, { size: 8 });
    const b = await loadImageFolder(dir, { size: 8 });
    expect(b.images.map((i) => i.path)).toEqual(a.images.map((i) => i.path));
    expect(b.skipped).toEqual(a.skipped);
    for (let i = 0; i < a.images.length; i++) {
      expect(a.images[i].image.width).toBe(8);
      expect(b.images[i].image.data).toEqual(a.images[i].image.data);
    }

    const rec = await loadImageFolder(dir, { recursive: true, size: 8 });
    expect(rec.images.map((i) => basename(i.path))).toEqual([...USABLE, "q-nested.png"]);
    expect(rec.images.at(-1)!.path).toBe(join(dir, "sub", "q-nested.png"));

    // 40×30 = 1200 px > 1000: too large; the 20×20 ones still fit.
    const small = await loadImageFolder(dir, { maxPixels: 1000, size: 8 });
    const reasons = new Map(small.skipped.map((s) => [basename(s.path), s.reason]));
    expect(reasons.get("a-red.png")).toMatch(/^too large: 40×30 px/);
    expect(small.images.map((i) => basename(i.path))).toContain("e-deep.png");

    const picky = await loadImageFolder(dir, { minSide: 21, size: 8 });
    expect(new Map(picky.skipped.map((s) => [basename(s.path), s.reason])).get("e-deep.png")).toBe(
      "too small: 20×20 px (need at least 21 px on each side)",
    );
  });

  it("formats a short skip report", async () => {
    const { skipped } = await loadImageFolder(dir, { size: 8 });
    const report = formatSkipReport(skipped);
    const lines = report.split("\n");
    expect(lines[0]).toBe(`Skipped ${skipped.length} files:`);
    expect(lines).toHaveLength(skipped.length + 1);
    expect(lines).toContain(
      `  ${join(dir, "i-cmyk.jpg")}: CMYK colour space; convert to RGB first`,
    );
    expect(formatSkipReport([])).toBe("");
    expect(formatSkipReport([{ path: "x.png", reason: "empty file" }])).toBe(
      "Skipped 1 file:\n  x.png: empty file",
    );
  });

  it("throws a clear error for a missing, non-folder, empty or all-bad folder", async () => {
    await expect(loadImageFolder(join(dir, "nope"))).rejects.toThrow(/nope cannot be read/);
    await expect(loadImageFolder(join(dir, "a-red.png"))).rejects.toThrow(/is not a folder/);
    const empty = mkdtempSync(join(tmpdir(), "reca-images-empty-"));
    const bad = mkdtempSync(join(tmpdir(), "reca-images-bad-"));
    try {
      writeFileSync(join(empty, ".DS_Store"), "x");
      await expect(loadImageFolder(empty)).rejects.toThrow(/has no files/);
      writeFileSync(join(bad, "notes.txt"), "not pixels");
      writeFileSync(join(bad, "tiny.png"), await solid(1, 1, RED).png().toBuffer());
      const err = await loadImageFolder(bad).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(
        /has no usable images .* all 2 file\(s\) were skipped/,
      );
      expect((err as Error).message).toContain("tiny.png: too small: 1×1 px");
    } finally {
      rmSync(empty, { recursive: true, force: true });
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
