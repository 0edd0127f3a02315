/**
 * A runner owns the training state and executes updates. Two implementations
 * share this interface so the training loop never knows which one it drives:
 * - `LocalRunner`: one jax-js instance in this thread; wasm kernels are split
 *   across the kernel worker threads of node-setup.
 * - `DataParallelRunner` (parallel/): one jax-js instance per worker thread, each
 *   on a shard of the batch, gradients averaged through shared memory.
 */

import type { HostTrainState } from "./checkpoint.ts";
import { type JaxArray, tree } from "./jax.ts";
import { initOptState, type OptimConfig } from "./optim.ts";
import {
  batchSize,
  type HostBatch,
  splitBatch,
  type Task,
  type TrainState,
  TrainStep,
} from "./train-step.ts";
import { fromHost, type ParamTree, toHost } from "./tree.ts";

/** Training state on the host: what checkpoints hold and runners exchange. */
export type HostState = HostTrainState;
export type StepResult = {
  loss: number;
  gradNorm: number;
  /** The task's named loss parts (Task.lossParts), when it has them. */
  parts?: Record<string, number>;
};

export async function readParts(
  parts: Record<string, JaxArray> | undefined,
): Promise<Record<string, number> | undefined> {
  if (!parts) return undefined;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(parts)) out[k] = await readScalar(v);
  return out;
}

export type Runner = {
  readonly kind: "local" | "data-parallel";
  /** Threads doing the work. */
  readonly threads: number;
  step(hb: HostBatch, lr: number, step: number): Promise<StepResult>;
  getState(): Promise<HostState>;
  setState(s: HostState): Promise<void>;
  dispose(): Promise<void>;
};

/** Number of micro-batches for a batch: ceil to a divisor so parts are equal. */
export function microBatchCount(n: number, microBatchSize: number): number {
  if (microBatchSize <= 0 || microBatchSize >= n) return 1;
  let k = Math.ceil(n / microBatchSize);
  while (n % k !== 0) k++;
  return k;
}

export async function stateToHost(s: TrainState): Promise<HostState> {
  const out: HostState = {
    params: await toHost(s.params),
    m: await toHost(s.opt.m),
    v: await toHost(s.opt.v),
  };
  if (s.ema) out.ema = await toHost(s.ema);
  return out;
}

export function stateFromHost(h: HostState): TrainState {
  const s: TrainState = { params: fromHost(h.params), opt: { m: fromHost(h.m), v: fromHost(h.v) } };
  if (h.ema) s.ema = fromHost(h.ema);
  return s;
}

/** Fresh state for a task: params from `seed`, zero moments, EMA = params when enabled. */
export function freshState(task: Task, cfg: OptimConfig, seed: number): TrainState {
  const params = task.init(seed);
  const s: TrainState = { params, opt: initOptState(params) };
  if (cfg.emaDecay !== null) s.ema = tree.ref(params) as ParamTree;
  return s;
}

export async function readScalar(a: JaxArray): Promise<number> {
  return (await a.data())[0];
}

export class LocalRunner implements Runner {
  readonly kind = "local" as const;
  #step: TrainStep;
  #state: TrainState;

  constructor(
    task: Task,
    cfg: OptimConfig,
    seed: number,
    readonly microBatchSize: number,
    readonly threads: number,
  ) {
    this.#step = new TrainStep(task, cfg);
    this.#state = freshState(task, cfg, seed);
  }

  async step(hb: HostBatch, lr: number, step: number): Promise<StepResult> {
    const k = microBatchCount(batchSize(hb), this.microBatchSize);
    const o = await this.#step.run(this.#state, hb, k, lr, step);
    this.#state = o.state;
    const r: StepResult = {
      loss: await readScalar(o.loss),
      gradNorm: await readScalar(o.gradNorm),
    };
    const parts = await readParts(o.parts);
    if (parts) r.parts = parts;
    return r;
  }

  /** Gradients only (no update), for tests and diagnostics. */
  gradsOf(hb: HostBatch) {
    return this.#step.grads(this.#state.params, splitBatch(hb, 1));
  }

  getState(): Promise<HostState> {
    return stateToHost(this.#state);
  }

  async setState(h: HostState): Promise<void> {
    tree.dispose(this.#state);
    this.#state = stateFromHost(h);
  }

  async dispose(): Promise<void> {
    tree.dispose(this.#state);
    this.#step.dispose();
  }
}
