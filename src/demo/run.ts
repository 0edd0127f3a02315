/**
 * `reca demo`: the paper's claim in one command. From a pretrained base model it
 *
 *   1. runs RecA (src/train/reca.ts) on the world's unlabeled pool within a wall-clock training
 *      budget: a few calibration steps are timed and discarded, and the real run gets as many
 *      steps as fit (src/demo/budget.ts); the aligned model goes to <out>/reca. The budget
 *      covers calibration and run; building the pool's benchmark exclusion (~12 s) precedes it;
 *   2. evaluates base and RecA on the same quick set with the same seeds: GenEval's default
 *      prompt set with 2 images per prompt (instead of 4), the default und set, and the gap
 *      probe with 1 sample per (category, colour) pair;
 *   3. returns the before/after results and a table, and writes <out>/report.html
 *      (src/demo/report.ts) and <out>/demo.json.
 *
 * An existing <out>/reca is an error unless `resume` (continue it to its recorded step count —
 * or, when complete, just evaluate it again) or `force` (start over).
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ImageSuiteResult, UndResult } from "../bench/eval.ts";
import { benchmarkExclusion } from "../bench/exclusion.ts";
import type { GapResult } from "../bench/gap.ts";
import { DEFAULT_JUDGE_DIR, loadJudge } from "../bench/judge/index.ts";
import type { SceneExclusion } from "../data/corpora.ts";
import { checkpointExists, readTrainerState } from "../engine/checkpoint.ts";
import { initEngine } from "../engine/jax.ts";
import type { Parallelism } from "../engine/parallel/index.ts";
import type { TrainerState } from "../train/loop.ts";
import { LossCurveError, readLossCurve } from "../train/loss-curve.ts";
import {
  type ImageSource,
  type PostTrainConfig,
  PostTrainConfigSchema,
  postTrain,
  worldPool,
} from "../train/reca.ts";
import { readModelDir, readUmmConfig } from "../umm/config-file.ts";
import { atomicWriteFile } from "../util/fsutil.ts";
import {
  type Calibration,
  measureCalibration,
  planSteps,
  type StepPlan,
  type StepTiming,
} from "./budget.ts";
import { type EvalContext, type Evaluated, evaluate } from "./evaluate.ts";
import { type ReportLoss, type ReportPrompt, writeReport } from "./report.ts";
import { formatDemoTable } from "./table.ts";

export const DEFAULT_BASE = "checkpoints/base-flow";
export const DEFAULT_OUT = "reca-demo";
export const DEFAULT_BUDGET_MINUTES = 10;
/** GenEval images per prompt in the quick set (the suite's default is 4). */
export const DEMO_GENEVAL_PER_PROMPT = 2;
export const DEMO_GAP_SAMPLES = 1;
/** Step 1 compiles; the other four give the steady-state step time. */
export const DEMO_CALIBRATION_STEPS = 5;
/** Budget time kept back for the run's final checkpoint write. */
export const FINAL_SAVE_RESERVE_SECONDS = 5;

/** Bad input to the demo (missing checkpoints, an existing run): one line, exit 2. */
export class DemoError extends Error {
  override name = "DemoError";
}

export type DemoOptions = {
  /** The base model (default checkpoints/base-flow). */
  from?: string;
  /** Output folder (default reca-demo): reca/, report.html, demo.json. */
  out?: string;
  /** Training budget in minutes, calibration included (default 10). */
  budgetMinutes?: number;
  /** RecA's data seed and the evaluation's sampling seed, the same for both models. */
  seed?: number;
  /** The post-training recipe (default: the built-in defaults; the CLI reads configs/reca.json). */
  postTrain?: PostTrainConfig;
  resume?: boolean;
  force?: boolean;
  /** Fixed RecA steps: skips the calibration and the budget. */
  steps?: number;
  calibrationSteps?: number;
  judge?: string;
  /** GenEval images per prompt (default 2). */
  perItem?: number;
  /** Only the first n items of each suite (tests, smoke runs). */
  limit?: number;
  gapSamples?: number;
  /** Rows per model call, and sampler steps (default: the model's). */
  chunk?: number;
  sampleSteps?: number;
  parallelism?: Parallelism;
  quiet?: boolean;
  /** Scenes the pool leaves out (default: every benchmark scene; tests pass a smaller one). */
  exclude?: SceneExclusion;
};

export type DemoModelResult = {
  geneval: ImageSuiteResult;
  und: UndResult;
  gap: { samples: number; seed: number; summary: GapResult["summary"] };
};

export type DemoTraining = {
  checkpoint: string;
  steps: number;
  budgetMinutes: number | null;
  calibration: Calibration | null;
  plan: StepPlan | null;
  /** Wall minutes of calibration + RecA run (this invocation), and of the RecA loop overall. */
  minutes: number;
  loopMinutes: number;
  resumedFrom: number | null;
  /**
   * The run reached the budget's end before its planned steps (the host slowed down after
   * calibration) and stopped there: `steps` of `plan.steps` ran, the LR not fully annealed.
   */
  stoppedAtBudget: boolean;
  lastLoss: number;
  runner: string;
  threads: number;
  /**
   * The RecA loop's measured process CPU minutes (all threads, over resumes); null when part of
   * the run predates the measurement (then loopMinutes × threads is the estimate).
   */
  cpuMinutes: number | null;
};

