/**
 * Every block under `jit`: each jitted forward equals its eager forward, and a small model
 * built from all of them gives the same loss and gradients under jit(valueAndGrad) as eagerly.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  initEngine,
  type JaxArray,
  jit,
  numpy as np,
  tree,
  valueAndGrad,
} from "../../../src/engine/jax.ts";
import { crossEntropy, mse } from "../../../src/engine/losses.ts";
import * as nn from "../../../src/engine/nn/index.ts";
import { jaxKey, splitKey } from "../../../src/engine/rng.ts";
import { namedLeaves, type ParamTree, treeRef } from "../../../src/engine/tree.ts";
import { gradCheck, host, maxAbsDiff, project, randInt, randn } from "../../helpers/gradcheck.ts";

beforeAll(async () => {
  await initEngine();
});

const i32 = (v: number[], shape: number[]) => np.array(v, { dtype: np.int32 }).reshape(shape);

type Case = { name: string; f: (a: any) => JaxArray; args: () => ParamTree };

const key = (s: number) => jaxKey(s);
const cases: Case[] = [
  {
    name: "linear",
    f: ({ p, x }) => nn.linear(p, x),
    args: () => ({ p: nn.initLinear(key(1), 4, 3), x: randn([2, 4], 1) }),
  },
  {
    name: "embed (one-hot) + unembed",
    f: ({ p, ids }) => nn.unembed({ table: p.table.ref }, nn.embed(p, ids)),
    args: () => ({ p: nn.initEmbedding(key(2), 7, 4), ids: randInt([2, 3], 7, 1) }),
  },
  {
    name: "layerNorm / rmsNorm / groupNorm",
    f: ({ ln, rms, gn, x, img }) =>
      np
        .concatenate([nn.layerNorm(ln, x.ref), nn.rmsNorm(rms, x)], -1)
        .sum()
        .add(nn.groupNorm(gn, img, 2).sum()),
    args: () => ({
      ln: nn.initLayerNorm(4),
      rms: nn.initRMSNorm(4),
      gn: nn.initGroupNorm(4),
      x: randn([2, 4], 1),
      img: randn([1, 2, 2, 4], 2),
    }),
  },
  {
    name: "mlp / swiGlu",
    f: ({ m, s, x }) => nn.mlp(m, x.ref, "silu").add(nn.swiGlu(s, x)),
    args: () => ({
      m: nn.initMlp(key(3), 4, 8),
      s: nn.initSwiGlu(key(4), 4, 8),
      x: randn([2, 4], 1),
    }),
  },
  {
    name: "attention with prefix + padding masks",
    f: ({ p, x, lens }) =>
      nn.attention(p, x, {
        heads: 2,
        mask: nn.andMasks(nn.prefixBidirectionalMask(5, 2), nn.lengthsKeyMask(lens, 5)),
      }),
    args: () => ({
      p: nn.initAttention(key(5), { dim: 4, heads: 2 }),
      x: randn([2, 5, 4], 1),
      lens: i32([3, 5], [2]),
    }),
  },
  {
    name: "attention with a group mask from image spans",
    f: ({ p, x, isImg }) =>
      nn.attention(p, x, { heads: 2, mask: nn.groupBidirectionalMask(nn.spanGroups(isImg)) }),
    args: () => ({
      p: nn.initAttention(key(6), { dim: 4, heads: 2 }),
      x: randn([2, 5, 4], 1),
      isImg: np.array([0, 1, 1, 0, 1, 1, 1, 0, 0, 1]).greater(0).reshape([2, 5]),
    }),
  },
  {
    name: "cross-attention with a key padding mask",
    f: ({ p, x, ctx, valid }) =>
      nn.attention(p, x, { heads: 2, context: ctx, mask: nn.keyPaddingMask(valid) }),
    args: () => ({
      p: nn.initAttention(key(12), { dim: 4, heads: 2, contextDim: 3 }),
      x: randn([2, 5, 4], 1),
      ctx: randn([2, 3, 3], 2),
      valid: np.array([1, 1, 0, 1, 0, 0]).greater(0).reshape([2, 3]),
    }),
  },
  {
    name: "position embeddings",
    f: ({ p, x }) => nn.addPosEmbedding(p, x, 1).add(nn.sincos2d(2, 2, 4).reshape([1, 4, 4])),
    args: () => ({ p: nn.initPosEmbedding(key(7), 6, 4), x: randn([2, 4, 4], 1) }),
  },
  {
    name: "conv2d stride 1 and 2",
    f: ({ c1, c2, x }) => nn.conv2d(c2, nn.conv2d(c1, x), { stride: 2 }),
    args: () => ({
      c1: nn.initConv2d(key(8), 3, 2, 3),
      c2: nn.initConv2d(key(9), 3, 3, 2),
      x: randn([1, 4, 4, 2], 1),
    }),
  },
  {
    name: "resampling round trips",
    f: ({ x }) =>
      nn.unpatchify(
        nn.patchify(
          nn.avgPool2x2(nn.upsampleNearest2x(nn.depthToSpace(nn.spaceToDepth(x, 2), 2))),
          2,
        ),
        2,
        1,
        2,
      ),
    args: () => ({ x: randn([1, 2, 4, 3], 1) }),
  },
  {
    name: "adaLN + timestep embedder",
    f: ({ ada, te, t, x }) => {
      const [m] = nn.adaLNZero(ada, nn.timestepEmbedder(te, t), 1);
      return nn.applyGate(nn.modulate(x, m.shift, m.scale), m.gate);
    },
    args: () => ({
      ada: { lin: { w: randn([4, 12], 1), b: randn([12], 2) } },
      te: nn.initTimestepEmbedder(key(10), 6, 4),
      t: np.array([0.2, 0.8]),
      x: randn([2, 3, 4], 3),
    }),
  },
];

describe("blocks under jit", () => {
  for (const c of cases) {
    it(`${c.name}: consumes its inputs once; jit forward equals eager`, async () => {
      const args = c.args();
      const eager = c.f(tree.ref(args));
      // ownership: the block consumed exactly the one reference it was given per leaf
      for (const [name, a] of namedLeaves(args)) expect(a.refCount, name).toBe(1);
      const jitted = jit(c.f);
      const y = jitted(args);
      expect(await maxAbsDiff(y, eager)).toBeLessThan(1e-5);
      jitted.dispose();
    });
  }

  it("attention gradient under jit(grad) matches finite differences", async () => {
    await gradCheck(
      ({ p, x }) =>
        project(nn.attention(p, x, { heads: 2, mask: nn.prefixBidirectionalMask(4, 2) })),
      { p: nn.initAttention(key(11), { dim: 4, heads: 2 }), x: randn([2, 4, 4], 1) },
      { jit: true },
    );
  });
});

type Tiny = {
  conv: nn.Conv2dParams;
  gn: nn.GroupNormParams;
  patch: nn.LinearParams;
  tok: nn.EmbeddingParams;
  pos: nn.PosEmbeddingParams;
  temb: nn.TimestepEmbedderParams;
  ada: nn.AdaLNParams;
  ln: nn.LayerNormParams;
  attn: nn.AttentionParams;
  norm: nn.RMSNormParams;
  mlp: nn.SwiGluParams;
  out: nn.LinearParams;
};

/** Image [1, 8, 8, 2] + 3 text tokens + timestep -> a text CE + image MSE loss. */
function tinyLoss(p: Tiny, img: JaxArray, ids: JaxArray, t: JaxArray): JaxArray {
  const D = 8;
  const feat = nn.groupNorm(p.gn, nn.conv2d(p.conv, img.ref, { stride: 2 }), 2); // [1, 4, 4, 4]
  const imgTok = nn
    .linear(p.patch, nn.patchify(feat, 2)) // [1, 4, D]
    .add(nn.sincos2d(2, 2, D).reshape([1, 4, D]));
  const txt = nn.addPosEmbedding(p.pos, nn.embed(p.tok, ids.ref)); // [1, 3, D]
  let h = np.concatenate([imgTok, txt], 1); // [1, 7, D]
  const [m] = nn.adaLNZero(p.ada, nn.timestepEmbedder(p.temb, t), 1);
  const a = nn.attention(p.attn, nn.modulate(nn.layerNorm(p.ln, h.ref), m.shift, m.scale), {
    heads: 2,
    mask: nn.prefixBidirectionalMask(7, 4),
  });
  h = h.add(nn.applyGate(a, m.gate));
  h = h.ref.add(nn.swiGlu(p.mlp, nn.rmsNorm(p.norm, h)));
  const out = nn.linear(p.out, h); // [1, 7, 8]
  const [imgOut, txtOut] = np.split(out, [4], 1);
  const recon = nn.upsampleNearest2x(nn.unpatchify(imgOut, 2, 2, 2)); // [1, 8, 8, 2]
  const imgLoss = mse(recon, img);
  const txtLoss = crossEntropy(txtOut, ids, np.array([[1, 1, 0]]));
  return imgLoss.add(txtLoss);
}

