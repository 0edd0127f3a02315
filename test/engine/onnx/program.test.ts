import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, type JaxArray, jit, numpy as np, random } from "../../../src/engine/jax.ts";
import { OrtFunction } from "../../../src/engine/onnx/program.ts";
import { UnsupportedPrimitiveError } from "../../../src/engine/onnx/rule.ts";
import {
  hostTensor,
  jaxToOrt,
  type OrtTensor,
  ortToJax,
  treeToOrt,
} from "../../../src/engine/onnx/tensors.ts";
import { expectOrtMatches, hrandn } from "./helpers.ts";

beforeAll(async () => {
  await initEngine();
});

describe("ORT programs", () => {
  it("a primitive without a mapping is an error naming it, before anything runs", async () => {
    const f = new OrtFunction((k: JaxArray) => random.normal(k, [3]), { name: "noise" });
    const key = await jaxToOrt(random.key(0));
    await expect(f.run(key)).rejects.toThrow(UnsupportedPrimitiveError);
    await expect(f.run(key)).rejects.toThrow(/noise: .*primitive "random_bits"/);
  });

  it("inlines nested jit and bakes in captured constants", async () => {
    const inner = jit((x: JaxArray) => np.exp(x).mul(3));
    const table = np.array(new Float32Array([1, 2, 3, 4]));
    await expectOrtMatches((x: JaxArray) => inner(x).add(table.ref).sum(), [hrandn([4], 1)], {
      prims: ["exp", "add"],
    });
  });

  it("keeps the argument and result trees; numbers are traced scalars (one session)", async () => {
    const f = new OrtFunction(
      (p: { w: JaxArray; b: JaxArray[] }, s: number) => ({
        y: p.w.mul(s).add(p.b[0]),
        n: [p.b[1].sum()],
      }),
      { threads: 1 },
    );
    const p = {
      w: hostTensor(Float32Array.of(1, 2, 3), [3]),
      b: [hostTensor(Float32Array.of(1, 1, 1), [3]), { data: Float32Array.of(2, 5), shape: [2] }],
    };
    const r1 = await f.run(p, 2);
    const r2 = await f.run(p, -1);
    expect(Array.from(r1.y.data)).toEqual([3, 5, 7]);
    expect(Array.from(r2.y.data)).toEqual([0, -1, -2]);
    expect(Array.from(r1.n[0].data)).toEqual([7]);
    const c1 = await f.compiled([p, 2]);
    const c2 = await f.compiled([p, -1]);
    expect(c1).toBe(c2);
    // A new shape is a new program.
    const q = {
      ...p,
      w: hostTensor(Float32Array.of(1, 2, 3, 4), [4]),
      b: [hostTensor(new Float32Array(4), [4]), p.b[1]],
    };
    expect((await f.run(q, 1)).y.dims).toEqual([4]);
    expect(await f.compiled([q, 1])).not.toBe(c1);
    await f.dispose();
  });

  it("outputs feed back in as inputs (state stays in ORT tensors)", async () => {
    const f = new OrtFunction((x: JaxArray, v: JaxArray) => x.add(v.mul(0.5)), { threads: 1 });
    let x: OrtTensor = hostTensor(new Float32Array(4), [4]);
    const v = hostTensor(Float32Array.of(1, 2, 3, 4), [4]);
    for (let i = 0; i < 4; i++) x = await f.run(x, v);
    expect(Array.from(x.data as Float32Array)).toEqual([2, 4, 6, 8]);
    await f.dispose();
  });

  it("converts jax trees to ORT tensors and back", async () => {
    const t = await treeToOrt({
      a: np.array(new Float32Array([1, 2])),
      b: [np.ones([2, 2], { dtype: np.int32 })],
    });
    const tt = t as { a: OrtTensor; b: OrtTensor[] };
    expect(tt.b[0].type).toBe("int32");
    expect(tt.b[0].dims).toEqual([2, 2]);
    const back = ortToJax(tt.a);
    expect(Array.from(await back.data())).toEqual([1, 2]);
  });
});
