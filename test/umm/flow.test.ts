import { beforeAll, describe, expect, it } from "vitest";
import { grad, initEngine, type JaxArray, numpy as np, tree } from "../../src/engine/jax.ts";
import { jaxKey, Rng } from "../../src/engine/rng.ts";
import { toDevice } from "../../src/engine/train-step.ts";
import { namedLeaves, type ParamTree } from "../../src/engine/tree.ts";
import {
  type FlowConfig,
  type FlowParams,
  flowConfig,
  flowFamily,
  unetConfig,
} from "../../src/umm/families/flow.ts";
import type { Condition, FamilyInputs } from "../../src/umm/family.ts";
import { unetForward } from "../../src/umm/unet.ts";
import { host, maxAbsDiff, randn } from "../helpers/gradcheck.ts";

const D = 8;
const tiny = (over: Partial<Parameters<typeof flowConfig>[0]> = {}): FlowConfig =>
  flowConfig({
    channels: [8, 16],
    embDim: 16,
    heads: 2,
    groups: 4,
    conditionDim: D,
    sampleSteps: 3,
    headChannels: 4,
    ...over,
  });

beforeAll(async () => {
  await initEngine();
});

/** valid [B, L] with `lengths[b]` leading ones. */
function validMask(lengths: number[], L: number): JaxArray {
  const v = new Float32Array(lengths.length * L);
  for (const [b, n] of lengths.entries()) v.fill(1, b * L, b * L + n);
  return np.array(v).reshape([lengths.length, L]);
}

function condition(lengths: number[], L: number, seed: number): Condition {
  return { states: randn([lengths.length, L, D], seed), valid: validMask(lengths, L) };
}

/** Images in [-1, 1]. */
function images(B: number, seed: number): JaxArray {
  return np.tanh(randn([B, 32, 32, 3], seed));
}

function dispose(c: Condition): void {
  c.states.dispose();
  c.valid.dispose();
}

/**
 * The output conv starts at zero (v̂ ≡ 0 and no gradient behind it); give it weights so the
 * whole net is live.
 */
function liven(p: FlowParams, seed = 99): FlowParams {
  const shape = p.out.w.shape;
  p.out.w.dispose();
  p.out.w = randn(shape, seed, 0.2);
  return p;
}

function target(B: number, seed: number, withSource = false): Omit<FamilyInputs, "cond"> {
  const fam = flowFamily(tiny());
  const noise = toDevice(fam.lossNoise(new Rng(seed), B));
  const has = new Float32Array(B);
  if (withSource) has.fill(1, 0, Math.ceil(B / 2));
  return {
    data: {
      target: images(B, seed + 1),
      source: withSource ? images(B, seed + 2) : np.zeros([B, 32, 32, 3]),
      has_source: np.array(has),
    },
    noise,
  };
}

type Opts = { guidance: number; steps: number; seed: number; source?: JaxArray };

/** The family's sampler with flow's options (and an edit source: every row edits). */
function sample(
  fam: ReturnType<typeof flowFamily>,
  p: FlowParams,
  cond: Condition,
  nul: Condition,
  o: Opts,
) {
  const B = cond.states.shape[0];
  const edit = o.source ? { source: o.source, has_source: np.ones([B]) } : undefined;
  return fam
    .sample(p, {
      cond,
      nullCond: nul,
      guidance: o.guidance,
      seed: o.seed,
      options: { steps: o.steps },
      ...(edit ? { edit } : {}),
    })
    .finally(() => edit?.has_source.dispose());
}

