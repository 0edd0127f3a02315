import { beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../../../src/engine/jax.ts";
import { optimConfig } from "../../../src/engine/optim.ts";
import { type HostState, LocalRunner } from "../../../src/engine/runner.ts";
import { type LinearTaskConfig, linearBatch, linearTask } from "../../fixtures/linear-task.ts";

beforeAll(async () => {
  await initEngine();
});

const tc: LinearTaskConfig = { dIn: 6, dHidden: 16, frozen: ["b1"] };
const cfg = optimConfig({
  lr: 1e-2,
  totalSteps: 20,
  warmupSteps: 2,
  emaDecay: 0.9,
  emaWarmup: true,
});

const flat = (h: HostState) =>
  [h.params, h.m, h.v, h.ema!].flatMap((t) =>
    [...t.entries()].map(([n, x]) => [n, Array.from(x.data)]),
  );

async function train(r: LocalRunner, from: number, to: number) {
  const losses: number[] = [];
  for (let s = from; s <= to; s++)
    losses.push((await r.step(linearBatch(tc, 0, s, 8), 1e-2, s)).loss);
  return losses;
}

describe("the train step on ONNX Runtime", () => {
  it("matches the jax-js step (fused and micro-batched; EMA, frozen, loss parts)", async () => {
    for (const micro of [0, 4]) {
      const ort = new LocalRunner(linearTask(tc), cfg, 3, micro, 1, { engine: "ort" });
      const jax = new LocalRunner(linearTask(tc), cfg, 3, micro, 1, { engine: "jax" });
      expect(ort.kind).toBe("ort");
      for (let s = 1; s <= 4; s++) {
        const hb = linearBatch(tc, 0, s, 8);
        const a = await ort.step(hb, 1e-2, s);
        const b = await jax.step(hb, 1e-2, s);
        // f32 training, 4 steps of AdamW on O(1) values: 1e-5 relative.
        expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5 * (1 + b.loss));
        expect(Math.abs(a.gradNorm - b.gradNorm)).toBeLessThan(1e-5 * (1 + b.gradNorm));
        expect(a.parts!.abs).toBeCloseTo(b.parts!.abs, 5);
      }
      const [ha, hb] = [await ort.getState(), await jax.getState()];
      for (const [name, x] of ha.params) {
        const y = hb.params.get(name)!.data;
        x.data.forEach((v, i) => {
          expect(Math.abs(v - y[i]), name).toBeLessThan(1e-5);
        });
      }
      // Frozen parameters stay bit-identical on ORT too.
      expect(Array.from(ha.params.get("b1")!.data)).toEqual(Array.from(hb.params.get("b1")!.data));
      await ort.dispose();
      await jax.dispose();
    }
  });

  it("resumes bit-identically from the host state (what checkpoints hold)", async () => {
    const a = new LocalRunner(linearTask(tc), cfg, 5, 4, 1, { engine: "ort" });
    await train(a, 1, 3);
    const saved = await a.getState();
    const tailA = await train(a, 4, 7);
    const endA = flat(await a.getState());
    const b = new LocalRunner(linearTask(tc), cfg, 99, 4, 1, { engine: "ort" });
    await b.setState(saved);
    const tailB = await train(b, 4, 7);
    expect(tailB).toEqual(tailA);
    expect(flat(await b.getState())).toEqual(endA);
    await a.dispose();
    await b.dispose();
  });
});