export type DemoResult = {
  before: DemoModelResult;
  after: DemoModelResult & { reca: DemoTraining };
  minutes: number;
};

export type DemoRun = {
  result: DemoResult;
  table: string;
  /** Paths of report.html and demo.json. */
  report: string;
  json: string;
  /** Both models' full gap probes (the report's heat maps). */
  gap: { base: GapResult; reca: GapResult };
};

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

export async function runDemo(o: DemoOptions = {}): Promise<DemoRun> {
  const t0 = performance.now();
  const from = o.from ?? DEFAULT_BASE;
  const out = o.out ?? DEFAULT_OUT;
  const recaDir = join(out, "reca");
  const seed = o.seed ?? 0;
  const judgeDir = o.judge ?? DEFAULT_JUDGE_DIR;
  const say = (s: string) => {
    if (!o.quiet)
      process.stderr.write(
        `demo ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s: ${s}\n`,
      );
  };

  // Everything that can be wrong with the inputs fails before any work.
  if (!existsSync(join(from, "config.json")))
    throw new DemoError(
      `base model ${from} not found: train it first with \`reca train base --out ${from}\`` +
        " (or pass --from DIR)",
    );
  const base = readUmmConfig(from);
  if (!existsSync(join(base.encoder, "config.json")))
    throw new DemoError(
      `understanding encoder ${base.encoder} (named in ${join(from, "config.json")}) not found`,
    );
  if (!existsSync(join(judgeDir, "model.safetensors")))
    throw new DemoError(`judge checkpoint missing: ${join(judgeDir, "model.safetensors")}`);
  const existing = checkpointExists(recaDir);
  if (existing && !o.resume && !o.force)
    throw new DemoError(
      `${recaDir} already holds a RecA run: pass --resume to continue it (a finished one is ` +
        "evaluated again) or --force to start over",
    );

  await initEngine();
  const numCategories = base.data.numCategories;
  say("[1/4] the world's unlabeled pool, benchmark scenes excluded…");
  const exclude = o.exclude ?? benchmarkExclusion(numCategories);
  const images = worldPool(numCategories, exclude);

  // 1. RecA within the budget.
  // Wall clock (Date.now) for the budget: the training loop checks its deadline on the same clock.
  const tTrain = Date.now();
  const budgetMinutes = o.budgetMinutes ?? DEFAULT_BUDGET_MINUTES;
  let deadline: number | undefined;
  let pt: PostTrainConfig;
  let calibration: Calibration | null = null;
  let plan: StepPlan | null = null;
  const resuming = existing && o.resume === true;
  if (resuming) {
    // The recorded recipe (steps included): the LR schedule must stay the one it started with.
    const saved = readModelDir(recaDir) as { postTrain?: PostTrainConfig & { from?: string } };
    if (!saved.postTrain) throw new DemoError(`${recaDir}: not a RecA run (no postTrain config)`);
    const { from: savedFrom, ...rest } = saved.postTrain;
    if (savedFrom !== undefined && savedFrom !== from)
      say(`note: ${recaDir} was aligned from ${savedFrom}, not ${from}`);
    pt = PostTrainConfigSchema.parse(rest);
    say(`[1/4] resuming RecA in ${recaDir} (${pt.train.steps} steps)`);
  } else {
    pt = structuredClone(o.postTrain ?? PostTrainConfigSchema.parse({}));
    pt.train.seed = seed;
    if (o.steps !== undefined) {
      pt.train.steps = o.steps;
    } else {
      const budgetSeconds = budgetMinutes * 60;
      const k = o.calibrationSteps ?? DEMO_CALIBRATION_STEPS;
      say(`[1/4] timing ${k} calibration steps of RecA (discarded)…`);
      calibration = await calibrate(pt, k, { ...o, from, out, images, exclude });
      plan = planSteps({
        budgetSeconds,
        spentSeconds: calibration.seconds,
        stepSeconds: calibration.stepSeconds,
        overheadSeconds: calibration.overheadSeconds,
      });
      pt.train.steps = plan.steps;
      // The plan comes from a few timed steps; if the machine slows down later, the run still
      // ends inside the budget (leaving time for the final checkpoint).
      deadline = tTrain + budgetSeconds * 1000 - FINAL_SAVE_RESERVE_SECONDS * 1000;
      say(
        `${calibration.stepSeconds.toFixed(2)} s/step + ${calibration.overheadSeconds.toFixed(0)} s ` +
          `start-up: ${plan.steps} RecA steps fit the ${budgetMinutes}-minute budget` +
          (plan.fits ? "" : " (it is too small even for one; running one anyway)"),
      );
    }
    // A warm-up longer than the run would never reach the recipe's learning rate.
    if (pt.train.warmupSteps >= pt.train.steps)
      pt.train.warmupSteps = Math.floor(pt.train.steps / 10);
    say(`[1/4] RecA: ${pt.train.steps} steps on ${images.name} → ${recaDir}`);
  }
  const run = await postTrain(pt, {
    from,
    outDir: recaDir,
    images,
    exclude,
    resume: resuming,
    force: !resuming,
    parallelism: o.parallelism,
    quiet: o.quiet,
    deadline,
  });
  if (run.status === "deadline")
    say(
      `RecA reached the ${budgetMinutes}-minute budget ` +
        `after ${run.step} of ${pt.train.steps} planned steps (the machine ran slower than ` +
        "calibrated); evaluating that checkpoint",
    );
  else if (run.status === "interrupted")
    throw new DemoError(
      `RecA stopped at step ${run.step} (checkpoint in ${recaDir}): run the demo again with ` +
        "--resume to continue",
    );
  if (run.status !== "done" && run.status !== "deadline")
    throw new DemoError(run.message ?? `RecA stopped: ${run.status}`);
  const training: DemoTraining = {
    checkpoint: recaDir,
    steps: run.step,
    budgetMinutes: resuming || o.steps !== undefined ? null : budgetMinutes,
    calibration,
    plan,
    minutes: round((Date.now() - tTrain) / 60000),
    loopMinutes: round(run.wallSeconds / 60),
    resumedFrom: resuming ? run.startStep : null,
    stoppedAtBudget: run.status === "deadline",
    lastLoss: run.lastLoss,
    runner: run.runner,
    threads: run.threads,
    cpuMinutes: (() => {
      const cpu = readTrainerState<TrainerState>(recaDir)?.cpuSeconds;
      return cpu === undefined ? null : round(cpu / 60);
    })(),
  };

  // 2. The same quick set, the same seeds, for both models.
  const detect = await loadJudge(judgeDir);
  const evalOpts: EvalContext = {
    seed,
    numCategories,
    perItem: o.perItem ?? DEMO_GENEVAL_PER_PROMPT,
    limit: o.limit,
    gapSamples: o.gapSamples ?? DEMO_GAP_SAMPLES,
    chunk: o.chunk,
    sampleSteps: o.sampleSteps,
    quiet: o.quiet,
  };
  say(`[2/4] evaluating the base model (${from})`);
  const before = await evaluate(from, "base", detect, evalOpts);
  say(`[3/4] evaluating the RecA model (${recaDir})`);
  const after = await evaluate(recaDir, "reca", detect, evalOpts);

  // 3. Results, table, report.
  const strip = ({ shots: _s, gapFull: _g, prompts: _p, ...r }: Evaluated): DemoModelResult => r;
  const result: DemoResult = {
    before: strip(before),
    after: { ...strip(after), reca: training },
    minutes: round((performance.now() - t0) / 60000),
  };
  const table = formatDemoTable(result);
  say("[4/4] writing the report");
  const prompts: ReportPrompt[] = before.prompts.map((p, i) => ({
    ...p,
    base: before.shots[i],
    reca: after.shots[i],
  }));
  const report = join(out, "report.html");
  writeReport(report, {
    from,
    recaDir,
    seed,
    result,
    prompts,
    gap: { base: before.gapFull, reca: after.gapFull },
    loss: reportLoss(join(recaDir, "metrics.jsonl"), say),
  });
  const json = join(out, "demo.json");
  atomicWriteFile(json, `${JSON.stringify(result, null, 2)}\n`);
  return { result, table, report, json, gap: { base: before.gapFull, reca: after.gapFull } };
}

