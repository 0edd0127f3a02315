import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, numpy as np, tree } from "../../src/engine/jax.ts";
import {
  adamwUpdate,
  emaDecayAt,
  emaUpdate,
  initOptState,
  lrAt,
  optimConfig,
  stepScalars,
} from "../../src/engine/optim.ts";
import { DataParallelRunner } from "../../src/engine/parallel/dp-runner.ts";
import { type HostState, LocalRunner, type Runner } from "../../src/engine/runner.ts";
import { type Task, TrainStep } from "../../src/engine/train-step.ts";
import type { ParamTree } from "../../src/engine/tree.ts";
import { linearBatch, linearTask } from "../fixtures/linear-task.ts";

const arr = (xs: number[], shape: number[]) => np.array(new Float32Array(xs)).reshape(shape);
const host = async (a: any) => Array.from((await a.data()) as Float32Array);

/** AdamW by hand, in float64, for one step from zero moments. */
function handAdamW(p: number[], g: number[], lr: number, step: number, wd: number, decay: boolean) {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  return p.map((pi, i) => {
    const m = (1 - b1) * g[i];
    const v = (1 - b2) * g[i] * g[i];
    const mh = m / (1 - b1 ** step);
    const vh = v / (1 - b2 ** step);
    return pi - lr * (mh / (Math.sqrt(vh) + eps) + (decay ? wd * pi : 0));
  });
}

