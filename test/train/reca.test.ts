import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePng } from "../../src/data/png.ts";
import { IMG_ID, Tokenizer } from "../../src/data/tokenizer.ts";
import { initTokenizer } from "../../src/encoders/tokenizer.ts";
import { loadUnderstandingEncoder } from "../../src/encoders/understanding.ts";
import { vaeConfig } from "../../src/encoders/vae.ts";
import { saveCheckpoint } from "../../src/engine/checkpoint.ts";
import { initEngine, type JaxArray, numpy as np } from "../../src/engine/jax.ts";
import { optimConfig } from "../../src/engine/optim.ts";
import { Rng } from "../../src/engine/rng.ts";
import { LocalRunner } from "../../src/engine/runner.ts";
import { namedLeaves, type ParamTree, treeDispose } from "../../src/engine/tree.ts";
import { PretrainData } from "../../src/train/pretrain.ts";
import {
  folderSource,
  PostTrainConfigSchema,
  PostTrainRows,
  postTrain,
  postTrainModelConfig,
  worldPool,
} from "../../src/train/reca.ts";
import { RECON_TEMPLATES, SINGLE_TEMPLATE } from "../../src/train/templates.ts";
import { assembleBatch, featureRows } from "../../src/umm/batch.ts";
import { VaeFeatureSource } from "../../src/umm/features.ts";
import { loadUmm, readUmmConfig } from "../../src/umm/infer.ts";
import { loadUmmParams, ummTask } from "../../src/umm/model.ts";
import { IMAGE, NULL_PROMPT } from "../../src/umm/sequence.ts";
import { renderImage, sampleScene, WorldRng, worldCategories } from "../../src/world/index.ts";
import { batchContext } from "../helpers/batch-context.ts";
import { writeTinyUmm } from "../helpers/tiny-umm.ts";

