import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const bin = join(root, "bin/reca.mjs");
const reca = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 120_000, cwd: root });
const judgeReady = existsSync(join(root, "checkpoints/judge/model.safetensors"));

describe("reca train vq + reca tokenizer eval", () => {
  it.skipIf(!judgeReady)("train a tiny VQ, then evaluate it end to end", () => {
    const dir = mkdtempSync(join(tmpdir(), "reca-tok-"));
    const config = join(dir, "vq.json");
    writeFileSync(
      config,
      JSON.stringify({
        kind: "vq",
        model: { channels: [8, 8], groups: 4, headChannels: 4, codebookSize: 16, codeDim: 4 },
        train: { steps: 2, batch: 4, checkpointEvery: 2, sheetImages: 4 },
      }),
    );
    const out = join(dir, "vq");
    const t = reca("train", "vq", "--config", config, "--out", out, "--parallel", "kernel");
    expect(t.stderr + t.stdout).toMatch(/trained vq 2 steps/);
    expect(t.status).toBe(0);
    for (const f of ["model.safetensors", "config.json", "recon.png", "evals.jsonl"])
      expect(existsSync(join(out, f))).toBe(true);

    const json = join(dir, "eval.json");
    const e = reca(
      "tokenizer",
      "eval",
      "--model",
      out,
      "--n",
      "4",
      "--items",
      "2",
      "--per-item",
      "1",
      "--json",
      json,
    );
    expect(e.status).toBe(0);
    expect(e.stdout).toMatch(/held-out PSNR .* ratio .* codebook \d+\/16 used/);
    const r = JSON.parse(readFileSync(json, "utf8"));
    expect(r.kind).toBe("vq");
    expect(r.psnr.images).toBe(4);
    expect(r.geneval.images).toBe(2);
    expect(r.geneval.original).toBeGreaterThan(0);
    expect(r.geneval.ratio).toBeGreaterThanOrEqual(0);
    expect(r.codebook.size).toBe(16);
  });

  it("a missing model is a one-line user error", () => {
    const r = reca("tokenizer", "eval", "--model", join(tmpdir(), "no-such-tokenizer"));
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