describe("optimizer", () => {
  beforeAll(async () => {
    await initEngine();
  });

  it("AdamW matches a hand computation, with decay only on matrices", async () => {
    const cfg = optimConfig({ lr: 0.1, totalSteps: 10, weightDecay: 0.5, clipNorm: null });
    const W = [0.5, -1, 2, 0.25];
    const b = [1, -2];
    const gW = [0.1, -0.2, 0.3, 0.05];
    const gb = [-0.4, 0.01];
    const params = { w: arr(W, [2, 2]), b: arr(b, [2]) };
    const grads = { w: arr(gW, [2, 2]), b: arr(gb, [2]) };
    const opt = initOptState(params);
    const r = adamwUpdate(params, opt, grads, stepScalars(cfg, 0.1, 1), cfg);
    const p = r.params as { w: any; b: any };
    const gotW = await host(p.w);
    const gotB = await host(p.b);
    for (const [i, x] of handAdamW(W, gW, 0.1, 1, 0.5, true).entries())
      expect(gotW[i]).toBeCloseTo(x, 5);
    for (const [i, x] of handAdamW(b, gb, 0.1, 1, 0.5, false).entries())
      expect(gotB[i]).toBeCloseTo(x, 5);
    const norm = Math.hypot(...gW, ...gb);
    expect((await host(r.gradNorm))[0]).toBeCloseTo(norm, 5);
    tree.dispose(r.opt);
  });

  it("clips to the global norm", async () => {
    const cfg = optimConfig({ lr: 1, totalSteps: 10, weightDecay: 0, clipNorm: 0.5 });
    const g = [3, 4]; // norm 5 → scaled by 0.1
    const params = { b: arr([0, 0], [2]) };
    const r = adamwUpdate(
      params,
      initOptState(params),
      { b: arr(g, [2]) },
      stepScalars(cfg, 1, 3),
      cfg,
    );
    // First moment after one step is (1 − β1)·g_clipped = 0.1·[0.3, 0.4].
    const clippedM = await host((r.opt.m as { b: any }).b);
    expect(clippedM[0]).toBeCloseTo(0.03, 5);
    expect(clippedM[1]).toBeCloseTo(0.04, 5);
    tree.dispose([r.params, r.opt.v, r.gradNorm] as ParamTree);
  });

  it("schedule: linear warm-up then cosine to minLrRatio", () => {
    const cfg = optimConfig({ lr: 1, totalSteps: 110, warmupSteps: 10, minLrRatio: 0.1 });
    expect(lrAt(cfg, 1)).toBeCloseTo(0.1);
    expect(lrAt(cfg, 10)).toBeCloseTo(1);
    expect(lrAt(cfg, 60)).toBeCloseTo(0.55); // half-way down the cosine
    expect(lrAt(cfg, 110)).toBeCloseTo(0.1);
    expect(lrAt(cfg, 500)).toBeCloseTo(0.1);
  });

  it("EMA moves toward the parameters by 1 − decay", async () => {
    const e = emaUpdate({ a: arr([0, 10], [2]) }, { a: arr([1, 0], [2]) }, 0.9) as { a: any };
    expect(await host(e.a)).toEqual([expect.closeTo(0.1, 6), expect.closeTo(9, 6)]);
  });

  it("EMA warm-up: decay min(d, (1 + t) / (10 + t)), traced, same result as a constant", async () => {
    const cfg = optimConfig({ lr: 0.1, totalSteps: 10, emaDecay: 0.999, emaWarmup: true });
    expect(emaDecayAt(cfg, 1)).toBeCloseTo(2 / 11);
    expect(emaDecayAt(cfg, 100)).toBeCloseTo(101 / 110);
    expect(emaDecayAt(cfg, 1e6)).toBe(0.999);
    expect(emaDecayAt({ ...cfg, emaWarmup: false }, 1)).toBe(0.999);
    expect(emaDecayAt({ ...cfg, emaDecay: null }, 1)).toBe(0);
    const traced = emaUpdate({ a: arr([0, 10], [2]) }, { a: arr([1, 0], [2]) }, arr([0.9], []));
    expect(await host((traced as { a: any }).a)).toEqual([
      expect.closeTo(0.1, 6),
      expect.closeTo(9, 6),
    ]);
    // Through the runner: after one step the warmed-up EMA (decay 2/11) is mostly the new params.
    const tc = { dIn: 4, dHidden: 4 };
    const runner = new LocalRunner(linearTask(tc), cfg, 1, 0, 1);
    const before = await runner.getState();
    await runner.step(linearBatch(tc, 1, 1, 8), 0.1, 1);
    const after = await runner.getState();
    await runner.dispose();
    const name = [...after.params.keys()][0];
    const p0 = before.params.get(name)!.data;
    const p1 = after.params.get(name)!.data;
    const e1 = after.ema!.get(name)!.data;
    for (let i = 0; i < p1.length; i++)
      expect(e1[i]).toBeCloseTo((2 / 11) * p0[i] + (9 / 11) * p1[i], 5);
  });

  it("accumulating micro-batches equals one full-batch step", async () => {
    const tc = { dIn: 6, dHidden: 8 };
    const cfg = optimConfig({ lr: 0.05, totalSteps: 5, emaDecay: 0.5 });
    const full = new LocalRunner(linearTask(tc), cfg, 1, 0, 1);
    const micro = new LocalRunner(linearTask(tc), cfg, 1, 4, 1);
    for (let s = 1; s <= 3; s++) {
      const hb = linearBatch(tc, 0, s, 16);
      const a = await full.step(hb, 0.05, s);
      const b = await micro.step(hb, 0.05, s);
      expect(b.loss).toBeCloseTo(a.loss, 5);
      expect(b.gradNorm).toBeCloseTo(a.gradNorm, 4);
    }
    const [sa, sb] = [await full.getState(), await micro.getState()];
    for (const [k, t] of sa.params)
      for (const [i, x] of t.data.entries()) expect(sb.params.get(k)!.data[i]).toBeCloseTo(x, 5);
    await full.dispose();
    await micro.dispose();
  });

  it("changing the learning rate or step never retraces the jitted step", async () => {
    let traces = 0;
    const base = linearTask({ dIn: 4, dHidden: 4 });
    const task: Task = {
      init: base.init,
      loss: (p, b) => {
        traces++;
        return base.loss(p, b);
      },
    };
    const cfg = optimConfig({ lr: 0.01, totalSteps: 10 });
    const ts = new TrainStep(task, cfg);
    const p0 = task.init(0);
    let state = { params: p0, opt: initOptState(p0) };
    for (let s = 1; s <= 4; s++) {
      const o = await ts.run(state, linearBatch({ dIn: 4, dHidden: 4 }, 0, s, 8), 1, 0.01 * s, s);
      state = o.state;
      await o.loss.data();
      o.gradNorm.dispose();
    }
    expect(traces).toBe(1);
    tree.dispose(state);
    ts.dispose();
  });

  it("frozen parameters stay bit-identical (params, moments, EMA) while the rest trains", async () => {
    const tc = { dIn: 4, dHidden: 6, frozen: ["w1"] };
    const cfg = optimConfig({ lr: 0.05, totalSteps: 4, weightDecay: 0.5, emaDecay: 0.9 });
    const spec = {
      module: new URL("../fixtures/linear-task.ts", import.meta.url).href,
      exportName: "linearTask",
      config: tc,
    };
    const runners: [string, Runner][] = [
      ["fused", new LocalRunner(linearTask(tc), cfg, 3, 0, 1)],
      ["micro-batched", new LocalRunner(linearTask(tc), cfg, 3, 4, 1)],
      ["data-parallel", await DataParallelRunner.create(spec, cfg, 3, 0, 2)],
    ];
    const bits = (s: HostState, part: "params" | "m" | "v" | "ema", n: string) =>
      Array.from(
        new Uint32Array((s[part] as Map<string, { data: Float32Array }>).get(n)!.data.buffer),
      );
    for (const [what, r] of runners) {
      const before = await r.getState();
      for (let s = 1; s <= 3; s++) await r.step(linearBatch(tc, 0, s, 8), 0.05, s);
      const after = await r.getState();
      await r.dispose();
      for (const part of ["params", "ema"] as const)
        expect(bits(after, part, "w1"), `${what} ${part}`).toEqual(bits(before, part, "w1"));
      for (const part of ["m", "v"] as const)
        expect(
          after[part].get("w1")!.data.every((x) => x === 0),
          `${what} ${part}`,
        ).toBe(true);
      // The trainable parameters did move (and the loss saw the frozen ones).
      for (const n of ["b1", "w2"])
        expect(bits(after, "params", n), `${what} ${n}`).not.toEqual(bits(before, "params", n));
    }
  });
});
