/**
 * `reca judge train|eval|detect`: train the independent judge, measure it on
 * held-out renders, or run it on a PNG. Heavy imports live inside the handlers.
 */
import type { Command } from "commander";
import { UserError } from "../util/config.ts";
import { intOption } from "./options.ts";

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

type TrainJudgeCli = {
  out: string;
  config?: string;
  steps?: number;
  seed?: number;
  resume?: boolean;
  force?: boolean;
};

/**
 * The judge's training command, attached to `cmd`: `reca judge train` here, and
 * `reca train judge` when the train group adds it (src/cli/train/judge.ts:
 * `export { registerTrainJudge as register } from "../judge.ts"`).
 */
function addTrainJudge(cmd: Command): Command {
  return cmd
    .description("train the judge's classifier on augmented renders, then calibrate its scores")
    .requiredOption("--out <dir>", "checkpoint directory (e.g. checkpoints/judge)")
    .option("--config <file>", "JSON config (configs/judge.json); built-in defaults otherwise")
    .option("--steps <n>", "override train.steps", intOption("steps", 1, 1_000_000))
    .option("--seed <s>", "override train.seed", intOption("seed", 0, 2 ** 32 - 1))
    .option("--resume", "continue the checkpoint in --out (bit-identical)")
    .option("--force", "start over even if --out holds a checkpoint")
    .action(trainJudgeAction);
}

export function registerTrainJudge(train: Command): void {
  addTrainJudge(train.command("judge"));
}

async function trainJudgeAction(o: TrainJudgeCli): Promise<void> {
  const { JudgeConfigSchema } = await import("../bench/judge/config.ts");
  const { loadConfig, validateConfig } = await import("../util/config.ts");
  const cfg = o.config
    ? loadConfig(JudgeConfigSchema, o.config)
    : validateConfig(JudgeConfigSchema, {}, "defaults");
  if (o.steps !== undefined) cfg.train.steps = o.steps;
  if (o.seed !== undefined) cfg.train.seed = o.seed;
  const { trainJudge } = await import("../bench/judge/train.ts");
  const r = await trainJudge(cfg, { outDir: o.out, resume: o.resume, force: o.force });
  if (r.loop.status !== "done") {
    process.stderr.write(`${r.loop.message ?? r.loop.status}\n`);
    process.exitCode = 1;
    return;
  }
  const cal = r.calibration;
  process.stdout.write(
    `trained ${r.loop.step} steps in ${r.loop.wallSeconds.toFixed(0)} s (loss ${r.loop.lastLoss.toFixed(4)})` +
      (cal
        ? `; temperature ${cal.temperature.toFixed(3)} (NLL ${cal.nllBefore.toFixed(4)} → ${cal.nllAfter.toFixed(4)} on ${cal.components} components)`
        : "") +
      `\nwrote ${o.out}\n`,
  );
}

