/**
 * Choosing how a training run uses the cores. Measured on the 2-core reference
 * machine (docs/RESULTS.md, `npm run bench`): see `DEFAULT_PARALLELISM`.
 */
import { kernelThreads } from "../node-setup.ts";
import type { OptimConfig } from "../optim.ts";
import { configuredEngine, LocalRunner, type Runner } from "../runner.ts";
import type { Task, TaskSpec } from "../train-step.ts";
import { DataParallelRunner } from "./dp-runner.ts";

export type Parallelism = "data" | "kernel";

/**
 * Measured with `npm run bench` on the 2-core reference machine (docs/RESULTS.md):
 * data parallelism is 1.08–1.13× faster on the calibration U-Net (many small
 * kernels that kernel threads cannot split), kernel threads 1.03–1.11× faster on
 * the reference transformer (large matmuls split well). Conv nets — the flow
 * U-Net, tokenizers — dominate reca's training time, so data parallelism is the
 * default; `--parallel kernel` suits transformer-only runs and uses ~40% less memory.
 */
export const DEFAULT_PARALLELISM: Parallelism = "data";

/**
 * The default for this process: on ONNX Runtime (the default engine) one local step on ORT's
 * intra-op threads is several times faster than jax-js replicas (`npm run bench`: the U-Net
 * step ~0.7 s vs ~4.4 s), so "kernel"; on jax-js (`RECA_ENGINE=jax`) `DEFAULT_PARALLELISM`.
 */
export function defaultParallelism(): Parallelism {
  return configuredEngine() === "ort" ? "kernel" : DEFAULT_PARALLELISM;
}

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
  const parallelism = o.parallelism ?? defaultParallelism();
  const workers = o.workers ?? Math.max(1, kernelThreads);
  if (parallelism === "data" && workers > 1) {
    return DataParallelRunner.create(o.spec, o.optim, o.seed, o.microBatchSize, workers);
  }
  return new LocalRunner(await loadTask(o.spec), o.optim, o.seed, o.microBatchSize, kernelThreads);
}
