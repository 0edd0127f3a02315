/**
 * A jax-js function compiled for ONNX Runtime: jax-js traces (and differentiates), ORT executes.
 *
 *   const step = new OrtFunction((p, x) => model(p, x), { name: "forward" });
 *   const params = await treeToOrt(tree.ref(jaxParams));       // uploaded once
 *   const y = await step.run(params, hostTensor(data, [16, 32])); // ORT tensors out
 *
 * The function is traced with `makeJaxpr` on zero arrays of the call's shapes (conv2d lowered
 * to `lax.convGeneralDilated`, so ONNX gets `Conv` nodes), translated (translate.ts) and loaded
 * as an InferenceSession, once per distinct input shapes/dtypes/tree structure. Leaves of the
 * arguments are ORT tensors, host arrays `{ data, shape }` or JS numbers (traced as float32
 * scalars, so a new value never recompiles); results are ORT tensors in the function's output
 * tree, which can be fed straight back in (parameters and sampler state stay in ORT between
 * calls). A primitive without an ONNX mapping throws UnsupportedPrimitiveError at the first call.
 */
import * as ort from "onnxruntime-node";
import { type JaxArray, makeJaxpr, numpy as np, tree } from "../jax.ts";
import { type ConvLowering, withConvLowering } from "../nn/conv.ts";
import { configuredThreads } from "../node-setup.ts";
import {
  asOrtTensor,
  leafSpec,
  leavesOf,
  mapLeaves,
  type OrtInput,
  type OrtTensor,
  structureKey,
  type Tree,
} from "./tensors.ts";
import { jaxprToOnnx, type OnnxProgram } from "./translate.ts";

export type OrtFunctionOptions = {
  /** A name for errors and diagnostics. */
  name?: string;
  /** ORT intra-op threads (default `RECA_ORT_THREADS`, else `RECA_THREADS`, else all cores). */
  threads?: number;
  /** How conv2d is traced (default "lax": ONNX Conv). */
  conv?: ConvLowering;
  /** Write ORT's per-node profile (chrome trace JSON) with this file prefix (diagnostics). */
  profile?: string;
};

/** ORT intra-op threads: `RECA_ORT_THREADS`, else the engine's thread count. */
export function ortThreads(): number {
  const raw = process.env.RECA_ORT_THREADS;
  if (raw === undefined || raw === "") return configuredThreads();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`RECA_ORT_THREADS must be a positive integer, got "${raw}"`);
  return n;
}

export function sessionOptions(
  threads: number,
  profile?: string,
): ort.InferenceSession.SessionOptions {
  return {
    ...(profile ? { enableProfiling: true, profileFilePrefix: profile } : {}),
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    enableCpuMemArena: true,
    enableMemPattern: true,
    logSeverityLevel: 3,
  };
}

/** One compiled shape signature. */
export type Compiled = {
  program: OnnxProgram;
  session: ort.InferenceSession;
  /** The output tree structure (jax-js treedef). */
  treedef: unknown;
  traceMs: number;
  sessionMs: number;
};

export class OrtFunction {
  readonly #cache = new Map<string, Promise<Compiled>>();
  readonly #name: string;

  constructor(
    readonly f: (...args: any[]) => unknown,
    readonly opts: OrtFunctionOptions = {},
  ) {
    this.#name = opts.name ?? (f.name || "function");
  }

  /** The compiled program for these arguments' shapes (built on first use, then cached). */
  compiled(args: Tree<OrtInput>[]): Promise<Compiled> {
    const specs = leavesOf(args).map(leafSpec);
    const key = `${structureKey(args)}|${specs.map((s) => `${s.dtype}[${s.shape}]`).join(";")}`;
    let hit = this.#cache.get(key);
    if (!hit) {
      hit = this.#compile(args);
      this.#cache.set(key, hit);
      hit.catch(() => this.#cache.delete(key));
    }
    return hit;
  }

  async #compile(args: Tree<OrtInput>[]): Promise<Compiled> {
    const t0 = performance.now();
    // Zero arrays only lend their shapes to the trace (numbers stay numbers: weak scalars).
    const examples = mapLeaves(args as Tree<OrtInput>, (x) => {
      if (typeof x === "number") return x;
      const s = leafSpec(x);
      return np.zeros(s.shape, { dtype: s.dtype as any });
    }) as unknown[];
    let program: OnnxProgram;
    let treedef: unknown;
    try {
      const traced = withConvLowering(this.opts.conv ?? "lax", () =>
        makeJaxpr(this.f as any)(...(examples as any)),
      );
      treedef = traced.treedef;
      try {
        program = jaxprToOnnx(traced.jaxpr);
      } finally {
        traced.jaxpr.dispose();
      }
    } catch (e) {
      (e as Error).message = `${this.#name}: ${(e as Error).message}`;
      throw e;
    } finally {
      for (const x of leavesOf(examples as Tree<unknown>))
        if (typeof x !== "number") (x as JaxArray).dispose();
    }
    const t1 = performance.now();
    const session = await ort.InferenceSession.create(
      program.model,
      sessionOptions(this.opts.threads ?? ortThreads(), this.opts.profile),
    );
    return { program, session, treedef, traceMs: t1 - t0, sessionMs: performance.now() - t1 };
  }

  /** Run on ORT. Returns the function's output tree with ORT tensors at the leaves. */
  async run(...args: Tree<OrtInput>[]): Promise<any> {
    const c = await this.compiled(args);
    const leaves = leavesOf(args);
    const feeds: Record<string, OrtTensor> = {};
    c.program.inputs.forEach((spec, i) => {
      const t = asOrtTensor(leaves[i], spec.dtype);
      const got = leafSpec(t);
      if (got.dtype !== spec.dtype)
        throw new Error(`${this.#name}: input ${i} is ${got.dtype}, the program has ${spec.dtype}`);
      feeds[spec.name] = t;
    });
    const res = await c.session.run(feeds);
    const outs = c.program.outputs.map((o) => res[o.name]);
    return tree.unflatten(c.treedef as any, outs as any);
  }

  /** Stop profiling every session (writes the profile files). */
  async endProfiling(): Promise<void> {
    for (const p of this.#cache.values()) (await p).session.endProfiling();
  }

  /** Release every session. */
  async dispose(): Promise<void> {
    const all = [...this.#cache.values()];
    this.#cache.clear();
    for (const p of all) {
      try {
        await (await p).session.release();
      } catch {
        // a failed compile has nothing to release
      }
    }
  }
}
