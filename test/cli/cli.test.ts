import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { saveCheckpoint } from "../../src/engine/checkpoint.ts";
import { initEngine, numpy as np } from "../../src/engine/jax.ts";
import { loadConfig, loadTrainConfig } from "../../src/util/config.ts";

const bin = join(import.meta.dirname, "../../bin/reca.mjs");
const reca = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 60_000 });
const tmp = () => mkdtempSync(join(tmpdir(), "reca-cli-"));

describe("reca CLI", () => {
  beforeAll(async () => {
    await initEngine();
  });

  it("--help lists the commands", () => {
    const r = reca("--help");
    expect(r.status).toBe(0);
    for (const c of ["info", "checkpoint"]) expect(r.stdout).toMatch(new RegExp(`\\n\\s+${c}\\b`));
  });

  it("an unknown command fails with help", () => {
    const r = reca("frobnicate");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command/);
  });

  it("checkpoint inspect reads a checkpoint and writes --json", async () => {
    const dir = join(tmp(), "ck");
    const params = { layer: { w: np.ones([3, 4]), b: np.zeros([4]) } };
    await saveCheckpoint(dir, { params, config: { kind: "test" }, trainer: { step: 7 } });
    const json = join(tmp(), "out.json");
    const r = reca("checkpoint", "inspect", dir, "--json", json);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/parameters\s+16 in 2 tensors/);
    const info = JSON.parse(readFileSync(json, "utf8"));
    expect(info.trainer).toEqual({ step: 7 });
    expect(info.config).toEqual({ kind: "test" });
  });

  it("a missing or corrupt checkpoint is a one-line error with exit code 2", () => {
    const dir = tmp();
    writeFileSync(join(dir, "model.safetensors"), Buffer.from([1, 2, 3]));
    writeFileSync(join(dir, "config.json"), "{}");
    for (const target of [join(dir, "nope"), dir]) {
      const r = reca("checkpoint", "inspect", target);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^reca: /);
    }
  });

  it("experiment status: a missing folder or unknown row is a one-line error; an empty one is all pending", () => {
    const missing = reca("experiment", "status", "--out", join(tmp(), "none"));
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^reca: .*none: no such experiment folder$/);
    const out = tmp();
    const bad = reca("experiment", "status", "--out", out, "--rows", "reca,nope");
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/nope/);
    const json = join(tmp(), "status.json");
    const r = reca("experiment", "status", "--out", out, "--seeds", "4", "--json", json);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\| reca \| 4 \| pending \| not started \(reca 0\/200\) \|/);
    expect(r.stdout.trim().split("\n").at(-1)).toBe("0 of 8 jobs done; 8 pending");
    const { jobs } = JSON.parse(readFileSync(json, "utf8"));
    expect(jobs).toHaveLength(8);
    expect(jobs.every((j: { state: string }) => j.state === "pending")).toBe(true);
  });

  it("config validation names the bad field", () => {
    const schema = z
      .object({ train: z.object({ lr: z.number().positive(), steps: z.number().int() }) })
      .strict();
    const dir = tmp();
    const path = join(dir, "c.json");
    writeFileSync(path, JSON.stringify({ train: { lr: "fast", steps: 10 } }));
    expect(() => loadConfig(schema, path)).toThrow(/c\.json: train\.lr: .*number/);
    writeFileSync(path, JSON.stringify({ train: { lr: 1, steps: 10 }, extra: 1 }));
    expect(() => loadConfig(schema, path)).toThrow(/extra/);
    writeFileSync(path, "{ not json");
    expect(() => loadConfig(schema, path)).toThrow(/not valid JSON/);
    expect(() => loadConfig(schema, join(dir, "missing.json"))).toThrow(/not found/);
  });

  it("training configs: --config, else the default file, else defaults; then --steps/--seed", () => {
    const schema = z
      .object({
        train: z
          .object({ steps: z.number().int().default(5), seed: z.number().int().default(0) })
          .prefault({}),
      })
      .strict();
    const dir = tmp();
    const file = join(dir, "c.json");
    const fallback = join(dir, "default.json");
    writeFileSync(file, JSON.stringify({ train: { steps: 10, seed: 3 } }));
    writeFileSync(fallback, JSON.stringify({ train: { steps: 20 } }));
    expect(loadTrainConfig(schema, { config: file }, fallback)).toEqual({
      config: { train: { steps: 10, seed: 3 } },
      path: file,
    });
    expect(loadTrainConfig(schema, { steps: 7, seed: 1 }, fallback)).toEqual({
      config: { train: { steps: 7, seed: 1 } },
      path: fallback,
    });
    expect(loadTrainConfig(schema, {}, join(dir, "none.json"))).toEqual({
      config: { train: { steps: 5, seed: 0 } },
      path: undefined,
    });
    expect(() => loadTrainConfig(schema, { config: join(dir, "x.json") }, fallback)).toThrow(
      /not found/,
    );
  });
});
