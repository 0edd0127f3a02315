import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMG_ID, Tokenizer } from "../../src/data/tokenizer.ts";
import { loadUnderstandingEncoder } from "../../src/encoders/understanding.ts";
import { initEngine } from "../../src/engine/jax.ts";
import { optimConfig } from "../../src/engine/optim.ts";
import { Rng } from "../../src/engine/rng.ts";
import { LocalRunner } from "../../src/engine/runner.ts";
import { PretrainData, pretrainUmm } from "../../src/train/pretrain.ts";
import { assembleBatch } from "../../src/umm/batch.ts";
import { loadUmm } from "../../src/umm/infer.ts";
import { ummTask } from "../../src/umm/model.ts";
import { NULL_PROMPT } from "../../src/umm/sequence.ts";
import { batchContext } from "../helpers/batch-context.ts";
import { tinyUmmConfig, writeTinyEncoder } from "./fixtures.ts";

const tmp = mkdtempSync(join(tmpdir(), "reca-umm-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let encDir = "";

beforeAll(async () => {
  await initEngine();
  encDir = await writeTinyEncoder(join(tmp, "encoder"));
});

describe("pretraining batches", () => {
  it("rows carry the right condition, features, source and targets", async () => {
    const cfg = tinyUmmConfig(encDir, { data: { editFraction: 0.5, conditionDropout: 0.25 } });
    const data = new PretrainData(cfg);
    const counts = data.counts();
    expect(counts.caption).toBeGreaterThan(counts.vqa);
    expect(counts.vqa).toBeGreaterThan(counts.edit);
    const rng = new Rng("test/umm/rows");
    const gen = data.genRows(rng, 16);
    const text = data.textRows(rng, 16);
    const edits = gen.filter((r) => r.source);
    const dropped = gen.filter((r) => r.parts.length === 1 && r.parts[0] === NULL_PROMPT);
    expect(edits.length).toBeGreaterThan(0);
    expect(dropped.length).toBeGreaterThan(0);
    // Edit rows read the source's features (unless their text was dropped); t2i rows read none.
    for (const r of gen) {
      if (r.source && !dropped.includes(r)) expect(r.features).toBe(r.source);
      if (!r.source) expect(r.features).toBeUndefined();
    }

    const tok = Tokenizer.world(cfg.backbone.vocabVersion);
    const encoder = loadUnderstandingEncoder(encDir);
    const hb = await assembleBatch(batchContext(cfg, tok, encoder), gen, text, rng);
    encoder.dispose();
    const R = cfg.features.tokens;
    const F = cfg.features.dim;
    expect(hb.g_feats.shape).toEqual([16, R, F]);
    expect(hb.x_feats.shape).toEqual([16, R, F]);
    expect(hb.f_target.shape).toEqual([16, 32, 32, 3]);
    expect(hb.n_eps.shape).toEqual([16, 32, 32, 3]);
    expect(hb.n_t.shape).toEqual([16]);
    const L = cfg.sequence.conditionLen;
    gen.forEach((r, b) => {
      const row = Array.from(hb.g_feats.data.slice(b * R * F, (b + 1) * R * F));
      const slots = Array.from(hb.g_tokens.data.slice(b * L, (b + 1) * L)).filter(
        (id) => id === IMG_ID,
      ).length;
      expect(slots).toBe(r.features ? R : 0);
      expect(row.some((v) => v !== 0)).toBe(r.features !== undefined);
      expect(hb.f_has_source.data[b]).toBe(r.source ? 1 : 0);
    });
    // Targets are the images in [-1, 1].
    const t0 = gen[0].target.data;
    expect(hb.f_target.data[5]).toBeCloseTo(t0[5] * 2 - 1, 6);
    // Every text row has its image's features and at least one answer token.
    for (let b = 0; b < 16; b++) {
      const m = hb.x_mask.data.slice(b * cfg.sequence.textLen, (b + 1) * cfg.sequence.textLen);
      expect(Array.from(m).reduce((a, v) => a + v, 0)).toBeGreaterThanOrEqual(2);
    }
  });

  /** One pretraining batch of 8 generation and 8 text rows of the tiny config. */
  async function tinyBatch(cfg: ReturnType<typeof tinyUmmConfig>, seed: string) {
    const data = new PretrainData(cfg);
    const tok = Tokenizer.world(cfg.backbone.vocabVersion);
    const encoder = loadUnderstandingEncoder(encDir);
    const rng = new Rng(seed);
    try {
      return await assembleBatch(
        batchContext(cfg, tok, encoder),
        data.genRows(rng, 8),
        data.textRows(rng, 8),
        rng,
      );
    } finally {
      encoder.dispose();
    }
  }

  it("a few steps on one batch lower the combined loss", async () => {
    const cfg = tinyUmmConfig(encDir);
    const hb = await tinyBatch(cfg, "test/umm/fit");
    const runner = new LocalRunner(
      ummTask(cfg),
      optimConfig({ lr: 3e-3, totalSteps: 12, warmupSteps: 0, clipNorm: 1 }),
      0,
      0,
      1,
    );
    const losses: number[] = [];
    for (let s = 1; s <= 12; s++) losses.push((await runner.step(hb, 3e-3, s)).loss);
    await runner.dispose();
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[11]).toBeLessThan(losses[0] * 0.9);
    expect(losses.slice(1).filter((l, i) => l < losses[i]).length).toBeGreaterThanOrEqual(10);
  });

  it("logs the generation and text parts of the loss, which add up to it and change no update", async () => {
    const cfg = tinyUmmConfig(encDir);
    const hb = await tinyBatch(cfg, "test/umm/parts");
    const optim = optimConfig({ lr: 3e-3, totalSteps: 3, warmupSteps: 0, clipNorm: 1 });
    // Fused (one micro-batch) and accumulated (two of 4 rows) updates, with and without parts.
    for (const micro of [0, 4]) {
      const withParts = new LocalRunner(ummTask(cfg), optim, 0, micro, 1);
      const { lossParts: _, ...plain } = ummTask(cfg);
      const without = new LocalRunner(plain, optim, 0, micro, 1);
      for (let s = 1; s <= 2; s++) {
        const a = await withParts.step(hb, 3e-3, s);
        const b = await without.step(hb, 3e-3, s);
        expect(b.parts).toBeUndefined();
        expect(a.loss).toBe(b.loss);
        expect(a.gradNorm).toBe(b.gradNorm);
        const { gen, text } = a.parts ?? {};
        expect(gen).toBeGreaterThan(0);
        expect(text).toBeGreaterThan(0);
        expect(gen + text * cfg.loss.text).toBeCloseTo(a.loss, 5);
      }
      const [pa, pb] = [await withParts.getState(), await without.getState()];
      for (const [name, t] of pa.params) expect(t.data).toEqual(pb.params.get(name)?.data);
      await withParts.dispose();
      await without.dispose();
    }
  });
});

describe("reca train base (library)", () => {
  it("trains, checkpoints with EMA and a sample sheet, and reloads to identical samples", async () => {
    const cfg = tinyUmmConfig(encDir);
    const out = join(tmp, "base");
    const r = await pretrainUmm(cfg, { outDir: out, quiet: true });
    expect(r.status).toBe("done");
    expect(r.step).toBe(3);
    for (const f of ["model.safetensors", "ema.safetensors", "config.json", "samples.png"])
      expect(existsSync(join(out, f)), f).toBe(true);
    const saved = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(saved.features).toEqual(cfg.features);
    expect(saved.tokenizer.version).toBe(cfg.backbone.vocabVersion);

    const a = loadUmm(out);
    const x = await a.generate(["a red circle", "a blue square"], { seed: 3 });
    const y = await a.generate(["a red circle", "a blue square"], { seed: 4 });
    a.dispose();
    const b = loadUmm(out);
    const z = await b.generate(["a red circle", "a blue square"], { seed: 3 });
    const ans = await b.answer([x[0]], ["what color is the circle?"], { maxTokens: 3 });
    b.dispose();
    expect(x[0].width).toBe(32);
    expect(Array.from(z[0].data)).toEqual(Array.from(x[0].data));
    expect(Array.from(z[1].data)).toEqual(Array.from(x[1].data));
    expect(Array.from(y[0].data)).not.toEqual(Array.from(x[0].data));
    expect(ans).toHaveLength(1);
    expect(() => loadUmm(join(tmp, "missing"))).toThrow(/config.json/);
  });
});
