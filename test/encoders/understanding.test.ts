import { beforeAll, describe, expect, it } from "vitest";
import { encoderCorpus } from "../../src/data/corpora.ts";
import { Tokenizer } from "../../src/data/tokenizer.ts";
import { infoNceLoss, matchMatrix, sigmoidLoss } from "../../src/encoders/contrastive.ts";
import {
  initUnderstanding,
  patchFeatures,
  understandingFeatures,
  understandingTask,
} from "../../src/encoders/understanding.ts";
import { encoderConfig } from "../../src/encoders/understanding-config.ts";
import {
  encoderBatch,
  nearMiss,
  regionLabels,
  semanticKey,
  withNearMiss,
} from "../../src/encoders/understanding-data.ts";
import { initEngine, type JaxArray, jit, numpy as np, tree } from "../../src/engine/jax.ts";
import { optimConfig } from "../../src/engine/optim.ts";
import { LocalRunner } from "../../src/engine/runner.ts";
import { namedLeaves, type ParamTree } from "../../src/engine/tree.ts";
import { WorldRng, worldCategories } from "../../src/world/index.ts";
import { gradCheck, host, randn } from "../helpers/gradcheck.ts";

const tiny = encoderConfig({
  model: {
    stem: [{ channels: 8, stride: 2 }],
    vit: { dim: 16, depth: 1, heads: 2, mlpRatio: 2 },
    text: { dim: 16, depth: 1, heads: 2, mlpRatio: 2 },
    embedDim: 16,
    maxLen: 100,
  },
  loss: { regionWeight: 0.5 },
  train: { batch: 8 },
});
const region = { resolution: 4, categories: worldCategories(), minCoverage: 0.2 };

beforeAll(async () => {
  await initEngine();
});

const arr = (xs: number[], shape: number[]) => np.array(Float32Array.from(xs)).reshape(shape);
const logSigmoid = (x: number) => -Math.log1p(Math.exp(-x));

describe("contrastive losses", () => {
  // Two images, two captions; keys [5, 9] make the diagonal the positives, [5, 5] all four.
  const img = [0.6, 0.8, 1, 0];
  const txt = [1, 0, 0.8, 0.6];
  const t = Math.log(10);
  const b = -2;
  const dot = (i: number, j: number) => img[2 * i] * txt[2 * j] + img[2 * i + 1] * txt[2 * j + 1];

  it("sigmoid loss equals the hand computation on a 2×2 batch", async () => {
    for (const keys of [
      [5, 9],
      [5, 5],
    ]) {
      const pos = (i: number, j: number) => (keys[i] === keys[j] ? 1 : -1);
      let expected = 0;
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 2; j++) expected -= logSigmoid(pos(i, j) * (10 * dot(i, j) + b));
      expected /= 2;
      const loss = sigmoidLoss(
        arr(img, [2, 2]),
        arr(txt, [2, 2]),
        arr([t], [1]),
        arr([b], [1]),
        matchMatrix(np.array(Int32Array.from(keys), { dtype: np.int32 })),
      );
      expect((await host(loss))[0]).toBeCloseTo(expected, 5);
    }
  });

  it("InfoNCE equals the hand computation on a 2×2 batch", async () => {
    const l = [0, 1].map((i) => [0, 1].map((j) => 10 * dot(i, j)));
    const lse = (xs: number[]) => Math.log(xs.reduce((s, x) => s + Math.exp(x), 0));
    const i2t = -(l[0][0] - lse(l[0]) + l[1][1] - lse(l[1])) / 2;
    const t2i = -(l[0][0] - lse([l[0][0], l[1][0]]) + l[1][1] - lse([l[0][1], l[1][1]])) / 2;
    const loss = infoNceLoss(
      arr(img, [2, 2]),
      arr(txt, [2, 2]),
      arr([t], [1]),
      arr([b], [1]),
      matchMatrix(np.array(Int32Array.from([1, 2]), { dtype: np.int32 })),
    );
    expect((await host(loss))[0]).toBeCloseTo((i2t + t2i) / 2, 5);
  });

  it("sigmoid loss gradients match finite differences", async () => {
    const keys = () => matchMatrix(np.array(Int32Array.from([1, 2, 1]), { dtype: np.int32 }));
    await gradCheck(
      (p: { img: JaxArray; txt: JaxArray; t: JaxArray; b: JaxArray }) =>
        sigmoidLoss(p.img, p.txt, p.t, p.b, keys()),
      {
        img: randn([3, 4], 1, 0.5),
        txt: randn([3, 4], 2, 0.5),
        t: arr([1], [1]),
        b: arr([-1], [1]),
      },
    );
  });
});

