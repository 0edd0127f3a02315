import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOS_ID, EOS_ID, IMG_ID, SEP_ID, Tokenizer } from "../../src/data/tokenizer.ts";
import { loadCheckpoint } from "../../src/engine/checkpoint.ts";
import { initEngine } from "../../src/engine/jax.ts";
import { optimConfig } from "../../src/engine/optim.ts";
import { Rng } from "../../src/engine/rng.ts";
import { LocalRunner } from "../../src/engine/runner.ts";
import { namedLeaves, type ParamTree, treeDispose } from "../../src/engine/tree.ts";
import {
  heldoutLmRows,
  LM_KINDS,
  type LmConfig,
  LmConfigSchema,
  LmRows,
  lmBatch,
  lmHeldout,
  lmModelConfig,
  trainLm,
} from "../../src/train/lm.ts";
import { lmQaRow, lmTextRow } from "../../src/train/objectives.ts";
import { readModelDir } from "../../src/umm/config-file.ts";
import { initUmm, ummTask } from "../../src/umm/model.ts";
import { IMAGE, lmSequences } from "../../src/umm/sequence.ts";
import { writeTinyUmm } from "../helpers/tiny-umm.ts";

const tmp = mkdtempSync(join(tmpdir(), "reca-lm-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let encoder: string;
const tok = Tokenizer.world();

beforeAll(async () => {
  await initEngine();
  encoder = (await writeTinyUmm(join(tmp, "tiny"))).encoder;
});

/** A tiny LM config (one block of width 16) reading the tiny encoder. */
function tinyLm(train: Record<string, unknown> = {}, data: Record<string, unknown> = {}): LmConfig {
  return LmConfigSchema.parse({
    model: {
      encoder,
      backbone: { dim: 16, depth: 1, heads: 2, mlpRatio: 1, maxLen: 128 },
      generator: { family: "flow", channels: [8, 16], embDim: 16, heads: 2, groups: 4 },
      sequence: { conditionLen: 64, textLen: 32 },
    },
    data: { seqLen: 48, ...data },
    train: { steps: 6, batch: 4, warmupSteps: 0, checkpointEvery: 3, ...train },
  });
}

describe("language-model rows", () => {
  it("cover every token after each <bos>, never ask for the next <bos>, and have no image slot", () => {
    const a = lmTextRow("a red circle");
    const b = lmQaRow("a blue square", "what color is the square?", "blue");
    const x = lmSequences(tok, [[a.parts], [a.parts, b.parts]], 32);
    const L = 32;
    const tokens = x.tokens.data as Int32Array;
    const targets = x.targets.data as Int32Array;
    const mask = x.mask.data as Float32Array;
    const idsA = [BOS_ID, ...tok.encode("a red circle"), EOS_ID];
    // One document: positions 0 … n−2 predict ids[1 …] — every token after <bos>, <eos> included.
    expect(Array.from(tokens.slice(0, idsA.length))).toEqual(idsA);
    expect(Array.from(mask.slice(0, L)).reduce((s, v) => s + v, 0)).toBe(idsA.length - 1);
    expect(Array.from(targets.slice(0, idsA.length - 1))).toEqual(idsA.slice(1));
    // Two packed documents: the <eos> of the first predicts nothing; the second's tokens after
    // its <bos> (<sep> and the answer too) are all targets.
    const row = Array.from(tokens.slice(L, 2 * L));
    const second = row.indexOf(BOS_ID, 1);
    expect(second).toBe(idsA.length);
    expect(mask[L + second - 1]).toBe(0);
    const idsB = [BOS_ID, ...tok.encode("a blue square what color is the square?"), SEP_ID];
    idsB.push(...tok.encode("blue"), EOS_ID);
    expect(row.slice(second, second + idsB.length)).toEqual(idsB);
    const m2 = Array.from(mask.slice(L, 2 * L));
    expect(m2.reduce((s, v) => s + v, 0)).toBe(idsA.length - 1 + idsB.length - 1);
    expect(Array.from(targets.slice(L, 2 * L)).filter((t, l) => m2[l] && t === BOS_ID)).toEqual([]);
    expect(Array.from(tokens)).not.toContain(IMG_ID);
    expect(() => lmSequences(tok, [[[IMAGE, "a red circle"]]], 32)).toThrow(/image slot/);
  });

  it("draws every kind of text as a pure function of the Rng, packed, without image slots", () => {
    const lc = tinyLm();
    const cfg = lmModelConfig(lc);
    const rows = new LmRows(cfg, lc.data);
    const seen = new Set<string>();
    const r = new Rng("t/lm-kinds");
    for (let i = 0; i < 200; i++) {
      const { kind, row } = rows.draw(r);
      seen.add(kind);
      expect(row.parts).not.toContain(IMAGE);
    }
    expect([...seen].sort()).toEqual([...LM_KINDS].sort());
    const a = rows.step(new Rng("t/lm-step"), tok, 4, 48, true);
    const b = rows.step(new Rng("t/lm-step"), tok, 4, 48, true);
    expect(a).toEqual(b);
    expect(a).toHaveLength(4);
    // Packing puts more than one document in most rows of 48 tokens.
    expect(a.flat().length).toBeGreaterThan(4);
    const hb = lmBatch(tok, a, 48);
    expect(Object.keys(hb).sort()).toEqual(["x_mask", "x_targets", "x_tokens", "x_valid"]);
    // The held-out rows are fixed and differ between kinds.
    expect(heldoutLmRows("qa", 3, 6)).toEqual(heldoutLmRows("qa", 3, 6));
    expect(heldoutLmRows("edit", 3, 6)).toHaveLength(3);
  });

  it("rejects bad configs with a message that names the problem", () => {
    const bad = (over: Record<string, unknown>) => () => LmConfigSchema.parse(over);
    expect(bad({ data: { seqLen: 500 } })).toThrow(/maxLen/);
    expect(bad({ data: { seqLen: 112 }, model: { backbone: { maxLen: 64 } } })).toThrow(/maxLen/);
    expect(
      bad({
        data: {
          mix: {
            sparse: 0,
            dense: 0,
            complete: 0,
            null: 0,
            qa: 0,
            describe: 0,
            edit: 0,
            template: 0,
          },
        },
      }),
    ).toThrow(/mix must sum/);
    expect(bad({ data: { mix: { poetry: 1 } } })).toThrow(/poetry/);
    // The stage sets freeze, loss and train itself: a model block carrying them is an error.
    expect(bad({ model: { freeze: ["backbone"] } })).toThrow(/freeze/);
  });
});

describe("language-model training", () => {
  it("the LM loss falls on one batch", async () => {
    const lc = tinyLm();
    const cfg = lmModelConfig(lc);
    const rows = new LmRows(cfg, lc.data).step(new Rng("t/lm-one"), tok, 4, 48, true);
    const hb = lmBatch(tok, rows, 48);
    const optim = optimConfig({ lr: 1e-2, totalSteps: 40, warmupSteps: 0 });
    const runner = new LocalRunner(ummTask(cfg), optim, 0, 0, 1);
    const losses: number[] = [];
    for (let s = 1; s <= 40; s++) losses.push((await runner.step(hb, 1e-2, s)).loss);
    await runner.dispose();
    expect(losses[39]).toBeLessThan(0.7 * losses[0]);
  });

  it("trains a unified-model checkpoint: generator and projector stay at init, stages say so, resume is bit-identical", async () => {
    const lc = tinyLm();
    const full = join(tmp, "lm-full");
    const r = await trainLm(lc, { outDir: full, quiet: true, parallelism: "kernel" });
    expect(r.status).toBe("done");
    // Stopped after its first step (a deadline already past), then resumed to the end.
    const split = join(tmp, "lm-split");
    const a = await trainLm(lc, {
      outDir: split,
      quiet: true,
      parallelism: "kernel",
      deadline: Date.now(),
    });
    expect(a.status).toBe("deadline");
    expect(a.step).toBeLessThan(6);
    const b = await trainLm(lc, {
      outDir: split,
      quiet: true,
      parallelism: "kernel",
      resume: true,
    });
    expect(b.step).toBe(6);
    const hash = (dir: string, f: string) =>
      createHash("sha256")
        .update(readFileSync(join(dir, f)))
        .digest("hex");
    for (const f of ["model.safetensors", "optimizer.safetensors", "ema.safetensors"])
      expect(hash(split, f), f).toBe(hash(full, f));

    const md = readModelDir(full);
    expect(md.stages?.[0]).toMatchObject({
      stage: "lm",
      trained: ["backbone.embed", "backbone.pos", "backbone.blocks", "backbone.norm"],
      frozen: ["backbone.projector", "family"],
      steps: 6,
    });
    const init = initUmm(lc.train.seed, md.config) as unknown as ParamTree;
    const ck = loadCheckpoint(full, { skipOptimizer: true });
    const want = new Map(namedLeaves(init));
    let changed = 0;
    for (const tree of [ck.params, ck.ema as ParamTree])
      for (const [name, v] of namedLeaves(tree)) {
        const a0 = Array.from(await want.get(name)!.ref.data());
        const a1 = Array.from(await v.ref.data());
        if (name.startsWith("family.") || name.startsWith("backbone.projector."))
          expect(a1, name).toEqual(a0);
        else if (a1.some((x, i) => x !== a0[i])) changed++;
      }
    expect(changed).toBeGreaterThan(0);
    treeDispose(init);
    treeDispose(ck.params);
    if (ck.ema) treeDispose(ck.ema);

    // A continuation starts from the trained LM and appends its stage.
    const cont = join(tmp, "lm-cont");
    const c = await trainLm(tinyLm({ steps: 2 }), {
      outDir: cont,
      quiet: true,
      parallelism: "kernel",
      from: full,
    });
    expect(c.status).toBe("done");
    expect(readModelDir(cont).stages?.map((x) => [x.stage, x.from])).toEqual([
      ["lm", undefined],
      ["lm", full],
    ]);

    const ppl = await lmHeldout(full, { rows: 4, batch: 4, seqLen: 112 });
    expect(Object.keys(ppl.kinds).sort()).toEqual([...LM_KINDS].sort());
    for (const v of Object.values(ppl.kinds)) expect(Number.isFinite(v.perplexity)).toBe(true);
    expect(ppl.kinds.qa?.continuation?.tokens).toBe(8); // the answer word and <eos>, per row
  }, 120_000);
});
