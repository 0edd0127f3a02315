import { describe, expect, it } from "vitest";
import {
  colorAttr,
  colors,
  counting,
  enumerateTag,
  GENEVAL_TAGS,
  genevalGroundTruth,
  genevalJsonl,
  genevalPromptSet,
  parseGenevalJsonl,
  position,
  scoreGenevalImage,
  singleObject,
  twoObject,
} from "../../../src/bench/geneval/index.ts";
import { sceneDetections } from "../../../src/bench/oracle.ts";
import { worldCategories } from "../../../src/world/vocab.ts";

const cats = worldCategories();

describe("GenEval templates", () => {
  it("reproduce benchmarks.md's verbatim examples (article, plural, number words)", () => {
    expect(singleObject("bench").prompt).toBe("a photo of a bench");
    expect(twoObject("toaster", "oven").prompt).toBe("a photo of a toaster and an oven");
    expect(twoObject("tennis racket", "wine glass").prompt).toBe(
      "a photo of a tennis racket and a wine glass",
    );
    expect(counting("clock", 2).prompt).toBe("a photo of two clocks");
    expect(counting("toothbrush", 2).prompt).toBe("a photo of two toothbrushs");
    expect(counting("sports ball", 3).prompt).toBe("a photo of three sports balls");
    expect(counting("handbag", 4).prompt).toBe("a photo of four handbags");
    expect(counting("person", 3).prompt).toBe("a photo of three persons");
    expect(colors("fire hydrant", "blue").prompt).toBe("a photo of a blue fire hydrant");
    expect(position("dog", "right of", "teddy bear").prompt).toBe(
      "a photo of a dog right of a teddy bear",
    );
    expect(position("apple", "above", "tv").prompt).toBe("a photo of an apple above a tv");
    expect(colorAttr("skateboard", "yellow", "computer mouse", "orange").prompt).toBe(
      "a photo of a yellow skateboard and an orange computer mouse",
    );
    expect(colorAttr("skis", "red", "tie", "brown").prompt).toBe(
      "a photo of a red skis and a brown tie",
    );
  });

  it("write GenEval's clause layout (position: reference first, subject [rel, 0])", () => {
    expect(counting("cross", 4)).toEqual({
      tag: "counting",
      include: [{ class: "cross", count: 4 }],
      exclude: [{ class: "cross", count: 5 }],
      prompt: "a photo of four crosses",
    });
    expect(position("ring", "below", "square")).toEqual({
      tag: "position",
      include: [
        { class: "square", count: 1 },
        { class: "ring", count: 1, position: ["below", 0] },
      ],
      prompt: "a photo of a ring below a square",
    });
    expect(JSON.stringify(colors("circle", "orange"))).toBe(
      '{"tag":"colors","include":[{"class":"circle","count":1,"color":"orange"}],"prompt":"a photo of an orange circle"}',
    );
  });
});

describe("GenEval prompt sets", () => {
  it("have the documented sizes; the default is a per-tag prefix of the full set", () => {
    const def = genevalPromptSet();
    const full = genevalPromptSet({ full: true });
    expect(def).toHaveLength(86);
    expect(full).toHaveLength(314);
    for (const tag of GENEVAL_TAGS) {
      const d = def.filter((m) => m.tag === tag);
      const f = full.filter((m) => m.tag === tag);
      expect(d).toEqual(f.slice(0, d.length));
      expect(new Set(f.map((m) => m.prompt)).size).toBe(f.length);
    }
    expect(genevalPromptSet()).toEqual(def);
    expect(genevalPromptSet({ seed: 1 })).not.toEqual(def);
    expect(enumerateTag("color_attr", cats)).toHaveLength(6 * 5 * 10 * 9);
    expect(
      full
        .filter((m) => m.tag === "counting")
        .map((m) => m.include[0].count)
        .sort(),
    ).toEqual([...Array(18)].map((_, i) => 2 + Math.floor(i / 6)));
  });

  it("round-trip through GenEval-format JSONL and validate against the vocabulary", () => {
    const def = genevalPromptSet();
    expect(parseGenevalJsonl(genevalJsonl(def), "f.jsonl", cats)).toEqual(def);
    const bad = (line: string) => () =>
      parseGenevalJsonl(`${genevalJsonl(def.slice(0, 2))}${line}\n`, "p.jsonl", cats);
    expect(bad('{"tag":"colors","include":[{"class":"star","count":1}],"prompt":"x"}')).toThrow(
      /p\.jsonl:3: include\.0\.class: "star" is not an active world category/,
    );
    expect(
      bad('{"tag":"colors","include":[{"class":"circle","count":1,"color":"teal"}],"prompt":"x"}'),
    ).toThrow(/p\.jsonl:3: include\.0\.color/);
    expect(
      bad(
        '{"tag":"position","include":[{"class":"circle","count":1,"position":["left of",0]}],"prompt":"x"}',
      ),
    ).toThrow(/include\.0\.position: group 0 must name an earlier clause/);
    expect(bad('{"tag":"sizes","include":[{"class":"circle","count":1}],"prompt":"x"}')).toThrow(
      /p\.jsonl:3: tag/,
    );
    expect(bad("{not json")).toThrow(/p\.jsonl:3: not valid JSON/);
    expect(
      parseGenevalJsonl(
        '{"tag":"colors","include":[{"class":"star","count":1}],"prompt":"x"}',
        "f",
        worldCategories(10),
      ),
    ).toHaveLength(1);
  });
});

describe("GenEval ground truth", () => {
  it("satisfies every default prompt by GenEval's own rules, at 32 and 64 px", () => {
    for (const meta of genevalPromptSet())
      for (const size of [32, 64]) {
        const scene = genevalGroundTruth(meta, 1, size);
        expect(scoreGenevalImage(meta, sceneDetections(scene, size)).correct).toBe(true);
        expect(scene.objects.length).toBe(meta.include.reduce((a, c) => a + c.count, 0));
      }
    expect(genevalGroundTruth(counting("ring", 4), 0, 32)).toEqual(
      genevalGroundTruth(counting("ring", 4), 0, 32),
    );
    expect(genevalGroundTruth(counting("ring", 4), 0, 32)).not.toEqual(
      genevalGroundTruth(counting("ring", 4), 1, 32),
    );
  });

  it("refuses prompts the world cannot draw", () => {
    expect(() => genevalGroundTruth(counting("ring", 5), 0, 32)).toThrow(/at most 4/);
  });
});
