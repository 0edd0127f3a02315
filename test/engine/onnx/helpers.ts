/**
 * ORT-vs-jax-js checks: a function runs once eagerly on jax-js and once as an ORT program on
 * the same host inputs; every output leaf must agree within |ort − jax| ≤ atol + rtol·|jax|.
 * The check also asserts the primitives under test were really mapped (a test that traced
 * around its primitive would pass vacuously).
 */
import { expect } from "vitest";
import { type JaxArray, numpy as np } from "../../../src/engine/jax.ts";
import { OrtFunction } from "../../../src/engine/onnx/program.ts";
import { type HostArrayLike, leavesOf, type OrtTensor } from "../../../src/engine/onnx/tensors.ts";
import { Rng } from "../../../src/engine/rng.ts";

export type HostIn = HostArrayLike | number;

/** Standard normal host array (× scale, + shift). */
export function hrandn(shape: number[], seed: number, scale = 1, shift = 0): HostArrayLike {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.normal() * scale + shift;
  return { data, shape };
}

/** Uniform integers in [lo, hi) as int32. */
export function hrandint(shape: number[], lo: number, hi: number, seed: number): HostArrayLike {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Int32Array(n);
  for (let i = 0; i < n; i++) data[i] = lo + rng.int(hi - lo);
  return { data, shape };
}

function toJax(x: HostIn): JaxArray | number {
  if (typeof x === "number") return x;
  if (x.data instanceof Int32Array)
    return np.array(x.data, { dtype: np.int32 }).reshape([...x.shape]);
  return np.array(x.data as Float32Array).reshape([...x.shape]);
}

export type Agreement = {
  maxAbs: number;
  worst: number;
  outputs: number;
  /** ONNX op type → nodes in the program. */
  ops: Record<string, number>;
};

/**
 * Run `f` on jax-js and on ORT; expect agreement and that `expectPrims` were mapped.
 * Returns the largest absolute difference and the largest |diff| / (atol + rtol·|jax|).
 */
export async function expectOrtMatches(
  f: (...args: any[]) => unknown,
  inputs: HostIn[],
  o: { atol?: number; rtol?: number; prims?: string[]; conv?: "lax" | "im2col" } = {},
): Promise<Agreement> {
  const atol = o.atol ?? 1e-5;
  const rtol = o.rtol ?? 1e-5;
  const prog = new OrtFunction(f, { name: "test", threads: 1, conv: o.conv ?? "lax" });
  try {
    const ortOut = await prog.run(...inputs);
    const compiled = await prog.compiled(inputs);
    for (const p of o.prims ?? [])
      expect(compiled.program.primitives[p] ?? 0, p).toBeGreaterThan(0);
    const jaxOut = f(...inputs.map(toJax));
    const jl = leavesOf(jaxOut as never) as JaxArray[];
    const ol = leavesOf(ortOut as never) as OrtTensor[];
    expect(ol.length).toBe(jl.length);
    let maxAbs = 0;
    let worst = 0;
    for (let i = 0; i < jl.length; i++) {
      expect([...ol[i].dims]).toEqual(jl[i].shape);
      const want = Array.from((await jl[i].data()) as ArrayLike<number>);
      const got = Array.from(ol[i].data as ArrayLike<number | bigint>, Number);
      for (let j = 0; j < want.length; j++) {
        const d = Math.abs(got[j] - want[j]);
        if (Number.isNaN(d) && !(Number.isNaN(got[j]) && Number.isNaN(want[j])))
          throw new Error(`output ${i}[${j}]: ORT ${got[j]} vs jax ${want[j]}`);
        if (Number.isNaN(d)) continue;
        maxAbs = Math.max(maxAbs, d);
        if (d > 0) worst = Math.max(worst, d / (atol + rtol * Math.abs(want[j])));
      }
    }
    expect(worst, `max |ORT − jax| = ${maxAbs}`).toBeLessThanOrEqual(1);
    return { maxAbs, worst, outputs: jl.length, ops: compiled.program.ops };
  } finally {
    await prog.dispose();
  }
}
