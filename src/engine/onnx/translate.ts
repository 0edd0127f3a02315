/**
 * jaxpr → ONNX. `makeJaxpr` gives the traced program of a function (including what `grad`
 * builds): equations over primitives with params and shapes. Each equation is handed to its
 * primitive's mapping (ops/); nested `jit` equations are inlined; the traced constants become
 * initializers and the flattened arguments graph inputs `in0, in1, …`, the flattened results
 * outputs `out0, out1, …`. A primitive without a mapping throws UnsupportedPrimitiveError
 * before anything runs: never a silently wrong program.
 */
import type { ClosedJaxpr, Jaxpr } from "../jax.ts";
import { type Activation, activationOf } from "./activations.ts";
import { type DType, GraphBuilder } from "./graph.ts";
import { conversionRules } from "./ops/index.ts";
import { type Aval, UnsupportedPrimitiveError } from "./rule.ts";
import { broadcastShapes, cast, full, materialize, type Val } from "./value.ts";

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

type Eqn = Jaxpr["eqns"][number];
/** A lowered activation's residuals, computed only if something else reads them. */
type Deferred = { eqn: Eqn; x: Val; base: string; residuals: number; act: Activation };

class Translator {
  readonly g = new GraphBuilder();
  readonly env = new Map<unknown, Val>();
  readonly deferred = new Map<unknown, Deferred>();
  readonly counts: Record<string, number> = {};

  read(a: Atom): Val {
    if (isVar(a)) {
      const d = this.deferred.get(a);
      if (d) {
        // Someone needs the residuals themselves: translate the peval jit as written.
        for (const b of d.eqn.outBinders) this.deferred.delete(b);
        this.inline(
          d.eqn,
          d.eqn.inputs.map((i) => this.read(i)),
        );
      }
      const v = this.env.get(a);
      if (!v) throw new Error(`onnx: jaxpr variable ${a.toString()} used before definition`);
      return v;
    }
    const { dtype } = avalOf(a);
    return full(this.g.constant(dtype, [a.value], []), [], dtype);
  }

  inline(eqn: Eqn, ins: Val[]): void {
    const inner = eqn.params.jaxpr as Jaxpr;
    inner.inBinders.forEach((b, i) => {
      this.env.set(b, ins[i]);
    });
    this.run(inner);
    inner.outs.forEach((o, i) => {
      this.env.set(eqn.outBinders[i], this.read(o));
    });
  }

  /** A named activation jit (activations.ts) as closed forms; false when it is not one. */
  lowerActivation(eqn: Eqn): boolean {
    const name = String(eqn.params.name);
    const m = /^(.*?)(_jvp_peval|_jvp_resid_t)?$/.exec(name);
    const base = m?.[1] ?? name;
    const act = activationOf(base, eqn.params.jaxpr);
    if (!act) return false;
    const float = (v: { aval: { dtype: string } }) => ["float32", "float64"].includes(v.aval.dtype);
    if (!eqn.outBinders.every(float)) return false;
    const g = this.g;
    const apply = (x: Val, name: string, shape: number[]): Val => ({
      name,
      shape: [...shape],
      actual: [...x.actual],
      dtype: x.dtype,
    });
    const kind = m?.[2];
    if (kind === undefined) {
      if (eqn.inputs.length !== 1 || eqn.outBinders.length !== 1) return false;
      const x = this.read(eqn.inputs[0]);
      this.env.set(eqn.outBinders[0], apply(x, act.f(g, x.name, x.dtype), x.shape));
      return true;
    }
    if (kind === "_jvp_peval") {
      if (eqn.inputs.length !== 1) return false;
      const x = this.read(eqn.inputs[0]);
      const [y, ...res] = eqn.outBinders;
      if (y.aval.shape.join() !== x.shape.join()) return false;
      this.env.set(y, apply(x, act.f(g, x.name, x.dtype), x.shape));
      for (const r of res) this.deferred.set(r, { eqn, x, base, residuals: res.length, act });
      return true;
    }
    // _jvp_resid_t: (residuals…, ct) → ct · f′(x), when the residuals are a lowered peval's
    // (whose activation decides f: the transposed jaxpr no longer shows gelu's erf).
    const res = eqn.inputs.slice(0, -1);
    const ds = res.map((r) => (isVar(r) ? this.deferred.get(r) : undefined));
    const d = ds[0];
    if (!d || d.base !== base || d.residuals !== res.length || ds.some((e) => e?.eqn !== d.eqn))
      return false;
    const ct = this.read(eqn.inputs[eqn.inputs.length - 1]);
    const dx = g.op("Mul", [ct.name, d.act.df(g, d.x.name, d.x.dtype)]);
    const shape = eqn.outBinders[0].aval.shape;
    this.env.set(eqn.outBinders[0], {
      name: dx,
      shape: [...shape],
      actual: broadcastShapes(ct.actual, d.x.actual),
      dtype: ct.dtype,
    });
    this.counts[`${base} (closed form)`] = (this.counts[`${base} (closed form)`] ?? 0) + 1;
    return true;
  }

  run(jaxpr: Jaxpr): void {
    for (const eqn of jaxpr.eqns) {
      const prim = String(eqn.primitive);
      if (prim === "jit") {
        if (!this.lowerActivation(eqn))
          this.inline(
            eqn,
            eqn.inputs.map((a) => this.read(a)),
          );
        continue;
      }
      const ins = eqn.inputs.map((a) => this.read(a));
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
