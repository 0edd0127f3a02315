/**
 * The one reader of a unified model's `config.json`. A model directory's config is the model
 * config (src/umm/config.ts) plus what training resolved and recorded: the encoder's feature
 * grid (`features`), the condition ablation's encoder (`conditionFeatures`), the tokenizer's
 * words (`tokenizer`), after post-training its recipe (`postTrain`), and for models trained in
 * stages (language model, then VLM alignment: src/train/stages.ts) what each stage trained
 * (`stages`).
 *
 * Checkpoints written before the family registry have a top-level `family` and `flow:` block
 * whose guidance field is `cfg`; `migrateUmmConfig` rewrites that layout into today's
 * `generator` block, value for value, so those checkpoints load unchanged.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { CheckpointError } from "../engine/checkpoint.ts";
import { type ResolvedUmmConfig, UmmConfigSchema } from "./config.ts";

type Raw = Record<string, unknown>;

/**
 * Today's layout of a raw model config (a new object; the input is left alone). Configs already
 * in today's layout come back equal.
 */
export function migrateUmmConfig(raw: Raw): Raw {
  if (!("flow" in raw) && !("family" in raw)) return { ...raw };
  if ("generator" in raw)
    throw new CheckpointError('a model config has both "generator" and the older "flow"/"family"');
  const { family = "flow", flow = {}, ...rest } = raw as Raw & { family?: unknown; flow?: Raw };
  const { cfg, ...block } = flow as Raw;
  const generator: Raw = { family, ...block };
  if (cfg !== undefined) generator.guidance = cfg;
  return { ...rest, generator };
}

/**
 * A model config file (`reca train base --config`): either layout, validated as today's. (A
 * non-object is left for the schema to reject.)
 */
export const UmmConfigFileSchema = z.preprocess(
  (v) =>
    typeof v === "object" && v !== null && !Array.isArray(v) ? migrateUmmConfig(v as Raw) : v,
  UmmConfigSchema,
);

export type ModelDir = {
  config: ResolvedUmmConfig;
  /** The tokenizer the model was trained with (absent in early checkpoints: the world's). */
  tokenizer?: { version: number; words: string[] };
  /** The post-training recipe (reca align), as recorded. */
  postTrain?: Raw;
  /** The training stages that made this model, in order (src/train/stages.ts). */
  stages?: Raw[];
};

/** Read and validate `dir/config.json`. */
export function readModelDir(dir: string): ModelDir {
  const path = join(dir, "config.json");
  if (!existsSync(path))
    throw new CheckpointError(`${dir}: no config.json (not a model directory)`);
  let raw: Raw;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read (${(e as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new CheckpointError(`${path}: not a JSON object`);
  const { features, tokenizer, postTrain, conditionFeatures, stages, ...rest } =
    migrateUmmConfig(raw);
  const r = UmmConfigSchema.safeParse(rest);
  if (!r.success)
    throw new CheckpointError(`${path}: not a unified-model config: ${r.error.message}`);
  const f = features as ResolvedUmmConfig["features"] | undefined;
  if (!f || !Number.isInteger(f.resolution) || !Number.isInteger(f.dim))
    throw new CheckpointError(`${path}: missing the resolved "features" block`);
  const cf = conditionFeatures as ResolvedUmmConfig["conditionFeatures"] | null | undefined;
  return {
    config: { ...r.data, features: f, ...(cf ? { conditionFeatures: cf } : {}) },
    ...(tokenizer ? { tokenizer: tokenizer as ModelDir["tokenizer"] } : {}),
    ...(postTrain ? { postTrain: postTrain as Raw } : {}),
    ...(Array.isArray(stages) ? { stages: stages as Raw[] } : {}),
  };
}

/** The resolved model config of a model directory. */
export function readUmmConfig(dir: string): ResolvedUmmConfig {
  return readModelDir(dir).config;
}
