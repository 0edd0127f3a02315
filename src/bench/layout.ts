/**
 * How a suite's images are laid out on disk, and the loop that scores them.
 *
 * GenEval's folder layout, used by every suite so any generator (ours or
 * external) can be scored:
 *
 *   <root>/<00000>/metadata.jsonl        one JSON object: the item (for geneval,
 *                                         exactly GenEval's metadata line)
 *   <root>/<00000>/samples/<00000>.png   the generated images (any `\d+\.png`)
 *   <root>/<00000>/source.png            edit suite only: the image to edit
 *
 * Only all-digit folder names and `\d+\.png` sample names are read, as GenEval's
 * evaluator does. Missing or invalid metadata is a LayoutError naming the file
 * (the item cannot be scored without it); an unreadable PNG is scored as a
 * failed image and reported, never a crash.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { decodePng, encodePng } from "../data/png.ts";
import type { RgbImage, Scene } from "../world/index.ts";
import type { Detection, Detector } from "./judge/types.ts";

export class LayoutError extends Error {
  override name = "LayoutError";
}

export const METADATA_FILE = "metadata.jsonl";
export const SAMPLES_DIR = "samples";

export const itemDirName = (i: number) => String(i).padStart(5, "0");
/** GenEval's generators write `{k:05}.png`. */
export const sampleFileName = (k: number) => `${String(k).padStart(5, "0")}.png`;

export type SuiteName = "geneval" | "dpg" | "edit";
export type SuiteSummary = { overall: number } & Record<string, unknown>;

/** What a suite must provide to be written, read back, rendered and scored. */
export type BenchSuite<M = any, R = any> = {
  name: SuiteName;
  /** Key of the per-group scores in the JSON output. */
  groupKey: "tags" | "categories" | "types";
  /** Validate one item's metadata; throws LayoutError naming `where`. */
  parseMetadata(value: unknown, where: string): M;
  /** Ground-truth scene number `sample` for the item (a pure function of its arguments). */
  groundTruth(meta: M, sample: number, size: number): Scene;
  /** Extra input images a generator needs (edit: source.png). */
  inputs?(meta: M, size: number): { name: string; image: RgbImage }[];
  scoreImage(meta: M, detections: Detection[], image: RgbImage): R;
  /** The result for an image that could not be read (scored as failed). */
  failedResult(meta: M, reason: string): R;
  summarize(scored: ScoredImage<M, R>[]): SuiteSummary;
};

/** One image to score. `image` null means it could not be read (`error` says why). */
export type ImageEntry<M> = {
  item: number;
  meta: M;
  /** Sample number within the item. */
  sample: number;
  image: RgbImage | null;
  error?: string;
  /** The scene the image was rendered from, when known (lets the oracle recognise it). */
  scene?: Scene;
};
export type ScoredImage<M, R> = {
  item: number;
  meta: M;
  sample: number;
  result: R;
  error?: string;
};

/**
 * Write via a temporary name and rename, so a reader never sees half a file. No
 * fsync (unlike engine/fsutil's atomicWriteFile): a layout is thousands of small,
 * regenerable files, and a sync per file would dominate the run.
 */
