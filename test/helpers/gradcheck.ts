/**
 * Test helpers: host-seeded random arrays and a finite-difference gradient checker.
 *
 * `gradCheck` compares `grad(f)` with central differences along one random unit direction per
 * leaf (a directional derivative exercises every coordinate of the leaf at once, in two forward
 * passes rather than two per coordinate). Differences are taken at steps h and h/2 and combined
 * by Richardson extrapolation, (4 D(h/2) - D(h)) / 3, which cancels the O(h^2) truncation error;
 * that lets h stay large enough (1e-2 on a unit-norm direction) that f32 rounding in f stays well
 * below the 2e-2 relative tolerance.
 */
import { grad, type JaxArray, jit, numpy as np } from "../../src/engine/jax.ts";
import { Rng } from "../../src/engine/rng.ts";
import { namedLeaves, type ParamTree } from "../../src/engine/tree.ts";

/** Standard normal * scale, seeded on the host (independent of jax's PRNG). */
export function randn(shape: number[], seed: number, scale = 1): JaxArray {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.normal() * scale;
  return np.array(data).reshape(shape);
}

/** Uniform integers in [0, n) as int32. */
export function randInt(shape: number[], n: number, seed: number): JaxArray {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Int32Array(size);
  for (let i = 0; i < size; i++) data[i] = rng.int(n);
  return np.array(data, { dtype: np.int32 }).reshape(shape);
}

/** Host copy (consumes x). */
export async function host(x: JaxArray): Promise<Float32Array> {
  return Float32Array.from((await x.data()) as ArrayLike<number>);
}

export async function maxAbsDiff(a: JaxArray, b: JaxArray): Promise<number> {
  return (await host(np.max(np.abs(a.sub(b)))))[0];
}

/**
 * Reduce any array to a scalar with fixed random weights, sum(y * R): every output element
 * gets a distinct, non-degenerate cotangent. Consumes y.
 */
export function project(y: JaxArray, seed = 7): JaxArray {
  return y.mul(randn(y.shape, seed)).sum();
}

/** Same structure as `t`, each leaf replaced by `fn(name)` (walks like `namedLeaves`). */
function rebuild(t: ParamTree, fn: (name: string) => JaxArray, prefix = ""): ParamTree {
  if (!Array.isArray(t) && "shape" in t && "dtype" in t) return fn(prefix);
  const name = (k: string) => (prefix ? `${prefix}.${k}` : k);
  if (Array.isArray(t)) return t.map((v, i) => rebuild(v, fn, name(String(i))));
  const obj = t as { [key: string]: ParamTree };
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, rebuild(v, fn, name(k))]));
}

export type GradCheckOpts = {
  /** Step along the unit direction (default 1e-2). */
  eps?: number;
  /** Pass if |num - ana| <= rtol * max(|num|, |ana|) + atol (defaults 2e-2, 1e-3). */
  rtol?: number;
  atol?: number;
  seed?: number;
  /** Take the analytic gradient with jit(grad(f)) instead of grad(f). */
  jit?: boolean;
};

export type LeafCheck = { name: string; analytic: number; numeric: number; ok: boolean };

/**
 * Check grad(f) at x against finite differences, leaf by leaf. f maps a tree of f32 arrays to
 * a scalar and consumes its argument; x is consumed. Throws listing the leaves that disagree;
 * returns the per-leaf report otherwise.
 */
export async function gradCheck<T extends ParamTree>(
  f: (x: T) => JaxArray,
  x: T,
  opts: GradCheckOpts = {},
): Promise<LeafCheck[]> {
  const h = opts.eps ?? 1e-2;
  const rtol = opts.rtol ?? 2e-2;
  const atol = opts.atol ?? 1e-3;
  const leaves = namedLeaves(x);
  const base = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, a] of leaves) {
    if (a.dtype !== np.float32) throw new Error(`gradCheck: leaf "${name}" is ${a.dtype}`);
    base.set(name, { shape: [...a.shape], data: await host(a.ref) });
  }
  const fresh = (override?: [string, Float32Array]) =>
    rebuild(x, (name) => {
      const { shape, data } = base.get(name)!;
      return np.array(override?.[0] === name ? override[1] : data).reshape(shape);
    }) as T;

  const jitted = opts.jit ? jit(grad(f)) : undefined;
  const g = (jitted ?? grad(f)) as unknown as (x: T) => ParamTree;
  const grads = new Map<string, Float32Array>();
  for (const [name, a] of namedLeaves(g(fresh()))) grads.set(name, await host(a));
  jitted?.dispose();

  const evalAt = async (name: string, dir: Float64Array, step: number) => {
    const x0 = base.get(name)!.data;
    const xs = Float32Array.from(x0, (v, i) => v + step * dir[i]);
    return (await host(f(fresh([name, xs]))))[0];
  };
  const rng = new Rng(opts.seed ?? 1);
  const report: LeafCheck[] = [];
  for (const [name] of leaves) {
    const n = base.get(name)!.data.length;
    const dir = Float64Array.from({ length: n }, () => rng.normal());
    const norm = Math.hypot(...dir);
    for (let i = 0; i < n; i++) dir[i] /= norm;
    const d1 = ((await evalAt(name, dir, h)) - (await evalAt(name, dir, -h))) / (2 * h);
    const d2 = ((await evalAt(name, dir, h / 2)) - (await evalAt(name, dir, -h / 2))) / h;
    const numeric = (4 * d2 - d1) / 3;
    const gl = grads.get(name);
    if (!gl) throw new Error(`gradCheck: no gradient for "${name}"`);
    const analytic = gl.reduce((s, v, i) => s + v * dir[i], 0);
    const ok =
      Math.abs(numeric - analytic) <= rtol * Math.max(Math.abs(numeric), Math.abs(analytic)) + atol;
    report.push({ name, analytic, numeric, ok });
  }
  for (const [, a] of leaves) a.dispose();
  const bad = report.filter((r) => !r.ok);
  if (bad.length) {
    const lines = bad.map((r) => `  ${r.name}: grad ${r.analytic} vs finite diff ${r.numeric}`);
    throw new Error(
      `gradCheck: ${bad.length}/${report.length} leaves disagree\n${lines.join("\n")}`,
    );
  }
  return report;
}
