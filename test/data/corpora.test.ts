import { describe, expect, it } from "vitest";
import {
  corpusManifest,
  encoderCorpus,
  SceneExclusion,
  ummCorpus,
  unlabeledPool,
} from "../../src/data/corpora.ts";
import { DOMINANT_COLOR } from "../../src/world/vocab.ts";

describe("corpora", () => {
  it("build item i from (seed, i) alone", () => {
    const a = encoderCorpus();
    const b = encoderCorpus();
    expect(a.get(12345)).toEqual(b.get(12345));
    expect(a.get(7).caption).toBe(b.get(7).caption);
    expect(a.get(7).image.data).toEqual(b.get(7).image.data);
    expect(a.get(7)).not.toEqual(a.get(8));
    expect(encoderCorpus({ seed: 9 }).get(7)).not.toEqual(a.get(7));
    expect(() => a.get(a.length)).toThrow(RangeError);
    expect(unlabeledPool().get(7).scene).not.toEqual(a.get(7).scene);
  });

  it("regenerate items whose scene is excluded", () => {
    const pool = unlabeledPool({ length: 20 });
    const ex = new SceneExclusion();
    ex.add(pool.get(3).scene);
    ex.add(pool.get(4).scene);
    const guarded = unlabeledPool({ length: 20, exclude: ex });
    expect(guarded.get(3).scene).not.toEqual(pool.get(3).scene);
    expect(ex.has(guarded.get(3).scene)).toBe(false);
    expect(guarded.get(5)).toEqual(pool.get(5));
    expect(ex.size).toBe(2);
    expect(corpusManifest(guarded, { exclude: ex }).exclusion).toMatch(/^2:[0-9a-f]{8}$/);
  });

  it("mix UMM captions, VQA and edits; captions use the biased prior", () => {
    const umm = ummCorpus({ imageSize: 32 });
    const kinds: Record<string, number> = {};
    let dominant = 0;
    let objects = 0;
    for (let i = 0; i < 400; i++) {
      const it = umm.get(i);
      kinds[it.kind] = (kinds[it.kind] ?? 0) + 1;
      if (it.kind === "caption") {
        expect(it.caption.length).toBeGreaterThan(3);
        for (const o of it.scene.objects) {
          objects++;
          if (o.color === DOMINANT_COLOR[o.category]) dominant++;
        }
      } else if (it.kind === "edit") {
        expect(it.sourceImage.data).not.toEqual(it.targetImage.data);
        expect(it.instruction.length).toBeGreaterThan(5);
      } else {
        expect(it.answer.length).toBeGreaterThan(1);
      }
    }
    expect(kinds.caption).toBeGreaterThan(190);
    expect(kinds.vqa).toBeGreaterThan(60);
    expect(kinds.edit).toBeGreaterThan(30);
    expect(dominant / objects).toBeGreaterThan(0.75);
  });

  it("encoder captions are dense and images follow the requested size", () => {
    const enc = encoderCorpus({ imageSize: 64 });
    const it = enc.get(0);
    expect(it.image.width).toBe(64);
    for (const o of it.scene.objects) expect(it.caption.toLowerCase()).toContain(o.category);
  });
});