/**
 * The RecA run's loss curve for the report: its reconstruction rows' loss (the `gen` part) when
 * every logged step has it, else the total. An unreadable metrics file costs only that chart.
 */
function reportLoss(path: string, say: (s: string) => void): ReportLoss | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const total = readLossCurve(path);
    const gen = readLossCurve(path, "gen");
    return gen.length > 0 && gen.length === total.length
      ? { part: "reconstruction", points: gen }
      : { part: "total", points: total };
  } catch (e) {
    if (!(e instanceof LossCurveError)) throw e;
    say(`note: no loss chart in the report (${e.message})`);
    return undefined;
  }
}

export type CalibrationContext = {
  from: string;
  out: string;
  images: ImageSource;
  exclude?: SceneExclusion;
  parallelism?: Parallelism;
  quiet?: boolean;
};

/** k steps of the same run in <out>/.calibration (removed afterwards), timed. */
export async function calibrate(
  pt: PostTrainConfig,
  k: number,
  c: CalibrationContext,
): Promise<Calibration> {
  const dir = join(c.out, ".calibration");
  const cal = structuredClone(pt);
  cal.train.steps = k;
  cal.train.checkpointEvery = k;
  const t = performance.now();
  try {
    await postTrain(cal, {
      from: c.from,
      outDir: dir,
      images: c.images,
      exclude: c.exclude,
      force: true,
      parallelism: c.parallelism,
      quiet: c.quiet,
      label: "calibrate",
    });
    const seconds = (performance.now() - t) / 1000;
    const lines = readFileSync(join(dir, "metrics.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as StepTiming);
    return measureCalibration(lines, seconds);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
