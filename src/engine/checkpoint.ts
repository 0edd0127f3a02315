/**
 * Checkpoint directories:
 *
 *   model.safetensors      params (metadata: format + version)
 *   config.json            the model/run config
 *   optimizer.safetensors  optional optimizer state tree ({m, v, ...} → "m.blocks.0.w")
 *   ema.safetensors        optional EMA copy of the params
 *   trainer.json           optional trainer state (step, rng state, data cursor, ...)
 *
 * Saving is atomic for the directory as a whole: everything is written to a
 * sibling `<dir>.tmp-<pid>` and fsynced, then `<dir>` is renamed to
 * `<dir>.old-<pid>`, the temp dir renamed to `<dir>`, and the old one removed.
 * A crash at any point leaves the old or the new checkpoint complete; the only
 * window where `<dir>` is missing is between the two renames, and then
 * loading falls back to the `.old-*` sibling.
 *
 * Two views of the same files: device trees (`saveCheckpoint`/`loadCheckpoint`)
 * for sampling and tools, host tensors (`saveHostCheckpoint`/`loadHostCheckpoint`)
 * for the training loop, whose runner may keep its state in worker threads.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { atomicWriteFile } from "../util/fsutil.ts";
import {
  readSafetensorsFile,
  type SafeTensor,
  SafetensorsError,
  tensorsToTree,
  treeToTensors,
  writeSafetensorsFile,
} from "./safetensors.ts";
import { type HostTensor, type ParamTree, treeDispose } from "./tree.ts";

export const CHECKPOINT_FORMAT = "reca-checkpoint";
/** Bump when the directory layout or tensor naming changes incompatibly. */
export const CHECKPOINT_VERSION = "1";

const MODEL = "model.safetensors";
const OPTIMIZER = "optimizer.safetensors";
const EMA = "ema.safetensors";
const CONFIG = "config.json";
const TRAINER = "trainer.json";
/** The files a save replaces; anything else in the directory is kept. */
const CHECKPOINT_FILES = new Set([MODEL, OPTIMIZER, EMA, CONFIG, TRAINER]);

export type Checkpoint<C = unknown, T = unknown> = {
  params: ParamTree;
  config: C;
  optimizer?: ParamTree;
  trainer?: T;
  ema?: ParamTree;
};

export type LoadOptions = {
  /** Params template: loaded params (and EMA) must have exactly its names and shapes. */
  expected?: ParamTree;
  /** Skip optimizer state (sampling and export do not need it). */
  skipOptimizer?: boolean;
};

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

const formatMetadata = (kind: string): Record<string, string> => ({
  format: CHECKPOINT_FORMAT,
  format_version: CHECKPOINT_VERSION,
  contents: kind,
});