describe("flow family: loss", () => {
  it("per-row loss [B], finite, ≈ E|ε − x0|² for the zero-initialised net", async () => {
    const fam = flowFamily(tiny());
    const p = fam.init(jaxKey(0));
    const l = await host(fam.loss(p, { cond: condition([3, 5], 5, 1), ...target(2, 2, true) }));
    expect(l.length).toBe(2);
    for (const x of l) {
      expect(Number.isFinite(x)).toBe(true);
      expect(x).toBeGreaterThan(0.5); // v̂ = 0: the loss is |ε − x0|² ≈ 1 + E x0²
      expect(x).toBeLessThan(3);
    }
  });

  it("lossNoise: eps [n,32,32,3] ~ N(0,1), t [n] = sigmoid(N(0,1)) in (0,1)", () => {
    const hb = flowFamily(tiny()).lossNoise(new Rng(3), 64);
    expect(hb.eps.shape).toEqual([64, 32, 32, 3]);
    expect(hb.t.shape).toEqual([64]);
    const e = [...hb.eps.data];
    const mean = e.reduce((a, b) => a + b, 0) / e.length;
    const std = Math.sqrt(e.reduce((a, b) => a + (b - mean) ** 2, 0) / e.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(std - 1)).toBeLessThan(0.02);
    const t = [...hb.t.data];
    expect(t.every((x) => x > 0 && x < 1)).toBe(true);
    expect(Math.abs(t.reduce((a, b) => a + b, 0) / t.length - 0.5)).toBeLessThan(0.1);
  });

  const variants: Parameters<typeof flowConfig>[0][] = [
    {},
    { headChannels: 0, upsample: "resize-conv" },
    { stem: "conv", channels: [4, 8, 8] },
  ];
  for (const over of variants) {
    it(`gradients reach every parameter (${JSON.stringify(over)})`, async () => {
      const fam = flowFamily(tiny(over));
      const p = liven(fam.init(jaxKey(1)));
      const cond = condition([2, 4], 4, 3);
      const tg = target(2, 4, true);
      const g = grad((q: FlowParams) =>
        fam
          .loss(q, {
            cond: { states: cond.states.ref, valid: cond.valid.ref },
            data: tree.ref(tg.data),
            noise: tree.ref(tg.noise),
          })
          .sum(),
      )(p) as ParamTree;
      tree.dispose(tg);
      dispose(cond);
      const zero: string[] = [];
      for (const [name, leaf] of namedLeaves(g)) {
        const n = (await host(np.sqrt(np.square(leaf.ref).sum())))[0];
        if (!(n > 0) || !Number.isFinite(n)) zero.push(name);
      }
      tree.dispose(g);
      expect(zero).toEqual([]);
    });
  }
  // The loss falling on one batch is in the family contract (family-contract.test.ts).
});

function _hostOf(shape: number[], seed: number, tanh = false) {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = tanh ? Math.tanh(rng.normal()) : rng.normal();
  return { dtype: "float32" as const, shape, data };
}

