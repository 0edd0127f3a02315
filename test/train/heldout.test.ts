import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unlabeledPool } from "../../src/data/corpora.ts";
import {
  COMPLETE_CAPTION,
  centredUnit,
  conditionAlignment,
  HELDOUT_KINDS,
  HELDOUT_SEED,
  heldoutLosses,
  heldoutRows,
  pairedDifference,
  promptGain,
  retrievalTally,
  type Tally,
} from "../../src/train/heldout.ts";
import { RECON_TEMPLATES } from "../../src/train/templates.ts";
import { IMAGE, NULL_PROMPT } from "../../src/umm/sequence.ts";
import {
  numberWord,
  sampleScene,
  sparseCaption,
  WorldRng,
  worldCategories,
} from "../../src/world/index.ts";
import { writeTinyUmm } from "../helpers/tiny-umm.ts";

const tmp = mkdtempSync(join(tmpdir(), "reca-heldout-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("held-out rows", () => {
  const pool = unlabeledPool({ seed: HELDOUT_SEED, numCategories: 6 });
  const items = Array.from({ length: 8 }, (_, i) => {
    const it = pool.get(i);
    return { scene: it.scene, image: it.image, index: it.index };
  });

  it("a complete caption names every category, every colour and exact counts", () => {
    const rng = WorldRng.fromParts("t/complete", 0);
    let relations = 0;
    let eligible = 0;
    for (let i = 0; i < 200; i++) {
      const scene = sampleScene(rng, { categories: worldCategories(6), colorPrior: "uniform" });
      const c = sparseCaption(scene, rng, COMPLETE_CAPTION);
      const cats = new Set(scene.objects.map((o) => o.category));
      expect(new Set(c.groups.map((g) => g.category))).toEqual(cats);
      expect(c.colorNamed.every(Boolean)).toBe(true);
      expect(c.groups.every((g) => g.color !== null && g.countWord === numberWord(g.count))).toBe(
        true,
      );
      expect(c.groups.reduce((a, g) => a + g.count, 0)).toBe(scene.objects.length);
      expect(c.text).not.toMatch(/other shapes/);
      if (c.relationEligible) {
        eligible++;
        if (c.relation) relations++;
      }
    }
    expect(eligible).toBeGreaterThan(10);
    expect(relations).toBe(eligible);
  });

  it("each kind's rows condition as described, and are the same on every call", () => {
    const nul = heldoutRows("t2i-null", items, 6);
    expect(nul.text).toBeNull();
    expect(nul.gen.every((r) => r.parts.length === 1 && r.parts[0] === NULL_PROMPT)).toBe(true);

    const recon = heldoutRows("recon", items, 6);
    const templates = new Set(RECON_TEMPLATES.map((t) => JSON.stringify(t.parts)));
    for (const [i, r] of recon.gen.entries()) {
      expect(r.features).toBe(items[i].image);
      expect(r.target).toBe(items[i].image);
      expect(r.parts).toContain(IMAGE);
      expect(templates.has(JSON.stringify(r.parts))).toBe(true);
    }

    const i2t = heldoutRows("i2t", items, 6);
    expect(i2t.text).toHaveLength(items.length);
    expect(i2t.gen.every((r) => r.weight === 0)).toBe(true);
    expect(i2t.text?.every((r) => r.prompt[0] === IMAGE && r.answer.length > 0)).toBe(true);

    for (const kind of HELDOUT_KINDS)
      expect(JSON.stringify(heldoutRows(kind, items, 6))).toBe(
        JSON.stringify(heldoutRows(kind, items, 6)),
      );
    // The complete caption differs from the sparse one on the same scene somewhere in 8 rows.
    const texts = (k: "t2i-sparse" | "t2i-complete") =>
      heldoutRows(k, items, 6).gen.map((r) => r.parts[0]);
    expect(texts("t2i-complete")).not.toEqual(texts("t2i-sparse"));
  });
});

