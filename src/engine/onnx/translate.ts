/**
 * jaxpr → ONNX. `makeJaxpr` gives the traced program of a function (including what `grad`
 * builds): equations over primitives with params and shapes. Each equation is handed to its
 * primitive's mapping (ops/); nested `jit` equations are inlined; the traced constants become
 * initializers and the flattened arguments graph inputs `in0, in1, …`, the flattened results
 * outputs `out0, out1, …`. A primitive without a mapping throws UnsupportedPrimitiveError
 * before anything runs: never a silently wrong program.
 */
import type { ClosedJaxpr, Jaxpr } from "../jax.ts";
import { type DType, GraphBuilder } from "./graph.ts";
import { conversionRules } from "./ops/index.ts";
import { type Aval, UnsupportedPrimitiveError } from "./rule.ts";
import { cast, full, materialize, type Val } from "./value.ts";

export type TensorSpec = { name: string; shape: number[]; dtype: DType };

export type OnnxProgram = {
  /** The serialized ModelProto. */
  model: Uint8Array;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Primitive → equations mapped (nested jit inlined), for diagnostics. */
  primitives: Record<string, number>;
  /** ONNX op type → nodes emitted. */
  ops: Record<string, number>;
};

type Atom = Jaxpr["outs"][number];
const isVar = (a: Atom): a is Jaxpr["inBinders"][number] => !("value" in a);

function avalOf(a: { aval: { shape: number[]; dtype: string } }): Aval {
  return { shape: [...a.aval.shape], dtype: a.aval.dtype as DType };
}

/** Raw little-endian bytes of a concrete jax array (a captured constant). */
function constBytes(c: { dataSync(): ArrayBufferView; ref: any; dtype: string }): Uint8Array {
  const data = c.ref.dataSync() as ArrayBufferView;
  if (c.dtype === "bool") return Uint8Array.from(data as Int32Array, (v) => (v ? 1 : 0));
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

class Translator {
  readonly g = new GraphBuilder();
  readonly env = new Map<unknown, Val>();
  readonly counts: Record<string, number> = {};

  read(a: Atom): Val {
    if (isVar(a)) {
      const v = this.env.get(a);
      if (!v) throw new Error(`onnx: jaxpr variable ${a.toString()} used before definition`);
      return v;
    }
    const { dtype } = avalOf(a);
    return full(this.g.constant(dtype, [a.value], []), [], dtype);
  }

  run(jaxpr: Jaxpr): void {
    for (const eqn of jaxpr.eqns) {
      const prim = String(eqn.primitive);
      const ins = eqn.inputs.map((a) => this.read(a));
      if (prim === "jit") {
        const inner = eqn.params.jaxpr as Jaxpr;
        inner.inBinders.forEach((b, i) => {
          this.env.set(b, ins[i]);
        });
        this.run(inner);
        inner.outs.forEach((o, i) => {
          this.env.set(eqn.outBinders[i], this.read(o));
        });
        continue;
      }
      const rule = conversionRules[prim];
      if (!rule) throw new UnsupportedPrimitiveError(prim);
      this.counts[prim] = (this.counts[prim] ?? 0) + 1;
      const outs = eqn.outBinders.map(avalOf);
      const vals = rule(this.g, ins, eqn.params, outs);
      if (vals.length !== outs.length)
        throw new Error(`onnx: mapping of ${prim} gave ${vals.length} outputs, not ${outs.length}`);
      vals.forEach((v, i) => {
        const want = outs[i].shape;
        if (v.shape.length !== want.length || v.shape.some((d, j) => d !== want[j]))
          throw new Error(`onnx: mapping of ${prim} gave shape [${v.shape}], jax has [${want}]`);
        this.env.set(eqn.outBinders[i], v);
      });
    }
  }
}

/** Translate a closed jaxpr (from makeJaxpr) into an ONNX model. Does not consume it. */
export function jaxprToOnnx(closed: ClosedJaxpr): OnnxProgram {
  const t = new Translator();
  const { jaxpr, consts } = closed;
  const nConst = consts.length;
  const inputs: TensorSpec[] = [];
  jaxpr.inBinders.forEach((b, i) => {
    const { shape, dtype } = avalOf(b);
    if (i < nConst) {
      const name = t.g.tensor(dtype, shape, constBytes(consts[i] as any));
      t.env.set(b, full(name, shape, dtype));
    } else {
      const name = `in${i - nConst}`;
      t.g.input(name, dtype, shape);
      inputs.push({ name, shape, dtype });
      t.env.set(b, full(name, shape, dtype));
    }
  });
  t.run(jaxpr);
  const outputs: TensorSpec[] = jaxpr.outs.map((o, i) => {
    const { shape, dtype } = avalOf(o);
    const v = cast(t.g, materialize(t.g, t.read(o)), dtype);
    const name = `out${i}`;
    t.g.named("Identity", [v.name], name);
    t.g.output(name, dtype, shape);
    return { name, shape, dtype };
  });
  return { model: t.g.encode(), inputs, outputs, primitives: t.counts, ops: t.g.opCounts() };
}
