import { beforeAll, describe, expect, it } from "vitest";
import {
  initEngine,
  type JaxArray,
  lax,
  numpy as np,
  valueAndGrad,
} from "../../../src/engine/jax.ts";
import { conv2d } from "../../../src/engine/nn/conv.ts";
import { expectOrtMatches, hrandn } from "./helpers.ts";

beforeAll(async () => {
  await initEngine();
});

// ORT's Conv against jax-js's im2col: different summation orders over k·k·Cin ≤ 216 terms of
// O(1) values, so 1e-5 absolute + 1e-5 relative (gradients sum over the batch too: 1e-4).
const tol = { atol: 1e-5, rtol: 1e-5 };
const gtol = { atol: 1e-4, rtol: 1e-5 };

const cases = [
  { k: 3, stride: 1, H: 6, W: 5 },
  { k: 3, stride: 2, H: 8, W: 8 },
  { k: 3, stride: 2, H: 7, W: 6 },
  { k: 1, stride: 1, H: 4, W: 4 },
];

describe("conv2d on ORT: ONNX Conv is the same function as jax-js's im2col", () => {
  it("forward, every stride and padding case", async () => {
    for (const [i, { k, stride, H, W }] of cases.entries()) {
      const r = await expectOrtMatches(
        (w: JaxArray, b: JaxArray, x: JaxArray) => conv2d({ w, b }, x, { stride }),
        [hrandn([k * k * 6, 4], i), hrandn([4], 10 + i), hrandn([2, H, W, 6], 20 + i)],
        { ...tol, prims: ["conv"] },
      );
      expect(r.ops.Conv).toBe(1);
    }
  });

  it("gradients: input (zero-inserted for stride 2) and weight (taps + one Gemm)", async () => {
    for (const [i, { k, stride, H, W }] of cases.entries()) {
      const loss = (w: JaxArray, x: JaxArray, t: JaxArray) =>
        np.square(conv2d({ w }, x, { stride }).sub(t)).sum();
      const Ho = Math.ceil(H / stride);
      const Wo = Math.ceil(W / stride);
      const r = await expectOrtMatches(
        valueAndGrad(loss, { argnums: [0, 1] } as never),
        [
          hrandn([k * k * 5, 3], 30 + i),
          hrandn([4, H, W, 5], 40 + i),
          hrandn([4, Ho, Wo, 3], 50 + i),
        ],
        { ...gtol, prims: ["conv"] },
      );
      // The weight gradient's kernel (the output gradient) outnumbers its k×k output.
      if (Ho * Wo > k * k) expect(r.ops.Gemm).toBeGreaterThanOrEqual(1);
    }
  });

  it("lax.convGeneralDilated: negative padding crops, dilations, lhs dilation", async () => {
    const conv =
      (pad: [number, number][], o: { lhsDilation?: number[]; rhsDilation?: number[] }) =>
      (x: JaxArray, w: JaxArray) =>
        lax.convGeneralDilated(x, w, [1, 1], pad, o);
    const x = () => hrandn([2, 3, 9, 8], 60);
    const w = () => hrandn([4, 3, 3, 3], 61);
    await expectOrtMatches(
      conv(
        [
          [-1, 2],
          [1, -2],
        ],
        {},
      ),
      [x(), w()],
      { ...tol, prims: ["conv"] },
    );
    await expectOrtMatches(
      conv(
        [
          [2, 2],
          [1, 1],
        ],
        { rhsDilation: [2, 1] },
      ),
      [x(), w()],
      {
        ...tol,
        prims: ["conv"],
      },
    );
    await expectOrtMatches(
      conv(
        [
          [1, 1],
          [2, 0],
        ],
        { lhsDilation: [2, 3] },
      ),
      [x(), w()],
      {
        ...tol,
        prims: ["conv"],
      },
    );
  });
});
