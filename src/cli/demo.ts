/**
 * `reca demo`: RecA on a pretrained base model within a training budget, then base vs RecA on a
 * quick evaluation set, a before/after table and an HTML report (src/demo/run.ts).
 */
import type { Command } from "commander";
import { intOption, numberOption } from "./options.ts";

const DEFAULT_CONFIG = "configs/reca.json";

type DemoCliOptions = {
  from: string;
  out: string;
  budgetMin: number;
  seed: number;
  json?: string;
  config?: string;
  steps?: number;
  resume?: boolean;
  force?: boolean;
  n: number;
  limit?: number;
  gapSamples: number;
  judge?: string;
  chunk?: number;
  parallel?: "data" | "kernel";
};

export function register(program: Command): void {
  program
    .command("demo")
    .description(
      "RecA on the base model within a time budget, then base vs RecA: table and HTML report",
    )
    .option("--from <dir>", "base model (reca train base --out DIR)", "checkpoints/base-flow")
    .option(
      "--out <dir>",
      "output folder: reca/ (the aligned model), report.html, demo.json",
      "reca-demo",
    )
    .option(
      "--budget-min <n>",
      "RecA training budget in minutes (calibration included)",
      numberOption("budget-min", 0.1, 1e6),
      10,
    )
    .option(
      "--seed <s>",
      "RecA data seed and sampling seed of both evaluations",
      intOption("seed", 0, 2 ** 32 - 1),
      0,
    )
    .option("--json <file>", 'write {"before", "after", "minutes"}')
    .option("--config <file>", `post-training config (default ${DEFAULT_CONFIG})`)
    .option("--steps <n>", "fixed RecA steps instead of the budget", intOption("steps", 1, 1e9))
    .option("--resume", "continue the RecA run in <out>/reca (a finished one is evaluated again)")
    .option("--force", "start RecA over even if <out>/reca holds a run")
    .option("--n <n>", "GenEval images per prompt", intOption("n", 1, 64), 2)
    .option(
      "--limit <n>",
      "only the first n items of each suite (smoke runs)",
      intOption("limit", 1, 1e6),
    )
    .option(
      "--gap-samples <k>",
      "gap probe: renders and samples per pair",
      intOption("gap-samples", 1, 256),
      1,
    )
    .option("--judge <dir>", "judge checkpoint folder (default: the shipped one)")
    .option("--chunk <n>", "rows per model call (default 16)", intOption("chunk", 1, 256))
    .option(
      "--parallel <mode>",
      "kernel (one local step: ORT intra-op threads, the default on ORT) or data (worker replicas, the default with RECA_ENGINE=jax)",
    )
    .action(async (o: DemoCliOptions) => {
      const { existsSync } = await import("node:fs");
      const { loadConfig, writeJsonResult, UserError } = await import("../util/config.ts");
      if (o.parallel !== undefined && o.parallel !== "data" && o.parallel !== "kernel")
        throw new UserError(`--parallel must be data or kernel, got "${o.parallel}"`);
      if (o.resume && o.force) throw new UserError("give --resume or --force, not both");
      const { PostTrainConfigSchema } = await import("../train/reca.ts");
      const path = o.config ?? (existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined);
      const postTrain = path ? loadConfig(PostTrainConfigSchema, path) : undefined;
      const { runDemo } = await import("../demo/run.ts");
      const r = await runDemo({
        from: o.from,
        out: o.out,
        budgetMinutes: o.budgetMin,
        seed: o.seed,
        postTrain,
        steps: o.steps,
        resume: o.resume,
        force: o.force,
        perItem: o.n,
        limit: o.limit,
        gapSamples: o.gapSamples,
        judge: o.judge,
        chunk: o.chunk,
        parallelism: o.parallel,
      });
      if (o.json) writeJsonResult(o.json, r.result);
      process.stdout.write(`${r.table}\nreport: ${r.report}\n`);
    });
}
