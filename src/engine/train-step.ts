/**
 * The jitted train step, generic over what it trains. A `Task` says how to
 * initialise parameters and compute a scalar loss on a batch; this module turns
 * it into one jitted function (loss, grads, clipping, AdamW, EMA: params in,
 * params out), with micro-batches + gradient accumulation so the effective batch
 * never depends on wasm's 4 GiB memory.
 */

import {
  blockUntilReady,
  type JaxArray,
  jit,
  lax,
  numpy as np,
  tree,
  valueAndGrad,
} from "./jax.ts";
import {
  adamwUpdate,
  addTrees,
  emaUpdate,
  type OptimConfig,
  type OptState,
  scaleTree,
  stepScalars,
} from "./optim.ts";
import { type FrozenMask, mapNamed, type ParamTree } from "./tree.ts";

export type HostArray = {
  dtype: "float32" | "int32";
  shape: number[];
  data: Float32Array | Int32Array;
};
/** A batch on the host: named arrays sharing the leading (batch) axis. */
export type HostBatch = Record<string, HostArray>;
/** A batch on the device. */
export type Batch = Record<string, JaxArray>;

export type Task = {
  /** Fresh parameters from a seed. */
  init(seed: number): ParamTree;
  /** Scalar loss, the mean over the batch. Consumes params and batch. */
  loss(params: ParamTree, batch: Batch): JaxArray;
  /**
   * Optional: the same loss with named scalar parts of it (e.g. the generation and the text
   * terms), which training logs per step beside the total. The gradient is the total's.
   */
  lossParts?(params: ParamTree, batch: Batch): { loss: JaxArray; parts: LossParts };
  /**
   * Optional: the parameters training leaves alone (a frozen language model, a frozen
   * understanding path). They get no gradient (stopGradient: zeros), no weight decay, no moment
   * update and no EMA change, so they stay bit-identical.
   */
  frozen?: FrozenMask;
};

/** `params` with every frozen leaf behind a stop-gradient (its gradient is then zeros). */
export function stopFrozen(params: ParamTree, frozen: FrozenMask | undefined): ParamTree {
  if (!frozen) return params;
  return mapNamed((name, p) => (frozen(name) ? lax.stopGradient(p) : p), params);
}

/** Named scalar parts of a loss (each a mean over the batch, like the loss). */
export type LossParts = Record<string, JaxArray>;

/**
 * How to build a task in another thread: `module` (absolute path or file URL)
 * exports `exportName(config) → Task`. Used by the data-parallel runner.
 */
export type TaskSpec = { module: string; exportName: string; config: unknown };

/** `ema` is absent (not null: jax trees have no null leaves) when EMA is off. */
export type TrainState = { params: ParamTree; opt: OptState; ema?: ParamTree };

export function batchSize(hb: HostBatch): number {
  const sizes = new Set(Object.values(hb).map((a) => a.shape[0]));
  if (sizes.size !== 1)
    throw new Error(`batch arrays disagree on the batch axis: ${[...sizes].join(", ")}`);
  return [...sizes][0];
}

/** Split along axis 0 into `k` equal parts (the loss is a mean, so parts must be equal). */
export function splitBatch(hb: HostBatch, k: number): HostBatch[] {
  const n = batchSize(hb);
  if (n % k !== 0) throw new Error(`batch of ${n} does not split into ${k} equal parts`);
  const m = n / k;
  return Array.from({ length: k }, (_, i) =>
    Object.fromEntries(
      Object.entries(hb).map(([name, a]) => {
        const row = a.data.length / n;
        return [
          name,
          {
            dtype: a.dtype,
            shape: [m, ...a.shape.slice(1)],
            data: a.data.slice(i * m * row, (i + 1) * m * row),
          },
        ];
      }),
    ),
  );
}

export function toDevice(hb: HostBatch): Batch {
  return Object.fromEntries(
    Object.entries(hb).map(([name, a]) => [
      name,
      np.array(a.data, { dtype: a.dtype === "int32" ? np.int32 : np.float32 }).reshape(a.shape),
    ]),
  );
}

export type StepOutput = {
  state: TrainState;
  loss: JaxArray;
  gradNorm: JaxArray;
  /** The task's loss parts, averaged like the loss (absent when the task has none). */
  parts?: LossParts;
};

function addParts(a: LossParts | undefined, b: LossParts | undefined): LossParts | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v.add(b[k])]));
}

/** Per-step scalars as the step functions take them (numbers, or traced scalars under jit). */
export type StepKnobs = { lr: JaxArray; c1: JaxArray; c2: JaxArray; ema: JaxArray };

/**
 * The pure (un-jitted) functions of a train step, for jit here and for tracing elsewhere (the
 * ONNX Runtime step, src/engine/onnx/train-step.ts):
 * - `fused(state, batch, k)`: loss, grads and the update of one micro-batch;
 * - `grads(params, batch)` / `accumulate(a, b)` / `apply(state, grads, scale, k)`: the same
 *   with gradient accumulation over micro-batches.
 * Each consumes its arguments.
 */
