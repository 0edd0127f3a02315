/**
 * Choosing how a training run uses the cores. Measured on the 2-core reference
 * machine (docs/RESULTS.md, `npm run bench`): see `DEFAULT_PARALLELISM`.
 */
import { kernelThreads } from "../node-setup.ts";
import type { OptimConfig } from "../optim.ts";
import { LocalRunner, type Runner } from "../runner.ts";
import type { Task, TaskSpec } from "../train-step.ts";
import { DataParallelRunner } from "./dp-runner.ts";

export type Parallelism = "data" | "kernel";

/**
 * Data parallelism won on both reference train steps (transformer and U-Net),
 * because kernel threads only split large kernels and pay a dispatch per kernel.
 */
export const DEFAULT_PARALLELISM: Parallelism = "data";

export type RunnerOptions = {
  spec: TaskSpec;
  optim: OptimConfig;
  seed: number;
  /** Largest batch slice run in one jitted pass (0 = whole batch). */
  microBatchSize: number;
  parallelism?: Parallelism;
  /** Data-parallel replicas; default: the configured thread count. */
  workers?: number;
};

/** Build a task in this thread from its spec (the same way workers do). */
export async function loadTask(spec: TaskSpec): Promise<Task> {
  const mod = (await import(spec.module)) as Record<string, (c: unknown) => Task>;
  const make = mod[spec.exportName];
  if (typeof make !== "function") {
    throw new Error(`${spec.module} does not export a task factory "${spec.exportName}"`);
  }
  return make(spec.config);
}

export async function createRunner(o: RunnerOptions): Promise<Runner> {
  const parallelism = o.parallelism ?? DEFAULT_PARALLELISM;
  const workers = o.workers ?? Math.max(1, kernelThreads);
  if (parallelism === "data" && workers > 1) {
    return DataParallelRunner.create(o.spec, o.optim, o.seed, o.microBatchSize, workers);
  }
  return new LocalRunner(await loadTask(o.spec), o.optim, o.seed, o.microBatchSize, kernelThreads);
}