function initTiny(seed: number): Tiny {
  const k = splitKey(jaxKey(seed), 11);
  const D = 8;
  return {
    conv: nn.initConv2d(k[0], 3, 2, 4),
    gn: nn.initGroupNorm(4),
    patch: nn.initLinear(k[1], 16, D),
    tok: nn.initEmbedding(k[2], 8, D),
    pos: nn.initPosEmbedding(k[3], 3, D),
    temb: nn.initTimestepEmbedder(k[4], 8, D),
    // random rather than zero so gradients reach every parameter
    ada: { lin: nn.initLinear(k[5], D, 3 * D) },
    ln: nn.initLayerNorm(D, { affine: false }),
    attn: nn.initAttention(k[6], { dim: D, heads: 2 }),
    norm: nn.initRMSNorm(D),
    mlp: nn.initSwiGlu(k[7], D, 16),
    out: nn.initLinear(k[8], D, D),
  };
}

describe("a model built from every block", () => {
  it("jit(valueAndGrad) equals eager valueAndGrad", async () => {
    const p = initTiny(0);
    const img = randn([1, 8, 8, 2], 1);
    const ids = i32([1, 5, 2], [1, 3]);
    const t = np.array([0.4]);
    const vg = valueAndGrad(tinyLoss);
    const [l0, g0] = vg(treeRef(p), img.ref, ids.ref, t.ref);
    const jvg = jit(valueAndGrad(tinyLoss));
    const [l1, g1] = jvg(p, img, ids, t);
    const v0 = (await host(l0))[0];
    expect(Number.isFinite(v0)).toBe(true);
    expect(Math.abs((await host(l1))[0] - v0)).toBeLessThan(1e-4 * Math.abs(v0));
    const jitGrads = new Map(namedLeaves(g1 as ParamTree));
    for (const [name, ge] of namedLeaves(g0 as ParamTree)) {
      const gj = jitGrads.get(name)!;
      const scale = Math.max(...(await host(np.abs(ge.ref))), 1e-3);
      expect(scale, `${name} gets a gradient`).toBeGreaterThan(1e-6);
      expect((await maxAbsDiff(ge, gj)) / scale, name).toBeLessThan(1e-3);
    }
    jvg.dispose();
  });
});
