/**
 * The family contract, for every registered family (flow, and the test-only in-sequence family
 * of ./families/tiny-seq.ts, registered the way any new family is): shapes, padding invariance,
 * the loss falls on one batch, the sampler is deterministic given its seed, and guidance 1 is
 * the conditional model alone. A family registered without a tiny config here fails the suite.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initEngine, type JaxArray, numpy as np, tree } from "../../src/engine/jax.ts";
import { linear } from "../../src/engine/nn/index.ts";
import { optimConfig } from "../../src/engine/optim.ts";
import { jaxKey, Rng } from "../../src/engine/rng.ts";
import { LocalRunner } from "../../src/engine/runner.ts";
import { type Batch, type HostBatch, toDevice } from "../../src/engine/train-step.ts";
import type { ParamTree } from "../../src/engine/tree.ts";
import { pooledCondition } from "../../src/umm/backbone.ts";
import { ummConfig } from "../../src/umm/config.ts";
import { buildFamily, registeredFamilies } from "../../src/umm/families/index.ts";
import type {
  BackboneCallback,
  Condition,
  GenerationFamily,
  SampleRequest,
} from "../../src/umm/family.ts";
import { resolveSamplerOptions } from "../../src/umm/family.ts";
import type { RgbImage } from "../../src/world/render.ts";
import { host, maxAbsDiff, randn } from "../helpers/gradcheck.ts";
import { registerTinySeq } from "./families/tiny-seq.ts";

const D = 16;
registerTinySeq();

/** A tiny config block per registered family. */
const TINY: Record<string, Record<string, unknown>> = {
  flow: { channels: [8, 16], embDim: 16, heads: 2, groups: 4, sampleSteps: 2, headChannels: 4 },
  openuni: {
    connector: { depth: 1, heads: 2, mlpRatio: 1 },
    generator: {
      channels: [8, 16],
      embDim: 16,
      heads: 2,
      groups: 4,
      sampleSteps: 2,
      headChannels: 4,
    },
  },
  "tiny-seq": { sampleSteps: 3 },
};

function family(name: string): GenerationFamily {
  const block = TINY[name];
  if (!block) throw new Error(`no tiny config for the registered family "${name}"`);
  return buildFamily(ummConfig({ generator: { family: name, ...block } }).generator, D);
}

/** valid [B, L]: `lengths[b]` leading ones. */
function validMask(lengths: number[], L: number): JaxArray {
  const v = new Float32Array(lengths.length * L);
  for (const [b, n] of lengths.entries()) v.fill(1, b * L, b * L + n);
  return np.array(v).reshape([lengths.length, L]);
}

/** A condition whose padding positions hold values drawn from `padSeed`. */
function condition(lengths: number[], L: number, seed: number, padSeed = seed + 1000): Condition {
  const valid = validMask(lengths, L);
  const keep = valid.ref.reshape([lengths.length, L, 1]);
  const states = randn([lengths.length, L, D], seed)
    .mul(keep.ref)
    .add(randn([lengths.length, L, D], padSeed, 3).mul(keep.neg().add(1)));
  return { states, valid };
}

/**
 * The backbone callback the suite gives in-sequence families: tokens + W·(masked mean of the
 * condition), a fixed mixer, so the contract is the family's and not a trained backbone's.
 */
const MIX = randn([D, D], 77, 0.5);
function callback(c: Condition): BackboneCallback {
  return (tokens) => {
    const [B, N] = tokens.shape;
    const pooled = linear({ w: MIX.ref }, pooledCondition(c.states.ref, c.valid.ref));
    return tokens.add(np.broadcastTo(pooled.reshape([B, 1, D]), [B, N, D]));
  };
}

function randomImages(n: number, seed: number): RgbImage[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({
    width: 32,
    height: 32,
    data: new Float32Array(32 * 32 * 3).map(() => rng.float()),
  }));
}

/** The family's training arrays for random images: its own targets, edit inputs and noise. */
async function hostInputs(f: GenerationFamily, B: number, seed: number): Promise<HostBatch> {
  const data = f.openData();
  const images = randomImages(B, seed);
  const out: HostBatch = {};
  for (const [k, v] of Object.entries({
    ...(await data.targets(images)),
    ...data.editInputs(images.map(() => undefined)),
  }))
    out[`f_${k}`] = v;
  for (const [k, v] of Object.entries(f.lossNoise(new Rng(seed + 1), B))) out[`n_${k}`] = v;
  data.dispose();
  return out;
}

function loss(f: GenerationFamily, p: ParamTree, cond: Condition, b: Batch): JaxArray {
  const data: Record<string, JaxArray> = {};
  const noise: Record<string, JaxArray> = {};
  for (const [k, v] of Object.entries(b)) (k.startsWith("f_") ? data : noise)[k.slice(2)] = v;
  // The callback owns its condition (the family may consume `cond` before calling it).
  const held = f.inSequence ? { states: cond.states.ref, valid: cond.valid.ref } : undefined;
  const backbone = held ? callback(held) : undefined;
  const r = f.loss(p, { cond, data, noise, ...(backbone ? { backbone } : {}) });
  if (held) tree.dispose([held.states, held.valid]);
  return r;
}

