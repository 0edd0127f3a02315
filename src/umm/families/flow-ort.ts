/**
 * The flow family's Euler sampler on ONNX Runtime: the same pure step as the jax-js sampler
 * (`eulerStep` of flow.ts: U-Net, classifier-free guidance, Euler update), traced by jax-js and
 * executed by ORT, one session call per step. The session is built once per (U-Net config,
 * shapes) and cached for the process; the parameters are uploaded once per call and the state x
 * stays an ORT tensor from the first step to the last.
 */
import { type JaxArray, numpy as np } from "../../engine/jax.ts";
import { OrtFunction } from "../../engine/onnx/program.ts";
import {
  hostTensor,
  jaxToOrt,
  type OrtTensor,
  ortToJax,
  type Tree,
  treeToOrt,
} from "../../engine/onnx/tensors.ts";
import { treeRef } from "../../engine/tree.ts";
import type { Condition } from "../family.ts";
import type { UNetConfig } from "../unet.ts";
import { eulerStep, type FlowParams } from "./flow.ts";

/** What the Euler loop needs, prepared the way flow.ts's sampler prepares it for its step. */
export type EulerLoopInputs = {
  /** Initial noise x at t = 1, host float32 [B, side, side, 3]. */
  noise: Float32Array;
  /** Condition rows: [2B, L, D] with guidance (conditional rows first, null rows second), else [B, L, D]. */
  states: JaxArray;
  /** [2B | B, L], 1 at real positions. */
  valid: JaxArray;
  /** Edit sources [2B | B, side, side, 3] (zeros for text-to-image). */
  source: JaxArray;
  /** [2B | B]: 1 on rows that edit. */
  hasSource: JaxArray;
  steps: number;
  /** Guidance scale (used when the rows are 2B). */
  guidance: number;
};

const programs = new Map<string, OrtFunction>();

/** The per-config ORT step (cached: one session per shape inside it). */
function stepProgram(u: UNetConfig): OrtFunction {
  const key = JSON.stringify(u);
  let f = programs.get(key);
  if (!f) {
    f = new OrtFunction(
      (p: FlowParams, ...a: JaxArray[]) =>
        eulerStep(u, p, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]),
      { name: "flow euler step" },
    );
    programs.set(key, f);
  }
  return f;
}

/**
 * Runs `steps` Euler steps from t = 1 to t = 0 on ORT and returns x clipped to [−1, 1] as a new
 * jax array [B, side, side, 3]. Borrows its jax arguments (consumes none of them): the
 * parameters and the condition are read once, at the start.
 */
export async function eulerLoopOrt(
  u: UNetConfig,
  params: FlowParams,
  inp: EulerLoopInputs,
): Promise<JaxArray> {
  const side = u.image;
  const B = inp.noise.length / (side * side * 3);
  if (!Number.isInteger(B) || B < 1)
    throw new Error(
      `flow ORT sampler: noise of ${inp.noise.length} floats is not [B, ${side}, ${side}, 3]`,
    );
  const rows = inp.states.shape[0];
  if (rows !== B && rows !== 2 * B)
    throw new Error(`flow ORT sampler: ${rows} condition rows for ${B} images (want B or 2B)`);
  const step = stepProgram(u);
  const p = (await treeToOrt(treeRef(params as never) as Tree<JaxArray>)) as Tree<OrtTensor>;
  const [states, valid, source, hasSource] = await Promise.all(
    [inp.states, inp.valid, inp.source, inp.hasSource].map((a) => jaxToOrt(a.ref)),
  );
  let x: OrtTensor = hostTensor(inp.noise, [B, side, side, 3]);
  for (let k = 0; k < inp.steps; k++) {
    const t = 1 - k / inp.steps;
    const dt = 1 - (k + 1) / inp.steps - t; // = −1/steps, from the grid so Σdt = −1 exactly
    x = (await step.run(p, x, t, dt, inp.guidance, source, hasSource, states, valid)) as OrtTensor;
  }
  return np.clip(ortToJax(x), -1, 1);
}

/** Pad states [B, L, D] / valid [B, L] to length `len` (borrows cond). */
function padTo(cond: Condition, len: number): Condition {
  const L = cond.valid.shape[1];
  if (L === len) return { states: cond.states.ref, valid: cond.valid.ref };
  return {
    states: np.pad(cond.states.ref, [
      [0, 0],
      [0, len - L],
      [0, 0],
    ]),
    valid: np.pad(cond.valid.ref, [
      [0, 0],
      [0, len - L],
    ]),
  };
}

/** Guidance scale (1 = unguided), Euler steps, and edit sources [B, side, side, 3] if editing. */
export type FlowOrtOptions = { guidance: number; steps: number; source?: JaxArray };

/**
 * The flow family's `sample` on ORT, given the initial noise (host [B, side, side, 3]; flow.ts
 * draws it from `o.seed`). Guidance rows are laid out as the jax-js sampler lays them out:
 * conditional rows, then null rows, both padded to the longer condition. Borrows every jax
 * argument (consumes none); returns new images [B, side, side, 3] in [−1, 1].
 */
export async function sampleFlowOrt(
  u: UNetConfig,
  params: FlowParams,
  cond: Condition,
  nullCond: Condition,
  o: FlowOrtOptions,
  noise: Float32Array,
): Promise<JaxArray> {
  const B = cond.states.shape[0];
  if (nullCond.states.shape[0] !== B)
    throw new Error(`flow sample: ${nullCond.states.shape[0]} null rows for ${B} conditions`);
  const guided = o.guidance !== 1;
  let c: Condition = { states: cond.states.ref, valid: cond.valid.ref };
  if (guided) {
    c.states.dispose();
    c.valid.dispose();
    const len = Math.max(cond.valid.shape[1], nullCond.valid.shape[1]);
    const a = padTo(cond, len);
    const b = padTo(nullCond, len);
    c = {
      states: np.concatenate([a.states, b.states], 0),
      valid: np.concatenate([a.valid, b.valid], 0),
    };
  }
  const rows = guided ? 2 * B : B;
  const side = u.image;
  const source = o.source
    ? guided
      ? np.concatenate([o.source.ref, o.source.ref], 0)
      : o.source.ref
    : np.zeros([rows, side, side, 3]);
  const hasSource = o.source ? np.ones([rows]) : np.zeros([rows]);
  try {
    return await eulerLoopOrt(u, params, {
      noise,
      states: c.states,
      valid: c.valid,
      source,
      hasSource,
      steps: o.steps,
      guidance: o.guidance,
    });
  } finally {
    for (const a of [c.states, c.valid, source, hasSource]) a.dispose();
  }
}

/** Release the cached sessions (tests, or a process done sampling). */
export async function disposeFlowOrt(): Promise<void> {
  const all = [...programs.values()];
  programs.clear();
  for (const f of all) await f.dispose();
}
