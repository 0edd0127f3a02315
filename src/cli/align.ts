/**
 * `reca align`: Reconstruction Alignment of a trained unified model (src/train/reca.ts), or any
 * post-training row mix in the same harness (configs/sft.json is the sparse-caption SFT
 * baseline). Images come from the world's unlabeled pool or any folder of PNG/JPEG files;
 * unusable files are skipped and listed, never fatal.
 */
import type { Command } from "commander";
import { intOption } from "./options.ts";

const DEFAULT_CONFIG = "configs/reca.json";

type AlignCliOptions = {
  from: string;
  out: string;
  pool?: string;
  images?: string;
  steps?: number;
  seed?: number;
  config?: string;
  resume?: boolean;
  force?: boolean;
  parallel?: "data" | "kernel";
  json?: string;
};

export function register(program: Command): void {
  program
    .command("align")
    .description(
      "RecA post-training: reconstruct unlabeled images from their understanding features",
    )
    .requiredOption("--from <dir>", "the unified model to align (reca train base --out DIR)")
    .requiredOption("--out <dir>", "checkpoint directory of the aligned model")
    .option("--pool <name>", 'unlabeled images: "world" (default) — the world\'s unlabeled pool')
    .option("--images <dir>", "align on this folder of PNG/JPEG files instead of the world pool")
    .option("--steps <n>", "override the configured number of steps", intOption("steps", 1, 1e9))
    .option("--seed <s>", "override the configured seed", intOption("seed", 0, 2 ** 32 - 1))
    .option("--config <file>", `post-training config (default ${DEFAULT_CONFIG})`)
    .option("--resume", "continue the checkpoint in --out (bit-identical)")
    .option("--force", "start over even if --out already holds a checkpoint")
    .option(
      "--parallel <mode>",
      "kernel (one local step: ORT intra-op threads, the default on ORT) or data (worker replicas, the default with RECA_ENGINE=jax)",
    )
    .option("--json <file>", "write a summary of the run as JSON")
    .action(async (o: AlignCliOptions) => {
      const { existsSync } = await import("node:fs");
      const { join } = await import("node:path");
      const { loadTrainConfig, writeJsonResult, UserError } = await import("../util/config.ts");
      if (o.pool !== undefined && o.pool !== "world")
        throw new UserError(`--pool must be "world" (or use --images DIR), got "${o.pool}"`);
      if (o.pool !== undefined && o.images !== undefined)
        throw new UserError("give --pool or --images, not both");
      if (o.parallel !== undefined && o.parallel !== "data" && o.parallel !== "kernel")
        throw new UserError(`--parallel must be data or kernel, got "${o.parallel}"`);
      if (!existsSync(join(o.from, "config.json")))
        throw new UserError(`${o.from} is not a model directory (no config.json)`);
      const { PostTrainConfigSchema, postTrain, worldPool, folderSource } = await import(
        "../train/reca.ts"
      );
      const { config: pt, path } = loadTrainConfig(PostTrainConfigSchema, o, DEFAULT_CONFIG);
      const { readUmmConfig } = await import("../umm/config-file.ts");
      const { imageSizeOf } = await import("../umm/model.ts");
      const base = readUmmConfig(o.from);
      const { benchmarkExclusion } = await import("../bench/exclusion.ts");
      const exclude = benchmarkExclusion(base.data.numCategories);
      let images: Awaited<ReturnType<typeof folderSource>> | ReturnType<typeof worldPool>;
      let skipped: { path: string; reason: string }[] = [];
      if (o.images !== undefined) {
        const f = await folderSource(o.images, imageSizeOf(base));
        images = f;
        skipped = f.skipped;
        if (skipped.length > 0) process.stderr.write(`${f.report}\n`);
      } else {
        images = worldPool(base.data.numCategories, exclude);
      }
      const r = await postTrain(pt, {
        from: o.from,
        outDir: o.out,
        images,
        resume: o.resume,
        force: o.force,
        parallelism: o.parallel,
        exclude,
      });
      if (o.json)
        writeJsonResult(o.json, { ...r, images: images.name, skipped, config: path ?? "defaults" });
      if (r.status !== "done") {
        process.stderr.write(`${r.message ?? r.status}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(
        `aligned ${r.step} steps in ${r.wallSeconds.toFixed(0)} s on ${images.name} ` +
          `(loss ${r.lastLoss.toFixed(4)}, ${r.runner} × ${r.threads})\nwrote ${o.out}\n`,
      );
    });
}
