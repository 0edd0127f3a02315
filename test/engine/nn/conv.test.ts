import { beforeAll, describe, expect, it } from "vitest";
import { grad, initEngine, type JaxArray, lax } from "../../../src/engine/jax.ts";
import { conv2d, initConv2d, samePadding } from "../../../src/engine/nn/index.ts";
import { jaxKey } from "../../../src/engine/rng.ts";
import { gradCheck, maxAbsDiff, project, randn } from "../../helpers/gradcheck.ts";

beforeAll(async () => {
  await initEngine();
});

/** The reference: XLA-style conv in NCHW/OIHW, converted from/to our NHWC + [k*k*Cin, Cout]. */
function refConv(x: JaxArray, w: JaxArray, k: number, stride: number): JaxArray {
  const [, , , cin] = x.shape;
  const cout = w.shape[1];
  const wOihw = w.reshape([k, k, cin, cout]).transpose([3, 2, 0, 1]);
  const y = lax.convGeneralDilated(x.transpose([0, 3, 1, 2]), wOihw, [stride, stride], "SAME");
  return y.transpose([0, 2, 3, 1]);
}

const cases = [
  { k: 1, stride: 1, H: 5, W: 4 },
  { k: 3, stride: 1, H: 5, W: 4 },
  { k: 1, stride: 2, H: 5, W: 4 },
  { k: 3, stride: 2, H: 6, W: 6 },
  { k: 3, stride: 2, H: 5, W: 7 },
  { k: 5, stride: 2, H: 6, W: 5 },
];

describe("conv2d (im2col)", () => {
  it("SAME padding is XLA's (asymmetric at stride 2)", () => {
    expect(samePadding(6, 3, 2)).toEqual([0, 1, 3]);
    expect(samePadding(5, 3, 2)).toEqual([1, 1, 3]);
    expect(samePadding(6, 3, 1)).toEqual([1, 1, 6]);
    expect(samePadding(4, 1, 2)).toEqual([0, 0, 2]);
  });

  it("equals lax.convGeneralDilated, values and gradients", async () => {
    for (const { k, stride, H, W } of cases) {
      const [cin, cout] = [3, 4];
      const x = randn([2, H, W, cin], 1);
      const w = randn([k * k * cin, cout], 2, 0.3);
      const ours = conv2d({ w: w.ref }, x.ref, { stride });
      const ref = refConv(x.ref, w.ref, k, stride);
      expect(ours.shape).toEqual([2, Math.ceil(H / stride), Math.ceil(W / stride), cout]);
      expect(await maxAbsDiff(ours, ref)).toBeLessThan(1e-4);

      const gOurs = grad(
        (xx: JaxArray, ww: JaxArray) => project(conv2d({ w: ww }, xx, { stride })),
        {
          argnums: [0, 1],
        },
      )(x.ref, w.ref);
      const gRef = grad((xx: JaxArray, ww: JaxArray) => project(refConv(xx, ww, k, stride)), {
        argnums: [0, 1],
      })(x, w);
      expect(await maxAbsDiff(gOurs[0], gRef[0])).toBeLessThan(1e-4);
      expect(await maxAbsDiff(gOurs[1], gRef[1])).toBeLessThan(1e-4);
    }
  });

  it("gradient w.r.t. weight, bias and input (finite differences)", async () => {
    for (const stride of [1, 2]) {
      const p = initConv2d(jaxKey(3), 3, 2, 3);
      p.b = p.b!.add(randn([3], 4)); // non-zero bias
      await gradCheck(({ p, x }) => project(conv2d(p, x, { stride })), {
        p,
        x: randn([2, 5, 4, 2], 5),
      });
    }
  });
});
