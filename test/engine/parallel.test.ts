import { beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../../src/engine/jax.ts";
import { lrAt, optimConfig } from "../../src/engine/optim.ts";
import { DataParallelRunner } from "../../src/engine/parallel/dp-runner.ts";
import { type HostState, LocalRunner } from "../../src/engine/runner.ts";
import { linearBatch, linearTask } from "../fixtures/linear-task.ts";

const tc = { dIn: 8, dHidden: 16 };
const optim = optimConfig({ lr: 0.02, totalSteps: 20, warmupSteps: 2, emaDecay: 0.95 });
const spec = {
  module: new URL("../fixtures/linear-task.ts", import.meta.url).href,
  exportName: "linearTask",
  config: tc,
};

function maxDiff(a: HostState, b: HostState): number {
  let d = 0;
  for (const part of ["params", "m", "v", "ema"] as const)
    for (const [k, t] of a[part]!) {
      const u = b[part]!.get(k)!.data;
      t.data.forEach((x, i) => {
        d = Math.max(d, Math.abs(x - u[i]));
      });
    }
  return d;
}

describe("data-parallel runner", () => {
  beforeAll(async () => {
    await initEngine();
  });

  it("matches a single-thread runner on the same batches, and replicas stay identical", async () => {
    const local = new LocalRunner(linearTask(tc), optim, 3, 4, 1);
    const dp = await DataParallelRunner.create(spec, optim, 3, 4, 2);
    try {
      for (let s = 1; s <= 20; s++) {
        const hb = linearBatch(tc, 1, s, 16);
        const a = await local.step(hb, lrAt(optim, s), s);
        const b = await dp.step(hb, lrAt(optim, s), s);
        expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-4);
        // The task's loss parts come back averaged over the workers, as the loss does.
        for (const r of [a, b]) expect(r.parts?.sq).toBeCloseTo(r.loss, 6);
        expect(Math.abs((a.parts?.abs ?? 0) - (b.parts?.abs ?? 1))).toBeLessThan(1e-4);
        expect(a.parts?.abs).toBeGreaterThan(0);
      }
      expect(maxDiff(await local.getState(), await dp.getState())).toBeLessThan(1e-4);
      const [r0, r1] = await Promise.all(
        dp.replicas.map((r) => r.call<HostState>({ type: "getState" })),
      );
      expect(maxDiff(r0, r1)).toBe(0);
    } finally {
      await local.dispose();
      await dp.dispose();
    }
  });

  it("restores state into every replica", async () => {
    const a = await DataParallelRunner.create(spec, optim, 1, 0, 2);
    const b = await DataParallelRunner.create(spec, optim, 2, 0, 2);
    try {
      await a.step(linearBatch(tc, 1, 1, 8), 0.01, 1);
      await b.setState(await a.getState());
      const hb = linearBatch(tc, 1, 2, 8);
      expect(await b.step(hb, 0.01, 2)).toEqual(await a.step(hb, 0.01, 2));
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it("reports a bad task module instead of hanging", async () => {
    await expect(
      DataParallelRunner.create({ ...spec, exportName: "nope" }, optim, 0, 0, 2),
    ).rejects.toThrow(/does not export a task factory "nope"/);
  });

  it("rejects a batch that does not split over the workers", async () => {
    const dp = await DataParallelRunner.create(spec, optim, 0, 0, 2);
    try {
      await expect(dp.step(linearBatch(tc, 1, 1, 7), 0.01, 1)).rejects.toThrow(/split evenly/);
    } finally {
      await dp.dispose();
    }
  });
});
