/** Small helpers shared by the bench scripts (no jax-js here). */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { atomicWriteFile } from "../src/util/fsutil.ts";

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/** Whole-machine CPU counters (Linux /proc/stat) and this process's own CPU time. */
export type CpuSnapshot = { busy: number; total: number; ownUs: number; wallMs: number } | null;

export function cpuSnapshot(): CpuSnapshot {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]; // "cpu  user nice system idle iowait …"
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number); // up to steal
    const idle = f[3] + f[4];
    const total = f.reduce((a, b) => a + b, 0);
    const own = process.cpuUsage();
    return { busy: total - idle, total, ownUs: own.user + own.system, wallMs: performance.now() };
  } catch {
    return null;
  }
}

/** Fraction of all cores' time that other processes used between two snapshots. */
export function otherLoad(a: CpuSnapshot, b: CpuSnapshot): number | null {
  if (!a || !b || b.total <= a.total) return null;
  const busy = (b.busy - a.busy) / (b.total - a.total);
  const own = (b.ownUs - a.ownUs) / 1000 / ((b.wallMs - a.wallMs) * os.availableParallelism());
  return Math.min(1, Math.max(0, busy - own));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * A `--models` list of checkpoint directories: exits 2 (with `help`) when it is empty, and with a
 * one-line error when one has no config.json, before any model is loaded.
 */
export function modelDirsOrExit(list: string | undefined, help: string): string[] {
  const models = (list ?? "").split(",").filter(Boolean);
  if (models.length === 0) {
    process.stderr.write(`need --models\n${help}`);
    process.exit(2);
  }
  for (const m of models)
    if (!existsSync(join(m, "config.json"))) {
      process.stderr.write(`${m}: not a model checkpoint (no config.json)\n`);
      process.exit(2);
    }
  return models;
}

/**
 * A bench script's command line: `options` plus `-h/--help`, which prints `help` and exits 0; an
 * unknown option or a missing value prints the error and `help` to stderr and exits 2 (instead of
 * a stack trace).
 */
export function benchArgs<const O extends ParseArgsOptionsConfig>(
  options: O,
  help: string,
): ParsedValues<O> {
  let parsed: { values: Record<string, unknown> };
  try {
    parsed = parseArgs({
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${help}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    process.stdout.write(help);
    process.exit(0);
  }
  return parsed.values as ParsedValues<O>;
}

/** What `parseArgs` returns as `values` for `options` (strict, no positionals). */
type ParsedValues<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ options: O; strict: true }>
>["values"];

/**
 * A diagnostic's result for one model, kept in `cacheDir` as `<model's absolute path, / → _>.<tag>.json`:
 * read back when the file exists (said on stderr), otherwise computed and written atomically.
 */
export async function cachedForModel<T>(
  cacheDir: string,
  model: string,
  tag: string,
  compute: () => Promise<T>,
): Promise<T> {
  const file = join(cacheDir, `${resolve(model).replaceAll("/", "_")}.${tag}.json`);
  if (existsSync(file)) {
    process.stderr.write(`${model}: read back ${file}\n`);
    return JSON.parse(readFileSync(file, "utf8")) as T;
  }
  const r = await compute();
  mkdirSync(cacheDir, { recursive: true });
  atomicWriteFile(file, `${JSON.stringify(r, null, 1)}\n`);
  return r;
}
