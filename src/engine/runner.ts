/**
 * A runner owns the training state and executes updates. Two implementations
 * share this interface so the training loop never knows which one it drives:
 * - `LocalRunner`: one process-local step. On ONNX Runtime by default (jax-js traces and
 *   differentiates the step, ORT executes it on its intra-op threads, the state stays in ORT
 *   tensors); `RECA_ENGINE=jax` keeps it on jax-js, whose wasm kernels are split across the
 *   kernel worker threads of node-setup. A step ORT cannot express (a primitive without an
 *   ONNX mapping) falls back to jax-js with a note.
 * - `DataParallelRunner` (parallel/): one jax-js instance per worker thread, each
 *   on a shard of the batch, gradients averaged through shared memory.
 */

import type { HostTrainState } from "./checkpoint.ts";
import { type JaxArray, tree } from "./jax.ts";
import { UnsupportedPrimitiveError } from "./onnx/rule.ts";
import {
  type OrtTrainState,
  OrtTrainStep,
  ortStateFromHost,
  ortStateToHost,
} from "./onnx/train-step.ts";
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
  /** "ort": LocalRunner on ONNX Runtime; "local": LocalRunner on jax-js. */
  readonly kind: "local" | "ort" | "data-parallel";
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

/** Which engine executes a local step: `RECA_ENGINE` ("ort", the default, or "jax"). */
export type Engine = "ort" | "jax";

export function configuredEngine(): Engine {
  const raw = process.env.RECA_ENGINE;
  if (raw === undefined || raw === "" || raw === "ort") return "ort";
  if (raw === "jax") return "jax";
  throw new Error(`RECA_ENGINE must be "ort" or "jax", got "${raw}"`);
}

export class LocalRunner implements Runner {
  #engine: Engine;
  readonly #task: Task;
  readonly #cfg: OptimConfig;
  #step: TrainStep | null = null;
  #ortStep: OrtTrainStep | null = null;
  /** Exactly one of the two is set: the state lives on the engine that runs it. */
  #state: TrainState | null = null;
  #ort: OrtTrainState | null = null;

  constructor(
    task: Task,
    cfg: OptimConfig,
    seed: number,
    readonly microBatchSize: number,
    readonly threads: number,
    opts: { engine?: Engine } = {},
  ) {
    this.#task = task;
    this.#cfg = cfg;
    this.#engine = opts.engine ?? configuredEngine();
    this.#state = freshState(task, cfg, seed);
  }

  get kind(): "local" | "ort" {
    return this.#engine === "ort" ? "ort" : "local";
  }

  get engine(): Engine {
    return this.#engine;
  }

  #jaxStep(): TrainStep {
    this.#step ??= new TrainStep(this.#task, this.#cfg);
    return this.#step;
  }

  /** The state as a jax TrainState (moving it off ORT if it is there). */
  async #jaxState(): Promise<TrainState> {
    if (this.#state) return this.#state;
    if (!this.#ort) throw new Error("LocalRunner: no state");
    this.#state = stateFromHost(ortStateToHost(this.#ort));
    this.#ort = null;
    return this.#state;
  }

  async #ortState(): Promise<OrtTrainState> {
    if (this.#ort) return this.#ort;
    if (!this.#state) throw new Error("LocalRunner: no state");
    this.#ort = ortStateFromHost(await stateToHost(this.#state));
    tree.dispose(this.#state);
    this.#state = null;
    return this.#ort;
  }

  async step(hb: HostBatch, lr: number, step: number): Promise<StepResult> {
    const k = microBatchCount(batchSize(hb), this.microBatchSize);
    if (this.#engine === "ort") {
      this.#ortStep ??= new OrtTrainStep(this.#task, this.#cfg, this.threads);
      const state = await this.#ortState();
      try {
        const o = await this.#ortStep.run(state, hb, k, lr, step);
        this.#ort = o.state;
        const r: StepResult = { loss: o.loss, gradNorm: o.gradNorm };
        if (o.parts) r.parts = o.parts;
        return r;
      } catch (e) {
        if (!(e instanceof UnsupportedPrimitiveError)) throw e;
        process.stderr.write(`note: ${e.message}; this run trains on jax-js\n`);
        this.#engine = "jax";
        await this.#ortStep.dispose();
        this.#ortStep = null;
      }
    }
    const o = await this.#jaxStep().run(await this.#jaxState(), hb, k, lr, step);
    this.#state = o.state;
    const r: StepResult = {
      loss: await readScalar(o.loss),
      gradNorm: await readScalar(o.gradNorm),
    };
    const parts = await readParts(o.parts);
    if (parts) r.parts = parts;
    return r;
  }

  /** Gradients only (no update), on jax-js, for tests and diagnostics. */
  async gradsOf(hb: HostBatch) {
    const state = await this.#jaxState();
    return this.#jaxStep().grads(state.params, splitBatch(hb, 1));
  }

  async getState(): Promise<HostState> {
    if (this.#ort) return ortStateToHost(this.#ort);
    return stateToHost(this.#state!);
  }

  async setState(h: HostState): Promise<void> {
    if (this.#state) tree.dispose(this.#state);
    this.#state = null;
    this.#ort = null;
    if (this.#engine === "ort") this.#ort = ortStateFromHost(h);
    else this.#state = stateFromHost(h);
  }

  async dispose(): Promise<void> {
    if (this.#state) tree.dispose(this.#state);
    this.#state = null;
    this.#ort = null;
    this.#step?.dispose();
    await this.#ortStep?.dispose();
  }
}