export function trainStepFunctions(task: Task, cfg: OptimConfig) {
  const emaDecay = cfg.emaDecay;
  const frozen = task.frozen;
  type K = StepKnobs;
  const update = (s: TrainState, grads: ParamTree, k: K) => {
    const { ema: decay, ...adam } = k;
    const r = adamwUpdate(s.params, s.opt, grads, adam, cfg, frozen);
    const state: TrainState = { params: r.params, opt: r.opt };
    if (emaDecay !== null && s.ema !== undefined) {
      // A fixed decay stays a constant in the graph (bit-identical to before warm-up existed).
      state.ema = emaUpdate(s.ema, r.params, cfg.emaWarmup ? decay : emaDecay, frozen);
      if (!cfg.emaWarmup) decay.dispose();
    } else decay.dispose();
    return { state, gradNorm: r.gradNorm };
  };
  const lossParts = task.lossParts?.bind(task);
  const lossAndGrads = (
    params: ParamTree,
    batch: Batch,
  ): { loss: JaxArray; grads: ParamTree; parts?: LossParts } => {
    if (!lossParts) {
      const [loss, grads] = valueAndGrad((p: ParamTree) => task.loss(stopFrozen(p, frozen), batch))(
        params,
      ) as [JaxArray, ParamTree];
      return { loss, grads };
    }
    const [[loss, parts], grads] = valueAndGrad(
      (p: ParamTree) => {
        const r = lossParts(stopFrozen(p, frozen), batch);
        return [r.loss, r.parts];
      },
      { hasAux: true },
    )(params) as [[JaxArray, LossParts], ParamTree];
    return { loss, grads, parts };
  };

  return {
    fused: (s: any, batch: Batch, k: K) => {
      const r = lossAndGrads(tree.ref(s.params), batch);
      const u = update(s, r.grads, k);
      // jax trees have no undefined leaves: `parts` only when the task has them.
      const out: StepOutput = { state: u.state, loss: r.loss, gradNorm: u.gradNorm };
      if (r.parts) out.parts = r.parts;
      return out;
    },
    grads: (params: ParamTree, batch: Batch) => lossAndGrads(params, batch),
    accumulate: (a: ParamTree, b: ParamTree) => addTrees(a, b),
    apply: (s: TrainState, grads: ParamTree, scale: JaxArray, k: K) => {
      const u = update(s, scaleTree(grads, scale), k);
      return { state: u.state, gradNorm: u.gradNorm };
    },
  };
}

/**
 * Builds the jitted functions for one task and optimizer config:
 * - `step`: one micro-batch per update, fully fused.
 * - `grads` + `apply`: accumulation over micro-batches (and the data-parallel
 *   runner's all-reduce between them).
 */
export class TrainStep {
  readonly #fused;
  readonly #grads;
  readonly #accumulate;
  readonly #apply;

  constructor(
    task: Task,
    readonly cfg: OptimConfig,
  ) {
    const f = trainStepFunctions(task, cfg);
    this.#fused = jit(f.fused);
    this.#grads = jit(f.grads);
    this.#accumulate = jit(f.accumulate);
    this.#apply = jit(f.apply);
  }

  /**
   * Summed gradients and summed losses over micro-batches (keeps `params`).
   * jax-js queues work lazily and holds every queued kernel's buffers until the
   * queue runs, so each micro-batch is run to completion before the next is
   * queued: peak memory is one micro-batch's, which is the point of them.
   */
  async grads(
    params: ParamTree,
    micro: HostBatch[],
  ): Promise<{ lossSum: JaxArray; grads: ParamTree; partsSum?: LossParts }> {
    let lossSum: JaxArray | null = null;
    let acc: ParamTree | null = null;
    let partsSum: LossParts | undefined;
    for (const [i, mb] of micro.entries()) {
      const r = this.#grads(tree.ref(params), toDevice(mb)) as {
        loss: JaxArray;
        grads: ParamTree;
        parts?: LossParts;
      };
      lossSum = lossSum === null ? r.loss : lossSum.add(r.loss);
      partsSum = addParts(partsSum, r.parts);
      acc = acc === null ? r.grads : (this.#accumulate(acc, r.grads) as ParamTree);
      if (micro.length > 1 && i < micro.length - 1) await blockUntilReady(acc);
    }
    if (lossSum === null || acc === null) throw new Error("grads: no micro-batches");
    return { lossSum, grads: acc, partsSum };
  }

  /** Apply `scale × grads` as one AdamW update. */
  apply(state: TrainState, grads: ParamTree, scale: number, lr: number, step: number) {
    return this.#apply(state, grads, scale, stepScalars(this.cfg, lr, step)) as {
      state: TrainState;
      gradNorm: JaxArray;
    };
  }

  /** One update on `hb`, split into `microBatches` equal parts. Consumes `state`. */
  async run(
    state: TrainState,
    hb: HostBatch,
    microBatches: number,
    lr: number,
    step: number,
  ): Promise<StepOutput> {
    if (microBatches === 1) {
      return this.#fused(state, toDevice(hb), stepScalars(this.cfg, lr, step)) as StepOutput;
    }
    const { lossSum, grads, partsSum } = await this.grads(
      state.params,
      splitBatch(hb, microBatches),
    );
    const u = this.apply(state, grads, 1 / microBatches, lr, step);
    const out: StepOutput = {
      state: u.state,
      loss: lossSum.div(microBatches),
      gradNorm: u.gradNorm,
    };
    if (partsSum)
      out.parts = Object.fromEntries(
        Object.entries(partsSum).map(([k, v]) => [k, v.div(microBatches)]),
      );
    return out;
  }

  dispose(): void {
    this.#fused.dispose();
    this.#grads.dispose();
    this.#accumulate.dispose();
    this.#apply.dispose();
  }
}