const tmp = mkdtempSync(join(tmpdir(), "reca-align-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let tiny: { model: string; encoder: string };

/** `n` world renders as ok-<i>.png in a new folder `<tmp>/<name>`. */
function worldPngFolder(name: string, label: string, seed: number, n: number): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const rng = WorldRng.fromParts(label, seed);
  for (let i = 0; i < n; i++) {
    const scene = sampleScene(rng, { categories: worldCategories(6), colorPrior: "uniform" });
    writeFileSync(join(dir, `ok-${i}.png`), encodePng(renderImage(scene, { size: 32 })));
  }
  return dir;
}

beforeAll(async () => {
  await initEngine();
  tiny = await writeTinyUmm(join(tmp, "tiny"));
});

const pt = (over: Record<string, unknown> = {}) => PostTrainConfigSchema.parse(over);

async function reconBatch(over: Record<string, unknown>, n: number, seed: string) {
  const p = pt(over);
  const cfg = postTrainModelConfig(readUmmConfig(tiny.model), p);
  const rows = new PostTrainRows(p, worldPool(cfg.data.numCategories));
  const rng = new Rng(seed);
  const gen = rows.genRows(rng, n);
  const encoder = loadUnderstandingEncoder(tiny.encoder);
  const tok = Tokenizer.world(cfg.backbone.vocabVersion);
  const hb = await assembleBatch(batchContext(cfg, tok, encoder), gen, null, rng);
  const blank = gen[0].target;
  const direct = await featureRows(
    encoder,
    gen.map((r) => r.target),
    cfg.features.resolution,
    blank,
  );
  encoder.dispose();
  return { cfg, gen, hb, direct, tok };
}

describe("RecA rows", () => {
  it("a reconstruction row holds a template, the image's own features in its slots, the image as target", async () => {
    const { cfg, gen, hb, direct, tok } = await reconBatch({ textDropout: 0 }, 8, "t/recon");
    const R = cfg.features.tokens;
    const F = cfg.features.dim;
    const L = cfg.sequence.conditionLen;
    const templateTexts = new Set(
      RECON_TEMPLATES.map((t) =>
        tok.decode(tok.encode(t.parts.filter((x) => x !== IMAGE).join(" "))),
      ),
    );
    gen.forEach((r, b) => {
      expect(r.features).toBe(r.target); // reconstruct the very image whose features condition
      expect(r.source).toBeUndefined();
      const ids = Array.from(hb.g_tokens.data.slice(b * L, (b + 1) * L));
      expect(ids.filter((id) => id === IMG_ID)).toHaveLength(R);
      expect(templateTexts.has(tok.decode(ids))).toBe(true);
      // Slot k of the row reads feature row k, which is the encoder's feature of the target.
      const feats = hb.g_feats.data.slice(b * R * F, (b + 1) * R * F);
      expect(Array.from(feats)).toEqual(Array.from(direct.data.slice(b * R * F, (b + 1) * R * F)));
      const img = hb.f_target.data.slice(b * 32 * 32 * 3, (b + 1) * 32 * 32 * 3);
      expect(img[100]).toBeCloseTo(r.target.data[100] * 2 - 1, 6);
      expect(hb.f_has_source.data[b]).toBe(0);
    });
    // Templates are drawn per sample: 8 rows use several different ones.
    const texts = new Set(gen.map((r) => JSON.stringify(r.parts)));
    expect(texts.size).toBeGreaterThan(3);
  });

  it("text dropout swaps the template for the null prompt and keeps the visual features", async () => {
    const { cfg, gen, hb } = await reconBatch({ textDropout: 1 }, 6, "t/drop");
    const R = cfg.features.tokens;
    const F = cfg.features.dim;
    gen.forEach((r, b) => {
      expect(r.parts).toEqual([IMAGE, NULL_PROMPT]);
      expect(r.features).toBe(r.target);
      const feats = hb.g_feats.data.slice(b * R * F, (b + 1) * R * F);
      expect(feats.some((v) => v !== 0)).toBe(true);
    });
  });

  it("the single-template ablation uses one template; SFT rows use the sparse caption, no features", async () => {
    const single = await reconBatch({ templates: "single", textDropout: 0 }, 6, "t/single");
    for (const r of single.gen) expect(r.parts).toEqual(SINGLE_TEMPLATE.parts);
    const sft = await reconBatch({ mix: { recon: 0, t2i: 1 } }, 6, "t/sft");
    for (const r of sft.gen) {
      expect(r.features).toBeUndefined();
      expect(r.parts).toHaveLength(1);
      expect(typeof r.parts[0]).toBe("string");
    }
  });
  it("the oracle control's SFT rows (sftCaptions complete) name every object's category and colour", () => {
    const pool = worldPool(6);
    const sparse = { colours: 0, objects: 0 };
    for (let j = 0; j < 12; j++) {
      const one = { length: 1, name: "one", get: () => pool.get(j) };
      const { scene } = pool.get(j);
      const complete = new PostTrainRows(
        pt({ mix: { recon: 0, t2i: 1 }, sftCaptions: "complete" }),
        one,
      ).genRows(new Rng(`t/complete${j}`), 2);
      const biased = new PostTrainRows(pt({ mix: { recon: 0, t2i: 1 } }), one).genRows(
        new Rng(`t/complete${j}`),
        2,
      );
      for (const o of scene!.objects) {
        for (const r of complete) {
          expect(r.features).toBeUndefined();
          expect(r.parts[0]).toContain(o.category);
          expect(r.parts[0]).toContain(o.color);
        }
        sparse.objects += 1;
        if ((biased[0].parts[0] as string).includes(o.color)) sparse.colours += 1;
      }
    }
    // The default SFT captions stay sparse: most colours go unnamed.
    expect(sparse.colours).toBeLessThan(sparse.objects / 2);
  });
});

describe("RecA training", () => {
  it("scales the gradient into the visual-feature path by featureGradScale, and only that path", async () => {
    const { hb } = await reconBatch({ textDropout: 0 }, 4, "t/grad");
    // The U-Net's output conv starts at zero, which blocks every upstream gradient: give it
    // random weights in a copy of the tiny model so gradients reach the features.
    const from = join(tmp, "tiny-live");
    {
      const base = readUmmConfig(tiny.model);
      const params = loadUmmParams(tiny.model, base);
      const fam = params.family as { out: { w: JaxArray } };
      const shape = fam.out.w.shape;
      fam.out.w.dispose();
      fam.out.w = np
        .array(
          Float32Array.from(
            { length: shape[0] * shape[1] },
            (_, i) => Math.sin(i * 12.9898) * 0.05,
          ),
        )
        .reshape(shape);
      const raw = JSON.parse(readFileSync(join(tiny.model, "config.json"), "utf8"));
      await saveCheckpoint(from, { params: params as unknown as ParamTree, config: raw });
      treeDispose(params as unknown as ParamTree);
    }
    const grads = async (scale: number) => {
      const base = readUmmConfig(tiny.model);
      const cfg = postTrainModelConfig(base, pt({ loss: { featureGradScale: scale, text: 0 } }));
      const runner = new LocalRunner(
        ummTask({ ...cfg, initFrom: from }),
        optimConfig({ lr: 1e-3, totalSteps: 1 }),
        0,
        0,
        1,
      );
      const g = await runner.gradsOf(hb);
      const out = new Map<string, Float32Array>();
      for (const [name, a] of namedLeaves(g.grads))
        out.set(name, (await (a as JaxArray).data()) as Float32Array);
      g.lossSum.dispose();
      await runner.dispose();
      return out;
    };
    const g1 = await grads(1);
    const g01 = await grads(0.1);
    const norm = (x: Float32Array) => Math.sqrt(x.reduce((a, v) => a + v * v, 0));
    const proj = "backbone.projector.fc1.w";
    expect(norm(g1.get(proj)!)).toBeGreaterThan(0);
    expect(norm(g01.get(proj)!) / norm(g1.get(proj)!)).toBeCloseTo(0.1, 3);
    // Everything downstream of the features (U-Net, blocks) gets the same gradient.
    for (const name of ["backbone.blocks.0.attn.q.w", "family.stem.w"]) {
      const a = g1.get(name);
      expect(a, name).toBeDefined();
      expect(Array.from(g01.get(name)!)).toEqual(Array.from(a!));
    }
  });

  it("an align run lowers the reconstruction loss, leaves the frozen encoder bit-identical, starts from the base", async () => {
    const hash = (dir: string) =>
      readdirSync(dir)
        .sort()
        .map((f) =>
          createHash("sha256")
            .update(readFileSync(join(dir, f)))
            .digest("hex"),
        )
        .join();
    const before = hash(tiny.encoder);
    const out = join(tmp, "aligned");
    const p = pt({
      textDropout: 0,
      loss: { text: 0 },
      train: { steps: 12, batch: 4, lr: 3e-3, warmupSteps: 0, checkpointEvery: 12 },
    });
    // A fixed pool of 4 images so the reconstruction loss can fall within a few steps.
    const pool = worldPool(6);
    const images = { ...pool, length: 4 };
    const r = await postTrain(p, {
      from: tiny.model,
      outDir: out,
      images,
      quiet: true,
      parallelism: "kernel",
    });
    expect(r.status).toBe("done");
    expect(hash(tiny.encoder)).toBe(before);
    const losses = readFileSync(join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).loss as number);
    const head = (losses[0] + losses[1] + losses[2]) / 3;
    const tail = (losses[9] + losses[10] + losses[11]) / 3;
    expect(tail).toBeLessThan(head);
    const saved = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(saved.postTrain.from).toBe(tiny.model);
    expect(saved.loss.featureGradScale).toBe(0.1);
    // The aligned model loads like any other (nothing changes at inference).
    expect(readUmmConfig(out).features).toEqual(readUmmConfig(tiny.model).features);
  });

  it("aligns on an image folder with broken files and reports them", async () => {
    const dir = worldPngFolder("folder", "t/folder", 1, 3);
    writeFileSync(join(dir, "broken.png"), Buffer.from("not a png at all"));
    writeFileSync(join(dir, "notes.txt"), "hello");
    const src = await folderSource(dir, 32);
    expect(src.length).toBe(3);
    expect(src.skipped.map((s) => s.path.split("/").pop()).sort()).toEqual([
      "broken.png",
      "notes.txt",
    ]);
    expect(src.report).toMatch(/broken\.png/);
    const r = await postTrain(
      pt({ loss: { text: 0 }, train: { steps: 2, batch: 2, warmupSteps: 0, checkpointEvery: 2 } }),
      {
        from: tiny.model,
        outDir: join(tmp, "folder-run"),
        images: src,
        quiet: true,
        parallelism: "kernel",
      },
    );
    expect(r.status).toBe("done");
    // SFT rows need captions, which a folder does not have: a clear error.
    const sft = pt({ mix: { recon: 0, t2i: 1 }, loss: { text: 0 }, train: { steps: 1, batch: 2 } });
    await expect(
      postTrain(sft, {
        from: tiny.model,
        outDir: join(tmp, "sft-folder"),
        images: src,
        quiet: true,
        parallelism: "kernel",
      }),
    ).rejects.toThrow(/captions/);
  });

  it("reca align runs from the command line on a folder and lists the skipped files", () => {
    const dir = worldPngFolder("cli-folder", "t/cli", 2, 2);
    writeFileSync(
      join(dir, "truncated.png"),
      encodePng(
        renderImage(
          sampleScene(WorldRng.fromParts("t/cli-truncated", 0), {
            categories: worldCategories(6),
            colorPrior: "uniform",
          }),
          { size: 32 },
        ),
      ).subarray(0, 60),
    );
    const cfg = join(tmp, "cli-reca.json");
    writeFileSync(
      cfg,
      JSON.stringify({ loss: { text: 0 }, train: { steps: 1, batch: 2, warmupSteps: 0 } }),
    );
    const json = join(tmp, "cli-align.json");
    const bin = join(import.meta.dirname, "../../bin/reca.mjs");
    const args = ["align", "--from", tiny.model, "--out", join(tmp, "cli-out"), "--images", dir];
    const p = spawnSync(
      process.execPath,
      [bin, ...args, "--config", cfg, "--parallel", "kernel", "--json", json],
      { encoding: "utf8", timeout: 120_000 },
    );
    expect(p.status, p.stderr).toBe(0);
    expect(p.stderr).toMatch(/truncated\.png/);
    const out = JSON.parse(readFileSync(json, "utf8"));
    expect(out.skipped.map((x: { path: string }) => x.path.split("/").pop())).toEqual([
      "truncated.png",
    ]);
    expect(out.step).toBe(1);
    // Bad input is a clear error, not a stack trace.
    const bad = spawnSync(process.execPath, [bin, ...args, "--pool", "world"], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/not both/);
  });

  it("condition ablation: reconstruction conditions from VAE latents through a fresh projector", async () => {
    const vaeDir = join(tmp, "vae");
    const vcfg = vaeConfig({
      model: {
        channels: [8, 8],
        encoderBlocks: [1, 1],
        groups: 4,
        headChannels: 4,
        latentChannels: 3,
      },
    });
    const vp = initTokenizer(vcfg);
    await saveCheckpoint(vaeDir, {
      params: vp,
      config: { ...vcfg, latent: { shift: 0, scale: 1 } },
    });
    treeDispose(vp);
    const p = pt({
      conditionEncoder: { kind: "vae", dir: vaeDir, resolution: 4 },
      loss: { text: 0.5 },
      train: { steps: 2, batch: 2, warmupSteps: 0, checkpointEvery: 2 },
    });
    const base = readUmmConfig(tiny.model);
    const cfg = postTrainModelConfig(base, p);
    expect(cfg.conditionFeatures).toEqual({
      source: "vae",
      dir: vaeDir,
      resolution: 4,
      tokens: 16,
      dim: 3,
    });
    // The native 8×8 grid needs 96 positions; the tiny base has 64: a clear error.
    expect(() =>
      postTrainModelConfig(base, pt({ conditionEncoder: { kind: "vae", dir: vaeDir } })),
    ).toThrow(/positions/);
    // Batches: generation rows carry 64 VAE tokens of 3 channels; text rows keep the ViT's.
    const rows = new PostTrainRows(p, worldPool(6));
    const rng = new Rng("t/vae");
    const encoder = loadUnderstandingEncoder(tiny.encoder);
    const source = VaeFeatureSource.load(vaeDir);
    const text = new PretrainData(cfg);
    const hb = await assembleBatch(
      { ...batchContext(cfg, Tokenizer.world(), encoder), conditionSource: source },
      rows.genRows(rng, 2),
      text.textRows(rng, 2),
      rng,
    );
    encoder.dispose();
    source.dispose();
    expect(hb.g_feats.shape).toEqual([2, 16, 3]);
    expect(hb.x_feats.shape).toEqual([2, cfg.features.tokens, cfg.features.dim]);
    const out = join(tmp, "vae-aligned");
    const r = await postTrain(p, {
      from: tiny.model,
      outDir: out,
      images: worldPool(6),
      quiet: true,
      parallelism: "kernel",
    });
    expect(r.status).toBe("done");
    const saved = readUmmConfig(out);
    expect(saved.conditionFeatures?.dim).toBe(3);
    // The aligned model loads (its params include the condition projector) and still generates.
    const m = loadUmm(out);
    expect(m.params.backbone.conditionProjector).toBeDefined();
    const imgs = await m.generate(["a red circle"], { seed: 1 });
    m.dispose();
    expect(imgs[0].width).toBe(32);
  });
});