function writeFileRenamed(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Write one item folder: metadata, optional samples and generator inputs. */
export function writeItemFolder(
  root: string,
  index: number,
  metadata: unknown,
  opts: { samples?: RgbImage[]; inputs?: { name: string; image: RgbImage }[] } = {},
): string {
  const dir = join(root, itemDirName(index));
  writeFileRenamed(join(dir, METADATA_FILE), `${JSON.stringify(metadata)}\n`);
  for (const { name, image } of opts.inputs ?? [])
    writeFileRenamed(join(dir, name), encodePng(image));
  (opts.samples ?? []).forEach((img, k) => {
    writeFileRenamed(join(dir, SAMPLES_DIR, sampleFileName(k)), encodePng(img));
  });
  return dir;
}

export type LayoutFolder = {
  index: number;
  dir: string;
  metadata: unknown;
  /** Sample PNGs in numeric order. */
  samples: { sample: number; path: string }[];
};

const numeric = (a: string, b: string) => Number.parseInt(a, 10) - Number.parseInt(b, 10);

/** Every item folder under `root`, with its parsed (not yet validated) metadata. */
export function readLayout(root: string): LayoutFolder[] {
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new LayoutError(`${root}: not a folder`);
  const names = readdirSync(root)
    .filter((n) => /^\d+$/.test(n) && statSync(join(root, n)).isDirectory())
    .sort(numeric);
  if (names.length === 0)
    throw new LayoutError(
      `${root}: no item folders (expected 00000/, 00001/, … with metadata.jsonl)`,
    );
  return names.map((name) => {
    const dir = join(root, name);
    const file = join(dir, METADATA_FILE);
    if (!existsSync(file)) throw new LayoutError(`${file}: missing (every item folder needs one)`);
    const lines = readFileSync(file, "utf8").split("\n");
    const at = lines.findIndex((l) => l.trim() !== "");
    if (at < 0) throw new LayoutError(`${file}: empty`);
    let metadata: unknown;
    try {
      metadata = JSON.parse(lines[at]);
    } catch (e) {
      throw new LayoutError(`${file}:${at + 1}: not valid JSON (${(e as Error).message})`);
    }
    const sdir = join(dir, SAMPLES_DIR);
    const files = existsSync(sdir) ? readdirSync(sdir).filter((f) => /^\d+\.png$/.test(f)) : [];
    const samples = files
      .sort(numeric)
      .map((f) => ({ sample: Number.parseInt(f, 10), path: join(sdir, f) }));
    return { index: Number.parseInt(name, 10), dir, metadata, samples };
  });
}

/** Decode one PNG; errors come back as a reason, not an exception. */
export function readSampleImage(path: string): { image: RgbImage } | { error: string } {
  try {
    return { image: decodePng(readFileSync(path)) };
  } catch (e) {
    return { error: `${path}: unreadable PNG (${(e as Error).message})` };
  }
}

/** Entries for every sample of a folder laid out as above; `empty` lists folders without samples. */
export function entriesFromLayout<M>(
  suite: BenchSuite<M>,
  root: string,
): { entries: ImageEntry<M>[]; empty: string[] } {
  const entries: ImageEntry<M>[] = [];
  const empty: string[] = [];
  for (const f of readLayout(root)) {
    const meta = suite.parseMetadata(f.metadata, join(f.dir, METADATA_FILE));
    if (f.samples.length === 0) empty.push(f.dir);
    for (const s of f.samples) {
      const r = readSampleImage(s.path);
      if ("image" in r) entries.push({ item: f.index, meta, sample: s.sample, image: r.image });
      else entries.push({ item: f.index, meta, sample: s.sample, image: null, error: r.error });
    }
  }
  return { entries, empty };
}

/** Ground-truth scenes for every (item, sample), rendered at `size`. */
export function groundTruthEntries<M>(
  suite: BenchSuite<M>,
  metas: readonly M[],
  perItem: number,
  size: number,
  render: (scene: Scene, size: number) => RgbImage,
): ImageEntry<M>[] {
  const out: ImageEntry<M>[] = [];
  metas.forEach((meta, item) => {
    for (let sample = 0; sample < perItem; sample++) {
      const scene = suite.groundTruth(meta, sample, size);
      out.push({ item, meta, sample, image: render(scene, size), scene });
    }
  });
  return out;
}

export type ScoreOptions = {
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
};

/** Detect in batches, score every entry; unreadable images score as failed. */
export async function scoreEntries<M, R>(
  suite: BenchSuite<M, R>,
  entries: readonly ImageEntry<M>[],
  detector: Detector,
  opts: ScoreOptions = {},
): Promise<{ scored: ScoredImage<M, R>[]; detectMs: number; scoreMs: number }> {
  const batch = opts.batchSize ?? 64;
  const scored: ScoredImage<M, R>[] = [];
  let detectMs = 0;
  let scoreMs = 0;
  for (let at = 0; at < entries.length; at += batch) {
    const chunk = entries.slice(at, at + batch);
    const readable = chunk.filter((e) => e.image !== null);
    const t0 = performance.now();
    const dets = readable.length > 0 ? await detector(readable.map((e) => e.image!)) : [];
    if (dets.length !== readable.length)
      throw new Error(`detector returned ${dets.length} results for ${readable.length} images`);
    const t1 = performance.now();
    let k = 0;
    for (const e of chunk) {
      const { item, meta, sample } = e;
      if (e.image === null) {
        const reason = e.error ?? "no image";
        scored.push({
          item,
          meta,
          sample,
          result: suite.failedResult(meta, reason),
          error: reason,
        });
      } else {
        scored.push({ item, meta, sample, result: suite.scoreImage(meta, dets[k++], e.image) });
      }
    }
    detectMs += t1 - t0;
    scoreMs += performance.now() - t1;
    opts.onProgress?.(Math.min(at + batch, entries.length), entries.length);
  }
  return { scored, detectMs, scoreMs };
}
