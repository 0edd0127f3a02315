/**
 * The generic training loop: drives a `Runner` over batches, with a progress
 * bar, a metrics JSONL file, periodic and final checkpoints, graceful SIGINT/
 * SIGTERM, bit-identical resume, and a hard stop on a non-finite loss that
 * leaves the last good checkpoint untouched.
 *
 * Bit-identical resume rests on three things being in the checkpoint: the full
 * optimizer state (params, moments, EMA, in F32), the step counter (which fixes
 * the LR schedule and Adam's bias correction) and the host RNG state the batch
 * function draws from.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkpointExists, loadHostCheckpoint, saveHostCheckpoint } from "../engine/checkpoint.ts";
import { lrAt, type OptimConfig } from "../engine/optim.ts";
import { Rng, type RngState } from "../engine/rng.ts";
import type { Runner } from "../engine/runner.ts";
import type { HostBatch } from "../engine/train-step.ts";
import { createProgress, fmtNumber, silentProgress } from "./progress.ts";

export type TrainerState = {
  step: number;
  rng: RngState;
  seed: number;
  runner: Runner["kind"];
  /** Threads that computed the steps (absent in checkpoints written before it was recorded). */
  threads?: number;
  wallSeconds: number;
  /**
   * Process CPU seconds (user + system, all threads) spent by the loop, cumulative over resumes
   * like `wallSeconds`. Unlike wall × threads it stays true when other jobs share the cores.
   * Absent in checkpoints written before it was recorded.
   */
  cpuSeconds?: number;
};

export type LoopOptions = {
  runner: Runner;
  optim: OptimConfig;
  /** Train until this (1-based, inclusive) step. */
  steps: number;
  /** The batch for `step`; may draw from `rng` (its state is checkpointed). */
  batch: (step: number, rng: Rng) => HostBatch | Promise<HostBatch>;
  /**
   * Build the next batch while the runner computes the current step (the main thread is free
   * while data-parallel workers compute). Only for batch functions that derive their randomness
   * from the step, never from `rng`: a prefetched draw would land in the wrong checkpoint.
   */
  prefetch?: boolean;
  outDir: string;
  /** Written to config.json; everything needed to rebuild the model. */
  config: unknown;
  seed: number;
  checkpointEvery: number;
  resume?: boolean;
  /** Start fresh even if `outDir` already holds a checkpoint (it is replaced). */
  force?: boolean;
  label?: string;
  /** Samples per step, for throughput. */
  unitsPerStep?: number;
  logEvery?: number;
  /** Extra work after each checkpoint (sample sheets, evals). */
  onCheckpoint?: (step: number) => Promise<void>;
  /** Extra metrics to log per step. */
  extraMetrics?: (step: number) => Record<string, number>;
  quiet?: boolean;
  /**
   * Wall-clock deadline (`Date.now()` milliseconds): after each step, the loop stops — saving a
   * checkpoint, status "deadline" — when one more step (timed as the last iteration, batch wait
   * included) would end past it. A stopped run resumes to `steps` like an interrupted one.
   */
  deadline?: number;
};

export type LoopResult = {
  status: "done" | "interrupted" | "deadline" | "non-finite";
  /** Step this invocation started from (0, or the resumed checkpoint's step). */
  startStep: number;
  step: number;
  lastLoss: number;
  wallSeconds: number;
  message?: string;
};

export class CheckpointExistsError extends Error {
  override name = "CheckpointExistsError";
}

/** Drop metric lines past `step` (they belong to the run after the checkpoint we resume from). */
function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .filter((l) => {
      try {
        return (JSON.parse(l) as { step?: number }).step! <= step;
      } catch {
        return false;
      }
    });
  writeFileSync(path, kept.length ? `${kept.join("\n")}\n` : "");
}

