/**
 * `reca eval`: generate with a unified model and score in one command — GenEval, DPG and edit
 * outputs judged by the suites' rules, und questions answered by the model. Prints a table;
 * `--json FILE` writes the results keyed by suite ({"geneval": {...}, "und": {...}}).
 * Item sets are the suites' documented defaults (or --full) over the model's categories;
 * --seed is the sampling seed.
 */
import type { Command } from "commander";
import { UserError } from "../util/config.ts";
import {
  addModelOptions,
  addSamplingOptions,
  type ModelCliOptions,
  type SamplingCliOptions,
} from "./model-options.ts";
import { intOption } from "./options.ts";

const ALL = ["geneval", "dpg", "edit", "und"] as const;

type Options = ModelCliOptions &
  SamplingCliOptions & {
    suite: string;
    prompts?: string;
    json?: string;
    full?: boolean;
    n?: number;
    limit?: number;
    out?: string;
    force?: boolean;
    judge: string;
    batch: number;
  };

export function register(program: Command): void {
  const cmd = program
    .command("eval")
    .description("generate with a unified model and score it on the suites")
    .option("--suite <list>", `comma-separated suites: ${ALL.join(",")}`, ALL.join(","))
    .option(
      "--prompts <file>",
      "geneval: GenEval-format metadata JSONL instead of the built-in set",
    )
    .option("--json <file>", "write the results keyed by suite")
    .option("--full", "the full item sets instead of the default ones")
    .option(
      "--n <n>",
      "images per item (default: 4 for geneval/dpg, 1 for edit)",
      intOption("n", 1, 64),
    )
    .option(
      "--limit <n>",
      "only the first n items of each suite (smoke runs)",
      intOption("limit", 1, 1e6),
    )
    .option("--out <dir>", "also write the outputs in GenEval's layout under DIR/<suite>")
    .option("--force", "with --out: replace item folders already there")
    .option("--judge <dir>", "judge checkpoint folder", "checkpoints/judge")
    .option("--batch <n>", "images per detector call", intOption("batch", 1, 4096), 64);
  addSamplingOptions(addModelOptions(cmd)).action(async (o: Options) => {
    const suites = o.suite
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    const bad = suites.filter((s) => !(ALL as readonly string[]).includes(s));
    if (bad.length > 0 || suites.length === 0)
      throw new UserError(
        `--suite: unknown suite(s) ${bad.join(", ") || "(none)"} (expected ${ALL.join(", ")})`,
      );
    if (o.prompts && !suites.includes("geneval"))
      throw new UserError("--prompts applies to the geneval suite");
    const { openModel, progressFactory, samplingOf } = await import("./model-options.ts");
    const { loadJudgeDetector } = await import("./bench.ts");
    const { evalModel, formatEvalTable } = await import("../bench/eval.ts");
    const { LayoutError } = await import("../bench/layout.ts");
    const { writeJsonResult } = await import("../util/config.ts");
    // The judge first, so a missing one fails before any generation.
    const needsJudge = suites.some((s) => s !== "und");
    const detect = needsJudge
      ? await loadJudgeDetector(o.judge)
      : async () => {
          throw new Error("no judge loaded");
        };
    const model = await openModel(o);
    try {
      const t0 = performance.now();
      let result: import("../bench/eval.ts").EvalResult;
      try {
        result = await evalModel(model, detect, {
          suites: suites as (typeof ALL)[number][],
          full: o.full,
          numCategories: model.config.data.numCategories,
          prompts: o.prompts,
          limit: o.limit,
          perItem: o.n,
          sampling: samplingOf(o),
          outDir: o.out,
          force: o.force,
          detectBatch: o.batch,
          progress: await progressFactory(),
        });
      } catch (e) {
        if (e instanceof LayoutError) throw new UserError(e.message);
        throw e;
      }
      if (o.json) writeJsonResult(o.json, result);
      const cut = (result.dpg as { truncatedPrompts?: number } | undefined)?.truncatedPrompts;
      if (cut)
        process.stderr.write(
          `warning: ${cut} dpg prompts were cut to the model's ` +
            `${model.config.sequence.conditionLen}-token condition\n`,
        );
      process.stdout.write(
        `${formatEvalTable(result)}\n[${o.model}, seed ${o.seed}, ` +
          `${((performance.now() - t0) / 1000).toFixed(1)} s]\n`,
      );
    } finally {
      model.dispose();
    }
  });
}
