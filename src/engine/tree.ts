/**
 * Parameter-tree helpers. A parameter tree is a plain nested object/array whose
 * leaves are jax arrays. Names are dotted paths ("blocks.0.attn.wq"), the form
 * safetensors files use.
 */
import { type JaxArray, numpy as np, tree } from "./jax.ts";

export type ParamTree = JaxArray | ParamTree[] | { [key: string]: ParamTree };

/** A host copy of one tensor. */
export type HostTensor = { shape: number[]; data: Float32Array | Int32Array };

function isLeaf(x: unknown): x is JaxArray {
  return typeof x === "object" && x !== null && "shape" in x && "dtype" in x && "ref" in x;
}

/** Leaves with their dotted names, in tree order. Does not consume anything. */
export function namedLeaves(t: ParamTree, prefix = ""): [string, JaxArray][] {
  if (isLeaf(t)) return [[prefix, t]];
  const out: [string, JaxArray][] = [];
  const entries: [string, ParamTree][] = Array.isArray(t)
    ? t.map((v, i) => [String(i), v])
    : Object.entries(t);
  for (const [k, v] of entries) {
    if (k.includes(".")) throw new Error(`parameter key "${k}" must not contain "."`);
    out.push(...namedLeaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return out;
}

/**
 * Rebuild a tree from dotted names. Numeric segments become array indices; with
 * a `template`, the result has exactly its structure and missing or extra names
 * are errors.
 */
export function fromNamed<T>(entries: Map<string, T> | Record<string, T>): unknown {
  const map = entries instanceof Map ? entries : new Map(Object.entries(entries));
  const root: Record<string, unknown> = {};
  for (const [name, value] of map) {
    const parts = name.split(".");
    let node: Record<string, unknown> = root;
    for (let i = 0; i < parts.length - 1; i++) {
      node[parts[i]] ??= {};
      node = node[parts[i]] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = value;
  }
  const arrayify = (n: unknown): unknown => {
    if (typeof n !== "object" || n === null || isLeaf(n) || ArrayBuffer.isView(n)) return n;
    if ("shape" in n && "data" in n) return n; // HostTensor
    const obj = n as Record<string, unknown>;
    const keys = Object.keys(obj);
    const numeric = keys.length > 0 && keys.every((k) => /^\d+$/.test(k));
    if (numeric) {
      const arr = keys.map(Number).sort((a, b) => a - b);
      if (arr.some((k, i) => k !== i))
        throw new Error(`non-contiguous array indices: ${keys.join(",")}`);
      return arr.map((k) => arrayify(obj[String(k)]));
    }
    return Object.fromEntries(keys.map((k) => [k, arrayify(obj[k])]));
  };
  return arrayify(root);
}

/** Total number of scalar parameters. Does not consume. */
export function countParams(t: ParamTree): number {
  return namedLeaves(t).reduce((n, [, a]) => n + a.shape.reduce((p, d) => p * d, 1), 0);
}

/** Copy a tree to the host (keeps the tree alive). */
export async function toHost(t: ParamTree): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const [name, a] of namedLeaves(t)) {
    const shape = [...a.shape];
    const data = (await a.ref.data()) as Float32Array | Int32Array;
    out.set(name, { shape, data: data instanceof Int32Array ? data : Float32Array.from(data) });
  }
  return out;
}

/** Build a device tree from host tensors (f32 unless the data is Int32Array). */
export function fromHost(host: Map<string, HostTensor>): ParamTree {
  const arrays = new Map<string, JaxArray>();
  for (const [name, { shape, data }] of host) {
    const a =
      data instanceof Int32Array
        ? np.array(data, { dtype: np.int32 })
        : np.array(data, { dtype: np.float32 });
    arrays.set(name, a.reshape(shape));
  }
  return fromNamed(arrays) as ParamTree;
}

/** Check that two trees have the same names and shapes; throws naming the first difference. */
export function assertSameStructure(a: ParamTree, b: ParamTree, what = "tree"): void {
  const la = namedLeaves(a);
  const lb = new Map(namedLeaves(b).map(([n, x]) => [n, x.shape]));
  for (const [n, x] of la) {
    const s = lb.get(n);
    if (!s) throw new Error(`${what}: "${n}" is missing`);
    if (s.join("x") !== x.shape.join("x")) {
      throw new Error(`${what}: "${n}" has shape [${s}] where [${x.shape}] was expected`);
    }
    lb.delete(n);
  }
  const extra = [...lb.keys()];
  if (extra.length) throw new Error(`${what}: unexpected "${extra[0]}"`);
}

export const treeRef = <T extends ParamTree>(t: T): T => tree.ref(t) as T;
export const treeDispose = (t: ParamTree): void => tree.dispose(t);

/**
 * Leaf-wise map over trees of one structure (that of `first`), with each leaf's dotted name:
 * `f(name, a, b, …)`. Consumes what `f` consumes.
 */
export function mapNamed(
  f: (name: string, ...leaves: JaxArray[]) => JaxArray,
  first: ParamTree,
  ...rest: ParamTree[]
): ParamTree {
  const walk = (prefix: string, a: ParamTree, others: ParamTree[]): ParamTree => {
    if (isLeaf(a)) return f(prefix, a, ...(others as JaxArray[]));
    const at = (t: ParamTree, k: string | number): ParamTree => {
      const v = (t as Record<string | number, ParamTree>)[k];
      if (v === undefined) throw new Error(`mapNamed: trees differ at "${prefix}.${k}"`);
      return v;
    };
    const name = (k: string | number) => (prefix ? `${prefix}.${k}` : String(k));
    if (Array.isArray(a))
      return a.map((v, i) =>
        walk(
          name(i),
          v,
          others.map((o) => at(o, i)),
        ),
      );
    return Object.fromEntries(
      Object.entries(a).map(([k, v]) => [
        k,
        walk(
          name(k),
          v,
          others.map((o) => at(o, k)),
        ),
      ]),
    );
  };
  return walk("", first, rest);
}

/**
 * Which parameters training leaves alone, by dotted name (e.g. a frozen language model:
 * `name.startsWith("backbone.")`). Frozen parameters get no gradient, no weight decay, no
 * moment update and no EMA change: they stay bit-identical.
 */
export type FrozenMask = (name: string) => boolean;

/** A mask freezing every parameter under the given dotted prefixes ("backbone", "family.pool"). */
export function frozenPrefixes(prefixes: readonly string[]): FrozenMask | undefined {
  if (prefixes.length === 0) return undefined;
  return (name) => prefixes.some((p) => name === p || name.startsWith(`${p}.`));
}
