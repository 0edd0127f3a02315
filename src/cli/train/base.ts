/**
 * `reca train base`: pretrain the unified model (backbone + flow family) on the world's sparse,
 * biased captions, edit pairs, VQA and dense descriptions, benchmark scenes excluded. Reads the
 * frozen understanding encoder named in the config (default checkpoints/encoder).
 */
import type { Command } from "commander";
import { addTrainOptions, type TrainCliOptions } from "../options.ts";

const DEFAULT_CONFIG = "configs/base-flow.json";

export function register(train: Command): void {
  addTrainOptions(
    train
      .command("base")
      .description("unified model: text→image (flow), editing and image→text pretraining"),
    DEFAULT_CONFIG,
  )
    .option("--encoder <dir>", "frozen understanding encoder (overrides the config's)")
    .option("--no-sheets", "skip the sample sheet at each checkpoint")
    .action(async (o: TrainCliOptions & { encoder?: string; sheets: boolean }) => {
      const { existsSync } = await import("node:fs");
      const { loadTrainConfig, writeJsonResult, UserError } = await import("../../util/config.ts");
      const { UmmConfigFileSchema } = await import("../../umm/config-file.ts");
      const { config: cfg } = loadTrainConfig(UmmConfigFileSchema, o, DEFAULT_CONFIG);
      if (o.encoder !== undefined) cfg.encoder = o.encoder;
      if (!existsSync(cfg.encoder))
        throw new UserError(
          `understanding encoder ${cfg.encoder} not found: train it first ` +
            "(reca train encoder) or pass --encoder DIR",
        );
      const { benchmarkExclusion } = await import("../../bench/exclusion.ts");
      const { pretrainUmm, resolveUmmConfig } = await import("../../train/pretrain.ts");
      const resolved = resolveUmmConfig(cfg);
      const exclude = benchmarkExclusion(cfg.data.numCategories);
      const r = await pretrainUmm(resolved, {
        outDir: o.out,
        resume: o.resume,
        force: o.force,
        parallelism: o.parallel,
        exclude,
        sheets: o.sheets,
      });
      if (o.json) writeJsonResult(o.json, { ...r, exclusion: exclude.fingerprint() });
      if (r.status !== "done") {
        process.stderr.write(`${r.message ?? r.status}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(
        `trained ${r.step} steps in ${r.wallSeconds.toFixed(0)} s (loss ${r.lastLoss.toFixed(4)}, ` +
          `${r.samplesPerSecond.toFixed(1)} rows/s, ${r.runner} × ${r.threads})\nwrote ${o.out}\n`,
      );
    });
}
