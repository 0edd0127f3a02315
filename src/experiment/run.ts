/**
 * Running an experiment plan: every (row, seed) job post-trains its stage chain from the base
 * model and evaluates the result under the plan's one protocol, writing
 * `<out>/rows/<row>/seed-<s>/result.json` (atomically). Everything is resumable at two levels:
 *
 * - a job whose result.json exists with the same protocol is skipped;
 * - a stage's checkpoint lives under `<out>/stages/<config>-<key>`, where the key hashes the
 *   base model's path, every earlier stage and this stage's config with the job's seed. A stage
 *   that two rows share (SFT alone, and SFT as the first half of SFT → RecA) trains once, and a
 *   stage cut short resumes from its last checkpoint (bit-identical, src/train/loop.ts).
 *
 * Jobs run seed-major (all rows for seed 0, then seed 1, …) so a partial run already fills one
 * complete column of the table. The seed is the training seed of every stage and the sampling
 * seed of the evaluation; the base row varies only the latter. Train cost is reported in
 * CPU-minutes: the training loop's measured process CPU time (all threads), which stays true
 * when two experiments share the cores; stages trained before it was recorded fall back to
 * wall minutes × the worker threads that trained (`cpuMeasured: false`).
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { type EvalResult, evalModel, type ProgressFactory } from "../bench/eval.ts";
import { benchmarkExclusion } from "../bench/exclusion.ts";
import { type GapResult, gapProbe, gapProgressBars } from "../bench/gap.ts";
import type { Detector } from "../bench/judge/types.ts";
import type { SceneExclusion } from "../data/corpora.ts";
import { readTrainerState } from "../engine/checkpoint.ts";
import type { Parallelism } from "../engine/parallel/index.ts";
import type { TrainerState } from "../train/loop.ts";
import { type PostTrainConfig, postTrain, worldPool } from "../train/reca.ts";
import { loadUmm, readUmmConfig } from "../umm/infer.ts";
import { atomicWriteFile, lockHolder, tryLock } from "../util/fsutil.ts";
import { type Provenance, provenance } from "../util/provenance.ts";
import { type EvalProtocol, type ExperimentPlan, type ExperimentRow, perItemFor } from "./plan.ts";

export class ExperimentError extends Error {
  override name = "ExperimentError";
}

export type StageRecord = {
  config: string;
  dir: string;
  steps: number;
  wallSeconds: number;
  threads: number;
  cpuMinutes: number;
  /** cpuMinutes is measured process CPU time (else wall × threads, from older checkpoints). */
  cpuMeasured?: boolean;
};

export type JobResult = {
  row: string;
  label: string;
  seed: number;
  from: string;
  protocol: EvalProtocol;
  stages: StageRecord[];
  /** Sum of the stages' CPU-minutes (0 for the base row). */
  trainCpuMinutes: number;
  eval: EvalResult;
  gap: GapResult["summary"] | null;
  evalSeconds: number;
  provenance: Provenance;
  finishedAt: string;
};

export type ExperimentOptions = {
  plan: ExperimentPlan;
  /** The base model every row starts from. */
  from: string;
  out: string;
  rows: readonly ExperimentRow[];
  seeds: readonly number[];
  detect: Detector;
  /** Override every stage's step count (smoke runs; part of the stage key). */
  steps?: number;
  parallelism?: Parallelism;
  chunk?: number;
  /** Scenes kept out of the training pool (default: the benchmarks' own, as `reca align`). */
  exclude?: SceneExclusion;
  progress?: ProgressFactory;
  quiet?: boolean;
  log?: (line: string) => void;
  /**
   * Start no job expected to end after this time (epoch ms), by estimateJobSeconds over the
   * folder's finished jobs; a job with no estimate yet is started. A job already running is
   * never cut short.
   */
  deadline?: number;
  /** The clock the deadline is read against (tests). */
  now?: () => number;
};

export const jobDir = (out: string, row: string, seed: number) =>
  join(out, "rows", row, `seed-${seed}`);

export const sameProtocol = (a: EvalProtocol, b: EvalProtocol) =>
  JSON.stringify(a) === JSON.stringify(b);

/** Steps a stage folder holds a complete checkpoint of (0: none yet). */
export function checkpointedStep(stageDir: string): number {
  const state = readTrainerState<TrainerState>(stageDir);
  return state && existsSync(join(stageDir, "config.json")) ? state.step : 0;
}

export function readJobResult(path: string): JobResult | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as JobResult;
  } catch {
    return null;
  }
}

