/**
 * `reca experiment run | status | table`: the paper's table as one resumable job list. `run`
 * post-trains and evaluates every (row, seed) of a plan (src/experiment/), skipping what is done;
 * `status` says where each job stands; `table` prints mean ± std per row in the paper's shape, as
 * Markdown, and optionally JSON.
 */
import type { Command } from "commander";
import { UserError } from "../util/config.ts";
import { intOption, parseDeadline } from "./options.ts";

const DEFAULT_PLAN = "configs/experiments/paper.json";
const DEFAULT_BASE = "checkpoints/base-flow";

type RunOptions = {
  plan: string;
  from: string;
  out: string;
  rows?: string;
  seeds?: string;
  steps?: number;
  n?: number;
  limit?: number;
  sampleSteps?: number;
  gapSamples?: number;
  suite?: string;
  judge: string;
  chunk?: number;
  parallel?: "data" | "kernel";
  deadline?: string;
};

/** How `reca experiment table` reads each claim (printed under the claims table). */
const CLAIMS_NOTE =
  "Reading: each claim's paired difference (same seed on both sides) against zero, t = mean / SE " +
  "with SE the larger of the spread over seeds (std/√n) and the measurement error where the results " +
  "give one (GenEval: images per tag; und: questions, paired); a side is called higher only where " +
  "|t| exceeds Student's 95% bound for n − 1 degrees of freedom (12.71 at two seeds, 4.30 at three).";

type TableOptions = {
  out: string;
  plan?: string;
  seeds?: string;
  markdown?: string;
  json?: string;
  claims?: boolean;
};

const list = (s: string | undefined) =>
  s
    ?.split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");

function parseSeeds(s: string | undefined): number[] | undefined {
  const xs = list(s);
  if (!xs) return undefined;
  const seeds = xs.map(Number);
  if (xs.length === 0 || seeds.some((x) => !Number.isInteger(x) || x < 0))
    throw new UserError(`--seeds must be a comma-separated list of integers ≥ 0, got "${s}"`);
  return seeds;
}

type PlanOptions = Pick<
  RunOptions,
  | "plan"
  | "from"
  | "rows"
  | "seeds"
  | "steps"
  | "suite"
  | "n"
  | "limit"
  | "sampleSteps"
  | "gapSamples"
>;

/** The plan, its selected rows and seeds, and its protocol with the command line's overrides. */
async function resolvePlan(o: PlanOptions) {
  const { loadPlan, selectRows, EvalProtocolSchema } = await import("../experiment/plan.ts");
  const { validateConfig } = await import("../util/config.ts");
  const plan = loadPlan(o.plan);
  const rows = selectRows(plan, list(o.rows));
  const seeds = parseSeeds(o.seeds) ?? plan.seeds;
  // Protocol overrides make a different protocol, recorded in every result.
  plan.eval = validateConfig(
    EvalProtocolSchema,
    {
      ...plan.eval,
      ...(o.suite !== undefined && { suites: list(o.suite) }),
      ...(o.n !== undefined && { perItem: o.n }),
      ...(o.limit !== undefined && { limit: o.limit }),
      ...(o.sampleSteps !== undefined && { sampleSteps: o.sampleSteps }),
      ...(o.gapSamples !== undefined && { gapSamples: o.gapSamples }),
    },
    "protocol (plan + options)",
  );
  return { plan, rows, seeds };
}

/** The options that choose jobs and protocol, shared by `run` and `status`. */
function planOptions(c: Command): Command {
  return c
    .option("--plan <file>", "experiment plan", DEFAULT_PLAN)
    .option("--from <dir>", "the base model every row starts from", DEFAULT_BASE)
    .option("--rows <list>", "only these rows (comma-separated names)")
    .option("--seeds <list>", "only these seeds (default: the plan's)")
    .option("--steps <n>", "override every stage's steps (smoke runs)", intOption("steps", 1, 1e9))
    .option("--suite <list>", "protocol: suites to evaluate (default: the plan's)")
    .option("--n <n>", "protocol: images per item", intOption("n", 1, 64))
    .option("--limit <n>", "protocol: first n items of each suite", intOption("limit", 1, 1e6))
    .option("--sample-steps <n>", "protocol: sampler steps", intOption("sample-steps", 1, 1000))
    .option(
      "--gap-samples <n>",
      "protocol: gap-probe samples per pair (0 = none)",
      intOption("gap-samples", 0, 64),
    );
}