describe("flow family: velocity and sampler", () => {
  const cfg = tiny();
  const fam = flowFamily(cfg);
  const u = unetConfig(cfg);
  let p: FlowParams;
  const B = 2;

  beforeAll(() => {
    p = liven(fam.init(jaxKey(2)));
  });

  it("padding positions of the condition never change the velocity", async () => {
    const valid = validMask([2, 5], 5);
    const states = randn([B, 5, D], 10);
    // Replace the padding rows (b = 0, l >= 2) with different values.
    const keep = validMask([2, 5], 5).reshape([B, 5, 1]);
    const other = states.ref.mul(keep.ref).add(randn([B, 5, D], 11, 3).mul(keep.neg().add(1)));
    const v = (s: JaxArray) =>
      unetForward(u, tree.ref(p), {
        x: randn([B, 32, 32, 3], 12),
        t: np.array([0.3, 0.8]),
        source: np.zeros([B, 32, 32, 3]),
        hasSource: np.zeros([B]),
        states: s,
        valid: valid.ref,
      });
    const a = v(states);
    const b = v(other);
    expect(a.shape).toEqual([B, 32, 32, 3]);
    expect(await maxAbsDiff(a.ref, b)).toBe(0);
    // ...while a real position does change it.
    const moved = randn([B, 5, D], 13);
    expect(await maxAbsDiff(a, v(moved))).toBeGreaterThan(1e-4);
    valid.dispose();
  });

  it("samples [B,32,32,3] in [-1,1]; deterministic per seed; inputs kept", async () => {
    const cond = condition([3, 4], 4, 20);
    const nul = condition([2, 2], 2, 21);
    const o = { guidance: 3.5, steps: 3, seed: 7 };
    const a = await sample(fam, p, cond, nul, o);
    expect(a.shape).toEqual([B, 32, 32, 3]);
    const ha = await host(a.ref);
    expect(ha.every((x) => x >= -1 && x <= 1)).toBe(true);
    expect(await maxAbsDiff(a.ref, await sample(fam, p, cond, nul, o))).toBe(0);
    expect(await maxAbsDiff(a, await sample(fam, p, cond, nul, { ...o, seed: 8 }))).toBeGreaterThan(
      0.1,
    );
    for (const x of [cond.states, cond.valid, nul.states, nul.valid, p.out.w, p.stem.w])
      expect(x.refCount).toBe(1);
    dispose(cond);
    dispose(nul);
  });

  it("guidance 1 is the conditional model alone: the null condition does not matter", async () => {
    const cond = condition([4, 2], 4, 30);
    const nullA = condition([2, 2], 2, 31);
    const nullB = condition([3, 1], 3, 32);
    const o = { guidance: 1, steps: 2, seed: 3 };
    const a = await sample(fam, p, cond, nullA, o);
    expect(await maxAbsDiff(a.ref, await sample(fam, p, cond, nullB, o))).toBe(0);
    // Euler by hand with the conditional velocity only.
    const rng = new Rng("flow/sample:3");
    const n = new Float32Array(B * 3072);
    for (let i = 0; i < n.length; i++) n[i] = rng.normal();
    let x = np.array(n).reshape([B, 32, 32, 3]);
    for (const t of [1, 0.5]) {
      const v = unetForward(u, tree.ref(p), {
        x: x.ref,
        t: np.full([B], t),
        source: np.zeros([B, 32, 32, 3]),
        hasSource: np.zeros([B]),
        states: cond.states.ref,
        valid: cond.valid.ref,
      });
      x = x.add(v.mul(-0.5));
    }
    expect(await maxAbsDiff(a.ref, np.clip(x, -1, 1))).toBeLessThan(1e-5);
    // With guidance the null branch matters.
    const g = { ...o, guidance: 3 };
    const ga = await sample(fam, p, cond, nullA, g);
    expect(await maxAbsDiff(ga, await sample(fam, p, cond, nullB, g))).toBeGreaterThan(1e-3);
    a.dispose();
    for (const c of [cond, nullA, nullB]) dispose(c);
  });

  it("edits: sampling with a source runs, keeps shapes, and depends on the source", async () => {
    const cond = condition([3, 3], 3, 40);
    const nul = condition([1, 1], 1, 41);
    const source = images(B, 42);
    const o = { guidance: 2, steps: 2, seed: 1 };
    const a = await sample(fam, p, cond, nul, { ...o, source });
    expect(a.shape).toEqual([B, 32, 32, 3]);
    expect(source.refCount).toBe(1);
    expect(await maxAbsDiff(a, await sample(fam, p, cond, nul, o))).toBeGreaterThan(1e-3);
    source.dispose();
    dispose(cond);
    dispose(nul);
  });
});

describe("flow config", () => {
  it("defaults: s2d stem at [64, 112], 20 steps, guidance 3.5; conv stem defaults to [32, 64, 96]", () => {
    const c = flowConfig();
    expect(c.stem).toBe("s2d");
    expect(c.channels).toEqual([64, 112]);
    expect(c.sampleSteps).toBe(20);
    expect(c.guidance).toBe(3.5);
    expect(flowConfig({ stem: "conv" }).channels).toEqual([32, 64, 96]);
    expect(() => flowConfig({ channels: [12, 16] })).toThrow(/divisible/);
  });
});
