/**
 * `reca train encoder`: the contrastive understanding ViT (src/encoders/understanding*.ts) on the
 * encoder corpus, benchmark scenes excluded. `--ship DIR` copies the finished run's params,
 * config and records (no optimizer state) to DIR, e.g. checkpoints/encoder.
 */
import type { Command } from "commander";
import { addTrainOptions, type TrainCliOptions } from "../options.ts";

const DEFAULT_CONFIG = "configs/encoder.json";

export function register(train: Command): void {
  addTrainOptions(
    train
      .command("encoder")
      .description("understanding ViT, trained contrastively (SigLIP loss) on dense captions"),
    DEFAULT_CONFIG,
  )
    .option("--ship <dir>", "after a finished run, copy params + config (no optimizer) here")
    .action(async (o: TrainCliOptions & { ship?: string }) => {
      const { loadTrainConfig, writeJsonResult } = await import("../../util/config.ts");
      const { EncoderConfigSchema } = await import("../../encoders/understanding-config.ts");
      const { config: cfg } = loadTrainConfig(EncoderConfigSchema, o, DEFAULT_CONFIG);
      const { benchmarkExclusion } = await import("../../bench/exclusion.ts");
      const { shipEncoder, trainUnderstandingEncoder } = await import(
        "../../encoders/understanding-train.ts"
      );
      const exclude = benchmarkExclusion(cfg.data.numCategories);
      const r = await trainUnderstandingEncoder(cfg, {
        outDir: o.out,
        resume: o.resume,
        force: o.force,
        parallelism: o.parallel,
        exclude,
      });
      const shipped = r.status === "done" && o.ship ? shipEncoder(o.out, o.ship) : [];
      if (o.json) writeJsonResult(o.json, { ...r, exclusion: exclude.fingerprint(), shipped });
      if (r.status !== "done") {
        process.stderr.write(`${r.message ?? r.status}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(
        `trained ${r.step} steps in ${r.wallSeconds.toFixed(0)} s (loss ${r.lastLoss.toFixed(4)}, ` +
          `${r.samplesPerSecond.toFixed(1)} samples/s, ${r.runner} × ${r.threads})\nwrote ${o.out}` +
          (shipped.length ? `; shipped ${shipped.join(", ")} to ${o.ship}` : "") +
          "\n",
      );
    });
}
