import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initEngine, type JaxArray, jit, numpy as np, tree } from "../../src/engine/jax.ts";
import { Rng } from "../../src/engine/rng.ts";
import { readUmmConfig } from "../../src/umm/config-file.ts";
import {
  eulerStep,
  type FlowConfig,
  type FlowParams,
  unetConfig,
} from "../../src/umm/families/flow.ts";
import { disposeFlowOrt, sampleFlowOrt } from "../../src/umm/families/flow-ort.ts";
import { loadUmmParams } from "../../src/umm/model.ts";

const DIR = "checkpoints/base-flow";

beforeAll(async () => {
  await initEngine();
});
afterAll(async () => {
  await disposeFlowOrt();
});

function randn(shape: number[], rng: Rng): JaxArray {
  const n = shape.reduce((a, b) => a * b, 1);
  return np.array(Float32Array.from({ length: n }, () => rng.normal())).reshape(shape);
}

describe("flow sampling on ORT (shipped base-flow U-Net)", () => {
  it("gives the jax-js sampler's images on a fixed seed (guided, 3 Euler steps)", async () => {
    const cfg = readUmmConfig(DIR);
    const u = unetConfig(cfg.generator as unknown as FlowConfig);
    const params = (loadUmmParams(DIR, cfg) as unknown as { family: FlowParams }).family;
    const [B, L, D, side, steps, g] = [2, 12, cfg.backbone.dim, u.image, 3, 3.5];
    const rng = new Rng(7);
    const noise = Float32Array.from({ length: B * side * side * 3 }, () => rng.normal());
    // Conditions with padding positions (valid 0) in the null rows.
    const validHost = Float32Array.from({ length: 2 * B * L }, (_, i) =>
      i >= B * L && i % L > 5 ? 0 : 1,
    );
    const cond = {
      states: randn([B, L, D], rng),
      valid: np.array(validHost.slice(0, B * L)).reshape([B, L]),
    };
    const nullCond = {
      states: randn([B, L, D], rng),
      valid: np.array(validHost.slice(B * L)).reshape([B, L]),
    };

    const ort = await sampleFlowOrt(u, params, cond, nullCond, { guidance: g, steps }, noise);
    // The reference: flow.ts's own step, jitted on jax-js, rows laid out as its sampler does.
    const step = jit((p: FlowParams, ...a: JaxArray[]) =>
      eulerStep(u, p, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]),
    );
    const states = np.concatenate([cond.states.ref, nullCond.states.ref], 0);
    const valid = np.concatenate([cond.valid.ref, nullCond.valid.ref], 0);
    const source = np.zeros([2 * B, side, side, 3]);
    const hasSource = np.zeros([2 * B]);
    let x = np.array(noise).reshape([B, side, side, 3]);
    for (let k = 0; k < steps; k++) {
      const t = 1 - k / steps;
      const dt = 1 - (k + 1) / steps - t;
      x = step(
        tree.ref(params),
        x,
        t,
        dt,
        g,
        source.ref,
        hasSource.ref,
        states.ref,
        valid.ref,
      ) as JaxArray;
    }
    const want = (await np.clip(x, -1, 1).data()) as Float32Array;
    const got = (await ort.data()) as Float32Array;
    let maxAbs = 0;
    for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
    // f32 through ~60 convs and 4 attention blocks per step, 3 steps: measured ≈ 1e-5.
    expect(maxAbs).toBeLessThan(1e-4);
    // The borrowed arguments are still alive.
    expect(cond.states.refCount).toBe(1);
    tree.dispose([states, valid, source, hasSource, cond, nullCond, params]);
    step.dispose();
  });

  it("rejects noise that is not [B, side, side, 3] for the condition rows", async () => {
    const cfg = readUmmConfig(DIR);
    const u = unetConfig(cfg.generator as unknown as FlowConfig);
    const c = { states: np.zeros([2, 4, cfg.backbone.dim]), valid: np.ones([2, 4]) };
    await expect(
      sampleFlowOrt(u, {} as FlowParams, c, c, { guidance: 2, steps: 1 }, new Float32Array(5)),
    ).rejects.toThrow(/not \[B, 32, 32, 3\]/);
    tree.dispose(c);
  });
});
