/**
 * The train step on ONNX Runtime: the same pure functions as the jax-js TrainStep
 * (`trainStepFunctions`: loss, gradients through jax-js's own autodiff, clipping, AdamW, EMA,
 * frozen parameters), traced by jax-js and executed by ORT. The training state lives in ORT
 * tensors between steps (`OrtTrainState`); checkpoints go through the host state, as on jax-js.
 *
 * One micro-batch: one session call (the fused step). Several: one `grads` call per
 * micro-batch, summed by an `accumulate` session, then one `apply` call, in that order every
 * time, so a step is a pure function of (state, batch, lr, step): resume is bit-identical.
 */
import type { HostTrainState } from "../checkpoint.ts";
import type { OptimConfig } from "../optim.ts";
import { stepScalars } from "../optim.ts";
import { type HostBatch, splitBatch, type Task, trainStepFunctions } from "../train-step.ts";
import { fromNamed, type HostTensor } from "../tree.ts";
import { OrtFunction } from "./program.ts";
import {
  isOrtTensor,
  leavesOf,
  mapLeaves,
  type OrtTensor,
  OrtTensor as Tensor,
  type Tree,
} from "./tensors.ts";

export type OrtTree = Tree<OrtTensor>;
export type OrtTrainState = { params: OrtTree; opt: { m: OrtTree; v: OrtTree }; ema?: OrtTree };

export type OrtStepResult = {
  state: OrtTrainState;
  loss: number;
  gradNorm: number;
  parts?: Record<string, number>;
};

const scalar = (t: unknown): number => {
  if (!isOrtTensor(t)) throw new Error("onnx train step: a scalar output is not a tensor");
  return Number((t.data as Float32Array)[0]);
};

function readParts(p: unknown): Record<string, number> | undefined {
  if (p === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(p as Record<string, OrtTensor>).map(([k, v]) => [k, scalar(v)]),
  );
}

export class OrtTrainStep {
  readonly #fused: OrtFunction;
  readonly #grads: OrtFunction;
  readonly #accumulate: OrtFunction;
  readonly #apply: OrtFunction;

  constructor(
    task: Task,
    readonly cfg: OptimConfig,
    threads?: number,
  ) {
    const f = trainStepFunctions(task, cfg);
    const o = (name: string) => ({ name: `train step (${name})`, ...(threads ? { threads } : {}) });
    this.#fused = new OrtFunction(f.fused, o("fused"));
    this.#grads = new OrtFunction(f.grads, o("grads"));
    this.#accumulate = new OrtFunction(f.accumulate, o("accumulate"));
    this.#apply = new OrtFunction(f.apply, o("apply"));
  }

  /** One update on `hb`, split into `microBatches` equal parts. The old state stays valid. */
  async run(
    state: OrtTrainState,
    hb: HostBatch,
    microBatches: number,
    lr: number,
    step: number,
  ): Promise<OrtStepResult> {
    const k = stepScalars(this.cfg, lr, step);
    if (microBatches === 1) {
      const o = await this.#fused.run(state, hb, k);
      const r: OrtStepResult = {
        state: o.state,
        loss: scalar(o.loss),
        gradNorm: scalar(o.gradNorm),
      };
      const parts = readParts(o.parts);
      if (parts) r.parts = parts;
      return r;
    }
    const g = await this.grads(state.params, splitBatch(hb, microBatches));
    const u = await this.apply(state, g.grads, 1 / microBatches, lr, step);
    const r: OrtStepResult = {
      state: u.state,
      loss: g.lossSum / microBatches,
      gradNorm: u.gradNorm,
    };
    if (g.partsSum)
      r.parts = Object.fromEntries(
        Object.entries(g.partsSum).map(([n, v]) => [n, v / microBatches]),
      );
    return r;
  }

  /** Summed gradients and losses over micro-batches, always in the same order. */
  async grads(
    params: OrtTree,
    micro: HostBatch[],
  ): Promise<{ grads: OrtTree; lossSum: number; partsSum?: Record<string, number> }> {
    let grads: OrtTree | null = null;
    let lossSum = 0;
    let partsSum: Record<string, number> | undefined;
    for (const mb of micro) {
      const g = await this.#grads.run(params, mb);
      lossSum += scalar(g.loss);
      const parts = readParts(g.parts);
      if (parts)
        partsSum = Object.fromEntries(
          Object.entries(parts).map(([n, v]) => [n, (partsSum?.[n] ?? 0) + v]),
        );
      grads = grads === null ? g.grads : await this.#accumulate.run(grads, g.grads);
    }
    if (grads === null) throw new Error("onnx train step: no micro-batches");
    return partsSum ? { grads, lossSum, partsSum } : { grads, lossSum };
  }

  /** One AdamW update with `scale × grads`. */
  async apply(state: OrtTrainState, grads: OrtTree, scale: number, lr: number, step: number) {
    const u = await this.#apply.run(state, grads, scale, stepScalars(this.cfg, lr, step));
    return { state: u.state as OrtTrainState, gradNorm: scalar(u.gradNorm) };
  }

  async dispose(): Promise<void> {
    for (const f of [this.#fused, this.#grads, this.#accumulate, this.#apply]) await f.dispose();
  }
}

// --- host state ↔ ORT state --------------------------------------------------------------

/** A host tree (dotted names) as an ORT tree shaped like the parameter tree (no copy). */
export function hostTreeToOrt(h: Map<string, HostTensor>): OrtTree {
  const nested = fromNamed(h) as Tree<HostTensor>;
  return mapLeaves(nested, (t) =>
    t.data instanceof Int32Array
      ? new Tensor("int32", t.data, [...t.shape])
      : new Tensor("float32", t.data, [...t.shape]),
  );
}

/** ORT tree → host tree with dotted names (copies, so later ORT runs cannot alias it). */
export function ortTreeToHost(t: OrtTree): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const walk = (n: OrtTree, prefix: string) => {
    if (isOrtTensor(n)) {
      const data = n.data as Float32Array | Int32Array;
      out.set(prefix, { shape: [...n.dims], data: data.slice() });
      return;
    }
    const entries = Array.isArray(n) ? n.map((v, i) => [String(i), v] as const) : Object.entries(n);
    for (const [k, v] of entries) walk(v as OrtTree, prefix ? `${prefix}.${k}` : k);
  };
  walk(t, "");
  return out;
}

export function ortStateFromHost(h: HostTrainState): OrtTrainState {
  const s: OrtTrainState = {
    params: hostTreeToOrt(h.params),
    opt: { m: hostTreeToOrt(h.m), v: hostTreeToOrt(h.v) },
  };
  if (h.ema) s.ema = hostTreeToOrt(h.ema);
  return s;
}

export function ortStateToHost(s: OrtTrainState): HostTrainState {
  const h: HostTrainState = {
    params: ortTreeToHost(s.params),
    m: ortTreeToHost(s.opt.m),
    v: ortTreeToHost(s.opt.v),
  };
  if (s.ema) h.ema = ortTreeToHost(s.ema);
  return h;
}

/** Tensors in a state (diagnostics). */
export const stateTensors = (s: OrtTrainState): OrtTensor[] => leavesOf(s as Tree<OrtTensor>);