describe("paired statistics", () => {
  it("pairedDifference is the mean and standard error of b − a per batch", () => {
    const a = { mean: 2, batches: [1, 2, 3] };
    const b = { mean: 3, batches: [2, 2, 5] }; // differences 1, 0, 2
    const d = pairedDifference(a, b);
    expect(d.mean).toBeCloseTo(1, 12);
    expect(d.se).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(() => pairedDifference(a, { mean: 1, batches: [1] })).toThrow(/same number/);
  });

  it("promptGain is t2i-null − t2i-complete per batch, null without both", () => {
    const r = {
      model: "m",
      rows: 4,
      "t2i-null": { mean: 0.5, batches: [0.4, 0.6] },
      "t2i-complete": { mean: 0.35, batches: [0.3, 0.4] },
    };
    const g = promptGain(r);
    expect(g?.batches[0]).toBeCloseTo(0.1, 12);
    expect(g?.batches[1]).toBeCloseTo(0.2, 12);
    expect(g?.mean).toBeCloseTo(0.15, 12);
    expect(promptGain({ model: "m", rows: 4 })).toBeNull();
  });
});

describe("retrieval", () => {
  it("centredUnit removes the rows' mean and normalises each row", () => {
    const v = centredUnit(Float32Array.from([1, 0, 3, 0, 5, 0]), 3); // rows (1,0) (3,0) (5,0)
    expect(Array.from(v[0])).toEqual([-1, 0]);
    expect(Array.from(v[1])).toEqual([0, 0]); // the mean row stays 0
    expect(Array.from(v[2])).toEqual([1, 0]);
    expect(() => centredUnit(new Float32Array(5), 2)).toThrow(/split/);
  });

  it("retrievalTally scores a hit only when the query's own key is the nearest", () => {
    const keys = centredUnit(Float32Array.from([1, 0, 0, 1, -1, 0, 0, -1]), 4);
    const acc: Tally = { hits: 0, matched: 0, mismatched: 0 };
    for (let i = 0; i < 4; i++) retrievalTally(acc, keys[i], keys, i);
    expect(acc.hits).toBe(4);
    expect(acc.matched).toBeCloseTo(4, 6);
    // Each key's others: one opposite (−1) and two orthogonal (0): mean −1/3.
    expect(acc.mismatched).toBeCloseTo(-4 / 3, 6);
    const miss: Tally = { hits: 0, matched: 0, mismatched: 0 };
    retrievalTally(miss, keys[1], keys, 0);
    expect(miss.hits).toBe(0);
  });
});

describe("heldoutLosses", () => {
  let model: string;
  beforeAll(async () => {
    model = (await writeTinyUmm(join(tmp, "tiny"))).model;
  });

  it("gives finite losses that repeat exactly, so two models' differences are paired", async () => {
    const o = { batches: 2, batch: 2 } as const;
    const a = await heldoutLosses(model, o);
    const b = await heldoutLosses(model, o);
    expect(a.rows).toBe(4);
    for (const kind of HELDOUT_KINDS) {
      const l = a[kind];
      expect(l?.batches).toHaveLength(2);
      expect(l?.batches.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
      expect(b[kind]?.batches).toEqual(l?.batches);
      const d = pairedDifference(l!, b[kind]!);
      expect(d).toEqual({ mean: 0, se: 0 });
    }
    // Different rows: the null prompt and the complete caption give different losses.
    expect(a["t2i-null"]?.batches).not.toEqual(a["t2i-complete"]?.batches);
  }, 120_000);

  it("condition alignment: four queries scored over the same held-out images, repeatably", async () => {
    const o = { batches: 1, batch: 4 } as const;
    const a = await conditionAlignment(model, o);
    expect(a).toMatchObject({ n: 4, batch: 4, chance: 0.25 });
    for (const q of [a.features, a.featureSlots, a.sparseCaption, a.rephrased]) {
      expect(q.top1).toBeGreaterThanOrEqual(0);
      expect(q.top1).toBeLessThanOrEqual(1);
      expect(Math.abs(q.matched)).toBeLessThanOrEqual(1 + 1e-6);
    }
    expect(await conditionAlignment(model, o)).toEqual(a);
  }, 120_000);
});
