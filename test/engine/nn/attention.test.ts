import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, type JaxArray, numpy as np } from "../../../src/engine/jax.ts";
import {
  type AttentionParams,
  andMasks,
  attention,
  causalMask,
  groupBidirectionalMask,
  initAttention,
  keyPaddingMask,
  lengthsKeyMask,
  prefixBidirectionalMask,
  spanGroups,
} from "../../../src/engine/nn/index.ts";
import { jaxKey } from "../../../src/engine/rng.ts";
import { treeRef } from "../../../src/engine/tree.ts";
import { gradCheck, host, maxAbsDiff, project, randn } from "../../helpers/gradcheck.ts";

beforeAll(async () => {
  await initEngine();
});

const [B, T, D, N] = [2, 6, 8, 2];
const i32 = (v: number[], shape: number[]) => np.array(v, { dtype: np.int32 }).reshape(shape);
const bool = (v: boolean[], shape: number[]) => np.array(v, { dtype: np.bool }).reshape(shape);

/** x with token `t` of every sample replaced by fresh noise. */
function perturbToken(x: JaxArray, t: number): JaxArray {
  const [b, len, d] = x.shape;
  const sel = np.arange(len).equal(t).reshape([1, len, 1]);
  return np.where(sel, randn([b, len, d], 99), x);
}

/** Per-position max |a - b| over batch and features: [T] numbers. Consumes a, b. */
async function positionDiff(a: JaxArray, b: JaxArray): Promise<number[]> {
  const d = await host(np.abs(a.sub(b)).max([0, 2]));
  return [...d];
}

/** Which output positions move when token t changes, under `mask` (a function, masks are consumed). */
async function affected(p: AttentionParams, t: number, mask: () => JaxArray): Promise<boolean[]> {
  const x = randn([B, T, D], 5);
  const y0 = attention(treeRef(p), x.ref, { heads: N, mask: mask() });
  const y1 = attention(treeRef(p), perturbToken(x, t), { heads: N, mask: mask() });
  return (await positionDiff(y0, y1)).map((v) => v > 1e-6);
}

describe("mask builders", () => {
  it("causal, prefix, group and padding masks have the expected entries", async () => {
    expect(causalMask(2, 3).js()).toEqual([
      [true, true, false],
      [true, true, true],
    ]);
    const pre = prefixBidirectionalMask(4, 2).js() as boolean[][];
    expect(pre).toEqual([
      [true, true, false, false],
      [true, true, false, false],
      [true, true, true, false],
      [true, true, true, true],
    ]);
    const perSample = prefixBidirectionalMask(4, i32([2, 0], [2])).js() as boolean[][][][];
    expect(perSample[0][0]).toEqual(pre);
    expect(perSample[1][0]).toEqual(causalMask(4).js());
    // a single group covering the first 2 tokens is the prefix mask
    const g = groupBidirectionalMask(i32([0, 0, -1, -1], [1, 4])).js() as boolean[][][][];
    expect(g[0][0]).toEqual(pre);
    expect(lengthsKeyMask(i32([1, 3], [2]), 4).js()).toEqual([
      [[[true, false, false, false]]],
      [[[true, true, true, false]]],
    ]);
    const valid = bool([true, false, false, false, true, true, true, false], [2, 4]);
    expect(keyPaddingMask(valid).js()).toEqual(lengthsKeyMask(i32([1, 3], [2]), 4).js());
    expect(andMasks(causalMask(2), bool([true, false], [2])).js()).toEqual([
      [true, false],
      [true, false],
    ]);
  });

  it("spanGroups numbers each run of bidirectional tokens", async () => {
    const isImg = bool([false, true, true, false, true, true, true, false], [1, 8]);
    expect(spanGroups(isImg).js()).toEqual([[-1, 0, 0, -1, 1, 1, 1, -1]]);
  });
});

