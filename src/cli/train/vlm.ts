/**
 * `reca train vlm`: one VLM-alignment stage (src/train/vlm.ts) from a language-model checkpoint
 * (`reca train lm`) or an earlier VLM stage: configs/vlm-align.json trains the projector on dense
 * descriptions against the frozen LM; configs/vlm-instruct-frozen.json and
 * configs/vlm-instruct-unfrozen.json continue on VQA + descriptions with the backbone frozen or
 * unfrozen at a low LR. Benchmark scenes are excluded.
 */
import type { Command } from "commander";
import { addTrainOptions, type TrainCliOptions } from "../options.ts";

const DEFAULT_CONFIG = "configs/vlm-align.json";

export function register(train: Command): void {
  addTrainOptions(
    train
      .command("vlm")
      .description(
        "VLM alignment (LLaVA-style): projector against the frozen LM, then instruction tuning",
      ),
    DEFAULT_CONFIG,
  )
    .requiredOption("--from <dir>", "start checkpoint: a language model or an earlier VLM stage")
    .action(async (o: TrainCliOptions & { from: string }) => {
      const { existsSync } = await import("node:fs");
      const { loadTrainConfig, writeJsonResult, UserError } = await import("../../util/config.ts");
      const { VlmConfigSchema, trainVlm } = await import("../../train/vlm.ts");
      const { readUmmConfig } = await import("../../umm/config-file.ts");
      const { config: vc } = loadTrainConfig(VlmConfigSchema, o, DEFAULT_CONFIG);
      if (!existsSync(o.from))
        throw new UserError(
          `--from ${o.from} not found: train a language model first (reca train lm)`,
        );
      const base = readUmmConfig(o.from);
      if (!existsSync(base.encoder))
        throw new UserError(`understanding encoder ${base.encoder} (from ${o.from}) not found`);
      const { benchmarkExclusion } = await import("../../bench/exclusion.ts");
      const exclude = benchmarkExclusion(base.data.numCategories);
      let r: Awaited<ReturnType<typeof trainVlm>>;
      try {
        r = await trainVlm(vc, {
          from: o.from,
          outDir: o.out,
          resume: o.resume,
          force: o.force,
          parallelism: o.parallel,
          exclude,
        });
      } catch (e) {
        // Config problems the model reveals (a freeze prefix naming nothing, nothing to train).
        if (e instanceof Error && /^(freeze|data\.textLen|a VLM stage)/.test(e.message))
          throw new UserError(e.message);
        throw e;
      }
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
