/** Smoke test of the bench models (bench/models/) at tiny sizes; the bench itself is not a test. */
import { beforeAll, describe, expect, it } from "vitest";
import {
  TRANSFORMER_BENCH,
  type TransformerBenchConfig,
  transformerBatch,
  transformerLogits,
  transformerParamCount,
  transformerTask,
} from "../../bench/models/transformer.ts";
import {
  UNET_BENCH,
  type UNetBenchConfig,
  unetBatch,
  unetForward,
  unetParamCount,
  unetTask,
} from "../../bench/models/unet.ts";
import { initEngine, tree } from "../../src/engine/jax.ts";
import { optimConfig } from "../../src/engine/optim.ts";
import { LocalRunner } from "../../src/engine/runner.ts";
import { type HostBatch, type Task, toDevice } from "../../src/engine/train-step.ts";
import { countParams } from "../../src/engine/tree.ts";

const tinyTransformer: TransformerBenchConfig = { vocab: 16, seq: 8, dim: 16, layers: 2, heads: 2 };
const tinyUNet: UNetBenchConfig = {
  image: 8,
  channels: [8, 16, 24],
  embDim: 16,
  ctxLen: 3,
  ctxDim: 12,
  heads: 2,
  groups: 4,
};
const optim = optimConfig({ lr: 1e-2, totalSteps: 100, minLrRatio: 1 });

beforeAll(async () => {
  await initEngine();
});

function paramCount(task: Task): number {
  const p = task.init(0);
  const n = countParams(p);
  tree.dispose(p);
  return n;
}

/** Loss before and after a few updates on one fixed batch. */
async function trains(task: Task, hb: HostBatch, microBatchSize: number, steps = 4) {
  const r = new LocalRunner(task, optim, 0, microBatchSize, 1);
  try {
    const losses: number[] = [];
    for (let s = 1; s <= steps; s++) losses.push((await r.step(hb, optim.lr, s)).loss);
    return losses;
  } finally {
    await r.dispose();
  }
}

describe("bench transformer", () => {
  it("has PyTorch's parameter count (closed form = actual tree)", () => {
    expect(transformerParamCount(TRANSFORMER_BENCH)).toBe(3_323_392);
    expect(paramCount(transformerTask(tinyTransformer))).toBe(
      transformerParamCount(tinyTransformer),
    );
  });

  it("builds deterministic batches whose targets are the ids rolled left", () => {
    const a = transformerBatch(tinyTransformer, 3, 7);
    expect(a.ids.shape).toEqual([3, 8]);
    expect(transformerBatch(tinyTransformer, 3, 7)).toEqual(a);
    const ids = a.ids.data;
    const tgt = a.tgt.data;
    expect(tgt[0]).toBe(ids[1]);
    expect(tgt[7]).toBe(ids[0]);
    expect(Math.max(...ids)).toBeLessThan(16);
  });

  it("maps ids to [B, T, V] logits and a few steps lower the loss", async () => {
    const task = transformerTask(tinyTransformer);
    const hb = transformerBatch(tinyTransformer, 4);
    const p = task.init(1) as any;
    expect(transformerLogits(tinyTransformer, p, toDevice(hb).ids).shape).toEqual([4, 8, 16]);
    const losses = await trains(task, hb, 0);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]);
  });
});

describe("bench U-Net", () => {
  it("has PyTorch's parameter count (closed form = actual tree)", () => {
    expect(unetParamCount(UNET_BENCH)).toBe(1_246_115);
    expect(paramCount(unetTask(tinyUNet))).toBe(unetParamCount(tinyUNet));
  });

  it("builds deterministic batches of the peer's shapes", () => {
    const b = unetBatch(tinyUNet, 2, 3);
    expect(b.x.shape).toEqual([2, 8, 8, 3]);
    expect(b.v.shape).toEqual([2, 8, 8, 3]);
    expect(b.t.shape).toEqual([2]);
    expect(b.ctx.shape).toEqual([2, 3, 12]);
    expect(unetBatch(tinyUNet, 2, 3)).toEqual(b);
    expect(unetBatch(tinyUNet, 2, 4).x.data).not.toEqual(b.x.data);
  });

  it("predicts [B, H, W, 3] and a few steps lower the loss (micro-batched)", async () => {
    const task = unetTask(tinyUNet);
    const hb = unetBatch(tinyUNet, 4);
    const d = toDevice(hb);
    d.v.dispose();
    const out = unetForward(tinyUNet, task.init(1) as any, d.x, d.t, d.ctx);
    expect(out.shape).toEqual([4, 8, 8, 3]);
    out.dispose();
    // 2 micro-batches of 2, as the bench's 32 = 2 x 16.
    const losses = await trains(task, hb, 2);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]);
  });
});