describe("attention", () => {
  it("manual core equals nn.dotProductAttention (self, cross, masks)", async () => {
    const p = initAttention(jaxKey(1), { dim: D, heads: N });
    const masks: (() => JaxArray | undefined)[] = [
      () => undefined,
      () => causalMask(T),
      () => np.broadcastTo(causalMask(T), [B, T, T]), // [B, L, S] form
      () => prefixBidirectionalMask(T, i32([2, 4], [2])),
      () => andMasks(causalMask(T), lengthsKeyMask(i32([3, 6], [2]), T)),
    ];
    for (const mask of masks) {
      const x = randn([B, T, D], 2);
      const a = attention(treeRef(p), x.ref, { heads: N, mask: mask() });
      const b = attention(treeRef(p), x, { heads: N, mask: mask(), core: "sdpa" });
      expect(await maxAbsDiff(a, b)).toBeLessThan(1e-5);
    }
    const pc = initAttention(jaxKey(2), { dim: D, heads: N, contextDim: 5 });
    const ctx = randn([B, 3, 5], 3);
    const x = randn([B, T, D], 4);
    const padding = () => lengthsKeyMask(i32([2, 3], [2]), 3);
    const a = attention(treeRef(pc), x.ref, { heads: N, context: ctx.ref, mask: padding() });
    const b = attention(pc, x, { heads: N, context: ctx, mask: padding(), core: "sdpa" });
    expect(a.shape).toEqual([B, T, D]);
    expect(await maxAbsDiff(a, b)).toBeLessThan(1e-5);
    for (const leaf of [p.q, p.k, p.v, p.o]) for (const v of Object.values(leaf)) v.dispose();
  });

  it("causal: position i ignores later tokens", async () => {
    const p = initAttention(jaxKey(3), { dim: D, heads: N });
    expect(await affected(p, 3, () => causalMask(T))).toEqual([
      false,
      false,
      false,
      true,
      true,
      true,
    ]);
  });

  it("prefix-bidirectional: prefix tokens see each other, not the suffix", async () => {
    const p = initAttention(jaxKey(4), { dim: D, heads: N });
    const mask = () => prefixBidirectionalMask(T, 3);
    // changing prefix token 2 reaches every position, including 0 and 1
    expect(await affected(p, 2, mask)).toEqual([true, true, true, true, true, true]);
    // changing suffix token 4 reaches only 4 and 5
    expect(await affected(p, 4, mask)).toEqual([false, false, false, false, true, true]);
  });

  it("bidirectional groups: two image spans inside causal text", async () => {
    const p = initAttention(jaxKey(5), { dim: D, heads: N });
    // text, img, img, text, img, img
    const mask = () =>
      groupBidirectionalMask(i32([-1, 0, 0, -1, 1, 1, -1, 0, 0, -1, 1, 1], [B, T]));
    expect(await affected(p, 2, mask)).toEqual([false, true, true, true, true, true]);
    expect(await affected(p, 5, mask)).toEqual([false, false, false, false, true, true]);
    expect(await affected(p, 3, mask)).toEqual([false, false, false, true, true, true]);
  });

  it("padding: padded keys do not affect any output", async () => {
    const p = initAttention(jaxKey(6), { dim: D, heads: N });
    const lengths = () => lengthsKeyMask(i32([4, 4], [2]), T);
    expect(await affected(p, 5, lengths)).toEqual([false, false, false, false, false, true]);
    const valid = () =>
      keyPaddingMask(bool([1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0].map(Boolean), [B, T]));
    expect(await affected(p, 4, valid)).toEqual([false, false, false, false, true, false]);
    // a fully masked query row stays finite (uniform average) with the manual core
    const none = np.zeros([B, T], { dtype: np.bool });
    const y = await host(
      attention(p, randn([B, T, D], 1), { heads: N, mask: keyPaddingMask(none) }),
    );
    expect(y.every(Number.isFinite)).toBe(true);
  });

  it("gradient: causal self-attention and padded cross-attention", async () => {
    await gradCheck(({ p, x }) => project(attention(p, x, { heads: N, mask: causalMask(T) })), {
      p: initAttention(jaxKey(7), { dim: D, heads: N }),
      x: randn([B, T, D], 1),
    });
    await gradCheck(
      ({ p, x, ctx }) =>
        project(
          attention(p, x, { heads: N, context: ctx, mask: lengthsKeyMask(i32([2, 4], [2]), 4) }),
        ),
      {
        p: initAttention(jaxKey(8), { dim: D, heads: N, contextDim: 5 }),
        x: randn([B, 3, D], 2),
        ctx: randn([B, 4, 5], 3),
      },
    );
  });
});