/** fsync a directory so the renames/creates inside it survive a power cut. */
function fsyncDir(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    fsyncSync(fd);
  } catch {
    // Some platforms (Windows) cannot open or fsync directories; best effort there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Leftover `<dir>.old-<pid>` siblings (complete or not). */
function oldSiblings(target: string): string[] {
  const parent = dirname(target);
  if (!existsSync(parent)) return [];
  const prefix = `${basename(target)}.old-`;
  return readdirSync(parent)
    .filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
    .map((n) => join(parent, n));
}

/** The directory that actually holds the checkpoint for `dir`, or null. */
function resolveCheckpointDir(dir: string): string | null {
  const target = resolve(dir);
  if (existsSync(target)) return existsSync(join(target, MODEL)) ? target : null;
  // Only a crash between the two renames leaves `dir` missing; if several
  // crashes left several, the newest complete one is the latest checkpoint.
  const complete = oldSiblings(target).filter((p) => existsSync(join(p, MODEL)));
  complete.sort((a, b) => statSync(join(b, MODEL)).mtimeMs - statSync(join(a, MODEL)).mtimeMs);
  return complete[0] ?? null;
}

/** True when `dir` (or a crash-left `.old-*` sibling standing in for it) holds a checkpoint. */
export function checkpointExists(dir: string): boolean {
  return resolveCheckpointDir(dir) !== null;
}

/**
 * The trainer state (trainer.json) of the checkpoint in `dir`, or its crash-left stand-in, without
 * reading any tensors; undefined when there is no checkpoint or it has no trainer state.
 */
export function readTrainerState<T = unknown>(dir: string): T | undefined {
  const at = resolveCheckpointDir(dir);
  return at ? (readJson(join(at, TRAINER), "trainer state", false) as T | undefined) : undefined;
}

const toJson = (value: unknown, what: string): string => {
  const text = JSON.stringify(value, null, 2);
  if (text === undefined) throw new CheckpointError(`${what} is not JSON-serialisable`);
  return `${text}\n`;
};

/** The host-side contents of a checkpoint directory. */
type DirContents = {
  model: Map<string, SafeTensor>;
  optimizer?: Map<string, SafeTensor>;
  ema?: Map<string, SafeTensor>;
  config: unknown;
  trainer?: unknown;
};

/** Write `c` to `dir` atomically (see the module comment). */
function writeCheckpointDir(dir: string, c: DirContents): void {
  const target = resolve(dir); // also drops a trailing "/", which would put tmp inside dir
  // Serialise the JSON first so an unserialisable value fails before the disk is touched.
  const json: [string, string][] = [[CONFIG, toJson(c.config, "config")]];
  if (c.trainer !== undefined) json.push([TRAINER, toJson(c.trainer, "trainer state")]);
  const files: [string, Map<string, SafeTensor> | undefined, string][] = [
    [MODEL, c.model, "params"],
    [OPTIMIZER, c.optimizer, "optimizer"],
    [EMA, c.ema, "ema"],
  ];

  const tmp = `${target}.tmp-${process.pid}`;
  const old = `${target}.old-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    for (const [name, tensors, kind] of files)
      if (tensors) writeSafetensorsFile(join(tmp, name), tensors, formatMetadata(kind));
    for (const [name, text] of json) atomicWriteFile(join(tmp, name), text);
    fsyncDir(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }

  // Stale `.old-*` dirs from an earlier crash are superseded by what we are about to install.
  const stale = oldSiblings(target);
  if (existsSync(target)) {
    rmSync(old, { recursive: true, force: true });
    renameSync(target, old);
  }
  renameSync(tmp, target);
  fsyncDir(dirname(target));
  // Files that are not part of the checkpoint (metrics.jsonl, sample sheets, a
  // run's notes) live beside it; carry them into the new directory. A crash
  // here leaves them in an `.old-*` dir, which the next save migrates likewise.
  for (const p of [old, ...stale]) {
    if (!existsSync(p)) continue;
    for (const name of readdirSync(p)) {
      if (CHECKPOINT_FILES.has(name) || existsSync(join(target, name))) continue;
      renameSync(join(p, name), join(target, name));
    }
  }
  fsyncDir(target);
  for (const p of [old, ...stale]) rmSync(p, { recursive: true, force: true });
}

function readJson(path: string, what: string, required: boolean): unknown {
  if (!existsSync(path)) {
    if (required) throw new CheckpointError(`${what} missing: ${path}`);
    return undefined;
  }
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new CheckpointError(`${path}: malformed ${what}: ${(e as Error).message}`);
  }
}

function readTensors(path: string, kind: string): Map<string, SafeTensor> {
  try {
    const { tensors, metadata } = readSafetensorsFile(path);
    if (metadata.format !== CHECKPOINT_FORMAT || metadata.format_version !== CHECKPOINT_VERSION)
      throw new CheckpointError(
        `${path}: not a ${CHECKPOINT_FORMAT} v${CHECKPOINT_VERSION} ${kind} file ` +
          `(metadata format=${metadata.format}, format_version=${metadata.format_version})`,
      );
    return tensors;
  } catch (e) {
    // readSafetensorsFile already names the path; keep the kind visible for the reader.
    if (e instanceof SafetensorsError)
      throw new CheckpointError(`malformed ${kind} file: ${e.message}`, { cause: e });
    throw e;
  }
}

/** Read and validate a checkpoint directory on the host (nothing touches the device). */
function readCheckpointDir(dir: string, skipOptimizer = false): DirContents & { at: string } {
  const at = resolveCheckpointDir(dir);
  if (!at)
    throw new CheckpointError(`no checkpoint at ${resolve(dir)} (missing directory or ${MODEL})`);
  const optional = (name: string, kind: string) =>
    existsSync(join(at, name)) ? readTensors(join(at, name), kind) : undefined;
  return {
    at,
    model: readTensors(join(at, MODEL), "params"),
    optimizer: skipOptimizer ? undefined : optional(OPTIMIZER, "optimizer"),
    ema: optional(EMA, "ema"),
    config: readJson(join(at, CONFIG), "config", true),
    trainer: readJson(join(at, TRAINER), "trainer state", false),
  };
}

// --- device trees -------------------------------------------------------------

/** Save a checkpoint of device trees. Does not consume any tree. */
export async function saveCheckpoint(dir: string, ckpt: Checkpoint): Promise<void> {
  writeCheckpointDir(dir, {
    model: await treeToTensors(ckpt.params),
    optimizer: ckpt.optimizer && (await treeToTensors(ckpt.optimizer)),
    ema: ckpt.ema && (await treeToTensors(ckpt.ema)),
    config: ckpt.config,
    trainer: ckpt.trainer,
  });
}

/** Load a checkpoint onto the device (jax must be initialised). */
export function loadCheckpoint<C = unknown, T = unknown>(
  dir: string,
  opts: LoadOptions = {},
): Checkpoint<C, T> {
  // Every file is read and validated before any device memory is allocated.
  const c = readCheckpointDir(dir, opts.skipOptimizer);
  // Build trees one by one; if a later one fails its structure check, free the earlier ones.
  const built: ParamTree[] = [];
  const build = (t: Map<string, SafeTensor>, expected?: ParamTree, what?: string): ParamTree => {
    const tree = tensorsToTree(t, expected, what);
    built.push(tree);
    return tree;
  };
  try {
    const out: Checkpoint<C, T> = {
      params: build(c.model, opts.expected, join(c.at, MODEL)),
      config: c.config as C,
    };
    if (c.optimizer) out.optimizer = build(c.optimizer);
    if (c.ema) out.ema = build(c.ema, opts.expected, join(c.at, EMA));
    if (c.trainer !== undefined) out.trainer = c.trainer as T;
    return out;
  } catch (e) {
    for (const t of built) treeDispose(t);
    throw e;
  }
}

// --- host trees (runners that keep state off the main thread) -----------------

export type HostTree = Map<string, HostTensor>;
/** Optimizer moments `m`/`v` are stored as `m.<name>`/`v.<name>` in optimizer.safetensors. */
export type HostTrainState = { params: HostTree; m: HostTree; v: HostTree; ema?: HostTree };
export type HostCheckpoint<C = unknown, T = unknown> = {
  state: HostTrainState;
  config: C;
  trainer?: T;
};

const toSafe = (h: HostTree, prefix = "", into = new Map<string, SafeTensor>()) => {
  for (const [name, { shape, data }] of h)
    into.set(prefix + name, { dtype: data instanceof Int32Array ? "I32" : "F32", shape, data });
  return into;
};
const toHostTree = (t: Map<string, SafeTensor>): HostTree =>
  new Map([...t].map(([name, { shape, data }]) => [name, { shape, data }]));

/** Save host-side training state; writes the same files as `saveCheckpoint`. */
export async function saveHostCheckpoint(dir: string, ckpt: HostCheckpoint): Promise<void> {
  writeCheckpointDir(dir, {
    model: toSafe(ckpt.state.params),
    optimizer: toSafe(ckpt.state.v, "v.", toSafe(ckpt.state.m, "m.")),
    ema: ckpt.state.ema && toSafe(ckpt.state.ema),
    config: ckpt.config,
    trainer: ckpt.trainer,
  });
}

/** Load training state to the host; the checkpoint must hold optimizer moments. */
export function loadHostCheckpoint<C = unknown, T = unknown>(dir: string): HostCheckpoint<C, T> {
  const c = readCheckpointDir(dir);
  if (!c.optimizer)
    throw new CheckpointError(`${join(c.at, OPTIMIZER)} missing: cannot restore training state`);
  const m: HostTree = new Map();
  const v: HostTree = new Map();
  for (const [name, { shape, data }] of c.optimizer) {
    const into = name.startsWith("m.") ? m : name.startsWith("v.") ? v : null;
    if (!into) throw new CheckpointError(`${join(c.at, OPTIMIZER)}: "${name}" is not m.* or v.*`);
    into.set(name.slice(2), { shape, data });
  }
  const state: HostTrainState = { params: toHostTree(c.model), m, v };
  if (c.ema) state.ema = toHostTree(c.ema);
  const out: HostCheckpoint<C, T> = { state, config: c.config as C };
  if (c.trainer !== undefined) out.trainer = c.trainer as T;
  return out;
}

// --- inspection -----------------------------------------------------------------

export type CheckpointInfo = {
  dir: string;
  files: string[];
  parameters: number;
  tensors: { name: string; dtype: string; shape: number[] }[];
  config: unknown;
  trainer?: unknown;
};

/** What a checkpoint holds, read on the host and validated like a load. */
export function inspectCheckpoint(dir: string): CheckpointInfo {
  const c = readCheckpointDir(dir, true);
  const tensors = [...c.model].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
  return {
    dir: c.at,
    files: readdirSync(c.at).sort(),
    parameters: tensors.reduce((n, t) => n + t.shape.reduce((p, d) => p * d, 1), 0),
    tensors,
    config: c.config,
    ...(c.trainer !== undefined ? { trainer: c.trainer } : {}),
  };
}

// --- export -------------------------------------------------------------------

/**
 * Write the checkpoint's params (or EMA params) as F16 safetensors for the
 * browser. Integer leaves stay I32. Returns how many finite values overflowed
 * to ±inf (|x| ≥ 65520), so callers can refuse or warn.
 */
export function exportF16(
  dir: string,
  outFile: string,
  opts: { ema?: boolean } = {},
): { tensors: number; overflowed: number } {
  const c = readCheckpointDir(dir, true);
  const which = opts.ema ? "ema" : "params";
  const tensors = opts.ema ? c.ema : c.model;
  if (!tensors) throw new CheckpointError(`${join(c.at, EMA)} missing: no EMA params to export`);
  const out = new Map<string, SafeTensor>();
  let overflowed = 0;
  for (const [name, t] of tensors) {
    if (t.dtype === "I32") {
      out.set(name, t);
      continue;
    }
    for (const x of t.data) if (Number.isFinite(x) && Math.abs(x) >= 65520) overflowed++;
    out.set(name, { ...t, dtype: "F16" });
  }
  writeSafetensorsFile(outFile, out, {
    ...formatMetadata(`${which}-f16`),
    source: basename(resolve(dir)),
  });
  return { tensors: out.size, overflowed };
}