export function register(program: Command): void {
  const exp = program
    .command("experiment")
    .description("run a table of post-training settings × seeds, and summarise it");

  planOptions(
    exp
      .command("run")
      .description(
        "post-train and evaluate every row × seed of a plan (resumable; a second process on the " +
          "same --out skips the jobs and stages the first is running, so two can share the cores)",
      )
      .requiredOption(
        "--out <dir>",
        "experiment folder (stages/, rows/<row>/seed-<s>/result.json)",
      ),
  )
    .option("--judge <dir>", "judge checkpoint folder", "checkpoints/judge")
    .option("--chunk <n>", "images per sampler call", intOption("chunk", 1, 4096))
    .option(
      "--parallel <mode>",
      "kernel (one local step: ORT intra-op threads, the default on ORT) or data (worker replicas, the default with RECA_ENGINE=jax)",
    )
    .option(
      "--deadline <time>",
      "start no job expected to end after this time (+MINUTES, HH:MM or an ISO date-time), " +
        "judged by the jobs already finished in --out; a running job is never cut short",
    )
    .action(async (o: RunOptions) => {
      const { existsSync } = await import("node:fs");
      const { join } = await import("node:path");
      if (o.parallel !== undefined && o.parallel !== "data" && o.parallel !== "kernel")
        throw new UserError(`--parallel must be data or kernel, got "${o.parallel}"`);
      if (!existsSync(join(o.from, "config.json")))
        throw new UserError(`${o.from} is not a model directory (no config.json)`);
      const deadline = o.deadline === undefined ? undefined : parseDeadline(o.deadline, "deadline");
      const { plan, rows, seeds } = await resolvePlan(o);
      const { loadJudgeDetector } = await import("./bench.ts");
      const detect = await loadJudgeDetector(o.judge);
      const { progressFactory } = await import("./model-options.ts");
      const { runExperiment } = await import("../experiment/run.ts");
      const { buildTable, deltaSection, formatMarkdown } = await import("../experiment/table.ts");
      const t0 = performance.now();
      const results = await runExperiment({
        plan,
        from: o.from,
        out: o.out,
        rows,
        seeds,
        detect,
        steps: o.steps,
        parallelism: o.parallel,
        chunk: o.chunk,
        progress: await progressFactory(),
        deadline,
      });
      const table = buildTable(
        results,
        plan.rows.map((r) => r.name),
      );
      process.stdout.write(
        `${formatMarkdown(table)}\n\n${deltaSection(
          results,
          plan.rows.map((r) => r.name),
        )}` +
          `[${results.length} jobs, ${((performance.now() - t0) / 60000).toFixed(1)} min; ` +
          `reca experiment table --out ${o.out}]\n`,
      );
    });

  planOptions(
    exp
      .command("status")
      .description(
        "every row × seed of a plan: done, running (which process, which stage step), stopped " +
          "part-way, or not started; reads the folder, changes nothing",
      )
      .requiredOption("--out <dir>", "experiment folder written by `reca experiment run`"),
  )
    .option("--json <file>", "write the job list as JSON")
    .action(async (o: PlanOptions & { out: string; json?: string }) => {
      const { existsSync } = await import("node:fs");
      if (!existsSync(o.out)) throw new UserError(`${o.out}: no such experiment folder`);
      const { plan, rows, seeds } = await resolvePlan(o);
      const { experimentStatus, formatStatus } = await import("../experiment/status.ts");
      const { writeJsonResult } = await import("../util/config.ts");
      const jobs = experimentStatus({
        plan,
        from: o.from,
        out: o.out,
        rows,
        seeds,
        steps: o.steps,
      });
      if (o.json) writeJsonResult(o.json, { jobs });
      process.stdout.write(`${formatStatus(jobs)}\n`);
    });

  planOptions(
    exp
      .command("losses")
      .description(
        "the training-loss curve of every stage of the chosen rows × seeds: a summary table, and " +
          "with --svg a chart (copy collapse shows as a reconstruction loss far below the bottleneck run's)",
      )
      .requiredOption("--out <dir>", "experiment folder written by `reca experiment run`"),
  )
    .option(
      "--part <name>",
      "a logged part of the loss instead of the total: gen (the generation rows: reconstruction " +
        "in RecA, captions in SFT) or text (the co-trained image→text loss, before its weight)",
    )
    .option("--svg <file>", "draw the curves into an SVG chart")
    .option("--smooth <n>", "chart: mean over the last n steps", intOption("smooth", 1, 100000), 10)
    .option("--y-max <loss>", "chart: clip the loss axis here (early steps can dwarf the rest)")
    .option("--json <file>", "write every stage's curve and summary as JSON")
    .action(
      async (
        o: PlanOptions & {
          out: string;
          part?: string;
          svg?: string;
          smooth: number;
          yMax?: string;
          json?: string;
        },
      ) => {
        const { existsSync } = await import("node:fs");
        if (!existsSync(o.out)) throw new UserError(`${o.out}: no such experiment folder`);
        const yMax = o.yMax === undefined ? undefined : Number(o.yMax);
        if (yMax !== undefined && !(yMax > 0))
          throw new UserError(`--y-max must be a positive number, got "${o.yMax}"`);
        const { rows, seeds } = await resolvePlan(o);
        const { experimentLosses, formatLossTable } = await import("../experiment/losses.ts");
        const { LossCurveError, lossChartSvg } = await import("../train/loss-curve.ts");
        const { atomicWriteFile } = await import("../util/fsutil.ts");
        const { writeJsonResult } = await import("../util/config.ts");
        let stages: import("../experiment/losses.ts").StageLoss[];
        try {
          stages = experimentLosses({
            from: o.from,
            out: o.out,
            rows,
            seeds,
            steps: o.steps,
            part: o.part,
          });
        } catch (e) {
          if (e instanceof LossCurveError) throw new UserError(e.message);
          throw e;
        }
        if (o.svg) {
          const drawn = stages.filter((s) => s.points.length > 0);
          if (drawn.length === 0)
            throw new UserError(
              o.part === undefined
                ? `${o.out}: no stage has logged a step yet`
                : `${o.out}: no stage has logged the loss part "${o.part}" (stages trained before ` +
                    "parts were logged have only the total)",
            );
          atomicWriteFile(
            o.svg,
            lossChartSvg(drawn, {
              title: `Training loss${o.part ? ` (part: ${o.part})` : ""}, ${o.out} (seed${seeds.length > 1 ? "s" : ""} ${seeds.join(", ")})`,
              smooth: o.smooth,
              yMax,
            }),
          );
        }
        if (o.json) writeJsonResult(o.json, { stages });
        process.stdout.write(
          `${formatLossTable(stages, o.part)}\n${o.svg ? `[chart: ${o.svg}, mean of ${o.smooth} steps]\n` : ""}`,
        );
      },
    );

  exp
    .command("table")
    .description("mean ± std per row over the finished seeds, shaped like the paper's table")
    .requiredOption("--out <dir>", "experiment folder written by `reca experiment run`")
    .option(
      "--plan <file>",
      `row order and the paper's claims to check from this plan (default ${DEFAULT_PLAN} if present)`,
    )
    .option("--seeds <list>", "only these seeds' jobs (default: every finished seed)")
    .option("--markdown <file>", "also write the Markdown table to FILE")
    .option(
      "--json <file>",
      "write {rows, pairedDeltas, claims} as JSON: mean, std, n per column, each row minus the base seed by seed, and each claim's paired test",
    )
    .option("--no-claims", "leave out the check of the plan's claims")
    .action(async (o: TableOptions) => {
      const { existsSync } = await import("node:fs");
      const { loadPlan } = await import("../experiment/plan.ts");
      const { atomicWriteFile } = await import("../util/fsutil.ts");
      const { writeJsonResult } = await import("../util/config.ts");
      const {
        buildTable,
        checkClaims,
        deltaSection,
        formatClaimsMarkdown,
        formatMarkdown,
        pairedDeltas,
        readResults,
      } = await import("../experiment/table.ts");
      const seeds = parseSeeds(o.seeds);
      const results = readResults(o.out).filter((r) => !seeds || seeds.includes(r.seed));
      if (results.length === 0)
        throw new UserError(
          `${o.out}: no finished jobs${seeds ? ` for seeds ${seeds.join(", ")}` : ""} (rows/<row>/seed-<s>/result.json)`,
        );
      const planPath = o.plan ?? (existsSync(DEFAULT_PLAN) ? DEFAULT_PLAN : undefined);
      const plan = planPath ? loadPlan(planPath) : undefined;
      const order = plan?.rows.map((r) => r.name) ?? [];
      let rows: ReturnType<typeof buildTable>;
      let claims: ReturnType<typeof checkClaims>;
      try {
        rows = buildTable(results, order);
        claims = o.claims === false ? [] : checkClaims(results, plan?.claims ?? []);
      } catch (e) {
        throw new UserError((e as Error).message);
      }
      const claimsMd = formatClaimsMarkdown(claims);
      const md = [
        formatMarkdown(rows),
        deltaSection(results, order).trimEnd(),
        claimsMd && `${claimsMd}\n\n${CLAIMS_NOTE}`,
      ]
        .filter(Boolean)
        .join("\n\n");
      if (o.markdown) atomicWriteFile(o.markdown, `${md}\n`);
      if (o.json) writeJsonResult(o.json, { rows, pairedDeltas: pairedDeltas(results), claims });
      process.stdout.write(`${md}\n`);
    });
}
