import { beforeAll, describe, expect, it } from "vitest";
import {
  decode,
  encode,
  initVae,
  klPerElement,
  reconstructVae,
  type VaeParams,
  vaeConfig,
  vaeLossParts,
  vaeTask,
} from "../../src/encoders/vae.ts";
import { grad, initEngine, numpy as np, tree } from "../../src/engine/jax.ts";
import { optimConfig } from "../../src/engine/optim.ts";
import { jaxKey } from "../../src/engine/rng.ts";
import { LocalRunner } from "../../src/engine/runner.ts";
import type { HostBatch } from "../../src/engine/train-step.ts";
import { namedLeaves, type ParamTree } from "../../src/engine/tree.ts";
import { host, randn } from "../helpers/gradcheck.ts";
import { tinyImages } from "./tokenizer-fixtures.ts";

const cfg = vaeConfig({
  model: { channels: [8, 8], encoderBlocks: [1, 1], groups: 4, headChannels: 4, latentChannels: 3 },
  loss: { beta: 1e-3 },
});

beforeAll(async () => {
  await initEngine();
});

describe("KL-VAE", () => {
  it("encode → [B,8,8,C] mean/logvar, decode → [B,32,32,3]", () => {
    const p = initVae(jaxKey(0), cfg);
    const { mean, logvar } = encode(tree.ref(p), tinyImages(2), cfg);
    expect(mean.shape).toEqual([2, 8, 8, 3]);
    expect(logvar.shape).toEqual([2, 8, 8, 3]);
    logvar.dispose();
    const y = decode(tree.ref(p), mean, cfg);
    expect(y.shape).toEqual([2, 32, 32, 3]);
    y.dispose();
    const r = reconstructVae(p, tinyImages(2), cfg);
    expect(r.shape).toEqual([2, 32, 32, 3]);
    r.dispose();
  });

  it("the KL term equals ½(μ² + σ² − 1 − log σ²) computed by hand", async () => {
    const mean = np.array([0.5, -1, 0, 2]);
    const logvar = np.array([0, Math.log(0.25), -2, 1]);
    const kl = await host(klPerElement(mean, logvar));
    const hand = [
      [0.5, 0],
      [-1, Math.log(0.25)],
      [0, -2],
      [2, 1],
    ].map(([m, lv]) => 0.5 * (m * m + Math.exp(lv) - 1 - lv));
    for (let i = 0; i < 4; i++) expect(kl[i]).toBeCloseTo(hand[i], 5);
    expect(hand[1]).toBeCloseTo(0.5 * (1 + 0.25 - 1 + Math.log(4)), 10);
  });

  it("gradients reach every parameter", async () => {
    const p = initVae(jaxKey(1), cfg);
    // Residual blocks start as the identity (zero second conv), which blocks the gradient to
    // their first half at init; give the second convs weights so every path is live.
    let seed = 10;
    for (const b of [
      ...p.encoder.blocks16,
      ...p.encoder.blocks8,
      ...p.decoder.blocks8,
      ...p.decoder.blocks16,
    ]) {
      const shape = b.conv2.w.shape;
      b.conv2.w.dispose();
      b.conv2.w = randn(shape, seed++, 0.1);
    }
    const eps = randn([2, 8, 8, 3], 3);
    const images = tinyImages(2);
    const g = grad((q: VaeParams) => {
      const r = vaeLossParts(q, images.ref, eps.ref, cfg);
      r.recon.dispose();
      r.kl.dispose();
      return r.loss;
    })(p) as unknown as ParamTree;
    images.dispose();
    eps.dispose();
    const zero: string[] = [];
    for (const [name, a] of namedLeaves(g)) {
      const d = await host(np.abs(a).sum());
      if (!(d[0] > 0)) zero.push(name);
    }
    expect(zero).toEqual([]);
  });

  it("a short run lowers the loss", async () => {
    const optim = optimConfig({ lr: 3e-3, totalSteps: 20, warmupSteps: 0, clipNorm: 1 });
    const runner = new LocalRunner(vaeTask(cfg), optim, 0, 0, 1);
    const images = await host(tinyImages(4));
    const eps = await host(randn([4, 8, 8, 3], 5));
    const batch: HostBatch = {
      images: { dtype: "float32", shape: [4, 32, 32, 3], data: images },
      eps: { dtype: "float32", shape: [4, 8, 8, 3], data: eps },
    };
    const losses: number[] = [];
    for (let s = 1; s <= 20; s++) losses.push((await runner.step(batch, 3e-3, s)).loss);
    await runner.dispose();
    expect(losses[19]).toBeLessThan(0.6 * losses[0]);
  });
});
