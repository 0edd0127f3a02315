/**
 * Options and loading shared by the commands that use a trained unified model (generate, edit,
 * answer, eval, probe gap): `--model DIR`, `--encoder DIR`, `--no-ema`, and the sampling knobs.
 * Not a command itself.
 */
import { type Command, Option } from "commander";
import { UserError } from "../util/config.ts";
import { intOption, numberOption } from "./options.ts";

export type ModelCliOptions = { model: string; encoder?: string; ema: boolean };
export type SamplingCliOptions = {
  guidance?: number;
  cfg?: number;
  steps?: number;
  seed: number;
  chunk?: number;
};

export function addModelOptions(cmd: Command): Command {
  return cmd
    .requiredOption("--model <dir>", "unified model checkpoint (reca train base --out DIR)")
    .option("--encoder <dir>", "understanding encoder (default: the path in the model's config)")
    .option("--no-ema", "use the raw weights even when the checkpoint has an EMA copy");
}

export function addSamplingOptions(cmd: Command): Command {
  return cmd
    .option(
      "--guidance <x>",
      "classifier-free guidance scale (default: the model's)",
      numberOption("guidance", 0, 100),
    )
    .addOption(
      new Option("--cfg <x>", "old name of --guidance")
        .argParser(numberOption("cfg", 0, 100))
        .hideHelp(),
    )
    .option("--steps <n>", "sampler steps (default: the model's)", intOption("steps", 1, 1000))
    .option("--seed <s>", "sampling seed", intOption("seed", 0, 2 ** 32 - 1), 0)
    .option(
      "--chunk <n>",
      "rows per model call (default 16; outputs depend on it)",
      intOption("chunk", 1, 256),
    );
}

export function samplingOf(o: SamplingCliOptions) {
  if (o.guidance !== undefined && o.cfg !== undefined && o.guidance !== o.cfg)
    throw new UserError("give --guidance (or its old name --cfg), not both");
  return { guidance: o.guidance ?? o.cfg, steps: o.steps, seed: o.seed, chunk: o.chunk };
}

/** Load the model (engine initialised), with clear errors for a missing model or encoder. */
export async function openModel(o: ModelCliOptions) {
  const { existsSync, statSync } = await import("node:fs");
  const { join } = await import("node:path");
  if (!existsSync(o.model) || !statSync(o.model).isDirectory())
    throw new UserError(`model directory ${o.model} not found (train one with reca train base)`);
  const { loadUmm, readUmmConfig } = await import("../umm/infer.ts");
  const cfg = readUmmConfig(o.model);
  const encoder = o.encoder ?? cfg.encoder;
  if (!existsSync(join(encoder, "config.json")))
    throw new UserError(
      `understanding encoder ${encoder} not found` +
        (o.encoder ? "" : ` (named in ${join(o.model, "config.json")}; pass --encoder DIR)`),
    );
  const { initEngine } = await import("../engine/jax.ts");
  await initEngine();
  try {
    return loadUmm(o.model, { encoderDir: o.encoder, ema: o.ema });
  } catch (e) {
    // A checkpoint saved with another vocabulary than this code's (tokenizer.ts checks it).
    if (e instanceof Error && e.message.startsWith("tokenizer:"))
      throw new UserError(`${o.model}: ${e.message}`);
    throw e;
  }
}

/** A progress bar on stderr (plain lines when not a TTY), in the bench commands' style. */
export async function progressFactory() {
  const { createProgress } = await import("../train/progress.ts");
  return (label: string, total: number, unit: string) => {
    const bar = createProgress({ label, total, unit });
    return { update: (done: number) => bar.update(done), stop: () => bar.stop() };
  };
}

/** Write an image (optionally upscaled) as PNG, creating the folder. */
export async function writePng(
  path: string,
  image: import("../world/render.ts").RgbImage,
  scale = 1,
) {
  const { mkdirSync } = await import("node:fs");
  const { dirname } = await import("node:path");
  const { encodePng, upscaleNearest } = await import("../data/png.ts");
  const { atomicWriteFile } = await import("../util/fsutil.ts");
  mkdirSync(dirname(path), { recursive: true });
  atomicWriteFile(path, encodePng(upscaleNearest(image, scale)));
}

/** Read an input image for the model (square PNG, resampled to its side); errors are UserErrors. */
export async function readInputImage(path: string, side: number) {
  const { readSquarePng } = await import("../data/png.ts");
  try {
    return readSquarePng(path, side);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}
