import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../../src/engine/jax.ts";
import { countParams, type ParamTree, treeDispose } from "../../src/engine/tree.ts";
import { ummConfig } from "../../src/umm/config.ts";
import { migrateUmmConfig, readModelDir, UmmConfigFileSchema } from "../../src/umm/config-file.ts";
import { familyOf, loadUmmParams } from "../../src/umm/model.ts";
import { loadConfig } from "../../src/util/config.ts";

const BASE = "checkpoints/base-flow";
const tmp = mkdtempSync(join(tmpdir(), "reca-config-file-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initEngine();
});

describe("model config.json: one reader, and the migration of the pre-registry layout", () => {
  const raw = JSON.parse(readFileSync(join(BASE, "config.json"), "utf8"));

  it("the shipped base still has the old layout, and migrates value for value", () => {
    expect(raw.family).toBe("flow");
    expect(raw.flow.cfg).toBe(3.5);
    const m = migrateUmmConfig(raw);
    expect(m.flow).toBeUndefined();
    expect(m.family).toBeUndefined();
    const { cfg, ...block } = raw.flow;
    expect(m.generator).toEqual({ family: "flow", ...block, guidance: cfg });
    // Today's layout passes through unchanged.
    expect(migrateUmmConfig(m)).toEqual(m);
    expect(() => migrateUmmConfig({ ...m, flow: {} })).toThrow(/both "generator"/);
  });

  it("readModelDir gives the same model, and its weights load into that model's shapes", () => {
    const { config, tokenizer } = readModelDir(BASE);
    expect(config.generator).toEqual(migrateUmmConfig(raw).generator);
    expect(config.features).toEqual(raw.features);
    expect(tokenizer?.words.length).toBeGreaterThan(100);
    const fam = familyOf(config);
    expect([fam.name, fam.imageSize, fam.sampling.guidance]).toEqual(["flow", 32, 3.5]);
    expect(fam.sampling.options.steps.default).toBe(20);
    const p = loadUmmParams(BASE, config) as unknown as ParamTree;
    expect(countParams(p)).toBeGreaterThan(1_000_000);
    treeDispose(p);
  });

  it("config files in either layout parse to the same config; bad blocks name the field", () => {
    const { features: _f, tokenizer: _t, ...file } = raw;
    const old = join(tmp, "old.json");
    writeFileSync(old, JSON.stringify(file));
    const fresh = join(tmp, "new.json");
    writeFileSync(fresh, JSON.stringify(migrateUmmConfig(file)));
    const a = loadConfig(UmmConfigFileSchema, old);
    expect(loadConfig(UmmConfigFileSchema, fresh)).toEqual(a);
    expect(a.generator.guidance).toBe(3.5);
    writeFileSync(old, JSON.stringify({ ...file, flow: { ...file.flow, sampleStepz: 3 } }));
    expect(() => loadConfig(UmmConfigFileSchema, old)).toThrow(/sampleStepz/);
    expect(() => ummConfig({ generator: { family: "flow", guidance: -1 } })).toThrow(/guidance/);
  });
});