export async function runTrainingLoop(o: LoopOptions): Promise<LoopResult> {
  const metricsPath = join(o.outDir, "metrics.jsonl");
  let step = 0;
  let rng = new Rng(o.seed);
  let priorWall = 0;
  let priorCpu = 0;
  const note = (s: string) => {
    if (!o.quiet) process.stderr.write(`${s}\n`);
  };

  if (!o.resume && !o.force && checkpointExists(o.outDir)) {
    throw new CheckpointExistsError(
      `${o.outDir} already holds a checkpoint: pass --resume to continue it or --force to start over`,
    );
  }
  if (o.resume && checkpointExists(o.outDir)) {
    const ck = loadHostCheckpoint<unknown, TrainerState>(o.outDir);
    if (!ck.trainer) throw new Error(`${o.outDir}: checkpoint has no trainer state; cannot resume`);
    if (ck.trainer.runner !== o.runner.kind) {
      note(
        `note: resuming a ${ck.trainer.runner} run with the ${o.runner.kind} runner; results stay close but not bit-identical`,
      );
    }
    await o.runner.setState(ck.state);
    step = ck.trainer.step;
    rng = new Rng(ck.trainer.rng);
    priorWall = ck.trainer.wallSeconds;
    priorCpu = ck.trainer.cpuSeconds ?? Number.NaN;
    truncateMetrics(metricsPath, step);
    note(`resumed ${o.outDir} at step ${step}`);
  } else {
    if (o.resume) note(`nothing to resume in ${o.outDir}; starting fresh`);
    mkdirSync(o.outDir, { recursive: true });
    writeFileSync(metricsPath, "");
  }

  const startStep = step;
  const t0 = performance.now();
  const wall = () => priorWall + (performance.now() - t0) / 1000;
  const cpu0 = process.cpuUsage();
  const cpu = () => {
    const u = process.cpuUsage(cpu0);
    return priorCpu + (u.user + u.system) / 1e6;
  };
  const save = async (s: number) => {
    const cpuSeconds = cpu();
    const trainer: TrainerState = {
      step: s,
      rng: rng.state(),
      seed: o.seed,
      runner: o.runner.kind,
      threads: o.runner.threads,
      wallSeconds: wall(),
      // A resumed run whose earlier part was not measured has no honest total: leave it out.
      ...(Number.isFinite(cpuSeconds) ? { cpuSeconds } : {}),
    };
    await saveHostCheckpoint(o.outDir, {
      state: await o.runner.getState(),
      config: o.config,
      trainer,
    });
    if (o.onCheckpoint) await o.onCheckpoint(s);
  };

  let stopRequested: string | null = null;
  let deadlineHit = false;
  let firstSignalAt = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopRequested) {
      // A wrapper (npm exec, npx, tsx) forwards the terminal's Ctrl-C as a second
      // copy within milliseconds; only a later, deliberate second signal forces exit.
      if (performance.now() - firstSignalAt > 1000) process.exit(130);
      return;
    }
    firstSignalAt = performance.now();
    stopRequested = sig;
    note(
      `\n${sig}: finishing step ${step + 1}, saving a checkpoint, then stopping (again to force)`,
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const progress = o.quiet
    ? silentProgress
    : createProgress({
        label: o.label ?? "train",
        total: o.steps,
        start: step,
        unitsPerStep: o.unitsPerStep,
        unit: o.unitsPerStep ? "samples" : "steps",
        logEvery: o.logEvery,
      });
  let lastLoss = Number.NaN;
  let lastSaved = step;
  let prefetched: Promise<HostBatch> | null = null;
  try {
    while (step < o.steps) {
      const s = step + 1;
      const tIteration = performance.now();
      const lr = lrAt(o.optim, s);
      const hb = await (prefetched ?? o.batch(s, rng));
      prefetched = null;
      const tStep = performance.now();
      const pending = o.runner.step(hb, lr, s);
      if (o.prefetch && s < o.steps) {
        const next = Promise.resolve().then(() => o.batch(s + 1, rng));
        next.catch(() => {}); // awaited (and so reported) on the next iteration
        prefetched = next;
      }
      const r = await pending;
      if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm)) {
        const message =
          `loss became ${r.loss} (grad norm ${r.gradNorm}) at step ${s}; stopped without saving. ` +
          (lastSaved > 0
            ? `The last good checkpoint (step ${lastSaved}) is in ${o.outDir}.`
            : "No checkpoint was written yet.") +
          " Lower the learning rate or check the data.";
        progress.stop();
        return {
          status: "non-finite",
          startStep,
          step: lastSaved,
          lastLoss: r.loss,
          wallSeconds: wall(),
          message,
        };
      }
      step = s;
      lastLoss = r.loss;
      const metrics = {
        step,
        loss: r.loss,
        // The task's named parts of the loss (generation, text), when it has them.
        ...(r.parts ? { lossParts: r.parts } : {}),
        gradNorm: r.gradNorm,
        lr,
        stepSeconds: (performance.now() - tStep) / 1000,
        // Cumulative wall clock (as trainer.json's): steady-state seconds per step including the
        // batch build, which prefetch hides from stepSeconds (src/demo/budget.ts reads it).
        wallSeconds: wall(),
        ...o.extraMetrics?.(step),
      };
      writeFileSync(metricsPath, `${JSON.stringify(metrics)}\n`, { flag: "a" });
      progress.update(step, { loss: r.loss, lr: fmtNumber(lr) });
      if (stopRequested) break;
      // The next step is predicted from this iteration's wall (batch wait included: prefetch
      // hides the batch build from stepSeconds but not from the clock), never less than the step.
      const nextMs = Math.max(metrics.stepSeconds * 1000, performance.now() - tIteration);
      if (o.deadline !== undefined && step < o.steps && Date.now() + nextMs > o.deadline) {
        deadlineHit = true;
        note(`deadline: stopping after step ${step} of ${o.steps}, saving a checkpoint`);
        break;
      }
      if (step % o.checkpointEvery === 0 && step < o.steps) {
        await save(step);
        lastSaved = step;
      }
    }
    progress.stop();
    await save(step);
    return {
      status: stopRequested ? "interrupted" : deadlineHit ? "deadline" : "done",
      startStep,
      step,
      lastLoss,
      wallSeconds: wall(),
    };
  } finally {
    progress.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
