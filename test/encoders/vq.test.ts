import { beforeAll, describe, expect, it } from "vitest";
import {
  codebookUsage,
  decodeTokens,
  encodeTokens,
  initVq,
  quantize,
  type VqParams,
  vqConfig,
  vqLossParts,
  vqTask,
} from "../../src/encoders/vq.ts";
import { grad, initEngine, numpy as np, tree } from "../../src/engine/jax.ts";
import { optimConfig } from "../../src/engine/optim.ts";
import { jaxKey } from "../../src/engine/rng.ts";
import { LocalRunner } from "../../src/engine/runner.ts";
import type { HostBatch } from "../../src/engine/train-step.ts";
import { namedLeaves, type ParamTree } from "../../src/engine/tree.ts";
import { host, randInt } from "../helpers/gradcheck.ts";
import { tinyImages } from "./tokenizer-fixtures.ts";

const K = 32;
const cfg = vqConfig({
  model: {
    channels: [8, 8],
    encoderBlocks: [1, 1],
    groups: 4,
    headChannels: 4,
    codebookSize: K,
    codeDim: 4,
  },
});

beforeAll(async () => {
  await initEngine();
});

const sumAbs = async (t: ParamTree) => {
  let s = 0;
  for (const [, a] of namedLeaves(t)) s += (await host(np.abs(a).sum()))[0];
  return s;
};

describe("VQ-VAE", () => {
  it("encodeTokens → int32 [B,64] in [0,K); decodeTokens → [B,32,32,3]", async () => {
    const p = initVq(jaxKey(0), cfg);
    const tokens = encodeTokens(tree.ref(p), tinyImages(3), cfg);
    expect(tokens.shape).toEqual([3, 64]);
    expect(tokens.dtype).toBe(np.int32);
    const t = (await tokens.ref.data()) as Int32Array;
    expect(t).toBeInstanceOf(Int32Array);
    expect(Math.min(...t)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...t)).toBeLessThan(K);
    const y = decodeTokens(p, tokens, cfg);
    expect(y.shape).toEqual([3, 32, 32, 3]);
    y.dispose();
    // Arbitrary valid tokens decode too.
    const q = initVq(jaxKey(0), cfg);
    const y2 = decodeTokens(q, randInt([2, 64], K, 4), cfg);
    expect(y2.shape).toEqual([2, 32, 32, 3]);
    y2.dispose();
  });

  it("quantize picks the code of highest cosine similarity", async () => {
    const codes = np.array([1, 0, 0, 1, -1, 0, 0, -1]).reshape([4, 2]);
    const s = Math.SQRT1_2;
    // z [1, 2, 2, 2]: four unit vectors, nearest codes 0, 3, 2, 1.
    const z = np
      .array([0.9, Math.sqrt(1 - 0.81), 0.1, -Math.sqrt(0.99), -s, s * 0.9, 0, 1])
      .reshape([1, 2, 2, 2]);
    const r = quantize(z, codes);
    r.sims.dispose();
    expect(Array.from((await r.tokens.data()) as Int32Array)).toEqual([0, 3, 2, 1]);
    const q = await host(r.q);
    expect(Array.from(q)).toEqual([1, 0, 0, -1, -1, 0, 0, 1]);
  });

  it("the straight-through estimator passes the reconstruction gradient to the encoder", async () => {
    const p = initVq(jaxKey(1), cfg);
    const images = tinyImages(2);
    const g = grad((q: VqParams) => {
      const r = vqLossParts(q, images.ref, cfg);
      for (const a of [r.loss, r.codebook, r.commit, r.tokens]) a.dispose();
      return r.recon; // reconstruction only: the encoder is reached only through sg(q − z)
    })(p) as unknown as { encoder: ParamTree; codebook: ParamTree; decoder: ParamTree };
    images.dispose();
    expect(await sumAbs(g.encoder)).toBeGreaterThan(0);
    expect(await sumAbs(g.decoder)).toBeGreaterThan(0);
    // The codebook gets no reconstruction gradient (it is behind the stop-gradient).
    expect(await sumAbs(g.codebook)).toBe(0);
  });

  it("codebook usage counts used codes and the perplexity", () => {
    const u = codebookUsage(Int32Array.from([0, 0, 1, 1, 2, 2, 3, 3]), 8);
    expect(u.used).toBe(4);
    expect(u.usedFraction).toBe(0.5);
    expect(u.perplexity).toBeCloseTo(4, 10);
    expect(codebookUsage(Int32Array.from([5, 5, 5]), 8).perplexity).toBeCloseTo(1, 10);
  });

  it("a short run lowers the loss (with the usage term on)", async () => {
    const c = vqConfig({ ...cfg, loss: { entropyWeight: 0.01 } });
    const optim = optimConfig({ lr: 3e-3, totalSteps: 20, warmupSteps: 0, clipNorm: 1 });
    const runner = new LocalRunner(vqTask(c), optim, 0, 0, 1);
    const batch: HostBatch = {
      images: { dtype: "float32", shape: [4, 32, 32, 3], data: await host(tinyImages(4)) },
    };
    const losses: number[] = [];
    for (let s = 1; s <= 20; s++) losses.push((await runner.step(batch, 3e-3, s)).loss);
    await runner.dispose();
    expect(losses[19]).toBeLessThan(0.7 * losses[0]);
  });
});
