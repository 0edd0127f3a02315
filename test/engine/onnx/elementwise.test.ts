import { beforeAll, describe, it } from "vitest";
import { initEngine, type JaxArray, lax, numpy as np } from "../../../src/engine/jax.ts";
import { expectOrtMatches, hrandint, hrandn } from "./helpers.ts";

beforeAll(async () => {
  await initEngine();
});

// Inputs broadcast numpy-style ([3, 1, 5] against [4, 5]) so every mapping also sees ONNX's
// broadcasting. Tolerance: f32 transcendental functions differ by a few ulps between jax-js's
// wasm kernels and ORT's MLAS; 1e-5 absolute + 1e-5 relative covers it with margin.
const a = () => hrandn([3, 1, 5], 1);
const b = () => hrandn([4, 5], 2);
const pos = () => hrandn([3, 4], 3, 0.5, 2); // in (0.5, 3.5): for log, sqrt, reciprocal

describe("ONNX mappings: elementwise", () => {
  it("add, mul, min, max (broadcasting, literals)", async () => {
    await expectOrtMatches((x: JaxArray, y: JaxArray) => x.add(y), [a(), b()], { prims: ["add"] });
    await expectOrtMatches((x: JaxArray, y: JaxArray) => x.mul(y).mul(2), [a(), b()], {
      prims: ["mul"],
    });
    await expectOrtMatches((x: JaxArray, y: JaxArray) => np.minimum(x, y), [a(), b()], {
      prims: ["min"],
    });
    await expectOrtMatches((x: JaxArray, y: JaxArray) => np.maximum(x, y), [a(), b()], {
      prims: ["max"],
    });
    await expectOrtMatches((x: JaxArray) => np.maximum(x, 0.25), [a()], { prims: ["max"] });
  });

  it("on bools, mul/add/min/max are logical and/or (ONNX has no bool Mul)", async () => {
    // Returned as float so the comparison is numeric; the ops inside stay boolean.
    const f = (op: (p: JaxArray, q: JaxArray) => JaxArray) => (p: JaxArray, q: JaxArray) =>
      op(p.greater(0), q.greater(0)).astype(np.float32);
    await expectOrtMatches(f(np.logicalAnd), [hrandn([3, 1, 5], 4), hrandn([4, 5], 5)], {
      prims: ["mul"],
    });
    await expectOrtMatches(f(np.logicalOr), [hrandn([3, 1, 5], 6), hrandn([4, 5], 7)]);
  });

  it("unary: neg, reciprocal, sqrt, exp, log, sin, cos, erf, floor, ceil, asin, atan, erfc, trunc", async () => {
    const unary: [string, (x: JaxArray) => JaxArray, () => ReturnType<typeof a>][] = [
      ["neg", (x) => x.neg(), a],
      ["reciprocal", (x) => np.reciprocal(x), pos],
      ["sqrt", (x) => np.sqrt(x), pos],
      ["exp", (x) => np.exp(x), a],
      ["log", (x) => np.log(x), pos],
      ["sin", (x) => np.sin(x.mul(3)), a],
      ["cos", (x) => np.cos(x.mul(3)), a],
      ["erf", (x) => lax.erf(x), a],
      ["floor", (x) => np.floor(x.mul(4)), a],
      ["ceil", (x) => np.ceil(x.mul(4)), a],
      ["asin", (x) => np.asin(np.tanh(x)), a],
      ["atan", (x) => np.atan(x.mul(3)), a],
      ["erfc", (x) => lax.erfc(x), a],
      ["idiv", (x) => np.trunc(x.mul(4)), a],
    ];
    for (const [prim, f, input] of unary) await expectOrtMatches(f, [input()], { prims: [prim] });
  });

  it("integer arithmetic and idiv/mod (C semantics: truncation, sign of the dividend)", async () => {
    const i = () => hrandint([6, 7], -20, 20, 4);
    const j = () => ({ ...hrandint([6, 7], 1, 6, 5) });
    await expectOrtMatches((x: JaxArray, y: JaxArray) => x.mul(y).add(3).neg(), [i(), j()], {
      prims: ["mul", "add", "neg"],
      atol: 0,
      rtol: 0,
    });
    await expectOrtMatches((x: JaxArray, y: JaxArray) => x.mod(y), [i(), j()], {
      prims: ["mod"],
      atol: 0,
      rtol: 0,
    });
    await expectOrtMatches((x: JaxArray, y: JaxArray) => x.div(y), [i(), j()], {
      prims: ["idiv"],
      atol: 0,
      rtol: 0,
    });
    await expectOrtMatches(
      (x: JaxArray, y: JaxArray) => np.fmod(x, y),
      [hrandn([3, 4], 7, 3), pos()],
      {
        prims: ["idiv"],
      },
    );
  });

  it("cast, compare, where, stop_gradient", async () => {
    await expectOrtMatches((x: JaxArray) => x.mul(3).astype(np.int32), [a()], {
      prims: ["cast"],
      atol: 0,
      rtol: 0,
    });
    const cmp: [string, (x: JaxArray, y: JaxArray) => JaxArray][] = [
      ["less", (x, y) => np.less(x, y)],
      ["greater", (x, y) => np.greater(x, y)],
      ["equal", (x, y) => np.equal(np.floor(x), np.floor(y))],
      ["notEqual", (x, y) => np.notEqual(np.floor(x), np.floor(y))],
      ["lessEqual", (x, y) => np.lessEqual(np.floor(x), np.floor(y))],
    ];
    for (const [, f] of cmp)
      await expectOrtMatches((x: JaxArray, y: JaxArray) => f(x, y).astype(np.float32), [a(), b()], {
        prims: ["compare"],
      });
    await expectOrtMatches(
      (x: JaxArray, y: JaxArray) => np.where(np.less(x.ref, 0), x, y.mul(10)),
      [a(), b()],
      { prims: ["where", "compare"] },
    );
    // On bools jax-js's mul/add are logical and/or (ONNX And/Or).
    await expectOrtMatches(
      (x: JaxArray, y: JaxArray) =>
        np
          .logicalAnd(np.less(x.ref, 0), np.less(y.ref, 0.5))
          .astype(np.float32)
          .add(np.logicalOr(np.less(x, -0.5), np.less(y, -1)).astype(np.float32).mul(2)),
      [a(), b()],
      { atol: 0, rtol: 0, prims: ["compare"] },
    );
    await expectOrtMatches((x: JaxArray) => lax.stopGradient(x).add(1), [a()], {
      prims: ["stop_gradient"],
    });
  });
});