function request(f: GenerationFamily, cond: Condition, nul: Condition, o: Partial<SampleRequest>) {
  return {
    cond,
    nullCond: nul,
    guidance: o.guidance ?? f.sampling.guidance,
    seed: o.seed ?? 0,
    options: resolveSamplerOptions(f),
    ...(f.inSequence ? { backbone: { cond: callback(cond), null: callback(nul) } } : {}),
  };
}

const tmp = mkdtempSync(join(tmpdir(), "reca-contract-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initEngine();
});

describe("the family registry", () => {
  it("lists flow and the test family; an unknown family is a config error naming the known", () => {
    expect(registeredFamilies()).toEqual(expect.arrayContaining(["flow", "openuni", "tiny-seq"]));
    expect(() => ummConfig({ generator: { family: "nope" } })).toThrow(
      /unknown generation family \\"nope\\" \(registered: flow/,
    );
    expect(() => ummConfig({ generator: { family: "flow", stepz: 3 } })).toThrow(/stepz/);
    expect(() => resolveSamplerOptions(family("flow"), { temperature: 1 })).toThrow(
      /no option "temperature".*steps/,
    );
  });
});

for (const name of registeredFamilies()) {
  describe(`family contract: ${name}`, () => {
    const f = family(name);
    const S = f.imageSize;
    let p: ParamTree;
    beforeAll(() => {
      // Every leaf moved off its init (flow's output conv starts at zero: v̂ ≡ 0 would make
      // every condition look alike).
      let i = 0;
      p = tree.map(
        (x: JaxArray) => x.add(randn(x.shape, 500 + i++, 0.05)),
        f.init(jaxKey(3)) as ParamTree,
      ) as ParamTree;
    });

    it("loss is per row [B] and finite; padding positions of the condition never change it", async () => {
      const hb = await hostInputs(f, 2, 5);
      const a = loss(f, tree.ref(p), condition([2, 5], 5, 1), toDevice(hb));
      const b = loss(f, tree.ref(p), condition([2, 5], 5, 1, 4242), toDevice(hb));
      expect(a.shape).toEqual([2]);
      const ha = await host(a.ref);
      expect(ha.every(Number.isFinite)).toBe(true);
      expect(await maxAbsDiff(a, b)).toBe(0);
    });

    it("a few AdamW steps on one batch lower the loss", async () => {
      const B = 4;
      const hb: HostBatch = { ...(await hostInputs(f, B, 9)) };
      const c = condition([3, 4, 2, 4], 4, 11);
      hb.states = {
        dtype: "float32",
        shape: [B, 4, D],
        data: (await c.states.data()) as Float32Array,
      };
      hb.valid = { dtype: "float32", shape: [B, 4], data: (await c.valid.data()) as Float32Array };
      const task = {
        init: (seed: number) => f.init(jaxKey(seed)) as ParamTree,
        loss: (q: ParamTree, b: Batch) => {
          const { states, valid, ...rest } = b;
          return loss(f, q, { states, valid }, rest).mean();
        },
      };
      const opt = optimConfig({ lr: 1e-2, totalSteps: 100, clipNorm: null, weightDecay: 0 });
      const runner = new LocalRunner(task, opt, 0, B, 1);
      const losses: number[] = [];
      for (let i = 1; i <= 8; i++) losses.push((await runner.step(hb, opt.lr, i)).loss);
      await runner.dispose();
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[losses.length - 1]).toBeLessThan(0.9 * losses[0]);
    }, 120_000);

    it("samples [B, S, S, 3] in [-1, 1], deterministic per seed, keeping its inputs", async () => {
      const cond = condition([3, 4], 4, 20);
      const nul = condition([2, 2], 2, 21);
      const a = await f.sample(p, request(f, cond, nul, { seed: 7 }));
      expect(a.shape).toEqual([2, S, S, 3]);
      expect((await host(a.ref)).every((x) => x >= -1 && x <= 1)).toBe(true);
      expect(await maxAbsDiff(a.ref, await f.sample(p, request(f, cond, nul, { seed: 7 })))).toBe(
        0,
      );
      const other = await f.sample(p, request(f, cond, nul, { seed: 8 }));
      expect(await maxAbsDiff(a, other)).toBeGreaterThan(1e-3);
      for (const x of [cond.states, cond.valid, nul.states, nul.valid]) expect(x.refCount).toBe(1);
      for (const x of [cond, nul]) tree.dispose([x.states, x.valid]);
    });

    it("sampling ignores the condition's padding; guidance 1 ignores the null branch", async () => {
      const nullA = condition([2, 2], 2, 31);
      const nullB = condition([1, 2], 2, 32);
      const condA = condition([4, 2], 4, 30);
      const condB = condition([4, 2], 4, 30, 999);
      const one = { guidance: 1, seed: 3 };
      const a = await f.sample(p, request(f, condA, nullA, one));
      expect(await maxAbsDiff(a.ref, await f.sample(p, request(f, condB, nullB, one)))).toBe(0);
      // With guidance the null branch matters.
      const g = { guidance: 3, seed: 3 };
      const ga = await f.sample(p, request(f, condA, nullA, g));
      expect(await maxAbsDiff(ga, await f.sample(p, request(f, condA, nullB, g)))).toBeGreaterThan(
        1e-4,
      );
      a.dispose();
      for (const x of [condA, condB, nullA, nullB]) tree.dispose([x.states, x.valid]);
    });
  });
}