/** Every result.json under `<out>/rows`, by row name, then seed folder. */
export function readResults(out: string): JobResult[] {
  const rowsDir = join(out, "rows");
  if (!existsSync(rowsDir)) return [];
  const results: JobResult[] = [];
  for (const row of readdirSync(rowsDir).sort())
    for (const s of readdirSync(join(rowsDir, row)).sort()) {
      const r = readJobResult(join(rowsDir, row, s, "result.json"));
      if (r) results.push(r);
    }
  return results;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * How long a job is expected to take, from the jobs already finished in the folder: the median
 * evaluation time under the same protocol, plus, for each stage of its chain still to train, its
 * remaining steps × the median wall seconds per step of finished stages of the same config (of
 * any stage when none has that config). Null when no job under this protocol has finished: there
 * is nothing to go by.
 */
export function estimateJobSeconds(
  finished: readonly JobResult[],
  protocol: EvalProtocol,
  chain: readonly { name: string; steps: number; done: number }[],
): number | null {
  const same = finished.filter((r) => sameProtocol(r.protocol, protocol));
  if (same.length === 0) return null;
  let seconds = median(same.map((r) => r.evalSeconds));
  const perStep = (name?: string) => {
    const xs = finished
      .flatMap((r) => r.stages)
      .filter((st) => st.steps > 0 && (name === undefined || stageName(st.config) === name))
      .map((st) => st.wallSeconds / st.steps);
    return xs.length > 0 ? median(xs) : undefined;
  };
  for (const st of chain) {
    if (st.done >= st.steps) continue;
    const rate = perStep(st.name) ?? perStep();
    if (rate === undefined) return null;
    seconds += (st.steps - st.done) * rate;
  }
  return seconds;
}

/** A stage config file's name without .json (the stage folder's prefix). */
const stageName = (path: string) => basename(path).replace(/\.json$/, "");

/**
 * Config fields added after stages were trained, with the value that reproduces the behaviour
 * from before they existed: a field at that value is left out of the key, so stages trained
 * earlier keep their folders (their configs were the same training).
 */
const KEY_NEUTRAL: Partial<Record<keyof PostTrainConfig, unknown>> = { sftCaptions: "sparse" };

export function stageKey(prev: string, cfg: PostTrainConfig): string {
  const keyed: Record<string, unknown> = { ...cfg };
  for (const [k, v] of Object.entries(KEY_NEUTRAL)) if (keyed[k] === v) delete keyed[k];
  return createHash("sha256").update(prev).update("\n").update(JSON.stringify(keyed)).digest("hex");
}

export type ChainStage = {
  stage: ExperimentRow["stages"][number];
  /** The stage's config with the job's seed (and a --steps override) applied. */
  cfg: PostTrainConfig;
  /** The config file's name without .json. */
  name: string;
  /** `<out>/stages/<name>-<key>`: shared by every job whose chain up to here is the same. */
  dir: string;
};

/** The stage folders of one (row, seed) job, in training order. */
export function stageChain(
  o: Pick<ExperimentOptions, "from" | "out" | "steps">,
  row: ExperimentRow,
  seed: number,
): ChainStage[] {
  let key = `base:${resolve(o.from)}`;
  return row.stages.map((stage) => {
    const cfg: PostTrainConfig = structuredClone(stage.config);
    cfg.train.seed = seed;
    if (o.steps !== undefined) cfg.train.steps = o.steps;
    key = stageKey(key, cfg);
    const name = stageName(stage.path);
    return { stage, cfg, name, dir: join(o.out, "stages", `${name}-${key.slice(0, 12)}`) };
  });
}

/** Run (or resume) the plan's jobs; returns every job's result, fresh or read back. */
export async function runExperiment(o: ExperimentOptions): Promise<JobResult[]> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const base = readUmmConfig(o.from);
  const numCategories = base.data.numCategories;
  const exclude = o.exclude ?? benchmarkExclusion(numCategories);
  const pool = worldPool(numCategories, exclude);
  // The code this process loaded: HEAD read when a job finishes hours later may be newer.
  const code = provenance();
  const results: JobResult[] = [];
  const total = o.rows.length * o.seeds.length;
  let index = 0;
  let notStarted = 0;
  for (const seed of o.seeds) {
    jobs: for (const row of o.rows) {
      index++;
      const dir = jobDir(o.out, row.name, seed);
      const resultPath = join(dir, "result.json");
      const done = readJobResult(resultPath);
      const finishedUnderPlan = (r: JobResult | null) =>
        r && sameProtocol(r.protocol, o.plan.eval) ? r : null;
      const reusable = finishedUnderPlan(done);
      if (reusable) {
        log(`[${index}/${total}] ${row.name} seed ${seed}: done (${resultPath})`);
        results.push(reusable);
        continue;
      }
      if (done)
        log(`[${index}/${total}] ${row.name} seed ${seed}: protocol changed, re-evaluating`);
      log(`[${index}/${total}] ${row.name} seed ${seed}`);
      // A job another process holds is reported as such below, not timed against the deadline.
      if (o.deadline !== undefined && lockHolder(join(dir, ".lock")) === null) {
        const chain = stageChain(o, row, seed).map((c) => ({
          name: c.name,
          steps: c.cfg.train.steps,
          done: checkpointedStep(c.dir),
        }));
        const est = estimateJobSeconds(readResults(o.out), o.plan.eval, chain);
        const now = (o.now ?? Date.now)();
        if (est !== null && now + est * 1000 > o.deadline) {
          const left = Math.max(0, (o.deadline - now) / 60000);
          log(
            `  not started: expected to take ${(est / 60).toFixed(0)} min, ${left.toFixed(0)} min ` +
              `left before the deadline (${new Date(o.deadline).toISOString()})`,
          );
          notStarted++;
          continue;
        }
      }

      // Two processes may run the same plan (different rows use both cores): a job, and a stage
      // two jobs share, is run by one process at a time; the other skips it and says so.
      const jobLock = tryLock(join(dir, ".lock"));
      if ("heldBy" in jobLock) {
        log(`  skipped: process ${jobLock.heldBy} is running this job (rerun later to collect it)`);
        continue;
      }
      try {
        // Another process may have finished it between the check above and the lock.
        const finished = finishedUnderPlan(readJobResult(resultPath));
        if (finished) {
          log(`  done meanwhile by another process (${resultPath})`);
          results.push(finished);
          continue;
        }
        // 1. The stage chain.
        let model = o.from;
        const stages: StageRecord[] = [];
        for (const { stage, cfg, name, dir: stageDir } of stageChain(o, row, seed)) {
          if (checkpointedStep(stageDir) >= cfg.train.steps) {
            log(`  stage ${name}: reusing ${stageDir}`);
          } else {
            const stageLock = tryLock(`${stageDir}.lock`);
            if ("heldBy" in stageLock) {
              log(
                `  skipped: process ${stageLock.heldBy} is training stage ${name} (${stageDir}); rerun later`,
              );
              continue jobs;
            }
            log(`  stage ${name}: ${cfg.train.steps} steps → ${stageDir}`);
            const r = await postTrain(cfg, {
              from: model,
              outDir: stageDir,
              images: pool,
              resume: true,
              exclude,
              parallelism: o.parallelism,
              quiet: o.quiet,
              label: `${row.name}/${name} s${seed}`,
            }).finally(() => stageLock.release());
            if (r.status !== "done")
              throw new ExperimentError(
                `${row.name} seed ${seed}, stage ${name}: ${r.status}` +
                  (r.message ? ` (${r.message})` : "") +
                  `; the last good checkpoint is in ${stageDir}`,
              );
          }
          const after = readTrainerState<TrainerState>(stageDir);
          if (!after) throw new ExperimentError(`${stageDir}: no trainer.json after training`);
          const wall = after.wallSeconds;
          const threads = after.threads ?? 0;
          stages.push({
            config: stage.path,
            dir: stageDir,
            steps: after.step,
            wallSeconds: wall,
            threads,
            cpuMinutes:
              after.cpuSeconds !== undefined ? after.cpuSeconds / 60 : (wall * threads) / 60,
            cpuMeasured: after.cpuSeconds !== undefined,
          });
          model = stageDir;
        }

        // 2. The evaluation, under the plan's protocol.
        const p = o.plan.eval;
        const t0 = performance.now();
        const m = loadUmm(model);
        let evalResult: EvalResult;
        let gap: JobResult["gap"] = null;
        try {
          evalResult = {};
          // One suite at a time: the protocol may set images per item per suite.
          for (const suite of p.suites) {
            const r = await evalModel(m, o.detect, {
              suites: [suite],
              numCategories,
              perItem: suite === "und" ? undefined : perItemFor(p, suite),
              limit: p.limit ?? undefined,
              sampling: { seed, steps: p.sampleSteps ?? undefined, chunk: o.chunk },
              progress: o.progress,
            });
            Object.assign(evalResult, r);
          }
          if (p.gapSamples > 0) {
            const bars = o.progress ? gapProgressBars(o.progress) : undefined;
            const g = await gapProbe(m, o.detect, {
              numCategories,
              samples: p.gapSamples,
              seed,
              steps: p.sampleSteps ?? undefined,
              chunk: o.chunk,
              onProgress: bars?.onProgress,
            }).finally(() => bars?.stop());
            gap = g.summary;
          }
        } finally {
          m.dispose();
        }
        const result: JobResult = {
          row: row.name,
          label: row.label,
          seed,
          from: o.from,
          protocol: p,
          stages,
          trainCpuMinutes: stages.reduce((a, s) => a + s.cpuMinutes, 0),
          eval: evalResult,
          gap,
          evalSeconds: (performance.now() - t0) / 1000,
          provenance: code,
          finishedAt: new Date().toISOString(),
        };
        atomicWriteFile(resultPath, `${JSON.stringify(result, null, 2)}\n`);
        const ge = evalResult.geneval?.overall;
        log(
          `  ${row.name} seed ${seed}: ` +
            (ge !== undefined ? `geneval ${ge.toFixed(3)}, ` : "") +
            `eval ${result.evalSeconds.toFixed(0)} s → ${resultPath}`,
        );
        results.push(result);
      } finally {
        jobLock.release();
      }
    }
  }
  if (notStarted > 0)
    log(
      `${notStarted} job${notStarted > 1 ? "s" : ""} not started: expected to end past the deadline`,
    );
  return results;
}
