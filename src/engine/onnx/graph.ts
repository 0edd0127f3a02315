/**
 * A small ONNX graph builder on the generated protobuf classes of `onnx-proto` (no TypeScript
 * ONNX builder exists on npm). Nodes are appended in order, every value gets a fresh name, and
 * constants (int64 shape vectors, scalars) are initializers, deduplicated by content.
 *
 * Opset 17: ReduceSum takes its axes as an input (13+), the other reductions still as an
 * attribute (until 18); onnxruntime-node 1.30 runs it.
 */
import onnxProto from "onnx-proto";
import type { View } from "./views.ts";

export const { onnx } = onnxProto;
export const OPSET = 17;

/** jax-js dtypes reca's programs use, and their ONNX element types. */
export type DType = "float32" | "int32" | "uint32" | "bool" | "float16" | "float64";

const ELEM: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  uint32: onnx.TensorProto.DataType.UINT32,
  bool: onnx.TensorProto.DataType.BOOL,
  float16: onnx.TensorProto.DataType.FLOAT16,
  float64: onnx.TensorProto.DataType.DOUBLE,
};

export function elemType(dtype: string): number {
  const t = ELEM[dtype as DType];
  if (t === undefined) throw new Error(`onnx: dtype ${dtype} has no ONNX element type here`);
  return t;
}

const INT64 = onnx.TensorProto.DataType.INT64;

export type Attr = number | number[] | string | { floats: number[] } | { float: number };

function attribute(name: string, v: Attr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "string") return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === "number") return { name, type: T.INT, i: v };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ("floats" in v) return { name, type: T.FLOATS, floats: v.floats };
  return { name, type: T.FLOAT, f: v.float };
}

/** Little-endian bytes of a scalar or vector constant in an ONNX element type. */
function rawBytes(dtype: DType | "int64", values: readonly number[]): Uint8Array {
  switch (dtype) {
    case "int64":
      return new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
    case "float32":
      return new Uint8Array(Float32Array.from(values).buffer);
    case "float64":
      return new Uint8Array(Float64Array.from(values).buffer);
    case "int32":
      return new Uint8Array(Int32Array.from(values).buffer);
    case "uint32":
      return new Uint8Array(Uint32Array.from(values).buffer);
    case "bool":
      return Uint8Array.from(values.map((v) => (v ? 1 : 0)));
    default:
      throw new Error(`onnx: no constant encoding for ${dtype}`);
  }
}

export class GraphBuilder {
  readonly #nodes: onnxProto.onnx.INodeProto[] = [];
  readonly #inits: onnxProto.onnx.ITensorProto[] = [];
  readonly #inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly #outputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly #constCache = new Map<string, string>();
  readonly #cse = new Map<string, string[]>();
  /** Which tensors are reorderings of others (views.ts). */
  readonly views = new Map<string, View>();
  /** 2-D Gemm outputs and their operands, so a transpose of one is the swapped Gemm. */
  readonly gemms = new Map<string, { a: string; b: string; transA: number; transB: number }>();
  #counter = 0;

  fresh(hint = "v"): string {
    return `${hint}${this.#counter++}`;
  }

  /**
   * Appends a node; returns its output names. Every op reca emits is a pure function of its
   * inputs, so a node identical to an earlier one (same op, inputs, attributes) is that node:
   * jax-js's jaxprs recompute values (a jvp and its transpose both form x·x, say), and this
   * common-subexpression elimination keeps ORT from doing the work twice.
   */
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs = 1): string[] {
    const key = `${op}(${inputs.join(",")})${JSON.stringify(attrs)}#${outputs}`;
    const hit = this.#cse.get(key);
    if (hit) return hit;
    const outs = Array.from({ length: outputs }, () => this.fresh(op.toLowerCase()));
    this.#cse.set(key, outs);
    this.#nodes.push({
      opType: op,
      input: inputs,
      output: outs,
      name: outs[0],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** A one-output node whose output has a given name (graph outputs). */
  named(op: string, inputs: string[], output: string, attrs: Record<string, Attr> = {}): string {
    this.#nodes.push({
      opType: op,
      input: inputs,
      output: [output],
      name: output,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** One-output node. */
  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.node(op, inputs, attrs, 1)[0];
  }

  /** A constant initializer (deduplicated). `dims` [] is a scalar. */
  constant(dtype: DType | "int64", values: readonly number[], dims: number[] = [values.length]) {
    const key = `${dtype}|${dims.join(",")}|${values.join(",")}`;
    const hit = this.#constCache.get(key);
    if (hit) return hit;
    const name = this.fresh("c");
    this.#inits.push({
      name,
      dims,
      dataType: dtype === "int64" ? INT64 : elemType(dtype),
      rawData: rawBytes(dtype, values),
    });
    this.#constCache.set(key, name);
    return name;
  }

  /** An int64 vector (shapes, axes, pads, slice bounds). */
  ints(values: readonly number[]): string {
    return this.constant("int64", values);
  }

  /** A constant tensor from raw bytes (a traced program's captured arrays). */
  tensor(dtype: DType, dims: number[], raw: Uint8Array): string {
    const name = this.fresh("k");
    this.#inits.push({ name, dims, dataType: elemType(dtype), rawData: raw });
    return name;
  }

  input(name: string, dtype: string, shape: number[]): void {
    this.#inputs.push(valueInfo(name, dtype, shape));
  }

  output(name: string, dtype: string, shape: number[]): void {
    this.#outputs.push(valueInfo(name, dtype, shape));
  }

  /** ONNX op type → node count. */
  opCounts(): Record<string, number> {
    const c: Record<string, number> = {};
    for (const n of this.#live()) c[n.opType as string] = (c[n.opType as string] ?? 0) + 1;
    return c;
  }

  /** Nodes some graph output depends on (views leave dead transposes behind). */
  #live(): onnxProto.onnx.INodeProto[] {
    const needed = new Set(this.#outputs.map((o) => o.name as string));
    const keep: boolean[] = new Array(this.#nodes.length).fill(false);
    for (let i = this.#nodes.length - 1; i >= 0; i--) {
      const n = this.#nodes[i];
      if (!(n.output ?? []).some((o) => needed.has(o))) continue;
      keep[i] = true;
      for (const x of n.input ?? []) needed.add(x);
    }
    return this.#nodes.filter((_, i) => keep[i]);
  }

  /** The serialized ModelProto. */
  encode(name = "reca"): Uint8Array {
    const nodes = this.#live();
    const used = new Set(nodes.flatMap((n) => n.input ?? []));
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: "reca",
      opsetImport: [{ domain: "", version: OPSET }],
      graph: {
        name,
        node: nodes,
        initializer: this.#inits.filter((t) => used.has(t.name as string)),
        input: this.#inputs,
        output: this.#outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, dtype: string, shape: number[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: elemType(dtype),
        shape: { dim: shape.map((d) => ({ dimValue: d })) },
      },
    },
  };
}