export function register(program: Command): void {
  const judge = program
    .command("judge")
    .description("the independent judge: image → objects {category, color, box, score}");

  addTrainJudge(judge.command("train"));

  judge
    .command("eval")
    .description(
      "detection F1, colour and count accuracy, precision@0.9 and calibration on held-out renders",
    )
    .option("--model <dir>", "judge checkpoint (default: the shipped checkpoints/judge)")
    .option(
      "--n <n>",
      "held-out scenes (each scored clean and degraded)",
      intOption("n", 1, 1_000_000),
      2000,
    )
    .option("--size <px>", "image side: 32 or 64", intOption("size", 32, 64), 32)
    .option("--seed <s>", "held-out seed", intOption("seed", 0, 2 ** 32 - 1), 0)
    .option(
      "--strength <k>",
      "scale of the degradation mix (1 = default, see src/bench/degrade.ts)",
      "1",
    )
    .option("--json <file>", "also write the report as JSON")
    .action(
      async (o: {
        model?: string;
        n: number;
        size: number;
        seed: number;
        strength: string;
        json?: string;
      }) => {
        if (o.size !== 32 && o.size !== 64) throw new UserError("--size must be 32 or 64");
        const k = Number(o.strength);
        if (!(k > 0 && k <= 3)) throw new UserError("--strength must be in (0, 3]");
        const { DEFAULT_STRENGTH, scaleStrength } = await import("../bench/degrade.ts");
        const { loadJudgeModel } = await import("../bench/judge/detector.ts");
        const { evaluateJudge } = await import("../bench/judge/eval.ts");
        const model = await loadJudgeModel(o.model);
        const report = await evaluateJudge((imgs) => model.detect(imgs), {
          n: o.n,
          size: o.size,
          seed: o.seed,
          categories: model.config.categories,
          strength: scaleStrength(DEFAULT_STRENGTH, k),
        });
        const rows = [
          ["", "clean", "degraded"],
          ...(
            [
              ["detection F1 (>0.3)", "f1"],
              ["precision (>0.3)", "precision"],
              ["recall (>0.3)", "recall"],
              ["colour accuracy", "colorAccuracy"],
              ["exact count (>0.3)", "countAccuracy"],
              ["exact count (>0.9)", "countAccuracyAt09"],
              ["precision (>0.9)", "precisionAt09"],
              ["recall (>0.9)", "recallAt09"],
            ] as const
          ).map(([name, k]) => [name, pct(report.clean[k]), pct(report.degraded[k])]),
        ];
        const lines = rows.map((r) => `${r[0].padEnd(22)}${r[1].padStart(10)}${r[2].padStart(10)}`);
        lines.push(
          "",
          "calibration (all detections ≥ 0.05): bin  n  precision  [clean | degraded]",
        );
        report.clean.calibration.forEach((b, i) => {
          const d = report.degraded.calibration[i];
          const f = (x: { n: number; precision: number | null }) =>
            `${String(x.n).padStart(6)} ${x.precision === null ? "    -" : x.precision.toFixed(3)}`;
          lines.push(`  [${b.lo.toFixed(1)}, ${b.hi.toFixed(1)})  ${f(b)}  | ${f(d)}`);
        });
        lines.push(
          "",
          `${o.n} scenes at ${o.size}×${o.size}, seed ${o.seed}, degradation strength ${k}, categories ${model.config.categories.join(",")}; ${report.wallSeconds.toFixed(1)} s`,
        );
        process.stdout.write(`${lines.join("\n")}\n`);
        if (o.json) {
          const { writeJsonResult } = await import("../util/config.ts");
          writeJsonResult(o.json, {
            model: o.model ?? "checkpoints/judge",
            strength: k,
            ...report,
          });
        }
        model.dispose();
      },
    );

  judge
    .command("detect")
    .description("print the judge's detections for a PNG")
    .requiredOption("--image <png>", "image file")
    .option("--model <dir>", "judge checkpoint (default: the shipped checkpoints/judge)")
    .option("--min-score <s>", "hide detections below this score", "0.05")
    .option("--json", "machine-readable output")
    .action(async (o: { image: string; model?: string; minScore: string; json?: boolean }) => {
      const { existsSync, readFileSync } = await import("node:fs");
      if (!existsSync(o.image)) throw new UserError(`image not found: ${o.image}`);
      const minScore = Number(o.minScore);
      if (!(minScore >= 0 && minScore <= 1)) throw new UserError("--min-score must be in [0, 1]");
      const { decodePng } = await import("../data/png.ts");
      const { loadJudgeModel } = await import("../bench/judge/detector.ts");
      let img: ReturnType<typeof decodePng>;
      try {
        img = decodePng(readFileSync(o.image));
      } catch (e) {
        throw new UserError(`${o.image}: not a readable PNG (${(e as Error).message})`);
      }
      const model = await loadJudgeModel(o.model);
      const [dets] = await model.detect([img], { minScore });
      model.dispose();
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ image: o.image, detections: dets }, null, 2)}\n`);
        return;
      }
      if (dets.length === 0) process.stdout.write("no detections\n");
      for (const d of dets)
        process.stdout.write(
          `${d.score.toFixed(3)}  ${d.color} ${d.category}  [${d.box.join(", ")}]\n`,
        );
    });
}
