/**
 * JSON config files, validated once at the boundary with zod. Errors name the
 * file and the bad field ("configs/x.json: train.lr: expected number").
 */
import { existsSync, readFileSync } from "node:fs";
import type { z } from "zod";
import { atomicWriteFile } from "./fsutil.ts";

export class UserError extends Error {
  override name = "UserError";
}

export function formatZodIssues(error: z.ZodError, where: string): string {
  return error.issues
    .map((i) => `${where}: ${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("\n");
}

/** Parse and validate `value` (already-loaded JSON) against `schema`. */
export function validateConfig<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: string,
): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new UserError(formatZodIssues(r.error, where));
  return r.data;
}

/** Load a JSON config file and validate it. */
export function loadConfig<S extends z.ZodType>(schema: S, path: string): z.infer<S> {
  if (!existsSync(path)) throw new UserError(`config file not found: ${path}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return validateConfig(schema, raw, path);
}

/** Write a command's result as pretty JSON (atomically), for `--json FILE`. */
export function writeJsonResult(path: string, value: unknown): void {
  atomicWriteFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A training command's config: `--config FILE`, else `defaultPath` when it exists (commands run
 * from the repository root), else the schema's defaults; then `--steps`/`--seed` override
 * `train.steps`/`train.seed`. `path` is what was read (undefined = defaults).
 */
export function loadTrainConfig<S extends z.ZodType<{ train: { steps: number; seed: number } }>>(
  schema: S,
  o: { config?: string; steps?: number; seed?: number },
  defaultPath: string,
): { config: z.infer<S>; path: string | undefined } {
  const path = o.config ?? (existsSync(defaultPath) ? defaultPath : undefined);
  const config = path ? loadConfig(schema, path) : validateConfig(schema, {}, "defaults");
  if (o.steps !== undefined) config.train.steps = o.steps;
  if (o.seed !== undefined) config.train.seed = o.seed;
  return { config, path };
}
