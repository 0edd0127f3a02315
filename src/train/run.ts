/**
 * Glue between a trainable thing and the loop: build the runner (data-parallel
 * workers by default), run, dispose, and turn the outcome into a summary that
 * CLI commands print and write with `--json`.
 */
import { initEngine } from "../engine/jax.ts";
import type { OptimConfig } from "../engine/optim.ts";
import { createRunner, type Parallelism } from "../engine/parallel/index.ts";
import type { Rng } from "../engine/rng.ts";
import type { Runner } from "../engine/runner.ts";
import type { HostBatch, TaskSpec } from "../engine/train-step.ts";
import { type LoopResult, runTrainingLoop } from "./loop.ts";

export type TrainRunOptions = {
  /** The task, importable by worker threads. */
  spec: TaskSpec;
  optim: OptimConfig;
  steps: number;
  batch: (step: number, rng: Rng) => HostBatch | Promise<HostBatch>;
  /** See LoopOptions.prefetch. */
  prefetch?: boolean;
  batchSize: number;
  /** Largest slice per jitted pass (0 = whole shard). */
  microBatchSize: number;
  outDir: string;
  config: unknown;
  seed: number;
  checkpointEvery: number;
  resume?: boolean;
  force?: boolean;
  parallelism?: Parallelism;
  label: string;
  quiet?: boolean;
  /** See LoopOptions.deadline. */
  deadline?: number;
  /** After each checkpoint (and at the end), with the runner to read state from. */
  onCheckpoint?: (step: number, runner: Runner) => Promise<void>;
};

export type TrainRunSummary = LoopResult & {
  outDir: string;
  runner: Runner["kind"];
  threads: number;
  samplesPerSecond: number;
};

export async function trainRun(o: TrainRunOptions): Promise<TrainRunSummary> {
  await initEngine();
  const runner = await createRunner({
    spec: o.spec,
    optim: o.optim,
    seed: o.seed,
    microBatchSize: o.microBatchSize,
    parallelism: o.parallelism,
  });
  const t0 = performance.now();
  try {
    const onCheckpoint = o.onCheckpoint;
    const r = await runTrainingLoop({
      runner,
      optim: o.optim,
      steps: o.steps,
      batch: o.batch,
      prefetch: o.prefetch,
      outDir: o.outDir,
      config: o.config,
      seed: o.seed,
      checkpointEvery: o.checkpointEvery,
      resume: o.resume,
      force: o.force,
      label: o.label,
      unitsPerStep: o.batchSize,
      quiet: o.quiet,
      deadline: o.deadline,
      onCheckpoint: onCheckpoint && ((s) => onCheckpoint(s, runner)),
    });
    const seconds = (performance.now() - t0) / 1000;
    return {
      ...r,
      outDir: o.outDir,
      runner: runner.kind,
      threads: runner.threads,
      samplesPerSecond: seconds > 0 ? ((r.step - r.startStep) * o.batchSize) / seconds : 0,
    };
  } finally {
    await runner.dispose();
  }
}
