import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCheckpoint } from "../../src/engine/checkpoint.ts";
import { initEngine } from "../../src/engine/jax.ts";
import { namedLeaves, type ParamTree, treeDispose } from "../../src/engine/tree.ts";
import { trainVlm, VlmConfigSchema, vlmModelConfig } from "../../src/train/vlm.ts";
import { readModelDir, readUmmConfig } from "../../src/umm/config-file.ts";
import { writeTinyUmm } from "../helpers/tiny-umm.ts";

const tmp = mkdtempSync(join(tmpdir(), "reca-vlm-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let lm: string;

beforeAll(async () => {
  await initEngine();
  // A random-init unified model stands in for a trained language model.
  lm = (await writeTinyUmm(join(tmp, "tiny"))).model;
});

const vc = (over: Record<string, unknown> = {}, train: Record<string, unknown> = {}) =>
  VlmConfigSchema.parse({
    ...over,
    train: { steps: 4, batch: 4, lr: 1e-2, warmupSteps: 0, checkpointEvery: 2, ...train },
  });

/** Every parameter (and EMA copy) of a checkpoint, by name, as plain arrays. */
async function leaves(dir: string): Promise<Map<string, number[]>> {
  const ck = loadCheckpoint(dir, { skipOptimizer: true });
  const out = new Map<string, number[]>();
  const trees: [string, ParamTree | undefined][] = [
    ["", ck.params],
    ["ema:", ck.ema],
  ];
  for (const [tag, t] of trees) {
    if (!t) continue;
    for (const [name, v] of namedLeaves(t)) out.set(tag + name, Array.from(await v.ref.data()));
    treeDispose(t);
  }
  return out;
}

const LM_PREFIXES = ["backbone.embed.", "backbone.pos.", "backbone.blocks.", "backbone.norm."];
const bare = (name: string) => name.replace(/^ema:/, "");

describe("VLM alignment", () => {
  it("aligns the projector with the language model and the generator bit-identical; unfrozen instruction tuning moves only the backbone", async () => {
    const before = await leaves(lm);
    const aligned = join(tmp, "align");
    const r = await trainVlm(vc(), {
      from: lm,
      outDir: aligned,
      quiet: true,
      parallelism: "kernel",
    });
    expect(r.status).toBe("done");
    const after = await leaves(aligned);
    let projectorMoved = false;
    for (const [name, v] of after) {
      const was = before.get(bare(name));
      expect(was, name).toBeDefined();
      const n = bare(name);
      if (n.startsWith("family.") || LM_PREFIXES.some((p) => n.startsWith(p)))
        expect(v, name).toEqual(was);
      else if (n.startsWith("backbone.projector.") && v.some((x, i) => x !== was![i]))
        projectorMoved = true;
    }
    expect(projectorMoved).toBe(true);
    const md = readModelDir(aligned);
    expect(md.stages?.at(-1)).toMatchObject({
      stage: "vlm-align",
      trained: ["backbone.projector"],
      frozen: ["backbone.embed", "backbone.pos", "backbone.blocks", "backbone.norm", "family"],
      from: lm,
    });

    const unfrozen = join(tmp, "instruct");
    const u = await trainVlm(
      vc({ stage: "vlm-instruct", freeze: [], data: { denseFraction: 0.5 } }),
      {
        from: aligned,
        outDir: unfrozen,
        quiet: true,
        parallelism: "kernel",
      },
    );
    expect(u.status).toBe("done");
    const tuned = await leaves(unfrozen);
    const start = await leaves(aligned);
    let blocksMoved = false;
    for (const [name, v] of tuned) {
      // Post-training starts from the EMA weights of the start checkpoint.
      const was = start.get(`ema:${bare(name)}`) ?? start.get(bare(name));
      if (bare(name).startsWith("family.")) expect(v, name).toEqual(was);
      else if (bare(name).startsWith("backbone.blocks.") && v.some((x, i) => x !== was![i]))
        blocksMoved = true;
    }
    expect(blocksMoved).toBe(true);
    expect(readModelDir(unfrozen).stages?.map((s) => s.stage)).toEqual([
      "vlm-align",
      "vlm-instruct",
    ]);
  }, 120_000);

  it("resumes bit-identically", async () => {
    const full = join(tmp, "full");
    await trainVlm(vc(), { from: lm, outDir: full, quiet: true, parallelism: "kernel" });
    const split = join(tmp, "split");
    const o = { from: lm, outDir: split, quiet: true, parallelism: "kernel" as const };
    const a = await trainVlm(vc(), { ...o, deadline: Date.now() });
    expect(a.status).toBe("deadline");
    expect((await trainVlm(vc(), { ...o, resume: true })).step).toBe(4);
    const hash = (dir: string, f: string) =>
      createHash("sha256")
        .update(readFileSync(join(dir, f)))
        .digest("hex");
    for (const f of ["model.safetensors", "optimizer.safetensors", "ema.safetensors"])
      expect(hash(split, f), f).toBe(hash(full, f));
  }, 120_000);

  it("rejects bad configs with a message that names the problem", async () => {
    const o = { from: lm, outDir: join(tmp, "bad"), quiet: true, parallelism: "kernel" as const };
    await expect(trainVlm(vc({ freeze: ["backbone.projektor"] }), o)).rejects.toThrow(
      /"backbone.projektor" names no parameter/,
    );
    await expect(trainVlm(vc({ freeze: ["backbone"] }), o)).rejects.toThrow(/nothing to train/);
    expect(() => vc({ data: { denseFraction: 2 } })).toThrow(/denseFraction/);
    expect(() => vc({ lr: 1 })).toThrow(/lr/);
    expect(() => vlmModelConfig(readUmmConfig(lm), vc({ data: { textLen: 999 } }))).toThrow(
      /maxLen/,
    );
  });
});