describe("understanding encoder", () => {
  it("per-patch features are [B, 64, D] and the bottleneck [B, r², D] block means", async () => {
    const p = initUnderstanding(0, tiny);
    const images = randn([2, 32, 32, 3], 3, 0.3).add(0.5);
    const patches = await host(patchFeatures(tree.ref(p.vit), images.ref, tiny.model));
    expect(patches.length).toBe(2 * 64 * 16);
    for (const r of [1, 2, 4, 8]) {
      const f = understandingFeatures(tree.ref(p.vit), images.ref, tiny.model, { resolution: r });
      expect(f.shape).toEqual([2, r * r, 16]);
      const h = await host(f);
      // Token (b, cell (cy, cx), d) is the mean of the patches in its (8/r)² block.
      const k = 8 / r;
      const [b, cy, cx, d] = [1, r - 1, 0, 5];
      let s = 0;
      for (let y = cy * k; y < (cy + 1) * k; y++)
        for (let x = cx * k; x < (cx + 1) * k; x++) s += patches[(b * 64 + y * 8 + x) * 16 + d];
      expect(h[(b * r * r + cy * r + cx) * 16 + d]).toBeCloseTo(s / (k * k), 4);
    }
    expect(() => understandingFeatures(p.vit, images, tiny.model, { resolution: 3 })).toThrow(
      /divide/,
    ); // checked before anything is consumed
    tree.dispose(p);
    images.dispose();
  });

  it("features are jit-friendly", async () => {
    const p = initUnderstanding(1, tiny);
    const f = jit((vit: ParamTree, x: JaxArray) =>
      understandingFeatures(vit as never, x, tiny.model, { resolution: 2 }),
    );
    const y = f(tree.ref(p.vit), randn([3, 32, 32, 3], 4)) as JaxArray;
    expect(y.shape).toEqual([3, 4, 16]);
    expect((await host(y)).every(Number.isFinite)).toBe(true);
    f.dispose();
    tree.dispose(p);
  });

  it("scene keys: interchangeable captions share a key; near misses never do", () => {
    const corpus = encoderCorpus({ length: 200 });
    const cats = worldCategories();
    for (let i = 0; i < 60; i++) {
      const s = corpus.get(i).scene;
      expect(semanticKey({ objects: [...s.objects].reverse() })).toBe(semanticKey(s));
      const m = nearMiss(s, WorldRng.fromParts("test", i), cats);
      if (m) expect(semanticKey(m.scene)).not.toBe(semanticKey(s));
    }
    const [a, b] = withNearMiss({ corpus, categories: cats }, 3);
    expect(a).toEqual(corpus.get(3));
    expect(b.caption).not.toBe(a.caption);
  });

  it("region captions label each cell with its most-covering object, else background", () => {
    const scene = {
      objects: [
        {
          category: "square" as const,
          color: "blue" as const,
          size: "large" as const,
          x: 0.25,
          y: 0.25,
          radius: 7 / 32,
        },
        {
          category: "circle" as const,
          color: "red" as const,
          size: "small" as const,
          x: 0.85,
          y: 0.8,
          radius: 4.5 / 32,
        },
      ],
    };
    const l = regionLabels(scene, 32, region);
    // The square fills cells (0,0) (0,1) (1,0) (1,1); the circle sits in cell (3,3).
    for (const c of [0, 1, 4, 5]) expect([l.category[c], l.color[c]]).toEqual([1, 4]);
    expect([l.category[15], l.color[15]]).toEqual([0, 0]);
    for (const c of [2, 3, 8, 12]) expect([l.category[c], l.color[c]]).toEqual([6, 10]);
  });

  it("gradients reach every parameter and a short run lowers the loss", async () => {
    const corpus = encoderCorpus({ length: 100 });
    const tok = Tokenizer.world();
    const items = [0, 1, 2, 3].flatMap((i) =>
      withNearMiss({ corpus, categories: worldCategories() }, i),
    );
    const hb = encoderBatch(items, tok, tiny.model.maxLen, region);
    expect(hb.images.shape).toEqual([8, 32, 32, 3]);
    expect(hb.cellCategory.shape).toEqual([8, 16]);
    const runner = new LocalRunner(
      understandingTask(tiny),
      optimConfig({ lr: 3e-3, totalSteps: 100, clipNorm: 1 }),
      0,
      0,
      1,
    );
    const { grads, lossSum } = await runner.gradsOf(hb);
    lossSum.dispose();
    for (const [name, g] of namedLeaves(grads)) {
      const norm = (await host(np.sqrt(np.square(g.ref).sum())))[0];
      expect(Number.isFinite(norm), name).toBe(true);
      expect(norm, name).toBeGreaterThan(0);
    }
    tree.dispose(grads);
    const losses: number[] = [];
    for (let s = 1; s <= 12; s++) losses.push((await runner.step(hb, 3e-3, s)).loss);
    expect(losses.at(-1)!).toBeLessThan(losses[0] * 0.7);
    await runner.dispose();
  });
});
