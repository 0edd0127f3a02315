/**
 * The hooks other families need, through the unified model itself (src/umm/model.ts, infer.ts):
 * a frozen backbone that stays bit-identical while the rest trains, learnable queries in the
 * backbone's input (OpenUni), and the backbone callback of an in-sequence family (the test-only
 * family of ./families/tiny-seq.ts) in training and in sampling.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Tokenizer } from "../../src/data/tokenizer.ts";
import { loadUnderstandingEncoder } from "../../src/encoders/understanding.ts";
import { initEngine } from "../../src/engine/jax.ts";
import { optimConfig } from "../../src/engine/optim.ts";
import { Rng } from "../../src/engine/rng.ts";
import { type HostState, LocalRunner } from "../../src/engine/runner.ts";
import { fromHost } from "../../src/engine/tree.ts";
import { reconRow, t2iRow } from "../../src/train/objectives.ts";
import { drawTemplate } from "../../src/train/templates.ts";
import { assembleBatch } from "../../src/umm/batch.ts";
import type { ResolvedUmmConfig } from "../../src/umm/config.ts";
import { UmmModel } from "../../src/umm/infer.ts";
import { initUmm, type UmmParams, ummTask } from "../../src/umm/model.ts";
import { renderScene, sampleScene, WorldRng } from "../../src/world/index.ts";
import { batchContext } from "../helpers/batch-context.ts";
import { registerTinySeq } from "./families/tiny-seq.ts";
import { tinyUmmConfig, writeTinyEncoder } from "./fixtures.ts";

const tmp = mkdtempSync(join(tmpdir(), "reca-hooks-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let encDir = "";

beforeAll(async () => {
  await initEngine();
  registerTinySeq();
  encDir = await writeTinyEncoder(join(tmp, "encoder"));
});

/** Four world images: two caption rows and two reconstruction rows. */
async function batch(cfg: ResolvedUmmConfig) {
  const images = Array.from({ length: 4 }, (_, i) => {
    const scene = sampleScene(WorldRng.fromParts("hooks", i));
    return renderScene(scene).image;
  });
  const rng = new Rng("hooks/batch");
  const gen = [
    t2iRow("a red circle", images[0], 1),
    t2iRow(null, images[1], 1),
    reconRow(drawTemplate(rng).parts, images[2], 1),
    reconRow(drawTemplate(rng).parts, images[3], 1),
  ];
  const encoder = loadUnderstandingEncoder(encDir);
  try {
    return await assembleBatch(batchContext(cfg, Tokenizer.world(), encoder), gen, null, rng);
  } finally {
    encoder.dispose();
  }
}

const bits = (s: HostState, prefix: string) =>
  [...s.params]
    .filter(([n]) => n.startsWith(prefix))
    .map(([n, t]) => [n, Array.from(new Uint32Array(new Float32Array(t.data).buffer))] as const);

async function train(cfg: ResolvedUmmConfig, steps: number) {
  const hb = await batch(cfg);
  const optim = optimConfig({ lr: 3e-3, totalSteps: steps, emaDecay: 0.9, weightDecay: 0.1 });
  const runner = new LocalRunner(ummTask(cfg), optim, 0, 0, 1);
  const before = await runner.getState();
  const losses: number[] = [];
  for (let s = 1; s <= steps; s++) losses.push((await runner.step(hb, 3e-3, s)).loss);
  const after = await runner.getState();
  await runner.dispose();
  return { before, after, losses };
}

describe("unified-model hooks", () => {
  it("openuni: a frozen backbone stays bit-identical (params and EMA) while queries, connector and generator learn", async () => {
    // OpenUni's setup: frozen LM + learnable queries → connector → diffusion generator.
    const cfg = tinyUmmConfig(encDir, {
      queries: 4,
      freeze: ["backbone"],
      loss: { text: 0 },
      generator: {
        family: "openuni",
        connector: { depth: 1, heads: 2, mlpRatio: 1 },
        generator: { channels: [8, 16], embDim: 16, heads: 2, groups: 4, sampleSteps: 2 },
      },
    });
    const { before, after, losses } = await train(cfg, 4);
    expect(losses[3]).toBeLessThan(losses[0]);
    expect(bits(after, "backbone.")).toEqual(bits(before, "backbone."));
    const ema = (s: HostState) =>
      new Map([...(s.ema ?? [])].filter(([n]) => n.startsWith("backbone.")));
    expect(ema(after)).toEqual(ema(before));
    expect(bits(after, "queries")).not.toEqual(bits(before, "queries"));
    expect(bits(after, "family.connector.")).not.toEqual(bits(before, "family.connector."));
    expect(bits(after, "family.generator.")).not.toEqual(bits(before, "family.generator."));
  });

  it("with queries the condition is the N query states, and it reaches the family", async () => {
    const cfg = tinyUmmConfig(encDir, { queries: 3 });
    const params = initUmm(0, cfg);
    expect(params.queries?.shape).toEqual([3, cfg.backbone.dim]);
    const model = new UmmModel(params, cfg, loadUnderstandingEncoder(encDir), Tokenizer.world());
    try {
      const c = await model.condition([["a red circle"], ["a blue square left of a green cross"]]);
      expect(c.states.shape).toEqual([2, 3, cfg.backbone.dim]);
      expect(Array.from((await c.valid.data()) as Float32Array)).toEqual([1, 1, 1, 1, 1, 1]);
      c.states.dispose();
    } finally {
      model.dispose();
    }
  });

  it("an in-sequence family trains through the backbone callback and samples with it", async () => {
    const cfg = tinyUmmConfig(encDir, { generator: { family: "tiny-seq", sampleSteps: 2 } });
    const { losses, before, after } = await train(cfg, 6);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[5]).toBeLessThan(0.9 * losses[0]);
    // The callback carries the gradient into the backbone's blocks: they moved too.
    expect(bits(after, "backbone.blocks.")).not.toEqual(bits(before, "backbone.blocks."));
    const trained = fromHost(after.params) as unknown as UmmParams;
    const model = new UmmModel(trained, cfg, loadUnderstandingEncoder(encDir), Tokenizer.world());
    try {
      const a = await model.generate(["a red circle", "two blue squares"], { seed: 1 });
      const b = await model.generate(["a red circle", "two blue squares"], { seed: 1 });
      expect(a.map((im) => [im.width, im.height])).toEqual([
        [8, 8],
        [8, 8],
      ]);
      expect(a[0].data).toEqual(b[0].data);
      expect(a[0].data).not.toEqual(a[1].data);
    } finally {
      model.dispose();
    }
  }, 120_000);
});
