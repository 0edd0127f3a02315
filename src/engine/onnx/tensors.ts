/**
 * Moving arrays between jax-js, the host and ONNX Runtime. An ORT CPU tensor wraps a host typed
 * array, so host ↔ ORT is free; jax ↔ ORT is one copy (jax-js's `data()`).
 *
 * Trees: plain objects and JS arrays are nodes, everything else a leaf, in jax-js's own order
 * (object insertion order), so a tree flattens here exactly as jax-js flattens it when tracing.
 * A host array `{ data, shape }` (e.g. a HostBatch entry) is a leaf too.
 */
import * as ort from "onnxruntime-node";
import { type JaxArray, numpy as np } from "../jax.ts";
import type { DType } from "./graph.ts";

export type OrtTensor = ort.Tensor;
export const OrtTensor = ort.Tensor;

export type HostArrayLike = {
  data: Float32Array | Int32Array | Uint32Array | Uint8Array;
  shape: readonly number[];
};
/** What an ORT program accepts at a leaf: an ORT tensor, a host array or a JS number. */
export type OrtInput = OrtTensor | HostArrayLike | number;
export type Tree<T> = T | Tree<T>[] | { [key: string]: Tree<T> };

export function isHostArray(x: unknown): x is HostArrayLike {
  return (
    typeof x === "object" &&
    x !== null &&
    "data" in x &&
    "shape" in x &&
    ArrayBuffer.isView((x as HostArrayLike).data) &&
    Array.isArray((x as HostArrayLike).shape)
  );
}

export function isOrtTensor(x: unknown): x is OrtTensor {
  return x instanceof ort.Tensor;
}

const isNode = (x: unknown): x is object =>
  Array.isArray(x) ||
  (typeof x === "object" && x !== null && x.constructor === Object && !isHostArray(x));

/** Leaves in jax-js order. */
export function leavesOf<T>(t: Tree<T>): T[] {
  if (!isNode(t)) return [t as T];
  const vals = Array.isArray(t) ? t : Object.values(t);
  return vals.flatMap((v) => leavesOf(v as Tree<T>));
}

/** The same structure with each leaf replaced, in leaf order. */
export function mapLeaves<T, U>(t: Tree<T>, f: (x: T, i: number) => U): Tree<U> {
  let i = 0;
  const go = (n: Tree<T>): Tree<U> => {
    if (!isNode(n)) return f(n as T, i++);
    if (Array.isArray(n)) return n.map(go);
    return Object.fromEntries(Object.entries(n).map(([k, v]) => [k, go(v as Tree<T>)]));
  };
  return go(t);
}

/** A structure key: the tree's shape with leaves as `*` (two trees with one key line up). */
export function structureKey(t: unknown): string {
  if (!isNode(t)) return "*";
  if (Array.isArray(t)) return `[${t.map(structureKey).join(",")}]`;
  return `{${Object.entries(t)
    .map(([k, v]) => `${JSON.stringify(k)}:${structureKey(v)}`)
    .join(",")}}`;
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: "float32",
  int32: "int32",
  uint32: "uint32",
  bool: "bool",
  float16: "float16",
  float64: "float64",
};

/** Shape and dtype of an input leaf, as the traced program will see it. */
export function leafSpec(x: OrtInput): { shape: number[]; dtype: DType } {
  if (typeof x === "number") return { shape: [], dtype: "float32" };
  if (isOrtTensor(x)) {
    const dtype = (Object.entries(ORT_TYPE).find(([, t]) => t === x.type)?.[0] ?? "") as DType;
    if (!dtype) throw new Error(`onnx program: ORT tensor type ${x.type} is not supported`);
    return { shape: [...x.dims], dtype };
  }
  const h = x as HostArrayLike;
  if (h.data instanceof Float32Array) return { shape: [...h.shape], dtype: "float32" };
  if (h.data instanceof Int32Array) return { shape: [...h.shape], dtype: "int32" };
  if (h.data instanceof Uint32Array) return { shape: [...h.shape], dtype: "uint32" };
  return { shape: [...h.shape], dtype: "bool" };
}

/** An input leaf as the ORT tensor of the traced input's dtype. */
export function asOrtTensor(x: OrtInput, dtype: DType): OrtTensor {
  if (isOrtTensor(x)) return x;
  if (typeof x === "number") {
    if (dtype === "int32") return new ort.Tensor("int32", Int32Array.of(x), []);
    return new ort.Tensor("float32", Float32Array.of(x), []);
  }
  const h = x as HostArrayLike;
  return new ort.Tensor(ORT_TYPE[dtype], h.data as any, [...h.shape]);
}

/** A host typed array as an ORT tensor (no copy). */
export function hostTensor(data: Float32Array | Int32Array, shape: readonly number[]): OrtTensor {
  const type = data instanceof Float32Array ? "float32" : "int32";
  return new ort.Tensor(type, data, [...shape]);
}

/** A jax array as an ORT tensor. Consumes x. */
export async function jaxToOrt(x: JaxArray): Promise<OrtTensor> {
  const dtype = x.dtype as DType;
  const shape = [...x.shape];
  const data = await x.data();
  if (dtype === "bool") return new ort.Tensor("bool", Uint8Array.from(data as Int32Array), shape);
  return new ort.Tensor(ORT_TYPE[dtype], data as any, shape);
}

/** A tree of jax arrays as ORT tensors, e.g. parameters uploaded once. Consumes the tree. */
export async function treeToOrt(t: Tree<JaxArray>): Promise<Tree<OrtTensor>> {
  const leaves = leavesOf(t);
  const out = await Promise.all(leaves.map((x) => jaxToOrt(x)));
  return mapLeaves(t, (_x, i) => out[i]);
}

/** An ORT tensor as a new jax array (a copy into wasm memory). */
export function ortToJax(t: OrtTensor): JaxArray {
  const shape = [...t.dims];
  switch (t.type) {
    case "float32":
      return np.array(t.data as Float32Array).reshape(shape);
    case "int32":
      return np.array(t.data as Int32Array, { dtype: np.int32 }).reshape(shape);
    case "bool":
      return np
        .array(Int32Array.from(t.data as Uint8Array), { dtype: np.int32 })
        .reshape(shape)
        .astype(np.bool);
    default:
      throw new Error(`onnx: no jax conversion for ORT tensor type ${t.type}`);
  }
}

export function treeToJax(t: Tree<OrtTensor>): Tree<JaxArray> {
  return mapLeaves(t, ortToJax);
}

/** The host typed array of a float32 ORT tensor. */
export function hostData(t: OrtTensor): Float32Array {
  if (t.type !== "float32") throw new Error(`onnx: expected a float32 tensor, got ${t.type}`);
  return t.data as Float32Array;
}
